"""One recipe table: the network families (`networks.families`) and model kinds
(`models.kinds`) the command line, the presets and `auto` read; the `--model-kind` and
`--network` flags beside `--architecture`, and their refusals before any data loads."""

import hashlib
import json
import re
import time
from pathlib import Path

import keras
import pytest

from vae_keras import recipes
from vae_keras.cli import build_parser, main, model_flags
from vae_keras.models import kinds
from vae_keras.networks import families
from vae_keras.presets import recipes as presets_recipes

# The models `recipes.build_model` and `presets.recipes.build_model` built before the table
# (main at d493140): class, number of weights and a digest of their paths and shapes. One
# changed on purpose since: pixelcnn/bernoulli, whose encoder's dense layer became the 512
# units of benchmarks/quality_mnist.py's PixelVAE (the recipe the command line claims).
FINGERPRINTS = json.loads(
    (Path(__file__).resolve().parent / "fixtures" / "model_fingerprints.json").read_text()
)


def fingerprint(model):
    weights = [[w.path, list(w.shape)] for w in model.weights]
    digest = hashlib.sha256(json.dumps(weights).encode()).hexdigest()[:16]
    return {"class": type(model).__name__, "num_weights": len(weights), "sha": digest}


def _cli_cases():
    for key in sorted(FINGERPRINTS):
        if not key.startswith("preset/"):
            architecture, likelihood, shape = key.split("/")
            yield architecture, likelihood, tuple(int(d) for d in shape.split("x"))


CLI_CASES = list(_cli_cases())


def test_the_tables_and_the_flags_read_from_them():
    assert families.NAMES == ("conv", "dense", "residual")
    assert kinds.NAMES == ("vae", "conditional", "pixelvae", "vqvae", "vqvae2", "hierarchical")
    # Today's --architecture spellings, in today's order; the new flags beside them.
    assert recipes.ARCHITECTURES == (
        "auto",
        "conv",
        "dense",
        "residual",
        "pixelcnn",
        "vqvae",
        "vqvae2",
        "hierarchical",
    )
    assert recipes.MODEL_KINDS == ("vae", "pixelvae", "vqvae", "vqvae2", "hierarchical")
    assert recipes.NETWORKS == ("auto", "conv", "dense", "residual")
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    choices = {a.dest: a.choices for a in train._actions if a.choices}
    assert tuple(choices["architecture"]) == recipes.ARCHITECTURES
    assert tuple(choices["model_kind"]) == recipes.MODEL_KINDS
    assert tuple(choices["network"]) == recipes.NETWORKS
    for architecture in recipes.ARCHITECTURES[1:]:
        kind, network = recipes.kind_and_network(architecture)
        assert recipes.architecture_of(kind, network) == architecture
    assert recipes.kind_and_network("auto") == ("vae", "auto")
    assert recipes.kind_and_network("pixelcnn") == ("pixelvae", "auto")


def test_auto_and_the_old_names_of_default_family():
    from vae_keras.networks.defaults import default_family

    assert default_family is families.default_family is recipes.default_family
    assert families.resolve("auto", (28, 28, 1)) == "conv"
    assert families.resolve("auto", (32, 32, 3)) == "residual"
    assert families.resolve("auto", (12,)) == "dense"
    assert families.resolve("residual", (12,)) == "residual"


@pytest.mark.parametrize(
    "kind, network, likelihood, shape",
    [
        *[("vae", f, "bernoulli", (8, 8, 1)) for f in families.NAMES],
        ("vae", "dense", "gaussian", (12,)),
        ("vae", "auto", "discretized_logistic", (8, 8, 3)),
        *[("conditional", f, "bernoulli", (8, 8, 1)) for f in ("dense", "conv")],
        ("pixelvae", "auto", "bernoulli", (8, 8, 1)),
        ("pixelvae", "auto", "discretized_logistic", (8, 8, 3)),
        ("vqvae", "auto", "bernoulli", (8, 8, 1)),
        ("vqvae2", "auto", "bernoulli", (28, 28, 1)),
        ("hierarchical", "auto", "bernoulli", (8, 8, 1)),
    ],
)
def test_every_kind_and_family_in_the_table_builds(kind, network, likelihood, shape):
    registered = kinds.get(kind)
    model = kinds.build_model(
        kind,
        network=network,
        likelihood=likelihood,
        shape=shape,
        latent_dim=None if registered.latent_dim is None else 2,
        seed=0,
    )
    assert type(model).__name__ == registered.model
    assert not model.compiled  # uncompiled: the callers choose the optimizer
    if kind == "vqvae":  # latent_dim: the size of each code vector
        assert model.quantizer.embedding_dim == 2
    if kind == "vqvae2":
        assert model.embedding_dim == 2 and model.top_grid_shape == (4, 4)


@pytest.mark.parametrize("architecture, likelihood, shape", CLI_CASES)
def test_architecture_spellings_build_today_s_models(architecture, likelihood, shape):
    # The older spelling through recipes.build_model, and the same model through the table.
    key = f"{architecture}/{likelihood}/{'x'.join(map(str, shape))}"
    args = {"likelihood": likelihood, "shape": shape, "beta": 0.5, "seed": 1}
    keras.backend.clear_session()
    old = recipes.build_model(architecture=architecture, latent_dim=3, **args)
    assert fingerprint(old) == FINGERPRINTS[key]
    kind, network = recipes.kind_and_network(architecture)
    keras.backend.clear_session()
    new = kinds.build_model(
        kind,
        network=network,
        latent_dim=None if kind == "hierarchical" else 3,
        **args,
    )
    assert fingerprint(new) == FINGERPRINTS[key]


@pytest.mark.parametrize("name", sorted(presets_recipes.RECIPES))
def test_presets_build_today_s_models(name):
    recipe = presets_recipes.RECIPES[name]
    shape = (32, 32, 3) if recipe.dataset == "shapes" else (28, 28, 1)
    keras.backend.clear_session()
    model = presets_recipes.build_model(recipe, shape)
    assert fingerprint(model) == FINGERPRINTS[f"preset/{name}"]
    assert model.optimizer is not None


@pytest.mark.parametrize(
    "kind, settings, message",
    [
        ("vqvae", {"network": "conv"}, "'vqvae' builds its own networks"),
        ("conditional", {"network": "residual"}, "takes network 'dense' or 'conv'"),
        ("pixelvae", {"likelihood": "gaussian"}, "takes likelihood 'bernoulli' or"),
        ("hierarchical", {"shape": (12,)}, "models images (height, width, channels)"),
        ("hierarchical", {"latent_dim": 8}, "latent_dim is not used"),
        ("vqvae", {"latent_dim": None}, "needs latent_dim (the size of each code vector)"),
        ("vae", {"network": "convolutional"}, "Unknown network family 'convolutional'"),
        ("gan", {}, "Unknown model kind 'gan'"),
    ],
)
def test_the_library_refuses_what_a_kind_cannot_take(kind, settings, message):
    settings = {"shape": (8, 8, 1), "latent_dim": 2, **settings}
    with pytest.raises(ValueError, match=re.escape(message)):
        kinds.build_model(kind, **settings)


def _train_args(*flags):
    return build_parser().parse_args(["train", "--dataset", "digits", *flags])


@pytest.mark.parametrize(
    "flags, architecture, kind, network",
    [
        ([], "conv", "vae", "conv"),  # auto, on 8x8 gray digits
        (["--architecture", "dense"], "dense", "vae", "dense"),
        (["--network", "residual"], "residual", "vae", "residual"),
        (["--model-kind", "vae", "--network", "dense"], "dense", "vae", "dense"),
        (["--architecture", "dense", "--network", "dense"], "dense", "vae", "dense"),
        (["--architecture", "conv", "--network", "auto"], "conv", "vae", "conv"),
        (["--model-kind", "pixelvae", "--binarize"], "pixelcnn", "pixelvae", "auto"),
        (
            ["--architecture", "pixelcnn", "--model-kind", "pixelvae"],
            "pixelcnn",
            "pixelvae",
            "auto",
        ),
        (["--model-kind", "vqvae"], "vqvae", "vqvae", "auto"),
        (["--model-kind", "hierarchical"], "hierarchical", "hierarchical", "auto"),
        (["--architecture", "hierarchical"], "hierarchical", "hierarchical", "auto"),
    ],
)
def test_model_flags_and_their_older_spelling(flags, architecture, kind, network):
    args = _train_args(*flags)
    model_flags.resolve(args)
    model_flags.resolve_network(args, (8, 8, 1))
    # The run folder's name and config.json record the --architecture spelling, as before.
    assert (args.architecture, args.model_kind, args.network) == (architecture, kind, network)
    assert args.likelihood == "bernoulli" and args.latent_dim == 16


def test_latent_dim_help_says_what_it_means_for_vqvae_and_hierarchical(capsys):
    with pytest.raises(SystemExit):
        main(["train", "-h"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--latent-dim LATENT_DIM size of z" in text
    assert "with vqvae and vqvae2, the size of each code vector" in text
    assert "hierarchical has its own latent groups and refuses it (default: 16)" in text
    assert "--model-kind {vae,pixelvae,vqvae,vqvae2,hierarchical}" in text
    assert "--network {auto,conv,dense,residual}" in text


@pytest.mark.parametrize(
    "flags, line",
    [
        (
            ["--architecture", "conv", "--model-kind", "vqvae"],
            "--architecture conv means --model-kind vae --network conv, but --model-kind vqvae "
            "was given. Pass one of them",
        ),
        (
            ["--architecture", "vqvae", "--network", "dense"],
            "--architecture vqvae means --model-kind vqvae (its own networks), but --network "
            "dense was given.",
        ),
        (
            ["--model-kind", "hierarchical", "--latent-dim", "8"],
            "--model-kind hierarchical has its own latent groups (HierarchicalVAE's defaults), "
            "so --latent-dim does not apply. Drop --latent-dim.",
        ),
        (
            ["--architecture", "hierarchical", "--latent-dim", "16"],
            "--architecture hierarchical has its own latent groups",
        ),
        (
            ["--model-kind", "pixelvae", "--network", "conv"],
            "--model-kind pixelvae builds its own networks; --network conv does not apply",
        ),
        (
            ["--model-kind", "pixelvae", "--likelihood", "gaussian"],
            "--model-kind pixelvae models images (height, width, channels) with --likelihood "
            "bernoulli",
        ),
        (
            ["--architecture", "pixelcnn", "--likelihood", "gaussian"],
            "--architecture pixelcnn models images",
        ),
        (
            ["--binarize", "--likelihood", "gaussian"],
            "--binarize needs --likelihood bernoulli (binary pixels); got gaussian.",
        ),
        (
            ["--model-kind", "vqvae", "--distribute", "mirrored"],
            "--model-kind vqvae trains its prior on the encoded training images in memory",
        ),
    ],
)
def test_model_flag_refusals_are_one_line_before_any_data(
    flags, line, tmp_path, capsys, monkeypatch
):
    from vae_keras import run_data

    def no_data(*args, **kwargs):
        raise AssertionError("the data were loaded")

    monkeypatch.setattr(run_data, "load_train_and_test", no_data)
    monkeypatch.chdir(tmp_path)
    start = time.monotonic()
    assert main(["train", "--dataset", "digits", *flags]) == 2
    assert time.monotonic() - start < 10
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("vae-keras train: error: ")
    assert line in err
    assert list(tmp_path.iterdir()) == []  # nothing written

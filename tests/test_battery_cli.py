"""The command-line battery (issue 27): every `--architecture` x `--likelihood` the parser
accepts, on `digits` and on `shapes --image-size 16`, with and without `--binarize`.

`train` either completes with the run folder its model's declared capabilities call for
(metrics, figures, report; a SavedModel exactly where export is declared) or is refused with
one line and exit status 2 *before* training starts. Then `evaluate`, `sample`, `plot` and
`export` run on the folder; a command the model cannot serve exits 2 with the one-line
capability message. The choices are read from the parser, so a new choice joins the battery.
"""

import argparse
import json

import pytest

from vae_keras import recipes, run_data
from vae_keras.cli import build_parser, main
from vae_keras.models import LatentModel
from vae_keras.models.capabilities import capabilities
from vae_keras.runs import CHECKPOINT, load_model, read_json

# The data, as train sees it: (per-image shape, extra train flags).
DATASETS = {"digits": ((8, 8, 1), []), "shapes": ((16, 16, 3), ["--image-size", "16"])}
TRAIN = ["--epochs", "1", "--limit", "64", "--batch-size", "32"]
# z of 2 numbers: no t-SNE for the scatter, two traversals (hierarchical has its own groups and
# refuses --latent-dim).
LATENT = {"hierarchical": []}
# The run's test split, cut to this many images (train has no flag for it; the figures and
# the scoring read every test image: 2,000 shapes would triple the battery's time).
TEST_IMAGES = 32
# evaluate and plot on a few test images (their own --limit), k=2 importance samples.
EVALUATE = ["--num-samples", "2", "--nll-images", "8", "--limit", "16", "--batch-size", "16"]
FIGURES = {  # a capability -> the figures of the run folder it calls for
    "reconstruct": ("reconstructions.png", "training_history.png"),
    "samples": ("samples.png",),
    "latent_vector": ("latent_scatter.png", "latent_traversals.png", "interpolation.png"),
    "discrete_codes": ("code_usage.png", "code_grids.png"),
    "latent_groups": ("hierarchy_levels.png",),
}
LATER = {  # a later command -> the capability it needs (one of them, for plot)
    "evaluate": (),
    "sample": ("samples",),
    "plot": ("latent_vector", "discrete_codes"),
    "export": ("export_endpoints",),
}


def _train_choices(flag):
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    train = commands.choices["train"]
    return tuple(next(a for a in train._actions if flag in a.option_strings).choices)


ARCHITECTURES = _train_choices("--architecture")
LIKELIHOODS = _train_choices("--likelihood")


def _resolved(architecture, likelihood, dataset):
    """What train runs for `auto` (train resolves both before anything else; see
    test_auto_is_the_concrete_combination_it_resolves_to)."""
    shape = DATASETS[dataset][0]
    if likelihood == "auto":
        likelihood = recipes.default_likelihood(dataset)
    return recipes.resolve_architecture(architecture, shape), likelihood


def _refusal(architecture, likelihood, dataset, binarize):
    """A fragment of the one line train refuses the combination with, or None."""
    if binarize and likelihood != "bernoulli":
        return "--binarize needs --likelihood bernoulli"
    if architecture == "pixelcnn" and likelihood not in ("bernoulli", "discretized_logistic"):
        return "--architecture pixelcnn models images"
    if likelihood == "discretized_logistic" and dataset == "digits":  # 0-16 levels, not 0-255
        return "8-bit"
    return None


# `auto` choices are left out: each is the concrete combination it resolves to (asserted
# below), so running it again would repeat a run of this list.
COMBINATIONS = [
    (architecture, likelihood, dataset, binarize)
    for dataset in DATASETS
    for binarize in (False, True)
    for architecture in ARCHITECTURES
    for likelihood in LIKELIHOODS
    if "auto" not in (architecture, likelihood)
]


def _exports(combination):
    """Whether `export` runs on this combination's run where the model declares export.

    train has already written saved_model/ for every such run (asserted for each) with the
    same `export_saved_model`, and evaluate, sample and plot load model.keras: the command
    adds its own flags, so it runs once per architecture (on 8-bit shapes, which every
    architecture completes) rather than repeating a ~5 s export per run. Where a model does
    not declare export, every run checks its one-line refusal.
    """
    return tuple(combination[1:]) == ("discretized_logistic", "shapes", False)


def _id(combination):
    architecture, likelihood, dataset, binarize = combination
    return f"{dataset}-{architecture}-{likelihood}" + ("-binarize" if binarize else "")


@pytest.fixture(autouse=True)
def small_test_split(monkeypatch):
    """Train scores and draws on the first TEST_IMAGES test images (no flag for that)."""
    load = run_data.load_train_and_test

    def first_test_images(*args, **kwargs):
        data = load(*args, **kwargs)
        data.x_test = data.x_test[:TEST_IMAGES]
        data.y_test = None if data.y_test is None else data.y_test[:TEST_IMAGES]
        return data

    monkeypatch.setattr(run_data, "load_train_and_test", first_test_images)


@pytest.fixture(autouse=True, scope="module")
def one_openmp_thread():
    """scikit-learn's t-SNE (the scatter of codes wider than 2) on one OpenMP thread: on a
    machine busy with other work its two spinning threads took 20 s for 64 points (0.1 s on
    one); the figures are the same."""
    import sklearn.manifold  # noqa: F401  (loads the OpenMP runtime the limit applies to)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture
def fits(monkeypatch):
    """Counts `fit` calls of the package's models (a refusal must come before any)."""
    calls = []
    fit = LatentModel.fit

    def counted(self, *args, **kwargs):
        calls.append(type(self).__name__)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(LatentModel, "fit", counted)
    return calls


def _train_argv(architecture, likelihood, dataset, binarize, out):
    argv = ["train", "--dataset", dataset, "--architecture", architecture]
    argv += ["--likelihood", likelihood, *TRAIN, *DATASETS[dataset][1], "--output", str(out)]
    argv += LATENT.get(architecture, ["--latent-dim", "2"])
    return argv + (["--binarize"] if binarize else [])


def _one_line_error(capsys, command):
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    assert err.startswith(f"vae-keras {command}: error: "), err
    return err


def test_every_parser_choice_is_in_the_battery():
    assert {"conv", "dense", "residual", "pixelcnn", "vqvae", "hierarchical"} <= set(ARCHITECTURES)
    assert {"bernoulli", "gaussian", "discretized_logistic"} <= set(LIKELIHOODS)
    concrete = {(a, li, d, b) for a, li, d, b in COMBINATIONS}
    for dataset in DATASETS:
        for binarize in (False, True):
            for architecture in ARCHITECTURES:
                for likelihood in LIKELIHOODS:
                    resolved = _resolved(architecture, likelihood, dataset)
                    assert (*resolved, dataset, binarize) in concrete
    # The export command runs on a completed run of every architecture.
    exported = [c for c in COMBINATIONS if _exports(c)]
    assert {c[0] for c in exported} == set(ARCHITECTURES) - {"auto"}
    assert all(_refusal(*c) is None for c in exported)


def test_auto_is_the_concrete_combination_it_resolves_to(tmp_path, capsys):
    """train records the resolved choices in config.json: an `auto` run is the concrete one."""
    out = tmp_path / "run"
    assert main(_train_argv("auto", "auto", "digits", False, out)) == 0
    config = read_json(out / "config.json")
    assert (config["architecture"], config["likelihood"]) == _resolved("auto", "auto", "digits")


@pytest.mark.parametrize("combination", COMBINATIONS, ids=_id)
def test_command_line_battery(combination, tmp_path, capsys, fits):
    architecture, likelihood, dataset, binarize = combination
    out = tmp_path / "run"
    code = main(_train_argv(architecture, likelihood, dataset, binarize, out))
    refusal = _refusal(*combination)
    if refusal is not None or code != 0:
        captured = capsys.readouterr()
        assert code == 2, f"expected a refusal ({refusal}); exit {code}: {captured.err}"
        err = captured.err.strip()
        assert "\n" not in err and err.startswith("vae-keras train: error: "), err
        assert refusal is not None and refusal in err, f"unexpected refusal: {err}"
        # Before training: no fit, no run folder (no config, checkpoint or model file).
        assert fits == [] and "Training a" not in captured.out
        assert not out.exists(), sorted(p.name for p in out.iterdir())
        return
    assert fits, "train completed without fitting"
    capsys.readouterr()

    # === The run folder its capabilities call for ===
    model = load_model(out / "model.keras")
    declared = capabilities(model)
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "metrics.json", "report.html", "samples.png"} <= names
    assert "reconstructions.png" in names and CHECKPOINT not in names
    assert ("saved_model" in names) == bool(declared.export_endpoints), names
    metrics = read_json(out / "metrics.json")
    test = metrics["test"]
    assert {"loss", "reconstruction_loss"} <= set(test) and metrics["num_test"] == TEST_IMAGES
    losses = sorted(test.keys() - {"bits_per_dim_8bit"})  # fit's metric names, and val_ ones
    assert sorted(metrics["history"]) == sorted(losses + [f"val_{k}" for k in losses])
    eight_bit = dataset == "shapes" and likelihood != "bernoulli"
    scorable = declared.likelihood and (declared.posterior or declared.nll_bound)
    assert ("bits_per_dim_8bit" in test) == bool(eight_bit and scorable), test
    figures = sorted(p.name for p in (out / "figures").iterdir())
    for capability, drawn in FIGURES.items():
        if getattr(declared, capability):
            assert set(drawn) <= set(figures), f"{capability}: {figures}"
    page = (out / "report.html").read_text()
    for figure in figures:
        assert figure in page, f"report.html does not show {figure}"

    # === The later commands ===
    model_file = str(out / "model.keras")
    later = {
        "evaluate": ["evaluate", "--model", model_file, *EVALUATE, "--out", str(tmp_path)],
        "sample": ["sample", "--model", model_file, "--num-samples", "4", "--out", str(tmp_path)],
        "plot": ["plot", "--model", model_file, "--limit", "16", "--out", str(tmp_path / "fig")],
        "export": ["export", "--model", model_file, "--out", str(tmp_path / "exported")],
    }
    for command, argv in later.items():
        needs = LATER[command]
        servable = not needs or any(getattr(declared, n) for n in needs)
        if command == "export" and servable and not _exports(combination):
            continue
        code = main(argv)
        if servable:
            assert code == 0, f"{command}: {capsys.readouterr().err}"
            capsys.readouterr()
        else:
            assert code == 2, f"{command} on a {type(model).__name__} exited {code}"
            err = _one_line_error(capsys, command)
            assert f"(capability `{needs[0]}`)" in err and type(model).__name__ in err, err
    result = json.loads((tmp_path / "evaluation.json").read_text())
    assert ("nll" in result) == declared.posterior and ("nll_bound" in result) == (
        declared.nll_bound
    ), result
    assert (tmp_path / "samples_seed0.png").is_file() == declared.samples
    if declared.export_endpoints and _exports(combination):
        assert (tmp_path / "exported" / "saved_model.pb").is_file()

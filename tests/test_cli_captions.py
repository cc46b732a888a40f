"""Text to image from the command line: `train --captions`, `sample --prompt`, and the
one-line refusals (exit 2) of the combinations that cannot work."""

import json
from pathlib import Path

import numpy as np
import pytest

from vae_keras.cli import main
from vae_keras.datasets.captions import VOCABULARY
from vae_keras.models.capabilities import capabilities
from vae_keras.saving import load_model

FIXTURE_VQVAE = str(Path(__file__).parent / "fixtures" / "runs" / "vqvae" / "model.keras")


def _error(capsys):
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


@pytest.fixture(scope="module")
def caption_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("captions") / "run"
    args = ["train", "--dataset", "shapes", "--captions", "--hold-out", "red:heart"]
    args += ["--image-size", "16", "--limit", "256", "--epochs", "1", "--latent-dim", "4"]
    assert main([*args, "--batch-size", "64", "--output", str(out)]) == 0
    return out


def test_train_captions_builds_a_caption_prior(caption_run):
    config = json.loads((caption_run / "config.json").read_text())
    assert (config["captions"], config["hold_out"], config["architecture"]) == (
        True,
        "red:heart",
        "vqvae",
    )
    model = load_model(caption_run / "model.keras")
    assert capabilities(model).captions and model.prior.takes_captions
    assert model.prior.is_fitted()
    assert list(model.prior.tokenizer.vocabulary) == list(VOCABULARY)


def test_sample_prompt_writes_the_grid(caption_run, tmp_path):
    model = str(caption_run / "model.keras")
    prompt = ["--prompt", "a green ellipse at the bottom right", "--num-samples", "4"]
    assert main(["sample", "--model", model, *prompt, "--npy", str(tmp_path / "a.npy")]) == 0
    assert (caption_run / "samples_seed0.png").read_bytes()[:4] == b"\x89PNG"
    images = np.load(tmp_path / "a.npy")
    assert images.shape == (4, 16, 16, 3) and np.isfinite(images).all()
    # The prompt conditions the draws: the same seed with another prompt draws other codes.
    loaded = load_model(caption_run / "model.keras")
    a = loaded.sample_indices(4, captions="a green ellipse at the bottom right", seed=0)
    b = loaded.sample_indices(4, captions="a large white square at the top left", seed=0)
    assert a.shape == (4, *loaded.grid_shape) and not np.array_equal(a, b)


def test_sample_prompt_refusals(caption_run, capsys):
    model = str(caption_run / "model.keras")
    assert main(["sample", "--model", model, "--prompt", "a purple blob in the middle"]) == 2
    err = _error(capsys)
    assert "'purple'" in err and "'blob'" in err and "ellipse" in err  # names the vocabulary
    assert main(["sample", "--model", FIXTURE_VQVAE, "--prompt", "a red square"]) == 2
    assert "capability `captions`" in _error(capsys)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--dataset", "digits", "--captions"], "pass --dataset shapes"),
        (["--dataset", "shapes", "--hold-out", "red:heart"], "add --captions"),
        (["--dataset", "shapes", "--captions", "--hold-out", "red:blob"], "('red', 'blob')"),
        (["--dataset", "shapes", "--captions", "--architecture", "conv"], "is another model"),
    ],
)
def test_train_caption_flags_refused_before_data(flags, message, tmp_path, capsys):
    assert main(["train", *flags, "--output", str(tmp_path / "run")]) == 2
    assert message in _error(capsys)
    assert not (tmp_path / "run").exists()

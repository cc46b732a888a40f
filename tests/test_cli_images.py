"""The command line on colour images: a folder of files, `shapes`, 8-bit likelihoods, bits/dim."""

import json
import warnings

import numpy as np
import pytest

from vae_keras.cli import main


def _write_folder(folder, count=40, size=20, seed=0):
    from PIL import Image

    from vae_keras import datasets

    x, _ = datasets.load("shapes", "train", image_size=size, num_examples=count, seed=seed)
    folder.mkdir()
    for i, image in enumerate(np.round(x * 255).astype(np.uint8)):
        Image.fromarray(image).save(folder / f"{i:03d}.{'png' if i % 2 else 'jpg'}")
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_train_on_a_folder_writes_a_full_run_and_every_command_works(tmp_path, capsys):
    photos = _write_folder(tmp_path / "photos")
    out = tmp_path / "run"
    argv = ["train", "--dataset", "folder", "--data-dir", str(photos), "--image-size", "16"]
    argv += ["--latent-dim", "2", "--epochs", "2", "--batch-size", "8", "--output", str(out)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(argv) == 0
    # The stream shuffles itself: fit() is not asked to (and says nothing about it).
    assert not [w for w in caught if "shuffle" in str(w.message)], [str(w.message) for w in caught]
    # Nor that the stream "ran out of data": the end of a folder is the end of an epoch.
    assert not [w for w in caught if "ran out of data" in str(w.message)]
    printed = capsys.readouterr().out
    assert "residual VAE (discretized_logistic" in printed and "(streamed)" in printed
    assert "bits/dim (0-255 scale)" in printed
    names = {p.name for p in out.iterdir()}
    assert {"model.keras", "metrics.json", "report.html", "samples.png", "saved_model"} <= names
    config = json.loads((out / "config.json").read_text())
    assert (config["architecture"], config["likelihood"]) == ("residual", "discretized_logistic")
    assert config["input_shape"] == [16, 16, 3] and config["image_size"] == 16
    metrics = json.loads((out / "metrics.json").read_text())
    # 36 of the 40 images train (a fixed 10% is held out); the held-out 4 are the test set.
    assert metrics["num_train"] == 36 and metrics["num_test"] == 4
    assert len(metrics["history"]["loss"]) == 2 and "val_bits_per_dim" in metrics["history"]
    test = metrics["test"]
    assert 0 < test["bits_per_dim_8bit"] < 8 and 0 < test["bits_per_dim"] < 8

    model = str(out / "model.keras")
    assert main(["evaluate", "--model", model, "--num-samples", "3"]) == 0
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert evaluation["num_examples"] == 4
    assert evaluation["bits_per_dim_scale"] == "0-255 (discrete likelihood)"
    nll_bits = evaluation["nll"] / (16 * 16 * 3 * np.log(2))
    assert evaluation["bits_per_dim"] == pytest.approx(nll_bits, rel=1e-6)
    assert main(["sample", "--model", model, "--num-samples", "4"]) == 0
    assert main(["plot", "--model", model]) == 0
    assert (out / "figures" / "interpolation.png").is_file()
    assert main(["export", "--model", model, "--out", str(tmp_path / "served")]) == 0


def test_train_shapes_with_a_gaussian_reports_dequantised_bits_per_dim(tmp_path):
    out = tmp_path / "run"
    argv = ["train", "--dataset", "shapes", "--image-size", "16", "--limit", "64"]
    argv += ["--likelihood", "gaussian", "--architecture", "conv", "--latent-dim", "2"]
    argv += ["--epochs", "1", "--batch-size", "32", "--output", str(out)]
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_train"] == 64
    # A density on [0, 1] with variance 1/2: about log2(sqrt(pi)) + 8 bits, far from a mass.
    assert 8.0 < metrics["test"]["bits_per_dim_8bit"] < 9.5
    model = str(out / "model.keras")
    assert main(["evaluate", "--model", model, "--num-samples", "2", "--limit", "50"]) == 0
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert evaluation["bits_per_dim_scale"] == "0-255 (uniform dequantisation, +8)"
    assert 8.0 < evaluation["bits_per_dim"] < 9.5


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dataset", "folder"], "reads your images from --data-dir"),
        (  # (without --likelihood bernoulli, --binarize is refused first for the 8-bit default)
            [
                "--dataset",
                "folder",
                "--data-dir",
                "PHOTOS",
                "--likelihood",
                "bernoulli",
                "--binarize",
            ],
            "streams images",
        ),
        (["--dataset", "digits", "--likelihood", "discretized_logistic"], "off that grid"),
        (["--dataset", "shapes", "--likelihood", "gaussian", "--binarize"], "--binarize needs"),
    ],
)
def test_bad_image_settings_are_one_line_errors(argv, message, tmp_path, capsys):
    argv = [a.replace("PHOTOS", str(tmp_path)) for a in argv]
    code = main(["train", *argv, "--epochs", "1", "--limit", "32", "--output", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err

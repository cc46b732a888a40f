import json
import os
import subprocess
import sys
import types
from pathlib import Path

import keras
import numpy as np
import pytest

from vae_keras import VAE
from vae_keras.cli import main


def test_train_pixelcnn_architecture_writes_a_run_without_saved_model(tmp_path):
    from vae_keras.models import PixelVAE

    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--dataset",
                "digits",
                "--architecture",
                "pixelcnn",
                "--binarize",
                "--latent-dim",
                "2",
                "--epochs",
                "1",
                "--limit",
                "256",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    names = {p.name for p in out.iterdir()}
    assert {"model.keras", "metrics.json", "samples.png", "report.html"} <= names
    assert "saved_model" not in names  # sequential decoding: no SavedModel signature
    model = keras.models.load_model(out / "model.keras", safe_mode=True)
    assert isinstance(model, PixelVAE) and model.free_bits == 0.25
    assert main(["evaluate", "--model", str(out / "model.keras"), "--num-samples", "5"]) == 0
    result = json.loads((out / "evaluation.json").read_text())
    assert result["binarized"] is True and -result["nll"] >= result["elbo"] - 0.5
    assert (
        main(
            [
                "train",
                "--dataset",
                "digits",
                "--architecture",
                "pixelcnn",
                "--likelihood",
                "gaussian",
                "--output",
                str(tmp_path / "bad"),
            ]
        )
        == 2
    )
    assert not (tmp_path / "bad").exists()


def test_train_writes_a_complete_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--dataset",
            "digits",
            "--architecture",
            "conv",
            "--latent-dim",
            "2",
            "--epochs",
            "2",
            "--batch-size",
            "64",
            "--seed",
            "1",
            "--output",
            str(out),
        ]
    )
    assert code == 0
    assert {
        "model.keras",
        "saved_model",
        "metrics.json",
        "config.json",
        "samples.png",
        "reconstructions.png",
    } <= {p.name for p in out.iterdir()}
    assert not [p for p in out.iterdir() if ".tmp" in p.name]  # no leftovers of atomic writes
    metrics = json.loads((out / "metrics.json").read_text())
    assert sorted(metrics["history"]) == [
        "kl_loss",
        "loss",
        "reconstruction_loss",
        "val_kl_loss",
        "val_loss",
        "val_reconstruction_loss",
    ]
    assert all(len(v) == 2 for v in metrics["history"].values())
    assert metrics["num_train"] == 1438 and metrics["num_test"] == 359
    test = metrics["test"]
    assert test["loss"] == pytest.approx(test["reconstruction_loss"] + test["kl_loss"], rel=1e-4)
    model = keras.models.load_model(out / "model.keras", safe_mode=True)
    assert isinstance(model, VAE) and model.latent_dim == 2 and model.input_shape_ == (8, 8, 1)
    import matplotlib.image

    grid = matplotlib.image.imread(out / "samples.png")
    # 8x8 tiles, 1-px gaps, upscaled 7x until legible (plotting.grids.legible_scale).
    assert grid.shape[0] == grid.shape[1] == 7 * (8 * 8 + 7)
    assert "test loss" in capsys.readouterr().out

    # evaluate and sample read the run's own config for the dataset.
    assert main(["evaluate", "--model", str(out / "model.keras"), "--num-samples", "20"]) == 0
    result = json.loads((out / "evaluation.json").read_text())
    assert result["dataset"] == "digits" and result["num_examples"] == 359
    assert result["binarized"] is False and result["nll_num_samples"] == 20
    # The IWAE bound (k = 20) is at least as tight as the ELBO; both in nats.
    assert -result["nll"] >= result["elbo"] - 0.5
    assert result["test_loss"] == pytest.approx(-result["elbo"], rel=0.05)
    assert result["bits_per_dim"] == pytest.approx(result["nll"] / (64 * np.log(2)))
    # The median beside the mean (a few strange images can move the mean).
    assert result["bits_per_dim_median"] == pytest.approx(result["nll_median"] / (64 * np.log(2)))
    assert 0 < result["nll_median"] < 2 * result["nll"]
    assert 0 <= result["active_units"] <= 2 and len(result["latent_variances"]) == 2
    npy = tmp_path / "s.npy"
    assert (
        main(
            ["sample", "--model", str(out / "model.keras"), "--num-samples", "5", "--npy", str(npy)]
        )
        == 0
    )
    assert np.load(npy).shape == (5, 8, 8, 1)
    figures = {p.name for p in (out / "figures").iterdir()}
    assert {
        "training_history.png",
        "samples.png",
        "latent_scatter.png",
        "latent_manifold.png",
    } <= figures
    assert 'src="figures/latent_manifold.png"' in (out / "report.html").read_text()
    (out / "figures" / "latent_manifold.png").unlink()
    assert main(["plot", "--model", str(out / "model.keras"), "--limit", "100"]) == 0
    assert (out / "figures" / "latent_manifold.png").is_file()
    exported = tmp_path / "exported"
    assert main(["export", "--model", str(out / "model.keras"), "--out", str(exported)]) == 0
    assert (exported / "saved_model.pb").is_file()


def test_train_on_real_mnist_files_with_dynamic_binarization(tmp_path, shared_mnist_dir):
    out = tmp_path / "mnist"
    assert (
        main(
            [
                "train",
                "--data-dir",
                str(shared_mnist_dir),
                "--limit",
                "512",
                "--epochs",
                "1",
                "--latent-dim",
                "2",
                "--binarize",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_train"] == 512 and metrics["num_test"] == 10000
    assert 0 < metrics["test"]["reconstruction_loss"] < 784 * np.log(2)
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(out / "model.keras"),
                "--num-samples",
                "2",
                "--limit",
                "200",
            ]
        )
        == 0
    )
    result = json.loads((out / "evaluation.json").read_text())
    assert result["binarized"] is True and result["num_examples"] == 200


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--dataset", "mnsit"], "Did you mean 'mnist'"),
        (
            ["train", "--dataset", "mnist", "--data-dir", "/nonexistent/folder"],
            "/nonexistent/folder",
        ),
        (["evaluate", "--model", "/nonexistent/model.keras"], "No model file"),
    ],
)
def test_errors_print_one_line_without_traceback(argv, message, tmp_path):
    # This checkout's package, not an installed copy (the command runs in tmp_path).
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": root}
    proc = subprocess.run(
        [sys.executable, "-m", "vae_keras", *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"vae-keras {argv[0]}: error:")


def test_argument_errors_exit_with_usage():
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--epochs", "0"])
    assert exit_info.value.code == 2


def _train_cmd(out, epochs=4):
    return [
        sys.executable,
        "-m",
        "vae_keras",
        "train",
        "--dataset",
        "digits",
        "--architecture",
        "dense",
        "--latent-dim",
        "2",
        "--epochs",
        str(epochs),
        "--batch-size",
        "4",
        "--output",
        str(out),
    ]


def test_resuming_with_other_settings_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    from vae_keras import runs

    assert main(_train_cmd(out, epochs=1)[3:] + ["--limit", "64"]) == 0
    (out / "metrics.json").unlink()  # pretend the run was interrupted after epoch 1
    model = runs.load_model(out / "model.keras")
    runs.save_model(model, out / runs.CHECKPOINT)
    assert main(_train_cmd(out, epochs=2)[3:] + ["--limit", "64", "--latent-dim", "3"]) == 2
    assert "other settings (latent_dim: 2 -> 3)" in capsys.readouterr().err


def test_a_resumed_run_counts_the_training_time_before_the_kill(tmp_path, monkeypatch):
    from vae_keras import runs
    from vae_keras.cli import training

    now = [1000.0]  # a clock on which every training batch takes 10 s
    monkeypatch.setattr(training, "time", types.SimpleNamespace(time=lambda: now[0]))

    def fault_point(name):
        if name == "train_batch":
            now[0] += 10.0
        if name == "after_checkpoint" and killed == []:
            killed.append(name)  # the first attempt dies after its first epoch's checkpoint
            raise KeyboardInterrupt

    killed = []
    monkeypatch.setattr(runs, "fault_point", fault_point)
    out = tmp_path / "run"
    argv = _train_cmd(out, epochs=2)[3:] + ["--limit", "64"]  # 16 batches of 4 an epoch
    assert main(argv) == 130
    now[0] += 3600.0  # the time between the kill and the rerun is not training
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["resumed_from_epoch"] == 1
    assert metrics["train_seconds"] == 320.0  # 160 s before the kill + 160 s after it
    assert runs.read_state(out)["train_seconds_after_epoch"] == [160.0, 320.0]

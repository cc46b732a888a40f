"""A training run killed (SIGKILL) at every stage finishes when the same
command is rerun; a second command on a busy run folder is refused."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest

from vae_keras import runs
from vae_keras.cli import main

ROOT = Path(__file__).resolve().parents[1]
# 32 images in batches of 16: 2 steps per epoch, 2 epochs.
ARGS = [
    "train",
    "--dataset",
    "digits",
    "--architecture",
    "dense",
    "--latent-dim",
    "2",
    "--epochs",
    "2",
    "--batch-size",
    "16",
    "--limit",
    "32",
]
STEPS_PER_EPOCH = 2


def _env(fault=None):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    env.pop("VAE_KERAS_FAULT", None)
    if fault:
        env["VAE_KERAS_FAULT"] = fault
    return env


def _train(out, fault=None, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "vae_keras", *ARGS, "--output", str(out)],
        capture_output=True,
        text=True,
        env=_env(fault),
        timeout=300,
        check=False,
        **kwargs,
    )


def _record(out):
    return runs.read_record(out / runs.CHECKPOINT)


def _leftover(name):
    """A temporary file or folder of a write killed midway (removed by the next run)."""
    return any(p.name.startswith(f".{name}.") for p in (Path(_OUT[0])).iterdir())


_OUT = []


def test_a_run_killed_at_every_stage_finishes_on_rerun(tmp_path):
    out = tmp_path / "run"
    _OUT[:] = [out]
    # (fault point, what the folder must show after the kill)
    stages = [
        ("after_checkpoint", lambda: _record(out)["completed_epochs"] == 1),  # no history.json yet
        ("train_batch", lambda: _record(out)["completed_epochs"] == 1),  # mid-epoch 2
        ("model_write", lambda: _record(out)["completed_epochs"] == 2 and _leftover("model.keras")),
        ("evaluate", lambda: runs.read_state(out)["stage"] == "model"),
        ("figures", lambda: runs.read_state(out)["stage"] == "evaluated"),
        ("export", lambda: runs.read_state(out)["stage"] == "figures" and _leftover("saved_model")),
    ]
    for fault, check in stages:
        proc = _train(out, fault)
        assert proc.returncode == -signal.SIGKILL, (fault, proc.stderr[-3000:])
        assert not (out / "metrics.json").exists()
        assert check(), fault

    # The same command, without a fault, finishes the run in this process.
    assert main(ARGS + ["--output", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert {len(v) for v in metrics["history"].values()} == {2}  # every epoch once
    assert json.loads((out / runs.HISTORY).read_text())["history"] == metrics["history"]
    assert runs.read_state(out)["stage"] == "done"
    model = runs.load_model(out / "model.keras")
    assert int(model.optimizer.iterations.numpy()) == 2 * STEPS_PER_EPOCH
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            "config.json",
            "figures",
            "history.json",
            "metrics.json",
            "model.keras",
            "reconstructions.png",
            "report.html",
            "samples.png",
            "saved_model",
            "state.json",
        ]
    )  # no checkpoint, lock or temporary files left
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(out / "saved_model"))
        assert tuple(loaded.sample(2).shape) == (2, 8, 8, 1)
        assert (out / "saved_model").stat().st_mode & 0o777 == runs.DIR_MODE  # follows umask
    assert 'src="figures/latent_manifold.png"' in (out / "report.html").read_text()

    # A finished run is kept; --overwrite starts it over and drops stale results.
    assert main(ARGS + ["--output", str(out)]) == 2
    (out / "evaluation.json").write_text("{}")
    assert main(ARGS + ["--output", str(out), "--overwrite", "--epochs", "1"]) == 0
    assert not (out / "evaluation.json").exists()
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 1


def test_a_second_training_on_a_busy_run_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    first = subprocess.Popen(
        [sys.executable, "-m", "vae_keras", *ARGS, "--epochs", "1000", "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    try:
        lock, deadline = out / runs.RunLock.NAME, time.time() + 300
        while not (lock.exists() and lock.read_text()):
            assert first.poll() is None, first.stderr.read().decode()[-2000:]
            assert time.time() < deadline
            time.sleep(0.2)
        assert main(ARGS + ["--output", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"is in use by another process (pid {first.pid} on" in err
        assert "pass another --output" in err
        assert first.poll() is None  # the owner is untouched
    finally:
        first.kill()
        first.wait()
    # Its lock dies with it: the folder is taken over (with --overwrite: the killed run
    # may have completed more epochs than these arguments ask for).
    assert main(ARGS + ["--output", str(out), "--overwrite"]) == 0
    assert not (out / runs.RunLock.NAME).exists()


@pytest.mark.parametrize(
    "name", [".model.keras.999999999.abc.tmp.keras", ".x.999999998.y.tmp", ".model.tmp.keras"]
)
def test_leftovers_of_dead_processes_are_removed(tmp_path, name):
    (tmp_path / name).write_text("")
    mine = tmp_path / f".y.{os.getpid()}.z.tmp"
    mine.write_text("")
    assert runs.clean_leftovers(tmp_path) == [name]
    assert mine.exists()


def test_an_export_killed_while_replacing_leaves_nothing_after_the_rerun(tmp_path):
    from vae_keras import VAE, networks

    vae = VAE(
        networks.dense_encoder((8, 8, 1), 2, hidden_units=(8,)),
        networks.dense_decoder(2, (8, 8, 1), hidden_units=(8,)),
        seed=0,
    )
    model_file = runs.save_model(vae, tmp_path / "model.keras")
    out = tmp_path / "saved_model"
    command = [sys.executable, "-m", "vae_keras", "export", "--model", str(model_file)]
    first = subprocess.run(
        [*command, "--out", str(out)], capture_output=True, text=True, env=_env(), check=False
    )
    assert first.returncode == 0, first.stderr[-2000:]
    # Killed after moving the old export aside, before the new one took its place.
    killed = subprocess.run(
        [*command, "--out", str(out)],
        capture_output=True,
        text=True,
        env=_env("export_replace"),
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    hidden = lambda: sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))  # noqa: E731
    assert any(name.endswith(".old") for name in hidden())
    rerun = subprocess.run(
        [*command, "--out", str(out)], capture_output=True, text=True, env=_env(), check=False
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert hidden() == []
    assert (out / "saved_model.pb").is_file()

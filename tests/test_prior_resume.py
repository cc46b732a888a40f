"""A VQ model's prior, fitted after training, is checkpointed every epoch: a run killed
while fitting it resumes the prior where it stopped instead of from its first epoch."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from vae_keras import runs
from vae_keras.cli import main

ROOT = Path(__file__).resolve().parents[1]
# 64 digits in batches of 32: 2 steps per epoch; 2 epochs of training, then 2 of the prior.
ARGS = [
    "train",
    "--dataset",
    "digits",
    "--architecture",
    "vqvae",
    "--binarize",
    "--latent-dim",
    "4",
    "--epochs",
    "2",
    "--batch-size",
    "32",
    "--limit",
    "64",
]


def test_a_run_killed_while_fitting_the_prior_resumes_it_after_the_last_epoch(tmp_path, capsys):
    out = tmp_path / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    env["VAE_KERAS_FAULT"] = "after_prior_checkpoint:1"
    proc = subprocess.run(
        [sys.executable, "-m", "vae_keras", *ARGS, "--output", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    record = runs.read_record(out / runs.CHECKPOINT)
    assert record["completed_epochs"] == 2 and record["prior_epochs"] == 1
    assert {len(v) for v in record["history"].values()} == {2}
    assert runs.prior_epochs(out) == 1
    # The checkpoint holds the trained model with the part-fitted prior (not yet "fitted").
    part = runs.load_model(out / runs.CHECKPOINT)
    assert not part.prior_is_fitted()

    assert main([*ARGS, "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "resuming the prior's fitting after 1 of its epochs" in printed
    after = printed.split("resuming the prior's fitting")[1]
    assert "Epoch 2/2" in after and "Epoch 1/2" not in after  # one epoch left, not two
    model = runs.load_model(out / "model.keras")
    assert model.prior_is_fitted()
    assert not (out / runs.CHECKPOINT).exists()
    assert (out / "metrics.json").is_file()

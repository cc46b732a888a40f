"""IWAE fine-tuning in `vae-keras train` (`--finetune-iwae`) and `--recipe best-likelihood`:
the stages run after --epochs on the model's own networks, resume after a kill inside a stage,
and refuse what they cannot do in one line."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from vae_keras import VAE, networks, runs
from vae_keras.app import recipes, report
from vae_keras.cli import main, model_flags
from vae_keras.cli.parser import build_parser
from vae_keras.models import IWAE, BetaTCVAE, PixelIWAE, PixelVAE
from vae_keras.models.capabilities import CapabilityError
from vae_keras.models.iwae import importance_weighted

ROOT = Path(__file__).resolve().parents[1]
# 64 binarized digits in batches of 32: 2 steps per epoch; 1 epoch, then k = 2 and k = 3.
ARGS = [
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
    "--batch-size",
    "32",
    "--limit",
    "64",
    "--finetune-iwae",
    "2,3",
    "--finetune-epochs",
    "1",
]


def _killed_run(out, fault):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    env["VAE_KERAS_FAULT"] = fault
    return subprocess.run(
        [sys.executable, "-m", "vae_keras", *ARGS, "--output", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_finetuning_stages_resume_after_a_kill_and_train_the_same_networks(tmp_path, capsys):
    out = tmp_path / "run"
    # Killed right after the checkpoint of epoch 2: the end of the k = 2 stage.
    proc = _killed_run(out, "after_checkpoint:2")
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert "then IWAE fine-tuning k = 2, 3 for 1, 1 epochs" in proc.stdout
    assert runs.read_record(out / runs.CHECKPOINT)["completed_epochs"] == 2
    stage_one = runs.load_model(out / runs.CHECKPOINT)
    assert type(stage_one) is PixelIWAE and stage_one.num_samples == 2
    encoder_before = [w.copy() for w in stage_one.encoder.get_weights()]

    # Another k under the stage that ran is refused; the same command finishes the run.
    changed = [*ARGS[:-3], "4,3", "--finetune-epochs", "1", "--output", str(out)]
    assert main(changed) == 2
    assert "fine-tuned with k = 2 up to epoch 2, where --finetune-iwae now puts k = 4" in (
        capsys.readouterr().err
    )
    assert main([*ARGS, "--output", str(out)]) == 0
    assert "Resuming" in capsys.readouterr().out

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 1
    assert metrics["finetune"] == {"k": [2, 3], "epochs": [1, 1], "learning_rate": 1e-4}
    # The history figure marks the stages where the loss becomes an IWAE bound.
    marks = report.finetune_stage_marks(metrics["finetune"], len(metrics["history"]["loss"]))
    assert marks == [(2, "IWAE k=2"), (3, "IWAE k=3")]
    assert {len(v) for v in metrics["history"].values()} == {3}  # every epoch once
    assert all(np.isfinite(metrics["history"]["loss"]))
    model = runs.load_model(out / "model.keras")
    assert type(model) is PixelIWAE and model.num_samples == 3
    # The last stage's fresh Adam took 2 steps at the fine-tuning rate.
    assert int(model.optimizer.iterations.numpy()) == 2
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(1e-4)
    # The k = 3 stage trained the networks it was handed.
    after = model.encoder.get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(encoder_before, after, strict=True))
    # The model scores as a PixelVAE: the IWAE bound at k = 5 is finite, in nats.
    assert main(["evaluate", "--model", str(out / "model.keras"), "--num-samples", "5"]) == 0
    result = json.loads((out / "evaluation.json").read_text())
    assert result["binarized"] is True and 0 < result["nll"] < 64 * np.log(2) * 1.5


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--finetune-epochs", "3"], "add --finetune-iwae"),
        (["--finetune-iwae", "5,20", "--finetune-epochs", "1,2,3"], "one per --finetune-iwae"),
        (["--recipe", "best-likelihood"], "add --binarize"),
        (
            ["--recipe", "best-likelihood", "--binarize", "--architecture", "conv"],
            "contradicts it",
        ),
        (["--architecture", "vqvae", "--finetune-iwae", "5"], "has none (vae networks and"),
    ],
)
def test_finetuning_flags_that_cannot_work_are_refused_in_one_line(
    extra, message, tmp_path, capsys
):
    out = tmp_path / "run"
    argv = ["train", "--dataset", "digits", "--limit", "64", "--epochs", "1"]
    assert main([*argv, *extra, "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (out / "config.json").exists()


def _train_args(*argv):
    args = build_parser().parse_args(["train", *argv])
    model_flags.apply_recipe(args)
    return args


def test_the_best_likelihood_recipe_fills_the_flags_left_unset():
    args = _train_args("--binarize", "--recipe", "best-likelihood")
    assert (args.architecture, args.latent_dim, args.epochs) == ("pixelcnn", 32, 180)
    assert args.finetune_iwae == (5, 20, 50) and args.finetune_epochs == (3, 5, 2)
    assert recipes.finetune_stages(args.finetune_iwae, args.finetune_epochs) == [
        (5, 3),
        (20, 5),
        (50, 2),
    ]
    # Given flags win over the recipe's.
    args = _train_args("--binarize", "--recipe", "best-likelihood", "--epochs", "2")
    assert args.epochs == 2 and args.architecture == "pixelcnn"
    assert recipes.finetune_stages((5, 20), None) == [(5, 3), (20, 3)]


def test_the_binary_pixelvae_recipe_decays_from_the_given_rate_without_warmup():
    rate = recipes.learning_rate("pixelvae", "bernoulli", 1e-3, steps=100)
    assert float(rate(0)) == pytest.approx(1e-3)
    assert float(rate(50)) == pytest.approx(0.55e-3, rel=1e-4)
    assert float(rate(100)) == pytest.approx(1e-4, rel=1e-4)
    # The colour recipe still warms up from a tenth of the rate.
    colour = recipes.learning_rate("pixelvae", "discretized_logistic", 1e-3, steps=1000)
    assert float(colour(0)) == pytest.approx(1e-4)


def _vae():
    return VAE(
        networks.dense_encoder((8, 8, 1), 2, hidden_units=(16,)),
        networks.dense_decoder(2, (8, 8, 1), hidden_units=(16,)),
        likelihood="bernoulli",
        free_bits=0.5,
        beta=2.0,
        seed=0,
    )


@pytest.mark.backend
def test_importance_weighted_twins_share_the_networks():
    vae = _vae()
    twin = importance_weighted(vae, 4, seed=7)
    assert type(twin) is IWAE and twin.num_samples == 4 and twin.seed == 7
    assert twin.encoder is vae.encoder and twin.decoder is vae.decoder
    assert twin.free_bits == 0.0 and twin.beta == 1.0  # the bound is IWAE's
    pixel = PixelVAE(
        networks.dense_encoder((8, 8, 1), 2, hidden_units=(16,)),
        networks.dense_decoder(2, (8, 8, 3), hidden_units=(16,)),
        networks.PixelCNN((8, 8, 1), 3, filters=4, head_units=4),
        free_bits=0.25,
        seed=0,
    )
    pixel_twin = importance_weighted(pixel, 3)
    assert type(pixel_twin) is PixelIWAE and pixel_twin.pixelcnn is pixel.pixelcnn
    assert type(importance_weighted(pixel_twin, 5)) is PixelIWAE  # stage after stage
    with pytest.raises(ValueError, match="PixelVAE's is PixelIWAE"):
        IWAE.from_model(pixel, 2)
    with pytest.raises(CapabilityError, match="importance-weighted twin"):
        importance_weighted(BetaTCVAE(vae.encoder, vae.decoder, seed=0), 2)
    # Fine-tuning the twin trains the VAE's own networks.
    x = (np.random.default_rng(0).uniform(size=(32, 8, 8, 1)) > 0.5).astype("float32")
    before = [w.copy() for w in vae.get_weights()]
    twin.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = twin.fit(x, epochs=1, batch_size=16, verbose=0).history
    assert np.isfinite(history["loss"][-1])
    assert any(not np.allclose(a, b) for a, b in zip(before, vae.get_weights(), strict=True))

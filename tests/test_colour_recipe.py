"""The command line's colour PixelVAE recipe: a warm-up + cosine learning-rate schedule over the
run's steps and a clipped gradient norm, kept and continued when a killed run is resumed."""

import json

import keras
import numpy as np
import pytest

from vae_keras.app import recipes
from vae_keras.cli import main


def _schedule_config(optimizer):
    config = optimizer.get_config()["learning_rate"]
    assert isinstance(config, dict), f"a constant learning rate: {config!r}"
    return config["config"]


def test_the_colour_pixel_recipe_warms_up_then_decays_to_a_tenth():
    model = recipes.build_model(
        architecture="pixelcnn",
        likelihood="discretized_logistic",
        shape=(16, 16, 3),
        latent_dim=2,
        learning_rate=2e-3,
        steps=400,
    )
    optimizer = model.optimizer
    assert optimizer.global_clipnorm == recipes.COLOUR_GLOBAL_CLIPNORM
    schedule = optimizer._learning_rate  # the schedule object the optimizer steps
    rate = [float(schedule(step)) for step in (0, 10, 20, 210, 400, 800)]
    # 5% of 400 steps = 20 warm-up steps from 2e-4 to 2e-3, then a cosine over 380 steps.
    np.testing.assert_allclose(rate[:3], [2e-4, 1.1e-3, 2e-3], rtol=1e-5)
    np.testing.assert_allclose(rate[3], 2e-4 + (2e-3 - 2e-4) * 0.5, rtol=1e-5)
    np.testing.assert_allclose(rate[4:], [2e-4, 2e-4], rtol=1e-5)


@pytest.mark.parametrize(
    "architecture, likelihood, shape",
    # (The binary PixelVAE decays its rate too: tests/test_cli_finetune.py.)
    [("conv", "bernoulli", (16, 16, 1)), ("conv", "discretized_logistic", (16, 16, 3))],
)
def test_other_recipes_keep_a_constant_rate(architecture, likelihood, shape):
    model = recipes.build_model(
        architecture=architecture, likelihood=likelihood, shape=shape, latent_dim=2, steps=400
    )
    assert model.optimizer.get_config()["learning_rate"] == pytest.approx(1e-3)
    assert model.optimizer.global_clipnorm is None


def test_a_killed_colour_run_resumes_its_schedule_at_the_new_rate(tmp_path, monkeypatch):
    from vae_keras.app import runs

    def fault_point(name):
        if name == "after_checkpoint" and not killed:
            killed.append(name)  # the first attempt dies after its first epoch's checkpoint
            raise KeyboardInterrupt

    killed = []
    monkeypatch.setattr(runs, "fault_point", fault_point)
    out = tmp_path / "run"
    argv = (
        "train --dataset shapes --image-size 16 --limit 64 --architecture pixelcnn "
        f"--latent-dim 2 --epochs 2 --batch-size 4 --output {out}"
    ).split()
    assert main(argv) == 130
    checkpoint = keras.models.load_model(out / runs.CHECKPOINT, safe_mode=True)
    first = _schedule_config(checkpoint.optimizer)
    metrics_steps = int(checkpoint.optimizer.iterations)
    assert first["warmup_target"] == pytest.approx(1e-3)
    # The run's steps in all: 2 epochs of ceil(train images / 4) batches.
    steps_per_epoch = metrics_steps
    assert first["warmup_steps"] + first["decay_steps"] == 2 * steps_per_epoch

    assert main(argv + ["--learning-rate", "5e-4"]) == 0
    model = keras.models.load_model(out / "model.keras", safe_mode=True)
    resumed = _schedule_config(model.optimizer)
    assert resumed["warmup_target"] == pytest.approx(5e-4)
    assert resumed["initial_learning_rate"] == pytest.approx(5e-5)
    assert resumed["warmup_steps"] + resumed["decay_steps"] == 2 * steps_per_epoch
    assert int(model.optimizer.iterations) == 2 * steps_per_epoch  # the count continued
    assert json.loads((out / "metrics.json").read_text())["resumed_from_epoch"] == 1

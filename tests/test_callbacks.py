"""Tests for `vae_keras.callbacks`: files written per epoch with the right pixels,
fixed prior codes, GIF and TensorBoard output, and exact beta schedules that
really reach the traced train step (run on TF, JAX and torch)."""

import glob
import io
import os

import keras
import matplotlib.image
import numpy as np
import pytest

from vae_keras import VAE, networks
from vae_keras.callbacks import BetaSchedule, ReconstructionGrid, SampleGrid
from vae_keras.plotting import image_grid, paired_grid

SHAPE = (8, 8, 1)


def make_vae(latent_dim=2, **kwargs):
    vae = VAE(
        networks.dense_encoder(SHAPE, latent_dim, hidden_units=(16,)),
        networks.dense_decoder(latent_dim, SHAPE, hidden_units=(16,)),
        seed=0,
        **kwargs,
    )
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    return vae


def data(n=32, seed=0):
    return (np.random.default_rng(seed).uniform(size=(n,) + SHAPE) > 0.5).astype("float32")


def read_png(path):
    return matplotlib.image.imread(path)[..., :3]


# --- SampleGrid ----------------------------------------------------------------------


@pytest.mark.backend
def test_sample_grid_decodes_the_same_fixed_codes_every_epoch(tmp_path):
    vae, callback = (
        make_vae(),
        SampleGrid(tmp_path / "s", num_samples=12, every=2, seed=3, ncols=4, scale=3),
    )
    vae.fit(data(), epochs=4, batch_size=16, verbose=0, callbacks=[callback])
    assert sorted(os.listdir(tmp_path / "s")) == ["samples_epoch_002.png", "samples_epoch_004.png"]
    expected_z = np.random.default_rng(3).standard_normal((12, 2)).astype("float32")
    np.testing.assert_array_equal(callback.z, expected_z)
    png = read_png(tmp_path / "s" / "samples_epoch_004.png")
    assert png.shape == (3 * (3 * 9 - 1), 3 * (4 * 9 - 1), 3)
    # The last picture is the trained decoder applied to the fixed codes.
    expected = image_grid(vae.decode(expected_z), ncols=4)[::1, ::1, 0]
    np.testing.assert_allclose(png[::3, ::3, 0], expected, atol=1.5 / 255)
    vae.fit(data(), epochs=2, batch_size=16, verbose=0, callbacks=[callback])
    np.testing.assert_array_equal(callback.z, expected_z)  # a second fit keeps the codes


@pytest.mark.backend
def test_sample_grid_gif_and_tensorboard(tmp_path):
    import tensorflow as tf
    from PIL import Image

    callback = SampleGrid(
        tmp_path / "s", num_samples=4, gif=True, tensorboard_dir=tmp_path / "tb", scale=2
    )
    make_vae().fit(data(), epochs=3, batch_size=16, verbose=0, callbacks=[callback])
    with Image.open(tmp_path / "s" / "samples.gif") as gif:
        assert gif.n_frames == 3
        assert gif.size == (2 * 17, 2 * 17)
    records = []
    for event_file in glob.glob(str(tmp_path / "tb" / "*")):
        for event in tf.compat.v1.train.summary_iterator(event_file):
            for value in event.summary.value:
                tensor = tf.make_ndarray(value.tensor)
                image = Image.open(io.BytesIO(tensor[2]))
                records.append(
                    (
                        event.step,
                        value.tag,
                        value.metadata.plugin_data.plugin_name,
                        tensor[0],
                        tensor[1],
                        image.size,
                    )
                )
    assert records == [(s, "samples", "images", b"34", b"34", (34, 34)) for s in (1, 2, 3)]


def test_sample_grid_rejects_bad_arguments(tmp_path):
    for kwargs, message in (
        ({"num_samples": 0}, "num_samples=0"),
        ({"every": -1}, "every=-1"),
        ({"seed": -2}, "seed=-2"),
        ({"ncols": 0}, "ncols=0"),
    ):
        with pytest.raises(ValueError, match=message):
            SampleGrid(tmp_path, **kwargs)
    with pytest.raises(ValueError, match="directory=None"):
        SampleGrid(None)


@pytest.mark.backend
def test_sample_grid_needs_a_decoder_model(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(
        ValueError, match=r"SampleGrid.*`latent_vector`.*a Sequential does not declare it"
    ):
        model.fit(
            np.ones((4, 3)), np.ones((4, 3)), epochs=1, verbose=0, callbacks=[SampleGrid(tmp_path)]
        )


# --- ReconstructionGrid -------------------------------------------------------------------


@pytest.mark.backend
def test_reconstruction_grid_pairs_images_with_reconstructions(tmp_path):
    x, vae = data(), make_vae()
    callback = ReconstructionGrid(tmp_path / "r", x[:6], ncols=3, scale=1)
    vae.fit(x, epochs=2, batch_size=16, verbose=0, callbacks=[callback])
    names = ["reconstructions_epoch_001.png", "reconstructions_epoch_002.png"]
    assert sorted(os.listdir(tmp_path / "r")) == names
    png = read_png(tmp_path / "r" / names[1])[..., 0]
    assert png.shape == (4 * 9 - 1, 3 * 9 - 1)  # 2 chunks of 3 -> 4 image rows
    np.testing.assert_allclose(png[:8, :8], x[0, ..., 0], atol=1 / 255)  # original first
    expected = paired_grid(x[:6], vae.reconstruct(x[:6]), ncols=3)[..., 0]
    np.testing.assert_allclose(png, expected, atol=1.5 / 255)


@pytest.mark.backend
def test_reconstruction_grid_checks_image_shape_at_train_begin(tmp_path):
    callback = ReconstructionGrid(tmp_path, np.zeros((4, 7, 7, 1)))  # fine until fit
    with pytest.raises(ValueError, match=r"per-example shape \(7, 7, 1\).*reads \(8, 8, 1\)"):
        make_vae().fit(data(), epochs=1, verbose=0, callbacks=[callback])
    with pytest.raises(ValueError, match=r"Received shape \(0, 8, 8, 1\)"):
        ReconstructionGrid(tmp_path, np.zeros((0,) + SHAPE))


# --- BetaSchedule ---------------------------------------------------------------------------


class BetaProbe(keras.callbacks.Callback):
    """Records the model's beta variable and the logged `beta` after every batch."""

    def __init__(self):
        super().__init__()
        self.variable, self.logged = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.variable.append(float(keras.ops.convert_to_numpy(self.model.beta)))
        self.logged.append(float(logs["beta"]))


def fit_with(schedule, epochs, n=64, batch_size=16, vae=None, **fit_kwargs):
    vae = vae or make_vae()
    probe = BetaProbe()
    history = vae.fit(
        data(n),
        epochs=epochs,
        batch_size=batch_size,
        verbose=0,
        callbacks=[schedule, probe],
        **fit_kwargs,
    )
    return vae, probe, history.history


@pytest.mark.backend
def test_linear_warmup_in_steps_exact_values():
    schedule = BetaSchedule("linear", warmup_steps=6)
    vae, probe, history = fit_with(schedule, epochs=3)  # 4 steps per epoch
    expected = [min(1.0, t / 6) for t in range(12)]
    assert [beta for _, beta in schedule.values] == pytest.approx(expected)
    assert [step for step, _ in schedule.values] == list(range(12))
    assert probe.variable == pytest.approx(expected)  # the model's variable, per batch
    assert probe.logged == pytest.approx(expected)
    assert history["beta"] == pytest.approx([expected[3], expected[7], expected[11]])
    assert float(vae.beta.numpy()) == pytest.approx(1.0)


@pytest.mark.backend
def test_linear_warmup_in_epochs_reaches_a_custom_target():
    schedule = BetaSchedule("linear", warmup_epochs=2, target=4.0, start=1.0)
    vae, probe, history = fit_with(schedule, epochs=3)
    expected = [1.0 + 3.0 * min(1.0, t / 8) for t in range(12)]
    assert probe.variable == pytest.approx(expected)
    assert history["beta"] == pytest.approx([1.0 + 3.0 * 3 / 8, 1.0 + 3.0 * 7 / 8, 4.0])
    assert float(vae.beta.numpy()) == pytest.approx(4.0)


@pytest.mark.backend
def test_the_scheduled_beta_is_what_the_train_step_uses():
    # reconstruction_weight=0 and one batch per epoch: loss == beta * kl_loss exactly.
    vae = make_vae(reconstruction_weight=0.0)
    _, _, history = fit_with(BetaSchedule("linear", warmup_steps=4), epochs=5, n=16, vae=vae)
    assert history["beta"] == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(
        history["loss"], np.multiply(history["beta"], history["kl_loss"]), rtol=1e-5, atol=1e-6
    )
    assert history["kl_loss"][1] > 0


@pytest.mark.backend
def test_cyclical_schedule_fu_et_al():
    # 8 steps, 2 cycles of 4: rise for ratio * 4 = 2 steps, then hold the target.
    schedule = BetaSchedule("cyclical", num_cycles=2, ratio=0.5, target=2.0)
    vae, probe, history = fit_with(schedule, epochs=4, n=32)  # 2 steps per epoch
    expected = [0.0, 1.0, 2.0, 2.0, 0.0, 1.0, 2.0, 2.0]
    assert probe.variable == pytest.approx(expected)
    assert probe.logged == pytest.approx(expected)
    assert history["beta"] == pytest.approx([1.0, 2.0, 1.0, 2.0])
    assert float(vae.beta.numpy()) == pytest.approx(2.0)


@pytest.mark.backend
def test_cyclical_with_explicit_cycles_holds_the_target_after_the_last():
    schedule = BetaSchedule("cyclical", cycle_steps=3, num_cycles=2, ratio=1.0)
    _, probe, _ = fit_with(schedule, epochs=2)  # 8 steps
    assert probe.variable == pytest.approx([0, 1 / 3, 2 / 3, 0, 1 / 3, 2 / 3, 1, 1])


@pytest.mark.backend
def test_per_epoch_updates_and_resumed_training():
    schedule = BetaSchedule("linear", warmup_epochs=4, update_freq="epoch")
    vae, probe, history = fit_with(schedule, epochs=2)
    assert probe.variable == pytest.approx([0.0] * 4 + [0.25] * 4)
    assert history["beta"] == pytest.approx([0.0, 0.25])
    _, probe, history = fit_with(schedule, epochs=4, vae=vae, initial_epoch=2)
    assert history["beta"] == pytest.approx([0.5, 0.75])  # continues from epoch 2


@pytest.mark.backend
def test_default_target_is_the_models_beta():
    vae = make_vae(beta=0.5)
    _, probe, _ = fit_with(BetaSchedule("linear", warmup_steps=2), epochs=1, vae=vae)
    assert probe.variable == pytest.approx([0.0, 0.25, 0.5, 0.5])
    assert float(vae.beta.numpy()) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"schedule": "cosine", "warmup_epochs": 2}, "schedule='cosine'"),
        ({"warmup_epochs": -3}, "warmup_epochs=-3"),
        ({"warmup_steps": 0}, "warmup_steps=0"),
        ({}, "warmup_epochs=None, warmup_steps=None"),
        ({"warmup_epochs": 1, "warmup_steps": 5}, "warmup_epochs=1, warmup_steps=5"),
        ({"schedule": "cyclical", "ratio": 0.0}, "ratio=0.0"),
        ({"schedule": "cyclical", "num_cycles": 0}, "num_cycles=0"),
        ({"schedule": "cyclical", "cycle_epochs": 2, "cycle_steps": 3}, "cycle_steps=3"),
        ({"warmup_epochs": 2, "target": -1.0}, "target=-1.0"),
        ({"warmup_epochs": 2, "update_freq": "step"}, "update_freq='step'"),
    ],
)
def test_beta_schedule_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BetaSchedule(**kwargs)


@pytest.mark.backend
def test_beta_schedule_needs_a_model_with_beta():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(
        ValueError, match=r"BetaSchedule.*`kl_weight`.*a Sequential does not declare it"
    ):
        model.fit(
            np.ones((4, 3)),
            np.ones((4, 3)),
            epochs=1,
            verbose=0,
            callbacks=[BetaSchedule(warmup_epochs=1)],
        )


@pytest.mark.backend
def test_grids_of_a_conditional_vae(tmp_path):
    from vae_keras.models import ConditionalVAE, conditional_decoder, conditional_encoder

    cvae = ConditionalVAE(
        conditional_encoder(SHAPE, 2, 3, hidden_units=(16,)),
        conditional_decoder(2, SHAPE, 3, hidden_units=(16,)),
        num_classes=3,
        seed=0,
    )
    cvae.compile(optimizer="adam")
    x, labels = data(), np.arange(32) % 3
    samples = SampleGrid(tmp_path, num_samples=6, ncols=3, scale=1)
    recons = ReconstructionGrid(tmp_path, x[:3], labels=labels[:3], scale=1)
    cvae.fit((x, labels), epochs=1, batch_size=16, verbose=0, callbacks=[samples, recons])
    png = read_png(tmp_path / "samples_epoch_001.png")[..., 0]
    expected = image_grid(cvae.decode(samples.z, np.arange(6) % 3), ncols=3)[..., 0]
    np.testing.assert_allclose(png, expected, atol=1.5 / 255)
    png = read_png(tmp_path / "reconstructions_epoch_001.png")[..., 0]
    expected = paired_grid(x[:3], cvae.reconstruct(x[:3], labels[:3]))[..., 0]
    np.testing.assert_allclose(png, expected, atol=1.5 / 255)
    with pytest.raises(ValueError, match="is conditional: pass the images' labels"):
        cvae.fit((x, labels), epochs=1, verbose=0, callbacks=[ReconstructionGrid(tmp_path, x[:3])])
    with pytest.raises(ValueError, match="3 images, received 2 labels"):
        ReconstructionGrid(tmp_path, x[:3], labels=[0, 1])


class _Poison(keras.callbacks.Callback):
    """Makes the loss infinite from (epoch, batch) on, through the beta variable."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at, self.epoch = (epoch, batch), 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            self.model._assign_weight(self.model._beta, float("inf"))


@pytest.mark.backend
def test_nan_guard_stops_names_epoch_and_batch_and_restores_weights():
    from vae_keras.callbacks import NaNGuard, NonFiniteLossError

    x = np.random.default_rng(0).uniform(size=(64, 8, 8, 1)).astype("float32")
    vae = VAE(
        networks.dense_encoder((8, 8, 1), 2, hidden_units=(8,)),
        networks.dense_decoder(2, (8, 8, 1), hidden_units=(8,)),
        seed=0,
    )
    vae.compile()
    snapshots = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: snapshots.append(vae.get_weights())
    )
    guard = NaNGuard()
    with pytest.raises(
        NonFiniteLossError, match=r"loss became inf in epoch 2/3 at batch 3/4.*after epoch 1"
    ):
        vae.fit(
            x,
            epochs=3,
            batch_size=16,
            shuffle=False,
            verbose=0,
            callbacks=[_Poison(1, 2), record, guard],
        )
    assert guard.tripped[:3] == (2, 3, "loss") and guard.good_epoch == 1
    for restored, good in zip(vae.get_weights(), snapshots[0], strict=True):
        np.testing.assert_array_equal(restored, good)
    assert all(np.isfinite(w).all() for w in vae.get_weights())

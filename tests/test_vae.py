import math

import keras
import numpy as np
import pytest
from keras import ops

from tests.helpers import (
    assert_close,
    assert_elbo_history,
    normalized,
    saved_model_round_trip,
    serialization_round_trip,
)
from vae_keras import VAE, losses, networks

pytestmark = pytest.mark.backend
SHAPE = (8, 8, 1)


def small_vae(latent_dim=2, output_activation=None, **kwargs):
    return VAE(
        networks.dense_encoder(SHAPE, latent_dim, hidden_units=(16,)),
        networks.dense_decoder(
            latent_dim, SHAPE, hidden_units=(16,), output_activation=output_activation
        ),
        **kwargs,
    )


def near_deterministic(vae):
    """Makes q(z|x) a near point mass (log-variance -40) so losses are exact."""
    layer = vae.encoder.get_layer("z_log_var")
    kernel, bias = layer.get_weights()
    layer.set_weights([np.zeros_like(kernel), np.full_like(bias, -40.0)])
    return vae


def test_fit_and_evaluate_report_the_three_losses(binary_images):
    vae = small_vae(seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = vae.fit(
        binary_images, epochs=3, batch_size=16, verbose=0, validation_data=(binary_images[:16],)
    ).history
    assert_elbo_history(history)  # the six names; loss = rec + beta * KL with the defaults
    # Per-example sums: starts near 64 pixels * log 2 nats, and training lowers it.
    assert history["reconstruction_loss"][0] == pytest.approx(64 * math.log(2), rel=0.15)
    assert history["loss"][-1] < history["loss"][0]
    result = vae.evaluate(binary_images, verbose=0, return_dict=True)
    assert sorted(result) == ["kl_loss", "loss", "reconstruction_loss"]


def test_losses_are_per_example_sums_averaged_over_the_batch(binary_images):
    vae = near_deterministic(small_vae(seed=0, beta=0.5, reconstruction_weight=2.0))
    vae.compile()
    result = vae.evaluate(binary_images, batch_size=64, verbose=0, return_dict=True)
    z_mean, z_log_var = vae.encode(binary_images)
    logits = ops.convert_to_numpy(vae.decoder(z_mean))
    p = 1 / (1 + np.exp(-logits))
    x = binary_images
    rec = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(64, -1).sum(1).mean()
    kl = (0.5 * (np.exp(z_log_var) + z_mean**2 - 1 - z_log_var).sum(1)).mean()
    assert result["reconstruction_loss"] == pytest.approx(rec, rel=1e-4)
    assert result["kl_loss"] == pytest.approx(kl, rel=1e-4)
    assert result["loss"] == pytest.approx(2.0 * rec + 0.5 * kl, rel=1e-4)


class _Recorder(keras.callbacks.Callback):
    """Changes beta before some batches; recovers per-batch losses from running means."""

    def __init__(self, betas):
        super().__init__()
        self.betas, self.rows, self.previous = betas, [], None

    def on_epoch_begin(self, epoch, logs=None):
        self.previous, self.step = None, 0

    def on_train_batch_begin(self, batch, logs=None):
        self.model.beta = self.betas[len(self.rows) % len(self.betas)]

    def on_train_batch_end(self, batch, logs=None):
        means = {k: float(v) for k, v in logs.items()}
        k = self.step
        values = (
            means
            if self.previous is None
            else {n: (k + 1) * means[n] - k * self.previous[n] for n in means}
        )
        self.rows.append((self.betas[len(self.rows) % len(self.betas)], values))
        self.previous, self.step = means, k + 1


def test_beta_changes_mid_epoch_take_effect_on_every_backend(binary_images):
    vae = small_vae(seed=1)
    vae.compile()
    recorder = _Recorder([0.0, 3.0, 1.0, 10.0])
    vae.fit(binary_images, epochs=2, batch_size=16, shuffle=False, verbose=0, callbacks=[recorder])
    assert len(recorder.rows) == 8
    for beta, v in recorder.rows:
        assert v["loss"] == pytest.approx(
            v["reconstruction_loss"] + beta * v["kl_loss"], rel=1e-3, abs=1e-3
        )
    assert float(ops.convert_to_numpy(vae.beta)) == 10.0


def test_reconstruction_weight_is_a_variable(binary_images):
    vae = small_vae(seed=0)
    vae.compile()
    vae.reconstruction_weight = 0.0
    result = vae.evaluate(binary_images, verbose=0, return_dict=True)
    assert result["loss"] == pytest.approx(result["kl_loss"], rel=1e-5)
    with pytest.raises(ValueError, match="beta"):
        vae.beta = -1.0


def test_save_and_load_round_trip(binary_images, tmp_path):
    vae = small_vae(seed=0, beta=2.0, likelihood="bernoulli")
    vae.compile()
    vae.fit(binary_images, epochs=1, batch_size=32, verbose=0)
    vae.beta = 0.25
    loaded = saved_model_round_trip(vae, tmp_path)
    assert normalized(loaded.get_config()) == normalized(vae.get_config())
    assert float(ops.convert_to_numpy(loaded.beta)) == 0.25
    assert_close(loaded.reconstruct(binary_images), vae.reconstruct(binary_images))
    assert_close(loaded.encode(binary_images)[1], vae.encode(binary_images)[1])
    assert_close(loaded.sample(5, seed=4), vae.sample(5, seed=4))
    # The loaded model is compiled and keeps training.
    loaded.fit(binary_images, epochs=1, batch_size=32, verbose=0)
    assert serialization_round_trip(small_vae(seed=3)).seed == 3


def test_sample_shapes_seeds_and_freshness():
    vae = small_vae(seed=0)
    a = vae.sample(7, seed=1)
    assert a.shape == (7,) + SHAPE and a.dtype == np.float32
    assert ((a >= 0) & (a <= 1)).all()  # Bernoulli means are probabilities
    assert_close(a, vae.sample(7, seed=1))
    assert not np.allclose(vae.sample(7), vae.sample(7))
    with pytest.raises(ValueError, match="num_samples=0"):
        vae.sample(0)


def test_saturated_decoder_gives_finite_loss_on_exact_zeros_and_ones(binary_images):
    for activation in (None, "sigmoid"):
        vae = small_vae(seed=0, output_activation=activation)
        out = vae.decoder.get_layer("decoder_output")
        kernel, bias = out.get_weights()
        out.set_weights([kernel * 100.0, bias + 100.0])  # logits ~ +100: p == 1.0 in float32
        vae.compile()
        history = vae.fit(binary_images, epochs=2, batch_size=16, verbose=0).history
        assert np.isfinite(history["loss"]).all(), (activation, history)


def test_sigmoid_decoders_are_read_as_probabilities():
    vae = small_vae(output_activation="sigmoid")
    z = np.zeros((3, 2), "float32")
    assert_close(vae.decode(z), ops.convert_to_numpy(vae.decoder(z)))  # no second sigmoid
    logits_vae = small_vae()
    assert_close(
        logits_vae.decode(z), 1 / (1 + np.exp(-ops.convert_to_numpy(logits_vae.decoder(z))))
    )


def test_gaussian_likelihood_accepts_any_real_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32,) + SHAPE).astype("float32") * 3
    vae = near_deterministic(small_vae(likelihood="gaussian", seed=0))
    vae.compile()
    result = vae.evaluate(x, batch_size=32, verbose=0, return_dict=True)
    mean = ops.convert_to_numpy(vae.decoder(vae.encode(x)[0]))
    expected = (((x - mean) ** 2).reshape(32, -1).sum(1) + 32 * math.log(math.pi)).mean()
    assert result["reconstruction_loss"] == pytest.approx(expected, rel=1e-4)


def test_denoising_uses_y_as_target(binary_images):
    vae = near_deterministic(small_vae(seed=0))
    vae.compile()
    noisy = np.clip(binary_images + 0.3, 0, 1)
    result = vae.evaluate(noisy, binary_images, batch_size=64, verbose=0, return_dict=True)
    logits = ops.convert_to_numpy(vae.decoder(vae.encode(noisy)[0]))
    expected = ops.convert_to_numpy(losses.bernoulli_nll(binary_images, logits)).mean()
    assert result["reconstruction_loss"] == pytest.approx(expected, rel=1e-4)
    vae.fit(noisy, binary_images, epochs=1, batch_size=32, verbose=0)


@pytest.mark.parametrize(
    "data, match",
    [
        (np.zeros((4, 8, 8)), r"Add a channel axis"),
        (np.zeros((4, 64)), r"Reshape it"),
        (np.zeros((4, 9, 9, 1)), r"\(9, 9, 1\)"),
        (np.full((4, 8, 8, 1), np.nan), r"NaN"),
        (np.full((4, 8, 8, 1), 255.0), r"\[255, 255\].*x / 255.0"),
        (np.zeros((0, 8, 8, 1)), r"empty"),
    ],
)
def test_fit_rejects_bad_data_before_training(data, match):
    vae = small_vae()
    vae.compile()
    with pytest.raises(ValueError, match=match):
        vae.fit(data, epochs=1, verbose=0)


def test_tf_dataset_inputs_are_checked_too():
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.data is the TensorFlow backend's input")
    vae = small_vae()
    vae.compile()
    bad = tf.data.Dataset.from_tensor_slices(np.full((8, 8, 8, 1), 2.0, "float32")).batch(4)
    with pytest.raises(ValueError, match="Bernoulli"):
        vae.fit(bad, epochs=1, verbose=0)


@pytest.mark.parametrize(
    "build, match",
    [
        (
            lambda: VAE(networks.dense_encoder(SHAPE, 2), networks.dense_decoder(3, SHAPE)),
            r"latent_dim=2.*latent_dim=3",
        ),
        (
            lambda: VAE(networks.dense_encoder(SHAPE, 2), networks.dense_decoder(2, (9, 9, 1))),
            r"output_shape=\(8, 8, 1\)",
        ),
        (lambda: small_vae(likelihood="poisson"), r"poisson"),
        (lambda: small_vae(beta=-1), r"beta=-1"),
        (lambda: small_vae(beta=float("nan")), r"beta=nan"),
        (lambda: VAE("encoder", networks.dense_decoder(2, SHAPE)), r"keras.Model"),
        (lambda: small_vae().compile(loss="mse"), r"loss='mse'"),
    ],
)
def test_bad_construction_is_rejected(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_slides_style_encoder_with_three_outputs_works(binary_images):
    inputs = keras.Input(SHAPE)
    h = keras.layers.Dense(8, activation="relu")(keras.layers.Flatten()(inputs))
    z_mean, z_log_var = keras.layers.Dense(2)(h), keras.layers.Dense(2)(h)
    z = keras.layers.Add()([z_mean, z_log_var])  # stands in for the slides' sampled z
    encoder = keras.Model(inputs, [z_mean, z_log_var, z])
    vae = VAE(encoder, networks.dense_decoder(2, SHAPE, hidden_units=(8,)))
    vae.compile()
    vae.fit(binary_images, epochs=1, batch_size=32, verbose=0)
    assert vae.encode(binary_images)[0].shape == (64, 2)


def test_seeded_runs_give_identical_weights(binary_images):
    def run():
        keras.utils.set_random_seed(0)
        vae = small_vae(seed=0)
        vae.compile()
        vae.fit(binary_images, epochs=1, batch_size=16, shuffle=False, verbose=0)
        return vae.get_weights()

    for a, b in zip(run(), run(), strict=True):
        np.testing.assert_array_equal(a, b)

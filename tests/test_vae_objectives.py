"""Tests for the VAE's training options: free bits, IWAE, learned Gaussian
variance, and training-time corruption (denoising)."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from tests.helpers import VAE_HISTORY_KEYS, assert_close, normalized, saved_model_round_trip
from vae_keras import losses, networks
from vae_keras.layers import Sampling
from vae_keras.models import IWAE, VAE

pytestmark = pytest.mark.backend
SHAPE = (8, 8, 1)


def small_nets(latent_dim=2, units=16):
    return (
        networks.dense_encoder(SHAPE, latent_dim, hidden_units=(units,)),
        networks.dense_decoder(latent_dim, SHAPE, hidden_units=(units,)),
    )


def set_dense(model, layer, kernel_scale=None, bias=None):
    layer = model.encoder.get_layer(layer)
    kernel, b = layer.get_weights()
    layer.set_weights(
        [
            kernel if kernel_scale is None else kernel * kernel_scale,
            b if bias is None else np.asarray(bias, "float32"),
        ]
    )


def twin(model, **overrides):
    clone = type(model).from_config({**model.get_config(), **overrides})
    clone.set_weights(model.get_weights())
    clone.compile()
    return clone


def bce(x, logits):
    return ops.convert_to_numpy(losses.bernoulli_nll(x, logits))


# === Free bits ===


def test_free_bits_clamp_the_batch_mean_kl_of_each_dimension(binary_images):
    vae = VAE(*small_nets(), beta=2.0, free_bits=1.0, seed=0)
    vae.compile()
    # Dimension 0: a data-dependent mean, KL well under 1 nat on average;
    # dimension 1: mean 3 and unit variance for every x, KL = 4.5 nats.
    set_dense(vae, "z_mean", kernel_scale=np.array([[0.3, 0.0]]), bias=[0.0, 3.0])
    set_dense(vae, "z_log_var", kernel_scale=0.0, bias=[0.0, 0.0])
    z_mean, z_log_var = vae.encode(binary_images)
    kl_per_dim = (0.5 * (np.exp(z_log_var) + z_mean**2 - 1 - z_log_var)).mean(0)
    assert kl_per_dim[0] < 0.5 and kl_per_dim[1] == pytest.approx(4.5)
    result = vae.evaluate(binary_images, batch_size=64, verbose=0, return_dict=True)
    assert result["kl_loss"] == pytest.approx(kl_per_dim.sum(), rel=1e-5)  # the true KL
    assert result["loss"] - result["reconstruction_loss"] == pytest.approx(
        2.0 * (1.0 + 4.5), rel=1e-4
    )
    plain = twin(vae, free_bits=0.0)
    result = plain.evaluate(binary_images, batch_size=64, verbose=0, return_dict=True)
    assert result["loss"] - result["reconstruction_loss"] == pytest.approx(
        2.0 * kl_per_dim.sum(), rel=1e-4
    )


def test_kl_under_the_free_bits_gets_no_gradient(binary_images):
    """With every dimension under the floor, training equals training with beta=0."""

    def train(**kwargs):
        keras.utils.set_random_seed(1)
        vae = VAE(*small_nets(), seed=0, **kwargs)
        vae.compile(optimizer=keras.optimizers.Adam(1e-2))
        vae.fit(binary_images, epochs=2, batch_size=16, shuffle=False, verbose=0)
        return [ops.convert_to_numpy(w) for w in vae.trainable_weights]

    floor, no_kl, elbo = train(free_bits=100.0), train(beta=0.0), train()
    for a, b in zip(floor, no_kl, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert max(np.abs(a - b).max() for a, b in zip(floor, elbo, strict=True)) > 1e-3


def test_free_bits_arguments_are_checked():
    with pytest.raises(ValueError, match="free_bits=-1"):
        VAE(*small_nets(), free_bits=-1)
    with pytest.raises(ValueError, match="free_bits=0.5"):
        IWAE(*small_nets(), free_bits=0.5)


# === IWAE ===


def test_iwae_fit_reports_the_vae_metric_names(binary_images, tmp_path):
    iwae = IWAE(*small_nets(), num_samples=8, seed=0)
    iwae.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = iwae.fit(
        binary_images, epochs=4, batch_size=16, verbose=0, validation_data=(binary_images[:16],)
    ).history
    assert sorted(history) == VAE_HISTORY_KEYS
    assert history["loss"][-1] < history["loss"][0]
    # The bound is tighter than the one-sample ELBO it is reported next to.
    assert history["loss"][-1] < history["reconstruction_loss"][-1] + history["kl_loss"][-1]
    loaded = saved_model_round_trip(iwae, tmp_path)
    assert loaded.num_samples == 8
    assert normalized(loaded.get_config()) == normalized(iwae.get_config())
    assert_close(loaded.reconstruct(binary_images), iwae.reconstruct(binary_images))


def test_iwae_loss_is_the_log_mean_exp_of_the_importance_weights(binary_images):
    """With q(z|x) = N(0, I) = p(z), w_i = p(x | z_i): checked against NumPy."""
    k, seed = 3, 11
    iwae = IWAE(*small_nets(), num_samples=k, seed=seed)
    set_dense(iwae, "z_mean", kernel_scale=0.0, bias=[0.0, 0.0])
    set_dense(iwae, "z_log_var", kernel_scale=0.0, bias=[0.0, 0.0])
    decoder_out = iwae.decoder.get_layer("decoder_output")
    kernel, bias = decoder_out.get_weights()
    decoder_out.set_weights([kernel * 10.0, bias])  # make p(x | z) depend strongly on z
    result = iwae.compute_losses(binary_images, training=False)
    # The same draws as the model's fresh sampler, sample-major: row i * B + b.
    n = len(binary_images)
    zeros = np.zeros((k * n, 2), "float32")
    z = Sampling(seed=seed)([zeros, zeros])
    log_px = -bce(np.concatenate([binary_images] * k), iwae.decoder(z)).reshape(k, n)
    top = log_px.max(0)
    bound = top + np.log(np.exp(log_px - top).mean(0))
    assert float(result["loss"]) == pytest.approx(-bound.mean(), rel=1e-5)
    assert float(result["reconstruction_loss"]) == pytest.approx(-log_px.mean(), rel=1e-5)
    assert float(result["kl_loss"]) == pytest.approx(0.0, abs=1e-6)
    # Paired by example, not shuffled: a k-sample bound per example beats its worst sample.
    assert (bound >= log_px.min(0) - 1e-4).all()


def test_iwae_bound_is_tighter_than_the_elbo_on_the_same_model(binary_images):
    encoder, decoder = small_nets()
    vae = VAE(encoder, decoder, seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    vae.fit(binary_images, epochs=15, batch_size=16, verbose=0)

    def mean_loss(model, repeats=10):
        return np.mean([float(model.compute_losses(binary_images)["loss"]) for _ in range(repeats)])

    elbo = mean_loss(vae)
    bounds = {k: mean_loss(IWAE(encoder, decoder, num_samples=k, seed=1)) for k in (1, 50)}
    # k = 1 estimates the same ELBO (with a sampled KL); k = 50 is clearly tighter.
    assert bounds[1] == pytest.approx(elbo, abs=0.25), (elbo, bounds)
    assert bounds[50] < elbo - 0.2, (elbo, bounds)


def test_iwae_num_samples_is_checked():
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="num_samples"):
            IWAE(*small_nets(), num_samples=bad)


# === Gaussian likelihood with a learned variance ===


def noisy_patterns(columns_with_noise=slice(None), sigma=0.3, n=128):
    rng = np.random.default_rng(0)
    base = np.zeros((2,) + SHAPE, "float32")
    base[0, :, :4] = 1.0
    base[1, :4, :] = 1.0
    x = base[rng.integers(0, 2, n)]
    noise = np.zeros_like(x)
    noise[:, :, columns_with_noise] = rng.normal(0, sigma, x[:, :, columns_with_noise].shape)
    return x + noise


def test_learned_variance_is_one_trainable_weight_used_by_the_loss(binary_images):
    scalar = VAE(*small_nets(), likelihood="gaussian", gaussian_variance="learned", seed=0)
    per_pixel = VAE(*small_nets(), likelihood="gaussian", gaussian_variance="learned_per_pixel")
    for model, shape in ((scalar, ()), (per_pixel, SHAPE)):
        (weight,) = [w for w in model.trainable_weights if "gaussian_log_variance" in w.path]
        assert tuple(weight.shape) == shape
        np.testing.assert_allclose(model.output_variance, 0.5, rtol=1e-6)
    assert VAE(*small_nets()).output_variance is None
    # The loss reads the variable: N(x; mean, 0.2) with a near-deterministic encoder.
    scalar.gaussian_log_variance.assign(math.log(0.2))
    set_dense(scalar, "z_log_var", kernel_scale=0.0, bias=[-40.0, -40.0])
    scalar.compile()
    x = binary_images
    result = scalar.evaluate(x, batch_size=64, verbose=0, return_dict=True)
    mean = ops.convert_to_numpy(scalar.decoder(scalar.encode(x)[0]))
    expected = (
        (0.5 * (np.log(2 * np.pi * 0.2) + (x - mean) ** 2 / 0.2)).reshape(64, -1).sum(1).mean()
    )
    assert result["reconstruction_loss"] == pytest.approx(expected, rel=1e-4)
    scalar.gaussian_log_variance.assign(-50.0)  # clipped to the 1e-3 floor
    assert scalar.output_variance == pytest.approx(1e-3, rel=1e-5)


def test_learned_variance_converges_to_the_noise_level():
    x = noisy_patterns(sigma=0.3)
    keras.utils.set_random_seed(0)
    vae = VAE(*small_nets(units=32), likelihood="gaussian", gaussian_variance="learned", seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(4e-2))
    vae.fit(x, epochs=30, batch_size=32, verbose=0)
    mse = float(np.mean((vae.reconstruct(x) - x) ** 2))
    assert float(vae.output_variance) == pytest.approx(0.09, rel=0.35)  # sigma^2, from 0.5
    assert float(vae.output_variance) == pytest.approx(mse, rel=0.35)


def test_learned_per_pixel_variance_separates_noisy_and_clean_pixels():
    x = noisy_patterns(columns_with_noise=slice(4, 8), sigma=0.3)
    keras.utils.set_random_seed(0)
    vae = VAE(
        *small_nets(units=32), likelihood="gaussian", gaussian_variance="learned_per_pixel", seed=0
    )
    vae.compile(optimizer=keras.optimizers.Adam(4e-2))
    vae.fit(x, epochs=30, batch_size=32, verbose=0)
    variance = vae.output_variance[..., 0]
    clean, noisy = variance[:, :4].mean(), variance[:, 4:].mean()
    assert noisy == pytest.approx(0.09, rel=0.35), (clean, noisy)
    assert clean < 0.2 * noisy, (clean, noisy)


# === Corruption in the VAE ===


def test_vae_corruption_applies_in_training_only_with_the_clean_target(binary_images):
    x = binary_images
    keras.utils.set_random_seed(0)
    vae = VAE(*small_nets(), seed=3, corruption="mask", corruption_level=0.5)
    vae.compile()
    for net in (vae.encoder, vae.decoder):  # large weights: outputs depend on inputs
        net.set_weights([w * 3.0 for w in net.get_weights()])
    set_dense(vae, "z_log_var", kernel_scale=0.0, bias=[-40.0, -40.0])  # z = z_mean
    clean = twin(vae, corruption=None)
    replay = twin(vae)
    # Not training: the same as without corruption (same seeds, same sampling noise).
    assert vae.evaluate(x, verbose=0, return_dict=True) == pytest.approx(
        clean.evaluate(x, verbose=0, return_dict=True), rel=1e-6
    )
    # Training: the encoder reads the masked x, the loss compares with the clean x.
    noisy = replay.corrupt_inputs(x, training=True)
    logits = vae.decoder(vae.encoder(noisy)[0])
    trained = vae.compute_losses(x, training=True)
    assert float(trained["reconstruction_loss"]) == pytest.approx(bce(x, logits).mean(), rel=1e-4)
    clean_input = float(clean.compute_losses(x, training=True)["reconstruction_loss"])
    assert abs(clean_input - float(trained["reconstruction_loss"])) > 1e-3 * clean_input
    history = vae.fit(x, epochs=1, batch_size=16, verbose=0).history
    assert sorted(history) == ["kl_loss", "loss", "reconstruction_loss"]

"""Likelihood objects: the discretized logistic (and its mixture) as exact 8-bit masses,
their wiring into VAE (bits per dimension, data checks, saving), and bits/dim conversions."""

import itertools
import math

import keras
import numpy as np
import pytest

from vae_keras import VAE, evaluation, likelihoods, networks
from vae_keras.likelihoods import DiscretizedLogistic

ALL_VALUES = np.arange(256, dtype="float32") / 255.0


def _np(t):
    return np.asarray(keras.ops.convert_to_numpy(t), dtype="float64")


def _sigmoid(v):
    return 0.5 * (1.0 + math.tanh(0.5 * v))


def _direct_mass(k, loc, log_scale):
    """The logistic mass of bin k computed directly in float64 on the [-1, 1] scale."""
    x, s = 2.0 * k / 255.0 - 1.0, math.exp(max(min(log_scale, 7.0), -7.0))
    upper = 1.0 if k == 255 else _sigmoid((x + 1.0 / 255.0 - loc) / s)
    lower = 0.0 if k == 0 else _sigmoid((x - 1.0 / 255.0 - loc) / s)
    return upper - lower


@pytest.mark.backend
@pytest.mark.parametrize(
    "loc, log_scale", [(0.1, -1.0), (0.9, -7.0), (-1.4, -3.0), (0.0, 2.0), (-0.2, -9.0)]
)
def test_discretized_logistic_sums_to_one_and_matches_direct_computation(loc, log_scale):
    outputs = np.tile(np.array([[loc, log_scale]], "float32"), (256, 1))
    nll = _np(DiscretizedLogistic().nll(ALL_VALUES[:, None], outputs))
    masses = np.exp(-nll)
    assert masses.sum() == pytest.approx(1.0, abs=2e-5)
    direct = np.array([_direct_mass(k, loc, log_scale) for k in range(256)])
    big = direct > 1e-6  # where float64 differences are themselves exact enough
    np.testing.assert_allclose(masses[big], direct[big], rtol=2e-3)
    # Tiny masses far in the tails stay finite (logits only, no 1 - 1).
    assert np.isfinite(nll).all()


@pytest.mark.backend
def test_discretized_logistic_is_finite_with_finite_gradients_at_extremes():
    x = np.array([[0.0, 1.0, 0.5, 0.0]], "float32")
    outputs = keras.Variable(
        np.array([[30.0, -30.0, 0.0, -1.0, 50.0, -50.0, -50.0, 50.0]], "float32")
    )
    nll = DiscretizedLogistic().nll(x, outputs)
    assert np.isfinite(_np(nll)).all()
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            value = keras.ops.sum(DiscretizedLogistic().nll(x, outputs))
        assert np.isfinite(tape.gradient(value, outputs.value).numpy()).all()


def test_mixture_of_logistics_sums_to_one_over_all_pairs_and_matches_a_loop():
    likelihood = DiscretizedLogistic(num_mixtures=2)
    channels = 2  # 65536 joint values: the whole distribution of one pixel
    assert likelihood.output_channels(channels) == 2 * (1 + 4 + 1)
    rng = np.random.default_rng(0)
    params = rng.normal(scale=0.5, size=(likelihood.output_channels(channels),)).astype("float32")
    params[5:9] -= 2.0  # smallish scales: a peaked, coupled distribution
    grid = np.array(list(itertools.product(range(256), repeat=2)), "float32") / 255.0
    outputs = np.tile(params, (len(grid), 1))
    nll = _np(likelihood.nll(grid, outputs))
    assert np.exp(-nll).sum() == pytest.approx(1.0, abs=1e-4)

    # A direct loop for a few values: mixture of (channel 0) x (channel 1 | channel 0).
    logits, locs = params[:2], params[2:].reshape(-1, 2)
    loc, log_scale, coeff = locs[:2], locs[2:4], np.tanh(locs[4])
    weights = np.exp(logits) / np.exp(logits).sum()
    for r, g in [(0, 0), (17, 200), (128, 128), (255, 3)]:
        x0 = 2 * r / 255 - 1
        p = sum(
            weights[k]
            * _direct_mass(r, loc[0, k], log_scale[0, k])
            * _direct_mass(g, loc[1, k] + coeff[k] * x0, log_scale[1, k])
            for k in range(2)
        )
        got = math.exp(-nll[r * 256 + g])
        assert got == pytest.approx(p, rel=2e-3, abs=1e-9)


def test_rgb_mixture_has_pixelcnnpp_channel_count_and_valid_samples_and_means():
    likelihood = DiscretizedLogistic(num_mixtures=5)
    assert likelihood.output_channels(3) == 50  # 10 K for RGB, as in PixelCNN++
    rng = np.random.default_rng(1)
    outputs = rng.normal(size=(4, 6, 6, 50)).astype("float32")
    draws = _np(likelihood.sample(outputs, seed=3))
    assert draws.shape == (4, 6, 6, 3)
    assert draws.min() >= 0.0 and draws.max() <= 1.0
    np.testing.assert_allclose(draws * 255, np.round(draws * 255), atol=1e-3)
    mean = _np(likelihood.mean(outputs))
    assert mean.shape == (4, 6, 6, 3) and mean.min() >= 0.0 and mean.max() <= 1.0


def test_single_logistic_samples_follow_the_location():
    likelihood = DiscretizedLogistic()
    loc = np.linspace(-0.8, 0.8, 5, dtype="float32")
    outputs = np.concatenate([np.tile(loc, (4000, 1)), np.full((4000, 5), -3.0, "float32")], -1)
    draws = _np(likelihood.sample(outputs, seed=0))
    np.testing.assert_allclose(draws.mean(axis=0), (loc + 1) / 2, atol=0.01)
    np.testing.assert_allclose(_np(likelihood.mean(outputs[:1]))[0], (loc + 1) / 2, atol=1e-6)


def _grid_images(n=32, shape=(8, 8, 3), seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, size=(n, *shape)) / 255.0).astype("float32")


def _dl_vae(likelihood="discretized_logistic", shape=(8, 8, 3), **kwargs):
    channels = likelihoods.get(likelihood).output_channels(shape[-1])
    return VAE(
        networks.dense_encoder(shape, 2, hidden_units=(16,)),
        networks.dense_decoder(2, shape[:-1] + (channels,), hidden_units=(16,)),
        likelihood=likelihood,
        seed=0,
        **kwargs,
    )


@pytest.mark.backend
def test_vae_with_discretized_logistic_reports_bits_per_dim_of_the_negative_elbo():
    x = _grid_images()
    vae = _dl_vae(beta=0.5)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = vae.fit(x, epochs=1, batch_size=16, verbose=0).history
    assert sorted(history) == ["bits_per_dim", "kl_loss", "loss", "reconstruction_loss"]
    result = vae.evaluate(x, batch_size=32, verbose=0, return_dict=True)
    expected = (result["reconstruction_loss"] + result["kl_loss"]) / (192 * math.log(2))
    assert result["bits_per_dim"] == pytest.approx(expected, rel=1e-4)
    # Uniform noise costs ~8 bits/dim; an untrained decoder is near that.
    assert 5.0 < result["bits_per_dim"] < 12.0
    decoded = vae.decode(np.zeros((2, 2), "float32"))
    assert decoded.shape == (2, 8, 8, 3) and decoded.min() >= 0 and decoded.max() <= 1


def test_discretized_logistic_refuses_off_grid_data_and_wrong_decoders():
    vae = _dl_vae()
    vae.compile()
    x = _grid_images() * np.float32(0.999)
    with pytest.raises(ValueError, match=r"off that grid.*np.round\(x \* 255\) / 255"):
        vae.fit(x, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="in \\[0, 1\\]|divide"):
        vae.fit(_grid_images() * 255, epochs=1, verbose=0)
    shape = (8, 8, 3)
    with pytest.raises(ValueError, match=r"needs 6 decoder channels.*output_channels=6"):
        VAE(
            networks.dense_encoder(shape, 2, hidden_units=(16,)),
            networks.dense_decoder(2, shape, hidden_units=(16,)),
            likelihood="discretized_logistic",
        )
    with pytest.raises(ValueError, match="num_mixtures"):
        DiscretizedLogistic(num_mixtures=0)
    with pytest.raises(ValueError, match="Unknown likelihood 'logistic'"):
        _dl_vae(likelihood="logistic")


@pytest.mark.parametrize(
    "likelihood", ["discretized_logistic", DiscretizedLogistic(num_mixtures=2)]
)
def test_save_load_round_trip_keeps_the_likelihood(likelihood, tmp_path):
    vae = _dl_vae(likelihood=likelihood)
    x = _grid_images(8)
    path = tmp_path / "m.keras"
    vae.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert repr(loaded.likelihood_object) == repr(vae.likelihood_object)
    np.testing.assert_allclose(loaded.reconstruct(x), vae.reconstruct(x), atol=1e-6)


def test_bits_per_dim_8bit_discrete_and_dequantized_gaussian():
    x = _grid_images(16)
    vae = _dl_vae()
    bpd = evaluation.bits_per_dim_8bit(vae, x, num_samples=4, verbose=False)
    log_px = evaluation.log_likelihood(vae, x, num_samples=4, verbose=False)
    np.testing.assert_allclose(bpd, -log_px / (192 * math.log(2)), rtol=1e-6)

    gaussian = _dl_vae(likelihood="gaussian")
    bpd = evaluation.bits_per_dim_8bit(gaussian, x, num_samples=4, seed=1, verbose=False)
    x_deq = evaluation.dequantize(x, seed=1)
    log_px = evaluation.log_likelihood(gaussian, x_deq, num_samples=4, seed=1, verbose=False)
    np.testing.assert_allclose(bpd, -log_px / (192 * math.log(2)) + 8.0, rtol=1e-6)

    bernoulli = _dl_vae(likelihood="bernoulli")
    with pytest.raises(ValueError, match="binary pixels"):
        evaluation.bits_per_dim_8bit(bernoulli, x, num_samples=2, verbose=False)


def test_dequantize_stays_in_each_values_own_bin():
    k = np.arange(256, dtype="float64")
    x = np.tile(k / 255, (50, 1)).astype("float32")
    deq = evaluation.dequantize(x, seed=0).astype("float64")
    assert (np.floor(deq * 256) == k).all()  # (k + u) / 256 with u in [0, 1)
    assert abs(deq.mean() - (k.mean() + 0.5) / 256) < 1e-3
    with pytest.raises(ValueError, match="off that grid"):
        evaluation.dequantize(np.array([0.5]))


@pytest.mark.backend
def test_mixture_trains_with_a_short_last_batch():
    # A short last batch retraces the step with an unknown batch size; the mixture's
    # parameter reshape must keep its channel axes static (it once used -1 there).
    vae = _dl_vae(likelihood=DiscretizedLogistic(num_mixtures=2))
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = vae.fit(_grid_images(20), epochs=2, batch_size=8, verbose=0).history
    assert np.isfinite(history["loss"]).all() and len(history["bits_per_dim"]) == 2


def _gradient(fn, variable):
    """d sum(fn(v)) / dv at `variable` (NumPy), on the running backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        v = tf.Variable(variable)
        with tf.GradientTape() as tape:
            value = tf.reduce_sum(fn(v))
        return tape.gradient(value, v).numpy()
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        return np.asarray(jax.grad(lambda v: jnp.sum(fn(v)))(jnp.asarray(variable)))
    import torch

    v = torch.tensor(variable, requires_grad=True)
    torch.sum(fn(v)).backward()
    return v.grad.numpy()


@pytest.mark.backend
@pytest.mark.parametrize("num_mixtures", [None, 2])
def test_discretized_logistic_stays_finite_far_from_the_location(num_mixtures):
    # x +- 1/255 collapses in float32 for |x - loc| >~ 2e5: the NLL was infinite on 254 of
    # the 256 values and the `where` made every row's gradient NaN.
    likelihood = DiscretizedLogistic(num_mixtures)
    channels = likelihood.output_channels(1)
    outputs = np.zeros((256, channels), "float32")
    k = num_mixtures or 1
    locs, scales = slice(channels - 2 * k, channels - k), slice(channels - k, channels)
    outputs[:, locs], outputs[:, scales] = 1e6, -7.0  # every component (after the logits)
    nll = _np(likelihood.nll(ALL_VALUES[:, None], outputs))
    assert np.isfinite(nll).all()
    assert nll[-1] < 1e-3 and nll[:-1].min() > 1e6  # all the mass in the k = 255 tail
    gradient = _gradient(lambda o: likelihood.nll(ALL_VALUES[:, None], o), outputs)
    assert np.isfinite(gradient).all()
    # An ordinary location keeps its old value (the exact b - a changes only rounding).
    outputs[:, locs] = 0.3
    masses = np.exp(-_np(likelihood.nll(ALL_VALUES[:, None], outputs)))
    assert masses.sum() == pytest.approx(1.0, abs=2e-5)


@pytest.mark.backend
def test_coupled_mixture_samples_follow_the_scored_distribution():
    # One component, green = red + noise of log-scale -6: green couples on red's 8-bit value.
    likelihood = DiscretizedLogistic(num_mixtures=1)
    params = np.array([0.0, 0.1, 0.0, -1.5, -6.0, 10.0], "float32")  # logit, locs, scales, coef
    grid = np.array(list(itertools.product(range(256), repeat=2)), "float32") / 255.0
    joint = np.exp(-_np(likelihood.nll(grid, np.tile(params, (len(grid), 1)))))
    k = np.round(grid * 255).astype(int)
    scored = np.bincount(k[:, 1] - k[:, 0] + 255, weights=joint, minlength=511)
    draws = _np(likelihood.sample(np.tile(params, (200_000, 1)), seed=0))
    d = np.round(draws * 255).astype(int)
    sampled = np.bincount(d[:, 1] - d[:, 0] + 255, minlength=511) / len(d)
    total_variation = 0.5 * np.abs(sampled - scored).sum()
    assert total_variation < 0.01  # 0.07 when green coupled on red's unquantised draw
    # The red marginal too.
    red = np.bincount(d[:, 0], minlength=256) / len(d)
    red_scored = np.bincount(k[:, 0], weights=joint, minlength=256)
    assert 0.5 * np.abs(red - red_scored).sum() < 0.02

"""Tests for `vae_keras.priors`: the maths, the seam in the latent models, and saving."""

import keras
import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from tests import helpers
from tests.helpers import saved_model_round_trip, serialization_round_trip
from vae_keras import VAE, evaluation, networks, priors
from vae_keras.models import (
    AE,
    IWAE,
    BetaTCVAE,
    ConditionalVAE,
    PixelVAE,
    conditional_decoder,
    conditional_encoder,
)
from vae_keras.networks import PixelCNN

pytestmark = pytest.mark.backend

SHAPE = (4, 4, 1)


def assert_close(a, b, atol=1e-5):
    """`helpers.assert_close` on tensors too (torch: values that require grad)."""
    helpers.assert_close(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), atol=atol)


def _images(n=32, seed=0):
    return (np.random.default_rng(seed).uniform(size=(n,) + SHAPE) < 0.4).astype("float32")


def _vae(prior=None, cls=VAE, latent_dim=2, **kwargs):
    return cls(
        networks.dense_encoder(SHAPE, latent_dim, hidden_units=(8,)),
        networks.dense_decoder(latent_dim, SHAPE, hidden_units=(8,)),
        prior=prior,
        seed=0,
        **kwargs,
    )


def _set_mixture(prior, weights, means, log_vars):
    prior.logits.assign(np.log(np.asarray(weights, "float32")))
    prior.means.assign(np.asarray(means, "float32"))
    prior.log_vars.assign(np.asarray(log_vars, "float32"))


def _numpy_mixture_log_prob(z, log_weights, means, log_vars):
    var = np.exp(log_vars)
    per = -0.5 * (np.log(2 * np.pi) + log_vars + (z[:, None] - means) ** 2 / var).sum(-1)
    return logsumexp(per + log_weights, axis=1)


# === get / serialize / deserialize ===


def test_get_resolves_none_names_dicts_and_instances():
    assert isinstance(priors.get(None), priors.StandardNormal)
    assert isinstance(priors.get("vampprior"), priors.VampPrior)
    assert priors.get("mixture", num_components=3).num_components == 3
    prior = priors.VampPrior(num_components=7)
    assert priors.get(prior) is prior
    restored = priors.deserialize(priors.serialize(prior))
    assert type(restored) is priors.VampPrior and restored.num_components == 7
    assert (
        priors.get({"class_name": "mixture", "config": {"num_components": 4}}).num_components == 4
    )
    serialization_round_trip(priors.MixtureOfGaussians(num_components=2, seed=3))


@pytest.mark.parametrize("bad", ["laplace", 3, {"class_name": "Dense", "config": {"units": 2}}])
def test_get_refuses_unknown_priors(bad):
    with pytest.raises((ValueError, TypeError)):
        priors.get(bad)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_num_components_is_checked(bad):
    with pytest.raises(ValueError, match="num_components"):
        priors.MixtureOfGaussians(num_components=bad)


# === The maths ===


def test_standard_normal_is_todays_prior():
    """Closed-form KL, log density and draws exactly as before the seam."""
    vae = _vae()
    assert isinstance(vae.prior, priors.StandardNormal)
    rng = np.random.default_rng(0)
    mean, log_var = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    assert_close(
        vae.prior.kl(mean, log_var), -0.5 * (1 + log_var - mean**2 - np.exp(log_var)).sum(1)
    )
    z = rng.normal(size=(5, 2)).astype("float32")
    assert_close(vae.prior.log_prob(z), multivariate_normal(np.zeros(2)).logpdf(z), atol=1e-4)
    draws = keras.ops.convert_to_numpy(keras.random.normal((3, 2), seed=4))
    assert_close(vae.prior.sample(3, seed=4), draws)


def _sampled_kl_mean(prior, mean, log_var, n=20000, seed=0):
    rng = np.random.default_rng(seed)
    mean_n, log_var_n = np.repeat(mean, n, 0), np.repeat(log_var, n, 0)
    z = (mean_n + np.exp(0.5 * log_var_n) * rng.normal(size=mean_n.shape)).astype("float32")
    values = keras.ops.convert_to_numpy(prior.sampled_kl(mean_n, log_var_n, z))
    return values.mean(), values.std() / np.sqrt(n)


@pytest.mark.parametrize("kind", ["standard_normal", "mixture_1"])
def test_monte_carlo_kl_mean_matches_closed_form(kind):
    prior = priors.StandardNormal() if kind == "standard_normal" else priors.MixtureOfGaussians(1)
    prior.attach(2)
    if kind == "mixture_1":
        _set_mixture(prior, [1.0], [[0.5, -1.0]], [[0.3, -0.4]])
    assert prior.closed_form_kl
    mean = np.array([[1.0, -0.5]], "float32")
    log_var = np.array([[-0.7, 0.2]], "float32")
    closed = float(keras.ops.convert_to_numpy(prior.kl(mean, log_var, mean))[0])
    estimate, error = _sampled_kl_mean(prior, mean, log_var)
    assert closed > 0.1
    assert abs(estimate - closed) < 4 * error + 1e-3


def test_mixture_log_prob_and_draws_follow_its_parameters():
    prior = priors.MixtureOfGaussians(num_components=2, seed=0)
    prior.attach(2)
    _set_mixture(prior, [0.25, 0.75], [[-3.0, 0.0], [3.0, 1.0]], [[-1.0, 0.0], [0.0, -2.0]])
    assert not prior.closed_form_kl and not prior.factorises
    z = np.random.default_rng(1).normal(size=(6, 2)).astype("float32") * 3
    expected = _numpy_mixture_log_prob(z, *prior.mixture_parameters())
    assert_close(prior.log_prob(z), expected, atol=1e-4)
    draws = keras.ops.convert_to_numpy(prior.sample(4000, seed=2))
    right = draws[:, 0] > 0
    assert abs(right.mean() - 0.75) < 0.03  # ~4 standard errors
    assert_close(draws[right].mean(0), [3.0, 1.0], atol=0.08)
    assert_close(draws[~right].std(0), np.exp(0.5 * np.array([-1.0, 0.0])), atol=0.08)


def test_vampprior_log_prob_is_the_mixture_of_the_encoders_posteriors():
    vae = _vae(priors.VampPrior(num_components=3))
    pseudo = keras.ops.convert_to_numpy(vae.prior.pseudo_inputs)
    means, log_vars = vae.encode(pseudo)
    z = np.random.default_rng(0).normal(size=(5, 2)).astype("float32")
    expected = _numpy_mixture_log_prob(z, np.full(3, -np.log(3)), means, log_vars)
    assert_close(vae.prior.log_prob(z), expected, atol=1e-4)


def test_vampprior_pseudo_inputs_start_as_the_first_images_fit_sees():
    x = _images(32)
    vae = _vae(priors.VampPrior(num_components=5))
    vae.compile(optimizer=keras.optimizers.Adam(1e-12))  # (almost) no learning
    vae.fit(x, epochs=1, batch_size=16, verbose=0)
    assert_close(vae.prior.pseudo_inputs, x[:5], atol=1e-6)
    vae.fit(x[::-1].copy(), epochs=1, batch_size=16, verbose=0)  # once only
    assert_close(vae.prior.pseudo_inputs, x[:5], atol=1e-6)


def _linear_gaussian_vae(prior):
    """Latent 2 -> data 3, a linear decoder and the Gaussian likelihood (variance 1/2)."""
    encoder_in = keras.Input((3,))
    encoder = keras.Model(
        encoder_in, [keras.layers.Dense(2)(encoder_in), keras.layers.Dense(2)(encoder_in)]
    )
    decoder_in = keras.Input((2,))
    decoder = keras.Model(decoder_in, keras.layers.Dense(3)(decoder_in))
    vae = VAE(encoder, decoder, likelihood="gaussian", prior=prior, seed=0)
    w = np.array([[1.0, 0.5, -0.5], [0.0, 1.0, 1.0]], "float32")
    b = np.array([0.1, -0.2, 0.3], "float32")
    decoder.layers[-1].set_weights([w, b])
    # A rough posterior: mean from a least-squares read of x, variance ~ 0.3.
    encoder.layers[1].set_weights([np.linalg.pinv(w).astype("float32"), -b @ np.linalg.pinv(w)])
    encoder.layers[2].set_weights([np.zeros((3, 2), "float32"), np.full(2, -1.2, "float32")])
    return vae, w, b


def test_iwae_estimate_converges_to_the_exact_marginal_under_a_mixture_prior():
    prior = priors.MixtureOfGaussians(num_components=2)
    vae, w, b = _linear_gaussian_vae(prior)
    weights, means = [0.3, 0.7], [[-1.5, 0.5], [1.0, -0.5]]
    log_vars = [[-1.0, 0.0], [0.2, -0.5]]
    _set_mixture(prior, weights, means, log_vars)
    x = np.random.default_rng(0).normal(size=(6, 3)).astype("float32")
    exact = logsumexp(
        [
            np.log(p)
            + multivariate_normal(
                m @ w + b, w.T @ np.diag(np.exp(lv)) @ w + 0.5 * np.eye(3)
            ).logpdf(x)
            for p, m, lv in zip(weights, np.array(means), np.array(log_vars), strict=True)
        ],
        axis=0,
    )
    estimate = evaluation.log_likelihood(vae, x, num_samples=4000, verbose=False)
    assert_close(estimate, exact, atol=0.03)
    elbo = evaluation.elbo(vae, x, num_samples=200)
    assert np.all(elbo < exact + 0.05) and np.all(elbo > exact - 5.0)


def test_model_samples_follow_the_prior():
    """A linear decoder: the mean of `sample` is `W E[z] + b` for the mixture's E[z]."""
    prior = priors.MixtureOfGaussians(num_components=2)
    vae, w, b = _linear_gaussian_vae(prior)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32") + 2.0
    vae.fit(x, epochs=2, batch_size=32, verbose=0)  # the mixture moves: a fitted prior
    log_weights, means, _ = prior.mixture_parameters()
    expected = np.exp(log_weights) @ means
    samples = vae.sample(4000, seed=0)
    w_now, b_now = vae.decoder.layers[-1].get_weights()
    assert_close(samples.mean(0), expected @ w_now + b_now, atol=0.1)


# === The seam in the models ===


@pytest.mark.parametrize("prior", ["mixture", priors.VampPrior(num_components=4)])
def test_vae_trains_with_a_learned_prior_and_reports_a_sampled_kl(prior):
    vae = _vae(prior)
    vae.compile(optimizer="adam")
    start = [keras.ops.convert_to_numpy(v).copy() for v in vae.prior.trainable_weights]
    history = vae.fit(_images(), epochs=2, batch_size=16, verbose=0).history
    assert sorted(history) == ["kl_loss", "loss", "reconstruction_loss"]
    assert all(np.isfinite(history["loss"]))
    moved = [keras.ops.convert_to_numpy(v) for v in vae.prior.trainable_weights]
    assert any(not np.allclose(a, b) for a, b in zip(start, moved, strict=True))
    assert vae.sample(3, seed=1).shape == (3,) + SHAPE


def test_iwae_takes_a_prior():
    model = _vae("mixture", cls=IWAE, num_samples=3)
    model.compile(optimizer="adam")
    history = model.fit(_images(), epochs=1, batch_size=16, verbose=0).history
    assert np.isfinite(history["kl_loss"][-1])


def test_refusals_name_the_prior_and_the_fix():
    with pytest.raises(ValueError, match="factorises"):
        _vae(priors.VampPrior(num_components=3), cls=BetaTCVAE)
    with pytest.raises(ValueError, match="factorises"):
        _vae("mixture", cls=BetaTCVAE)
    assert isinstance(_vae(None, cls=BetaTCVAE).prior, priors.StandardNormal)
    with pytest.raises(ValueError, match="AE has no prior"):
        AE(
            networks.dense_encoder(SHAPE, 2, hidden_units=(8,)),
            networks.dense_decoder(2, SHAPE, hidden_units=(8,)),
            prior="mixture",
        )
    with pytest.raises(ValueError, match="Free bits"):
        _vae("mixture", free_bits=0.5)
    with pytest.raises(ValueError, match="labels"):
        _conditional("vampprior")


def _conditional(prior):
    return ConditionalVAE(
        conditional_encoder(SHAPE, 2, 3, hidden_units=(8,)),
        conditional_decoder(2, SHAPE, 3, hidden_units=(8,)),
        3,
        prior=prior,
        seed=0,
    )


def _pixel_vae(prior):
    return PixelVAE(
        networks.dense_encoder(SHAPE, 2, hidden_units=(8,)),
        networks.dense_decoder(2, SHAPE[:2] + (2,), hidden_units=(8,)),
        pixelcnn=PixelCNN(SHAPE, 2, filters=4, head_units=4),
        prior=prior,
        seed=0,
    )


CASES = [
    ("vae", None),
    ("vae", "mixture"),
    ("vae", "vampprior"),
    ("pixel_vae", "vampprior"),
    ("conditional", "mixture"),
]


@pytest.mark.parametrize("kind, prior", CASES)
def test_keras_round_trip_keeps_the_prior(kind, prior, tmp_path):
    if prior == "mixture":
        prior = priors.MixtureOfGaussians(num_components=3, seed=1)
    elif prior == "vampprior":
        prior = priors.VampPrior(num_components=3)
    build = {"vae": _vae, "pixel_vae": _pixel_vae, "conditional": _conditional}[kind]
    model = build(prior)
    x = _images(8)
    inputs = (x, np.arange(8) % 3) if kind == "conditional" else x
    model.compile(optimizer="adam")
    model.fit(inputs, epochs=1, batch_size=8, verbose=0)
    loaded = saved_model_round_trip(model, tmp_path)
    assert type(loaded.prior) is type(model.prior)
    z = np.random.default_rng(0).normal(size=(5, 2)).astype("float32")
    assert_close(loaded.prior.log_prob(z), model.prior.log_prob(z), atol=1e-5)
    encode_args = (x, np.arange(8) % 3) if kind == "conditional" else (x,)
    for a, b in zip(loaded.encode(*encode_args), model.encode(*encode_args), strict=True):
        assert_close(a, b)
    assert_close(loaded.prior.sample(4, seed=3), model.prior.sample(4, seed=3), atol=1e-5)


# === Where N(0, I) was assumed: pictures and the SavedModel ===


def test_prior_quantiles_invert_the_marginal_cdf():
    from scipy.stats import norm

    vae = _vae(priors.MixtureOfGaussians(num_components=2))
    _set_mixture(vae.prior, [0.25, 0.75], [[-3.0, 0.0], [3.0, 1.0]], [[-1.0, 0.0], [0.0, -2.0]])
    q = np.array([0.05, 0.3, 0.5, 0.95])
    values = vae.prior_quantiles(q, 0)
    log_w, means, log_vars = vae.prior.mixture_parameters()
    cdf = np.exp(log_w) * norm.cdf((values[:, None] - means[:, 0]) / np.exp(0.5 * log_vars[:, 0]))
    assert_close(cdf.sum(1), q, atol=1e-6)
    assert_close(_vae().prior_quantiles(q, 1), norm.ppf(q), atol=0)


def test_sample_grid_draws_its_fixed_codes_from_the_prior(tmp_path):
    from vae_keras.callbacks import SampleGrid

    grid = SampleGrid(tmp_path, num_samples=400, seed=3)
    grid.set_model(_vae())
    grid.on_train_begin()
    expected = np.random.default_rng(3).standard_normal((400, 2)).astype("float32")
    assert_close(grid.z, expected, atol=0)  # N(0, I): today's codes
    vae = _vae(priors.MixtureOfGaussians(num_components=2))
    _set_mixture(vae.prior, [0.25, 0.75], [[-5.0, 0.0], [5.0, 1.0]], [[-1.0, 0.0], [0.0, -2.0]])
    grid = SampleGrid(tmp_path, num_samples=400, seed=3)
    grid.set_model(vae)
    grid.on_train_begin()
    right = grid.z[:, 0] > 0
    assert abs(right.mean() - 0.75) < 0.09  # 4 standard errors
    assert_close(grid.z[right].mean(0), [5.0, 1.0], atol=0.15)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="export runs on TensorFlow")
def test_saved_model_sample_endpoint_draws_from_the_prior(tmp_path):
    import tensorflow as tf

    from vae_keras.export import export_saved_model

    prior = priors.MixtureOfGaussians(num_components=2)
    vae, w, b = _linear_gaussian_vae(prior)
    _set_mixture(prior, [0.2, 0.8], [[-2.0, 1.0], [2.0, -1.0]], [[-1.0, -1.0], [-1.0, -1.0]])
    export_saved_model(vae, tmp_path / "saved")
    served = tf.saved_model.load(str(tmp_path / "saved"))
    drawn = served.sample(tf.constant(4000)).numpy()
    z_mean = np.array([0.2, 0.8]) @ np.array([[-2.0, 1.0], [2.0, -1.0]])
    assert_close(drawn.mean(0), z_mean @ w + b, atol=0.1)

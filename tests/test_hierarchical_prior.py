"""`HierarchicalVAE(..., prior=...)`: the top latent group's prior is `model.prior` (issue 30).

The default is the hierarchy's own learned Gaussian; a mixture or a VampPrior over the top
group replaces it in training (closed-form or single-sample KL), sampling, likelihood
evaluation and saving."""

import math

import keras
import numpy as np
import pytest
from scipy.special import logsumexp

from tests import helpers
from tests.helpers import saved_model_round_trip
from tests.test_hierarchical import set_constant_decoder, set_posterior_offset, tiny
from vae_keras import evaluation, priors
from vae_keras.models import HierarchicalVAE, kinds
from vae_keras.models._hierarchical_prior import LearnedTopGaussian

# The default's round trip: test_hierarchical.py; likelihood evaluation: the model battery.
PRIORS = {
    "standard_normal": lambda: "standard_normal",
    "mixture": lambda: priors.MixtureOfGaussians(num_components=3, seed=1),
    "vampprior": lambda: priors.VampPrior(num_components=3),
}


def assert_close(a, b, atol=1e-5):
    helpers.assert_close(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), atol=atol)


def _images(n=32, seed=0):
    return (np.random.default_rng(seed).random((n, 8, 8, 1)) < 0.4).astype("float32")


def _set_mixture(prior, weights, means, log_vars):
    prior.logits.assign(np.log(np.asarray(weights, "float32")))
    prior.means.assign(np.asarray(means, "float32"))
    prior.log_vars.assign(np.asarray(log_vars, "float32"))


def _one_dim_top(prior):
    """A hierarchy whose top group is one number and whose decoder ignores z: q(z_l) =
    N(0.3, e^-0.3) for every group, lower priors N(0, 1), so log p(x) is known."""
    model = HierarchicalVAE(
        (4, 4, 1),
        widths=(4, 4),
        groups=(1, 1),
        latent_channels=1,
        log_var_bound=None,
        prior=prior,
        seed=0,
    )
    set_posterior_offset(model, 0.3, -0.3)
    set_constant_decoder(model, 0.4)
    x = (np.random.default_rng(1).random((6, 4, 4, 1)) < 0.5).astype("float32")
    p1 = 1.0 / (1.0 + math.exp(-0.4))
    log_px = (x * math.log(p1) + (1 - x) * math.log(1 - p1)).reshape(6, -1).sum(axis=1)
    return model, x, log_px


def _gaussian_kl(mu, lv):  # KL(N(mu, e^lv) || N(0, 1)), one dimension
    return 0.5 * (math.exp(lv) + mu**2 - 1.0 - lv)


def _kl_to_mixture_by_quadrature(weights, means, log_vars, mu=0.3, lv=-0.3):
    z = np.linspace(-12, 12, 200001)
    log_q = -0.5 * (np.log(2 * np.pi) + lv + (z - mu) ** 2 / np.exp(lv))
    log_vars = np.asarray(log_vars)
    per = -0.5 * (np.log(2 * np.pi) + log_vars + (z[:, None] - means) ** 2 / np.exp(log_vars))
    log_p = logsumexp(per + np.log(weights), axis=1)
    return float(np.sum(np.exp(log_q) * (log_q - log_p)) * (z[1] - z[0]))


# === The default: the hierarchy's own learned Gaussian, as before ===


def test_default_prior_is_the_learned_top_gaussian():
    model = tiny()
    assert isinstance(model.prior, LearnedTopGaussian)
    assert model.get_config()["prior"] is None
    assert [w.path for w in model.prior.weights] == []  # the weights are the model's
    log_weights, means, log_vars = model.prior.mixture_parameters()
    mean, log_var = model.top_prior()
    assert log_weights.shape == (1,) and means.shape == (1, model.latent_dim)
    assert_close(means[0], mean, atol=0)
    assert_close(log_vars[0], log_var, atol=0)
    # The learned prior, not N(0, I): moving the top head moves the prior codes.
    kernel, bias = model.priors[0].get_weights()
    model.priors[0].set_weights([kernel, bias + 1.0])
    eps = np.zeros((2, model.latent_dim), "float32")
    assert_close(model.prior_codes(eps), np.ones_like(eps), atol=1e-6)


@pytest.mark.backend
@pytest.mark.parametrize("name", sorted(PRIORS))
def test_each_prior_fits_samples_and_round_trips(name, tmp_path):
    model = tiny(prior=PRIORS[name]())
    x = _images()
    model.compile("adam")
    history = model.fit(x, epochs=1, batch_size=16, verbose=0).history
    assert {"kl_group_0", "kl_loss"} <= set(history)
    assert all(np.isfinite(v).all() for v in history.values()), history
    samples = model.sample(5, seed=3, temperature=0.8)
    assert samples.shape == (5, 8, 8, 1) and np.isfinite(samples).all()

    loaded = saved_model_round_trip(model, tmp_path)
    assert type(loaded.prior) is type(model.prior)
    z = np.random.default_rng(0).normal(size=(4, model.latent_dim)).astype("float32")
    assert_close(loaded.prior.log_prob(z), model.prior.log_prob(z), atol=1e-4)
    for a, b in zip(loaded.encode(x[:4]), model.encode(x[:4]), strict=True):
        assert_close(a, b)
    assert_close(loaded.reconstruct(x[:4]), model.reconstruct(x[:4]))
    assert_close(loaded.sample(3, seed=5), model.sample(3, seed=5), atol=1e-5)


# === The top group's KL: closed form where there is one, else a consistent estimate ===


@pytest.mark.backend
def test_top_kl_to_a_mixture_matches_quadrature_and_the_closed_form():
    per_dim = _gaussian_kl(0.3, -0.3)  # each of the 4 lower dimensions, exact
    # One Gaussian (closed form): the ELBO is exact with any number of draws.
    model, x, log_px = _one_dim_top(priors.MixtureOfGaussians(num_components=1))
    _set_mixture(model.prior, [1.0], [[0.5]], [[-1.0]])
    assert model.prior.closed_form_kl
    top = 0.5 * (-1.0 + 0.3 + (math.exp(-0.3) + 0.2**2) / math.exp(-1.0) - 1.0)
    assert_close(evaluation.elbo(model, x, num_samples=2), log_px - 4 * per_dim - top, atol=1e-4)
    # Three components (the single-sample estimate): its mean over draws is the true KL.
    weights, means, log_vars = [0.2, 0.5, 0.3], [[-2.0], [0.5], [2.5]], [[-1.0], [0.0], [-0.5]]
    model, x, log_px = _one_dim_top(priors.MixtureOfGaussians(num_components=3))
    _set_mixture(model.prior, weights, means, log_vars)
    assert not model.prior.closed_form_kl
    top = _kl_to_mixture_by_quadrature(weights, np.ravel(means), np.ravel(log_vars))
    draws = evaluation.elbo(model, np.tile(x, (50, 1, 1, 1)), num_samples=40)  # 12,000 draws
    estimate = np.tile(log_px, 50) - 4 * per_dim - draws
    error = estimate.std() / math.sqrt(estimate.size)  # each entry: a mean of 40 draws
    assert abs(estimate.mean() - top) < max(4 * error, 0.02), (estimate.mean(), top)
    # Three equal components are one Gaussian: the estimate agrees with its closed form.
    _set_mixture(model.prior, [0.2, 0.5, 0.3], [[0.5]] * 3, [[-1.0]] * 3)
    closed = 0.5 * (-1.0 + 0.3 + (math.exp(-0.3) + 0.2**2) / math.exp(-1.0) - 1.0)
    draws = evaluation.elbo(model, np.tile(x, (50, 1, 1, 1)), num_samples=40)
    assert abs((np.tile(log_px, 50) - 4 * per_dim - draws).mean() - closed) < 0.02


@pytest.mark.backend
def test_likelihood_estimate_under_a_mixture_top_prior_closes_in_on_log_px():
    # The decoder ignores z, so log p(x) is known whatever the prior: the importance weights
    # are right only if the top group's log p(z) and the proposal's prior draws are the
    # mixture's.
    model, x, log_px = _one_dim_top(priors.MixtureOfGaussians(num_components=2))
    _set_mixture(model.prior, [0.3, 0.7], [[-1.5], [1.0]], [[-1.0], [-0.5]])
    estimate = evaluation.log_likelihood(model, x, num_samples=3000, verbose=False)
    assert_close(estimate, log_px, atol=0.08)
    assert abs(estimate.mean() - log_px.mean()) < 0.04


# === Sampling draws the top group from the prior ===


@pytest.mark.backend
def test_sampling_at_temperature_zero_picks_the_mixture_s_means():
    prior = priors.MixtureOfGaussians(num_components=2, seed=0)
    model = tiny(prior=prior)
    d = model.latent_dim
    _set_mixture(prior, [0.5, 0.5], [[3.0] * d, [-3.0] * d], np.zeros((2, d)))
    decoded = model.decode(np.array([[3.0] * d, [-3.0] * d], "float32"), temperature=0.0)
    assert np.abs(decoded[0] - decoded[1]).max() > 1e-3
    samples = model.sample(24, seed=0, temperature=0.0)
    distance = np.abs(samples[:, None] - decoded[None]).reshape(24, 2, -1).max(axis=-1)
    picks = distance.argmin(axis=1)
    assert distance.min(axis=1).max() < 1e-4  # every sample is one component's mean decoded
    assert 0 < picks.sum() < 24  # both components drawn


@pytest.mark.backend
def test_vampprior_mixes_the_top_posteriors_at_its_pseudo_inputs():
    model = tiny(prior=priors.VampPrior(num_components=4))
    x = _images(8, seed=2)
    model.compile("adam")
    model.fit(x, epochs=2, batch_size=4, verbose=0)  # a zero-initialised q ignores x at first
    u = keras.ops.convert_to_numpy(model.prior.pseudo_inputs)
    assert 0 < np.abs(u - x[:4]).max() < 0.05  # started as the first images, then learned
    mean, log_var = (keras.ops.convert_to_numpy(t) for t in model.encode_tensors(u))
    z = np.random.default_rng(0).normal(size=(5, model.latent_dim)).astype("float32")
    d = z[:, None] - mean[None]
    per = -0.5 * (np.log(2 * np.pi) + log_var[None] + d**2 / np.exp(log_var[None])).sum(-1)
    assert_close(model.prior.log_prob(z), logsumexp(per, axis=1) - math.log(4), atol=1e-4)


# === Model kinds and the command line ===


def test_kinds_and_the_command_line_take_a_prior_for_the_hierarchy(tmp_path, monkeypatch):
    from vae_keras import run_data
    from vae_keras.cli import main

    assert set(kinds.get("hierarchical").priors) == set(priors.NAMES)
    model = kinds.build_model(
        "hierarchical",
        shape=(8, 8, 1),
        prior=priors.VampPrior(num_components=2),
        widths=(8, 8),
        groups=(1, 1),
    )
    assert isinstance(model.prior, priors.VampPrior)
    loaded = []

    def no_data(*args, **kwargs):
        loaded.append(True)
        raise RuntimeError("stop before training")

    monkeypatch.setattr(run_data, "load_train_and_test", no_data)
    monkeypatch.chdir(tmp_path)
    flags = ["train", "--dataset", "digits", "--model-kind", "hierarchical"]
    main([*flags, "--prior", "vampprior"])
    assert loaded  # past the flag checks, to the data
    loaded.clear()
    refused = ["train", "--dataset", "digits", "--model-kind", "pixelvae", "--prior", "mixture"]
    assert main(refused) == 2 and not loaded


def test_top_prior_of_a_mixture_names_the_fix():
    model = tiny(prior=priors.MixtureOfGaussians(num_components=2))
    with pytest.raises(ValueError, match="mixture_parameters") as caught:
        model.top_prior()
    assert "\n" not in str(caught.value)

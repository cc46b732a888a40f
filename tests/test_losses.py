import math

import numpy as np
import pytest
from keras import ops

from vae_keras import losses

pytestmark = pytest.mark.backend


def _np(t):
    return ops.convert_to_numpy(t)


def test_kl_matches_closed_form_and_monte_carlo():
    mu = np.array([[0.5, -1.0]], "float32")
    log_var = np.array([[np.log(0.5), np.log(2.0)]], "float32")
    var = np.exp(log_var)
    closed = 0.5 * np.sum(var + mu**2 - 1.0 - log_var)
    assert _np(losses.kl_divergence(mu, log_var))[0] == pytest.approx(closed, rel=1e-5)
    # Monte Carlo E_q[log q - log p] agrees with the closed form.
    rng = np.random.default_rng(0)
    z = mu + np.sqrt(var) * rng.standard_normal((200000, 2)).astype("float32")
    log_q = _np(losses.diagonal_normal_log_prob(z, mu, log_var))
    log_p = _np(losses.standard_normal_log_prob(z))
    assert np.mean(log_q - log_p) == pytest.approx(closed, abs=0.02)


def test_kl_is_zero_at_the_prior():
    assert _np(losses.kl_divergence(np.zeros((3, 5)), np.zeros((3, 5)))).tolist() == [0, 0, 0]


def test_bernoulli_from_logits_matches_definition():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(4, 3, 3, 1)).astype("float32")
    logits = rng.normal(size=(4, 3, 3, 1)).astype("float32")
    p = 1 / (1 + np.exp(-logits))
    expected = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(4, -1).sum(1)
    np.testing.assert_allclose(_np(losses.bernoulli_nll(x, logits)), expected, rtol=1e-5)
    np.testing.assert_allclose(
        _np(losses.bernoulli_nll_from_probabilities(x, p)), expected, rtol=1e-4
    )


def test_bernoulli_is_finite_when_decoder_saturates():
    x = np.array([[0.0, 1.0, 0.0, 1.0]], "float32")
    logits = np.array([[200.0, -200.0, 200.0, -200.0]], "float32")  # all wrong
    value = _np(losses.bernoulli_nll(x, logits))[0]
    assert np.isfinite(value) and value == pytest.approx(800.0, rel=1e-5)
    # Right answers at saturation cost nothing.
    assert _np(losses.bernoulli_nll(x, -logits))[0] == pytest.approx(0.0, abs=1e-6)
    p = np.array([[1.0, 0.0, 0.0, 1.0]], "float32")
    assert np.isfinite(_np(losses.bernoulli_nll_from_probabilities(1 - p, p))[0])


def test_gaussian_nll_is_squared_error_plus_constant_at_variance_half():
    rng = np.random.default_rng(2)
    x, mean = rng.uniform(size=(2, 10)), rng.uniform(size=(2, 10))
    expected = ((x - mean) ** 2).sum(1) + 0.5 * 10 * math.log(math.pi)
    got = _np(losses.gaussian_nll(x.astype("float32"), mean.astype("float32"), math.log(0.5)))
    np.testing.assert_allclose(got, expected, rtol=1e-5)

"""The IWAE estimator against a model whose log p(x) is known in closed form."""

import math

import keras
import numpy as np
import pytest

from vae_keras import VAE, evaluation, losses, networks

pytestmark = pytest.mark.backend
D, LATENT, SIGMA2 = 5, 2, 0.3


def linear_gaussian_vae(posterior_shift=0.0, posterior_scale=1.0):
    """p(z) = N(0, I), p(x|z) = N(Wz + b, s2 I) with orthogonal columns of W.

    Then p(x) = N(b, W W^T + s2 I) and the posterior is Gaussian with diagonal
    covariance, so a linear encoder can represent it exactly; `posterior_*`
    perturb it to make the importance weights non-constant.
    """
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(D, LATENT)))
    w = (q * np.array([1.5, 0.7])).astype("float32")  # columns orthogonal, norms 1.5 and 0.7
    b = rng.normal(size=D).astype("float32")
    precision = 1.0 + (w**2).sum(0) / SIGMA2  # diagonal of I + W^T W / s2
    encoder = networks.dense_encoder(D, LATENT, hidden_units=())
    decoder = networks.dense_decoder(LATENT, D, hidden_units=())
    decoder.get_layer("decoder_output").set_weights([w.T, b])
    a = (w / SIGMA2 / precision).astype("float32")  # z_mean = (x - b) @ a
    encoder.get_layer("z_mean").set_weights([a, (-b @ a + posterior_shift).astype("float32")])
    log_var = np.log(posterior_scale / precision).astype("float32")
    encoder.get_layer("z_log_var").set_weights([np.zeros((D, LATENT), "float32"), log_var])
    vae = VAE(encoder, decoder, likelihood="gaussian", gaussian_variance=SIGMA2)
    cov = w @ w.T + SIGMA2 * np.eye(D)
    return vae, b, cov


def true_log_px(x, b, cov):
    diff = x - b
    _, logdet = np.linalg.slogdet(cov)
    maha = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff)
    return -0.5 * (D * math.log(2 * math.pi) + logdet + maha)


def data(b, cov, n=40):
    return np.random.default_rng(1).multivariate_normal(b, cov, size=n).astype("float32")


@pytest.fixture
def posterior_only(monkeypatch):
    """The plain IWAE proposal q(z|x) (no prior draws, no variance bound): the old estimator."""
    monkeypatch.setattr(evaluation._SingleCodeScorer, "prior_fraction", 0.0)
    monkeypatch.setattr(evaluation._SingleCodeScorer, "max_proposal_log_var", math.inf)


def test_exact_posterior_gives_exact_log_likelihood(posterior_only):
    vae, b, cov = linear_gaussian_vae()
    x = data(b, cov)
    est = evaluation.log_likelihood(vae, x, num_samples=16, verbose=False)
    np.testing.assert_allclose(est, true_log_px(x, b, cov), atol=1e-3)
    # With the exact posterior the ELBO is tight too (in expectation; its
    # reconstruction term is sampled, so compare means over examples).
    elbo = evaluation.elbo(vae, x, num_samples=500)
    assert elbo.mean() == pytest.approx(true_log_px(x, b, cov).mean(), abs=0.05)


def test_estimate_tightens_with_k_and_lands_within_005_nats():
    vae, b, cov = linear_gaussian_vae(posterior_shift=0.8, posterior_scale=2.5)
    x = data(b, cov)
    truth = true_log_px(x, b, cov).mean()
    estimates = [
        evaluation.log_likelihood(vae, x, num_samples=k, batch_size=20, verbose=False).mean()
        for k in (1, 10, 100, 5000)
    ]
    assert estimates[0] < estimates[1] < estimates[2]
    assert estimates[3] > estimates[1]  # 100 vs 5000 differ by less than the noise
    assert truth - estimates[0] > 0.5  # the perturbed q makes the ELBO loose
    assert abs(estimates[3] - truth) < 0.05
    elbo = evaluation.elbo(vae, x, num_samples=200).mean()
    assert truth - elbo > 0.5 and elbo < estimates[2]  # the bound IWAE tightens


def test_estimates_are_seeded():
    vae, b, cov = linear_gaussian_vae(posterior_shift=0.5)
    x = data(b, cov, n=10)
    a = evaluation.log_likelihood(vae, x, num_samples=50, seed=3, verbose=False)
    np.testing.assert_array_equal(
        a, evaluation.log_likelihood(vae, x, num_samples=50, seed=3, verbose=False)
    )
    assert not np.allclose(
        a, evaluation.log_likelihood(vae, x, num_samples=50, seed=4, verbose=False)
    )


def test_chunks_over_samples_and_examples_stay_aligned(posterior_only):
    # With the exact posterior every weight equals p(x): any misalignment of
    # samples, examples or chunks would show as an error.
    vae, b, cov = linear_gaussian_vae()
    x = data(b, cov, n=13)
    chunked = evaluation.log_likelihood(
        vae, x, num_samples=50, batch_size=5, max_rows=30, verbose=False
    )
    np.testing.assert_allclose(chunked, true_log_px(x, b, cov), atol=1e-3)


def test_active_units_counts_dimensions_that_carry_information():
    vae, b, cov = linear_gaussian_vae()
    x = data(b, cov, n=200)
    count, variances = evaluation.active_units(vae, x)
    assert count == 2 and variances.shape == (2,)
    layer = vae.encoder.get_layer("z_mean")
    kernel, bias = layer.get_weights()
    kernel[:, 1] = 0.0  # dimension 1 ignores x: inactive
    layer.set_weights([kernel, bias])
    assert evaluation.active_units(vae, x)[0] == 1


def test_bits_per_dim_and_bad_arguments():
    assert evaluation.bits_per_dim(784 * math.log(2), 784) == pytest.approx(1.0)
    vae, b, cov = linear_gaussian_vae()
    with pytest.raises(ValueError, match="num_samples=0"):
        evaluation.log_likelihood(vae, data(b, cov), num_samples=0)
    with pytest.raises(ValueError, match=r"\(3,\)"):
        evaluation.log_likelihood(vae, np.zeros((4, 3), "float32"))


def test_models_without_a_likelihood_are_refused():
    from vae_keras import AE

    ae = AE(
        networks.dense_encoder(D, LATENT, hidden_units=()),
        networks.dense_decoder(LATENT, D, hidden_units=()),
        likelihood="gaussian",
    )
    with pytest.raises(ValueError, match="AE has no likelihood"):
        evaluation.log_likelihood(ae, np.zeros((2, D), "float32"), verbose=False)


def test_decoder_rows_per_call_shrink_with_the_image():
    from vae_keras.evaluation import default_max_rows

    assert default_max_rows((28, 28, 1)) == 20000  # MNIST: as before
    assert default_max_rows((32, 32, 3)) == 20000 * 784 // 3072  # 5104 colour images
    assert default_max_rows((1024, 1024, 3)) == 100  # never below one batch


def test_compiled_decoder_pass_matches_the_model_and_sees_new_weights():
    # On JAX the estimator jit-compiles log p(x|z) (`_graph.pure_function`); it must
    # give the model's own numbers, follow weight changes, and not keep models alive.
    import gc
    import weakref

    from vae_keras import _graph

    model = VAE(networks.dense_encoder(D, LATENT), networks.dense_decoder(LATENT, D), seed=0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, D)).astype("float32")
    z = rng.normal(size=(6, LATENT)).astype("float32")
    compiled = _graph.pure_function(model.log_prob_given_codes)
    for _ in range(2):
        expected = keras.ops.convert_to_numpy(model.log_prob_given_codes(x, z))
        assert expected.shape == (6,)
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(compiled(x, z)), expected, rtol=1e-5, atol=1e-4
        )
        model.decoder.set_weights([w + 0.5 for w in model.decoder.get_weights()])
    assert not np.allclose(keras.ops.convert_to_numpy(model.log_prob_given_codes(x, z)), expected)
    reference = weakref.ref(model)
    del model, compiled
    gc.collect()
    assert reference() is None and reference not in _graph._COMPILED


# === The defensive proposal (posterior with bounded variance, mixed with the prior) ===


def test_defensive_proposal_is_unbiased_and_matches_the_posterior_only_estimate():
    vae, b, cov = linear_gaussian_vae(posterior_shift=0.8, posterior_scale=2.5)
    x = data(b, cov)
    truth = true_log_px(x, b, cov)
    # The mean of the weights estimates p(x) without bias: with many draws, log of it -> log p(x),
    # in one chunk and in chunks of 7 (an odd split between posterior and prior draws).
    many = evaluation.log_likelihood(vae, x[:5], num_samples=20000, verbose=False)
    chunked = evaluation.log_likelihood(
        vae, x[:5], num_samples=20000, batch_size=5, max_rows=35, seed=1, verbose=False
    )
    for estimate in (many, chunked):
        np.testing.assert_allclose(estimate, truth[:5], atol=0.06)
        assert abs(estimate.mean() - truth[:5].mean()) < 0.03
    # On data the model knows it is the posterior-only (old) estimate within noise.
    new = evaluation.log_likelihood(vae, x, num_samples=1000, verbose=False)
    scorer = evaluation._SingleCodeScorer
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scorer, "prior_fraction", 0.0)
        patch.setattr(scorer, "max_proposal_log_var", math.inf)
        old = evaluation.log_likelihood(vae, x, num_samples=1000, verbose=False)
    assert abs(new.mean() - old.mean()) < 0.03 and np.median(np.abs(new - old)) < 0.1
    assert new.mean() < truth.mean() + 0.01  # still a lower bound


def test_posterior_at_the_log_var_clip_does_not_collapse_the_estimate(posterior_only):
    # An encoder far from its data: log-variance at the clip (+20), every posterior draw at
    # |z| ~ 1e4, log p(z) ~ -1e8 swamps every weight of the posterior-only estimate.
    vae, b, cov = linear_gaussian_vae()
    x = data(b, cov, n=10)
    truth = true_log_px(x, b, cov)
    log_var = vae.encoder.get_layer("z_log_var")
    weights, bias = log_var.get_weights()
    log_var.set_weights([weights, bias + 50.0])
    z_mean, z_log_var = vae.encode(x)
    assert np.all(z_log_var >= 20.0)
    # log p(x, z) at the posterior mean (here within 0.3 nats of log p(x): a Laplace view).
    at_posterior_mean = keras.ops.convert_to_numpy(
        losses.standard_normal_log_prob(z_mean) - vae.codes_nll(x, z_mean)
    )
    assert evaluation.log_likelihood(vae, x, num_samples=100, verbose=False).max() < -1e3
    scorer = evaluation._SingleCodeScorer
    with pytest.MonkeyPatch.context() as patch:  # the default, defensive proposal
        patch.setattr(scorer, "prior_fraction", 0.5)
        patch.setattr(scorer, "max_proposal_log_var", 0.0)
        robust = evaluation.log_likelihood(vae, x, num_samples=100, verbose=False)
        bpd = evaluation.bits_per_dim(-robust.mean(), D)
        assert np.all(robust > at_posterior_mean - 1.0) and np.abs(robust - truth).max() < 1.0
        assert math.isfinite(bpd)
        # A wild posterior mean as well (|z_mean| = 1000): the prior's draws carry it.
        z_layer = vae.encoder.get_layer("z_mean")
        weights, bias = z_layer.get_weights()
        z_layer.set_weights([weights, bias + 1000.0])
        wild = evaluation.log_likelihood(vae, x, num_samples=2000, verbose=False)
        assert np.abs(wild - truth).max() < 0.5

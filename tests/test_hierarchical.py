"""HierarchicalVAE: the hierarchy's KL bookkeeping, its parameterisation in
closed form, the likelihood estimator over several groups, sampling, saving."""

import math

import keras
import numpy as np
import pytest

from tests.helpers import assert_close, saved_model_round_trip
from vae_keras import evaluation
from vae_keras.models import HierarchicalVAE
from vae_keras.models import _kl_weighting as klw


def tiny(**kwargs):
    args = {
        "widths": (8, 8),
        "groups": (1, 2),
        "latent_channels": 2,
        "kl_warmup_steps": 0,
        "seed": 0,
    }
    return HierarchicalVAE((8, 8, 1), **{**args, **kwargs})


def set_posterior_offset(model, d_mu, d_lv):
    """Posterior heads that ignore their input: q = N(mu_p + d_mu, e^(lv_p + d_lv))."""
    for conv in model.posteriors:
        kernel, bias = conv.get_weights()
        c = bias.shape[0] // 2
        conv.set_weights(
            [np.zeros_like(kernel), np.r_[np.full(c, d_mu), np.full(c, d_lv)].astype("float32")]
        )


def set_constant_decoder(model, logit):
    """An output head that ignores z: p(x | z) = prod Bernoulli(sigmoid(logit))."""
    kernel, bias = model.out_conv.get_weights()
    model.out_conv.set_weights([np.zeros_like(kernel), np.full_like(bias, logit)])


def per_dim_kl(d_mu, d_lv):
    """KL(N(d_mu, e^d_lv) || N(0, 1)) of one dimension."""
    return 0.5 * (math.exp(d_lv) + d_mu**2 - 1.0 - d_lv)


# === Structure and KL bookkeeping ===


def test_groups_scales_and_metric_names():
    model = tiny()
    assert model.group_shapes == [(2, 2, 2), (2, 2, 2), (4, 4, 2)]  # top (coarsest) first
    assert model.latent_dim == 8
    assert model.loss_names == (
        "loss",
        "reconstruction_loss",
        "kl_loss",
        "kl_group_0",
        "kl_group_1",
        "kl_group_2",
    )


@pytest.fixture(scope="module")
def trained():
    """One tiny model fitted for 3 epochs (the slow part: tracing its train step), shared."""
    from tests.conftest import make_binary_images

    x = make_binary_images()
    keras.utils.set_random_seed(0)
    model = tiny(free_bits=0.1, kl_balancing=False)
    model.compile(keras.optimizers.Adam(3e-3))
    history = model.fit(x, epochs=3, batch_size=16, verbose=0, validation_data=(x,)).history
    return model, history, x


@pytest.mark.backend
def test_group_kls_sum_to_the_reported_kl_and_loss_is_the_negative_elbo(trained):
    _, history, _ = trained
    assert history["loss"][-1] < history["loss"][0]
    for prefix in ("", "val_"):
        groups = sum(np.asarray(history[f"{prefix}kl_group_{i}"]) for i in range(3))
        np.testing.assert_allclose(groups, history[prefix + "kl_loss"], rtol=1e-4)
    np.testing.assert_allclose(
        history["val_loss"],
        np.add(history["val_reconstruction_loss"], history["val_kl_loss"]),
        rtol=1e-5,
    )
    assert min(history["kl_group_1"][-1], history["kl_group_2"][-1]) > 0


def test_posterior_is_a_residual_on_the_prior_closed_form(binary_images):
    # Zero-initialised prior heads give p(z_l | z_<l) = N(0, I) at every group;
    # posterior heads with only a bias give q = N(d_mu, e^d_lv): every group's
    # KL is its size times the one-dimensional closed form.
    model = tiny(log_var_bound=None)
    d_mu, d_lv = 0.7, -0.4
    set_posterior_offset(model, d_mu, d_lv)
    losses = model.compute_losses(binary_images[:8], training=False)
    for i, shape in enumerate(model.group_shapes):
        expected = math.prod(shape) * per_dim_kl(d_mu, d_lv)
        assert float(losses[f"kl_group_{i}"]) == pytest.approx(expected, rel=1e-5)
    means = model.encode(binary_images[:4], groups="all")
    for (mean, log_var), shape in zip(means, model.group_shapes, strict=True):
        assert mean.shape == (4,) + shape
        assert_close(mean, np.full_like(mean, d_mu))
        assert_close(log_var, np.full_like(log_var, d_lv))


def test_log_var_bound_is_soft():
    model = tiny(log_var_bound=2.0)
    set_posterior_offset(model, 0.0, 50.0)
    (_, log_var), *_ = model.encode(np.zeros((2, 8, 8, 1), "float32"), groups="all")
    assert_close(log_var, np.full_like(log_var, 2.0 * math.tanh(25.0)), atol=1e-5)


def test_at_initialisation_posterior_equals_prior_and_kl_is_zero(binary_images):
    losses = tiny().compute_losses(binary_images[:8], training=False)
    assert float(losses["kl_loss"]) == pytest.approx(0.0, abs=1e-6)


# === Likelihood evaluation over several groups ===


@pytest.mark.backend
def test_estimators_on_a_hierarchy_with_a_known_marginal():
    # A decoder that ignores z: p(x) = prod Bernoulli(x; sigmoid(c)) exactly.
    # With q != p the ELBO is log p(x) - KL (closed form) and the IWAE
    # estimate lies between the ELBO and log p(x), closing in on log p(x).
    model = HierarchicalVAE(
        (4, 4, 1), widths=(4, 4), groups=(1, 1), latent_channels=1, log_var_bound=None, seed=0
    )
    d_mu, d_lv, logit = 0.3, -0.3, 0.4
    set_posterior_offset(model, d_mu, d_lv)
    set_constant_decoder(model, logit)
    x = (np.random.default_rng(1).random((6, 4, 4, 1)) < 0.5).astype("float32")
    p1 = 1.0 / (1.0 + math.exp(-logit))
    log_px = (x * math.log(p1) + (1 - x) * math.log(1 - p1)).reshape(6, -1).sum(axis=1)
    dims = sum(math.prod(s) for s in model.group_shapes)
    assert dims == 5
    kl = dims * per_dim_kl(d_mu, d_lv)
    elbo = evaluation.elbo(model, x, num_samples=3)
    assert_close(elbo, log_px - kl, atol=1e-4)
    iwae = evaluation.log_likelihood(model, x, num_samples=4000, verbose=False)
    assert np.all(iwae > elbo + 0.5 * kl)  # far tighter than the ELBO
    # Monte Carlo error of k=4000 weights with chi-square divergence ~1.1 (5 dims): ~0.017 nats.
    assert_close(iwae, log_px, atol=0.08)
    assert abs(iwae.mean() - log_px.mean()) < 0.04
    # k = 1 is the ELBO with a sampled KL: over 600 draws its mean sits near the ELBO's.
    one = evaluation.log_likelihood(model, np.tile(x, (100, 1, 1, 1)), 1, verbose=False)
    assert abs(one.mean() - elbo.mean()) < 0.1 < log_px.mean() - one.mean()


@pytest.mark.backend
def test_a_wild_posterior_does_not_collapse_the_estimate():
    # Posteriors far from their priors (log-variance at the +20 clip, then means 1000 away):
    # posterior-only draws gave log p(z) ~ -1e8; the defensive proposal stays near log p(x).
    model = HierarchicalVAE(
        (4, 4, 1), widths=(4, 4), groups=(1, 1), latent_channels=1, log_var_bound=None, seed=0
    )
    logit = 0.4
    set_constant_decoder(model, logit)
    x = (np.random.default_rng(1).random((6, 4, 4, 1)) < 0.5).astype("float32")
    p1 = 1.0 / (1.0 + math.exp(-logit))
    log_px = (x * math.log(p1) + (1 - x) * math.log(1 - p1)).reshape(6, -1).sum(axis=1)
    for d_mu in (0.0, 1000.0):
        set_posterior_offset(model, d_mu, 40.0)
        estimate = evaluation.log_likelihood(model, x, num_samples=100, verbose=False)
        assert_close(estimate, log_px, atol=0.05)
        # Without the prior's draws the first example falls far (the posterior-only estimate).
        model.evaluation_prior_fraction = 0.0
        if d_mu:
            only_posterior = evaluation.log_likelihood(model, x, num_samples=100, verbose=False)
            assert only_posterior.max() < log_px.min() - 1e5
        del model.evaluation_prior_fraction


def test_active_units_per_group(binary_images):
    model = tiny()
    counts, variances = evaluation.active_units_per_group(model, binary_images)
    assert [v.shape for v in variances] == [(8,), (8,), (32,)]
    assert counts == [int((v > 0.01).sum()) for v in variances]
    total, flat = evaluation.active_units(model, binary_images)
    assert total == sum(counts) and flat.shape == (48,)


# === Sampling, decoding, saving ===


@pytest.mark.backend
def test_temperature_zero_is_deterministic_and_temperature_scales_spread(trained):
    model, _, _ = trained
    a = model.sample(6, seed=1, temperature=0.0)
    b = model.sample(6, seed=2, temperature=0.0)
    assert a.shape == (6, 8, 8, 1)
    assert_close(a, b, atol=0)
    assert_close(a, np.repeat(a[:1], 6, axis=0), atol=1e-6)
    assert_close(model.sample(6, seed=3), model.sample(6, seed=3), atol=0)
    assert np.abs(model.sample(6, seed=3) - model.sample(6, seed=4)).max() > 0.01
    spread = [model.sample(64, seed=4, temperature=t).std(axis=0).mean() for t in (0.3, 1.0)]
    assert spread[0] < spread[1]


def test_resample_keeping_every_group_is_the_reconstruction(binary_images):
    model = tiny()
    x = binary_images[:3]
    assert_close(model.resample(x, keep=model.num_groups, seed=0), model.reconstruct(x))
    lower = model.resample(x, keep=1, num_samples=2, seed=0)
    assert lower.shape == (6, 8, 8, 1)


def test_top_group_encode_decode(binary_images):
    model = tiny()
    z_mean, z_log_var = model.encode(binary_images[:5])
    assert z_mean.shape == z_log_var.shape == (5, model.latent_dim)
    (top_mean, _), *_ = model.encode(binary_images[:5], groups="all")
    assert_close(z_mean, top_mean.reshape(5, -1))
    assert model.decode(z_mean).shape == (5, 8, 8, 1)
    assert_close(model.decode(z_mean, seed=1), model.decode(z_mean, seed=2), atol=0)


@pytest.mark.backend
def test_keras_round_trip(trained, tmp_path):
    model, _, x = trained
    loaded = saved_model_round_trip(model, tmp_path)
    assert loaded.get_config()["free_bits"] == 0.1 and not loaded.kl_balancing
    assert_close(loaded.reconstruct(x), model.reconstruct(x))
    assert_close(
        loaded.sample(4, seed=5, temperature=0.5), model.sample(4, seed=5, temperature=0.5)
    )
    assert int(keras.ops.convert_to_numpy(loaded.step_counter)) == 12  # 3 epochs of 64 / 16


def test_kl_weighting():
    kls = [keras.ops.convert_to_tensor(np.array(v, "float32")) for v in ([1.0, 3.0], [0.0, 0.2])]
    assert float(klw.weighted_kl(kls, 1.0)) == pytest.approx(2.1)
    assert float(klw.weighted_kl(kls, 0.5)) == pytest.approx(1.05)
    assert float(klw.weighted_kl(kls, 1.0, free_bits=0.5)) == pytest.approx(2.5)
    # Balancing during warm-up: weights average 1 and favour the group with the larger share.
    balanced = float(klw.weighted_kl(kls, 0.5, balance_sizes=[1.0, 1.0]))
    gamma = np.array([2.01, 0.11]) / np.mean([2.01, 0.11])
    assert balanced == pytest.approx(0.5 * (gamma @ [2.0, 0.1]), rel=1e-5)
    assert float(klw.weighted_kl(kls, 1.0, balance_sizes=[1.0, 1.0])) == pytest.approx(2.1)
    assert float(klw.warmup_coefficient(9, 100)) == pytest.approx(0.1)
    assert float(klw.warmup_coefficient(500, 100)) == 1.0
    assert klw.balancing_sizes([49, 196, 196], [1, 2, 2]) == [1.0, 2.0, 2.0]


def test_bad_arguments_name_the_value_and_the_fix():
    with pytest.raises(ValueError, match=r"\(height, width, channels\).*input_shape=\(784,\)"):
        HierarchicalVAE((784,))
    with pytest.raises(ValueError, match="one entry per scale"):
        HierarchicalVAE((8, 8, 1), widths=(8, 8), groups=(1,))
    model = tiny()
    with pytest.raises(ValueError, match="temperature=-1.0"):
        model.sample(2, temperature=-1)
    with pytest.raises(ValueError, match=r"keep.*\[0, 3\]"):
        model.resample(np.zeros((1, 8, 8, 1), "float32"), keep=4)
    with pytest.raises(ValueError, match="groups='some'"):
        model.encode(np.zeros((1, 8, 8, 1), "float32"), groups="some")
    with pytest.raises(ValueError, match="shape"):
        model.fit(np.zeros((4, 9, 9, 1), "float32"), verbose=0)


# === Figures, export, command line ===


def test_hierarchy_levels_figure(binary_images, tmp_path):
    from vae_keras import VAE, networks, plotting

    model = tiny()
    fig = plotting.hierarchy_levels(
        model, binary_images[:2], num_samples=3, path=tmp_path / "levels.png"
    )
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["top 1 · x0", "top 2 · x0", "top 1 · x1", "top 2 · x1"]
    assert (tmp_path / "levels.png").stat().st_size > 0
    vae = VAE(networks.dense_encoder((8, 8, 1), 2), networks.dense_decoder(2, (8, 8, 1)))
    with pytest.raises(
        ValueError,
        match=r"hierarchy_levels.*HierarchicalVAE.*`latent_groups`.*a VAE does not declare it",
    ):
        plotting.hierarchy_levels(vae, binary_images[:1])


def test_saved_model_samples_from_the_learned_top_prior(binary_images, tmp_path):
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("SavedModel export is tested on TensorFlow")
    from vae_keras.export import export_saved_model

    model = tiny()
    mean, log_var = model.top_prior()
    assert mean.shape == log_var.shape == (model.latent_dim,)
    loaded = tf.saved_model.load(str(export_saved_model(model, tmp_path / "sm")))
    assert tuple(loaded.sample(tf.constant(5)).shape) == (5, 8, 8, 1)
    encoded = loaded.encode(tf.constant(binary_images[:3]))
    assert_close(encoded["mean"].numpy(), model.encode(binary_images[:3])[0])
    assert_close(
        loaded.reconstruct(tf.constant(binary_images[:3])).numpy(),
        model.decode(model.encode(binary_images[:3])[0]),
        atol=1e-5,
    )


def test_command_line_recipe():
    from vae_keras import recipes

    model = recipes.build_model(
        architecture="hierarchical", likelihood="bernoulli", shape=(8, 8, 1), latent_dim=16
    )
    assert isinstance(model, HierarchicalVAE) and model.optimizer is not None
    assert model.widths == HierarchicalVAE((8, 8, 1)).widths  # the class defaults
    # The command line's learning rate, with the recipe's gradient clipping.
    assert model.optimizer.global_clipnorm == 200.0
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)
    default = HierarchicalVAE((8, 8, 1))
    default.compile()  # the recipe's optimizer
    assert default.optimizer.global_clipnorm == 200.0
    assert float(default.optimizer.learning_rate) == pytest.approx(2e-3)
    assert default.jit_compile is False
    with pytest.raises(ValueError, match="hierarchical models images"):
        recipes.build_model(
            architecture="hierarchical", likelihood="bernoulli", shape=(64,), latent_dim=2
        )


def test_command_line_names_the_hierarchy_s_latents_not_latent_dim():
    # `vae-keras train --architecture hierarchical` ignores --latent-dim; its banner says so.
    from vae_keras import VAE, networks
    from vae_keras.cli.training import latent_summary

    model = tiny()
    size = sum(math.prod(s) for s in model.group_shapes)
    assert latent_summary(model, 16) == f"{len(model.group_shapes)} latent groups, {size} dims"
    vae = VAE(networks.dense_encoder((4,), 3), networks.dense_decoder(3, (4,)))
    assert latent_summary(vae, 3) == "latent 3"
    # A VQ-VAE's --latent-dim sizes each code vector, not a latent.
    from vae_keras.models import kinds

    vq = kinds.build_model("vqvae", shape=(8, 8, 1), latent_dim=4)
    assert latent_summary(vq, 4) == "code vectors of 4"


def test_command_line_evaluate_reports_the_likelihood(tmp_path, capsys):
    # `vae-keras evaluate` on a hierarchy: ELBO, NLL and active units, not only the test loss.
    from vae_keras import runs
    from vae_keras.cli import main

    model = tiny()
    model.compile()
    runs.write_json(tmp_path / "config.json", {"dataset": "digits"})
    path = runs.save_model(model, tmp_path / "model.keras")
    args = ["evaluate", "--model", str(path), "--limit", "40", "--num-samples", "3"]
    assert main(args) == 0
    result = runs.read_json(tmp_path / "evaluation.json")
    assert result["nll_num_images"] == 40 and result["nll_num_samples"] == 3
    assert (
        result["active_units"]
        <= result["latent_dim"]
        == sum(math.prod(s) for s in model.group_shapes)
    )
    # The ELBO is minus the test loss (the same bound, sampled); the NLL is finite.
    assert np.isfinite(result["nll"]) and result["nll"] > 0
    assert result["elbo"] == pytest.approx(-result["test_loss"], rel=0.05)
    assert "NLL" in capsys.readouterr().out

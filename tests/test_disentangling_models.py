"""β-TCVAE and FactorVAE: metric names, the decomposition's numbers, the
discriminator's own optimizer, and save/load on every backend."""

import math

import keras
import numpy as np
import pytest
from helpers import assert_close, saved_model_round_trip, serialization_round_trip

from vae_keras import networks
from vae_keras.models import VAE, BetaTCVAE, FactorVAE
from vae_keras.models.tc_vae import decompose_kl

pytestmark = pytest.mark.backend


def nets(latent_dim=3):
    return (
        networks.dense_encoder((8, 8, 1), latent_dim, hidden_units=(16,)),
        networks.dense_decoder(latent_dim, (8, 8, 1), hidden_units=(16,)),
    )


def reference_decomposition(z, mean, log_var, dataset_size):
    """The β-TCVAE authors' minibatch-weighted sampling, written with loops."""
    b, d = z.shape
    log_norm = math.log(b * dataset_size)

    def log_normal(v, m, lv):
        return -0.5 * (math.log(2 * math.pi) + lv + (v - m) ** 2 / math.exp(lv))

    mi, tc, dim_kl = [], [], []
    for i in range(b):
        per = np.array(
            [[log_normal(z[i, k], mean[j, k], log_var[j, k]) for k in range(d)] for j in range(b)]
        )
        log_qzx = per[i].sum()
        log_qz = np.logaddexp.reduce(per.sum(1)) - log_norm
        log_prod = sum(np.logaddexp.reduce(per[:, k]) - log_norm for k in range(d))
        log_pz = sum(-0.5 * (math.log(2 * math.pi) + z[i, k] ** 2) for k in range(d))
        mi.append(log_qzx - log_qz)
        tc.append(log_qz - log_prod)
        dim_kl.append(log_prod - log_pz)
    return np.mean(mi), np.mean(tc), np.mean(dim_kl)


def test_decomposition_matches_the_reference_estimator():
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(6, 3)).astype("float32")
    log_var = rng.normal(scale=0.5, size=(6, 3)).astype("float32")
    z = (mean + np.exp(0.5 * log_var) * rng.normal(size=(6, 3))).astype("float32")
    got = [float(keras.ops.convert_to_numpy(t)) for t in decompose_kl(z, mean, log_var, 100.0)]
    want = reference_decomposition(z, mean, log_var, 100)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_beta_tcvae_fits_with_its_metric_names(binary_images):
    model = BetaTCVAE(*nets(), beta=6.0, seed=0)
    model.compile(optimizer="adam")
    history = model.fit(
        binary_images, epochs=2, batch_size=16, validation_data=(binary_images[:16],), verbose=0
    ).history
    names = [
        "dimension_wise_kl",
        "kl_loss",
        "loss",
        "mutual_information",
        "reconstruction_loss",
        "total_correlation",
    ]
    assert sorted(history) == sorted(names + ["val_" + n for n in names])
    assert model.dataset_size == len(binary_images)
    # loss = rec + alpha * MI + beta * TC + gamma * dim-KL, on the evaluation path.
    logs = model.evaluate(binary_images, batch_size=64, verbose=0, return_dict=True)
    want = (
        logs["reconstruction_loss"]
        + logs["mutual_information"]
        + 6.0 * logs["total_correlation"]
        + logs["dimension_wise_kl"]
    )
    assert logs["loss"] == pytest.approx(want, rel=1e-4, abs=1e-3)
    assert all(np.isfinite(v) for v in logs.values())


def test_beta_tcvae_with_unit_weights_is_the_vae_objective_plus_a_constant(binary_images):
    # MI + TC + dim-KL = E[log q(z|x) - log p(z)]: the one-sample KL, whose mean is kl_loss.
    model = BetaTCVAE(*nets(), beta=1.0, dataset_size=64, seed=0)
    z_mean, z_log_var = model.encode(binary_images)
    z = z_mean + np.exp(0.5 * z_log_var) * np.random.default_rng(1).normal(size=z_mean.shape)
    total = sum(
        float(keras.ops.convert_to_numpy(t))
        for t in decompose_kl(z.astype("float32"), z_mean, z_log_var, 64.0)
    )
    log_q = -0.5 * (np.log(2 * np.pi) + z_log_var + (z - z_mean) ** 2 / np.exp(z_log_var))
    log_p = -0.5 * (np.log(2 * np.pi) + z**2)
    assert total == pytest.approx(float(np.mean((log_q - log_p).sum(1))), rel=1e-4, abs=1e-4)


def test_beta_tcvae_saves_and_loads(tmp_path, binary_images):
    model = BetaTCVAE(*nets(), beta=4.0, alpha=0.5, gamma=2.0, seed=1)
    model.compile(optimizer="adam")
    model.fit(binary_images, epochs=1, batch_size=32, verbose=0)
    serialization_round_trip(model)
    loaded = saved_model_round_trip(model, tmp_path)
    assert (loaded.alpha, loaded.gamma, loaded.dataset_size) == (0.5, 2.0, 64)
    assert float(keras.ops.convert_to_numpy(loaded.beta)) == 4.0
    assert_close(loaded.encode(binary_images)[0], model.encode(binary_images)[0])
    assert_close(loaded.reconstruct(binary_images), model.reconstruct(binary_images))


def test_beta_tcvae_refuses_what_it_cannot_do(binary_images):
    with pytest.raises(ValueError, match="free_bits"):
        BetaTCVAE(*nets(), free_bits=0.5)
    model = BetaTCVAE(*nets())
    model.compile()

    def batches():
        while True:
            yield binary_images[:16]

    with pytest.raises(ValueError, match="dataset_size"):
        model.fit(batches(), steps_per_epoch=1, verbose=0)
    with pytest.raises(ValueError, match="alpha"):
        BetaTCVAE(*nets(), alpha=-1.0)


def _discriminator_values(model):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in model.discriminator.weights]


def test_factor_vae_trains_its_discriminator_with_its_own_optimizer(binary_images):
    model = FactorVAE(*nets(), gamma=5.0, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    vae_weights = len(model.trainable_variables) - len(model.discriminator.trainable_variables)
    before_d = _discriminator_values(model)
    before_enc = [np.array(keras.ops.convert_to_numpy(v)) for v in model.encoder.weights]
    history = model.fit(
        binary_images, epochs=2, batch_size=16, validation_data=(binary_images[:16],), verbose=0
    ).history
    names = ["discriminator_loss", "kl_loss", "loss", "reconstruction_loss", "total_correlation"]
    assert sorted(history) == sorted(names + ["val_" + n for n in names])
    # Both networks moved; the VAE's optimizer holds slots for the VAE's weights only.
    assert any(
        not np.allclose(a, b) for a, b in zip(before_d, _discriminator_values(model), strict=False)
    )
    after_enc = [np.array(keras.ops.convert_to_numpy(v)) for v in model.encoder.weights]
    assert any(not np.allclose(a, b) for a, b in zip(before_enc, after_enc, strict=False))
    assert len(model.optimizer._trainable_variables) == vae_weights
    assert int(keras.ops.convert_to_numpy(model.discriminator_optimizer.iterations)) == 8
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 8
    # A discriminator that cannot tell the two samples apart scores log 2.
    assert abs(history["discriminator_loss"][0] - math.log(2)) < 0.2
    logs = model.evaluate(binary_images, batch_size=64, verbose=0, return_dict=True)
    want = logs["reconstruction_loss"] + logs["kl_loss"] + 5.0 * logs["total_correlation"]
    assert logs["loss"] == pytest.approx(want, rel=1e-4, abs=1e-3)


def test_factor_vae_discriminator_learns_to_spot_dependent_codes():
    # Codes with strongly dependent dimensions (x1 = x0): the permuted sample differs,
    # so the discriminator's loss falls well below log 2 when only it trains.
    model = FactorVAE(*nets(2), seed=0, discriminator_optimizer=keras.optimizers.Adam(3e-3))
    model.compile(optimizer=keras.optimizers.SGD(0.0))  # the VAE stays put
    rng = np.random.default_rng(0)
    x = np.zeros((256, 8, 8, 1), "float32")
    x[:, :4] = rng.uniform(size=(256, 1, 1, 1)) > 0.5
    x[:, 4:] = x[:, :4]
    history = model.fit(x, epochs=8, batch_size=64, verbose=0).history
    assert history["discriminator_loss"][-1] < history["discriminator_loss"][0]


def test_factor_vae_saves_and_loads_with_its_discriminator_state(tmp_path, binary_images):
    model = FactorVAE(*nets(), gamma=3.0, seed=2)
    model.compile(optimizer="adam")
    model.fit(binary_images, epochs=1, batch_size=32, verbose=0)
    serialization_round_trip(model)
    loaded = saved_model_round_trip(model, tmp_path)
    assert float(keras.ops.convert_to_numpy(loaded.gamma)) == 3.0
    for a, b in zip(_discriminator_values(loaded), _discriminator_values(model), strict=False):
        assert_close(a, b)
    assert int(keras.ops.convert_to_numpy(loaded.discriminator_optimizer.iterations)) == 2
    assert_close(loaded.reconstruct(binary_images), model.reconstruct(binary_images))
    loaded.fit(binary_images, epochs=1, batch_size=32, verbose=0)  # training resumes
    assert int(keras.ops.convert_to_numpy(loaded.discriminator_optimizer.iterations)) == 4


def test_factor_vae_gamma_is_a_variable_and_bad_discriminators_are_refused():
    model = FactorVAE(*nets())
    model.gamma = 2.5
    assert float(keras.ops.convert_to_numpy(model.gamma)) == 2.5
    with pytest.raises(ValueError, match="gamma"):
        model.gamma = -1.0
    wrong = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="one logit"):
        FactorVAE(*nets(), discriminator=wrong)


def test_plain_vae_step_is_unchanged_by_the_objectives_seam(binary_images):
    model = VAE(*nets(), seed=0)
    assert [name for name, _, _ in model.objectives()] == ["loss"]
    model.compile()
    model.fit(binary_images, epochs=1, batch_size=32, verbose=0)
    assert len(model.optimizer._trainable_variables) == len(model.trainable_variables)

"""Tests for `AE` (the deterministic baseline) and training-time corruption."""

import warnings

import keras
import numpy as np
import pytest
from keras import ops

from tests.helpers import assert_close, normalized, saved_model_round_trip, serialization_round_trip
from vae_keras import losses, networks
from vae_keras.models import AE

pytestmark = pytest.mark.backend
SHAPE = (8, 8, 1)


def small_ae(latent_dim=2, output_activation=None, **kwargs):
    return AE(
        networks.dense_encoder(SHAPE, latent_dim, hidden_units=(16,)),
        networks.dense_decoder(
            latent_dim, SHAPE, hidden_units=(16,), output_activation=output_activation
        ),
        **kwargs,
    )


def twin(model, **overrides):
    """A fresh model with the same config (plus overrides) and the same weights."""
    config = {**model.get_config(), **overrides}
    clone = type(model).from_config(config)
    clone.set_weights(model.get_weights())
    clone.compile()
    return clone


def manual_bce(x, logits):
    return ops.convert_to_numpy(losses.bernoulli_nll(x, logits)).mean()


def test_fit_reports_reconstruction_only_and_training_lowers_it(binary_images):
    ae = small_ae(seed=0)
    ae.compile(optimizer=keras.optimizers.Adam(1e-2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = ae.fit(
            binary_images, epochs=5, batch_size=16, verbose=0, validation_data=(binary_images[:16],)
        ).history
    assert sorted(history) == ["loss", "reconstruction_loss", "val_loss", "val_reconstruction_loss"]
    np.testing.assert_allclose(history["loss"], history["reconstruction_loss"], rtol=1e-6)
    assert history["loss"][-1] < 0.8 * history["loss"][0]
    # The unused z_log_var head gets zero gradients, not missing ones (no warning).
    assert not [w for w in caught if "Gradients do not exist" in str(w.message)]


def test_loss_is_the_reconstruction_of_z_mean(binary_images):
    ae = small_ae(seed=0)
    ae.compile()
    kernel_before = ae.encoder.get_layer("z_log_var").get_weights()[0].copy()
    ae.fit(binary_images, epochs=1, batch_size=16, verbose=0)
    result = ae.evaluate(binary_images, batch_size=64, verbose=0, return_dict=True)
    z_mean, _ = ae.encode(binary_images)
    expected = manual_bce(binary_images, ae.decoder(z_mean))
    assert result["loss"] == pytest.approx(expected, rel=1e-5)
    assert result["reconstruction_loss"] == pytest.approx(expected, rel=1e-5)
    # Deterministic: evaluating twice gives the same number; z_log_var never trains.
    again = ae.evaluate(binary_images, batch_size=64, verbose=0, return_dict=True)
    assert again["loss"] == pytest.approx(result["loss"], rel=1e-6)
    np.testing.assert_array_equal(ae.encoder.get_layer("z_log_var").get_weights()[0], kernel_before)
    assert_close(
        ae.reconstruct(binary_images), 1 / (1 + np.exp(-ops.convert_to_numpy(ae.decoder(z_mean))))
    )


def test_save_and_load_round_trip(binary_images, tmp_path):
    ae = small_ae(seed=3, corruption="mask", corruption_level=0.3)
    ae.compile()
    ae.fit(binary_images, epochs=1, batch_size=32, verbose=0)
    loaded = saved_model_round_trip(ae, tmp_path)
    assert normalized(loaded.get_config()) == normalized(ae.get_config())
    assert loaded.corruption == "mask" and loaded.corruption_level == 0.3
    assert_close(loaded.reconstruct(binary_images), ae.reconstruct(binary_images))
    assert_close(loaded.encode(binary_images)[0], ae.encode(binary_images)[0])
    assert_close(loaded.sample(5, seed=4), ae.sample(5, seed=4))
    loaded.fit(binary_images, epochs=1, batch_size=32, verbose=0)
    assert serialization_round_trip(small_ae(seed=5, likelihood="gaussian")).seed == 5


def test_sample_decodes_standard_normal_draws():
    ae = small_ae(latent_dim=3, seed=0)
    a = ae.sample(6, seed=2)
    assert a.shape == (6,) + SHAPE and a.dtype == np.float32
    assert ((a >= 0) & (a <= 1)).all()
    z = ops.convert_to_numpy(keras.random.normal((6, 3), seed=2))
    assert_close(a, ae.decode(z))
    assert not np.allclose(ae.sample(6), ae.sample(6))
    assert ae.decode(np.zeros((2, 3))).shape == (2,) + SHAPE
    with pytest.raises(ValueError, match="num_samples=-1"):
        ae.sample(-1)


# === Corruption (denoising), shared by AE and VAE ===


@pytest.mark.parametrize("corruption", ["gaussian", "mask"])
def test_corruption_changes_inputs_in_training_only_and_targets_stay_clean(
    binary_images, corruption
):
    x = binary_images
    keras.utils.set_random_seed(0)
    ae = small_ae(seed=7, corruption=corruption, corruption_level=0.4)
    ae.compile()
    for net in (ae.encoder, ae.decoder):  # large weights: outputs depend on inputs
        net.set_weights([w * 3.0 for w in net.get_weights()])
    clean = twin(ae, corruption=None)
    # Not training: exactly the uncorrupted model.
    assert float(ae.compute_losses(x, training=False)["loss"]) == pytest.approx(
        float(clean.compute_losses(x, training=False)["loss"]), rel=1e-6
    )
    assert ae.evaluate(x, verbose=0, return_dict=True)["loss"] == pytest.approx(
        clean.evaluate(x, verbose=0, return_dict=True)["loss"], rel=1e-6
    )
    assert_close(ae.reconstruct(x), clean.reconstruct(x))
    # Training: the encoder sees the corruption a same-seeded twin draws, the
    # loss compares with the clean x.
    replay = twin(ae)
    noisy = replay.corrupt_inputs(x, training=True)
    assert not np.allclose(ops.convert_to_numpy(noisy), x)
    logits = ae.decoder(ae.encoder(noisy)[0])
    trained = float(ae.compute_losses(x, training=True)["loss"])
    clean_target = manual_bce(x, logits)
    noisy_target = manual_bce(ops.convert_to_numpy(noisy), logits)
    clean_input = float(clean.compute_losses(x)["loss"])
    assert trained == pytest.approx(clean_target, rel=1e-5)
    assert abs(noisy_target - clean_target) > 1e-3 * clean_target  # the test can tell them apart
    assert abs(clean_input - clean_target) > 1e-3 * clean_target


def test_corruption_statistics():
    x = np.full((200,) + SHAPE, 0.5, "float32")
    noisy = small_ae(seed=0, corruption="gaussian", corruption_level=0.1).corrupt(x, seed=1)
    assert np.std(noisy - x) == pytest.approx(0.1, rel=0.05)
    assert abs(np.mean(noisy - x)) < 0.005
    wide = small_ae(seed=0, corruption="gaussian", corruption_level=2.0).corrupt(x, seed=1)
    assert wide.min() == 0.0 and wide.max() == 1.0  # clipped to [0, 1] (Bernoulli)
    unclipped = small_ae(likelihood="gaussian", corruption="gaussian", corruption_level=2.0)
    assert unclipped.corrupt(x, seed=1).max() > 2.0
    masked = small_ae(seed=0, corruption="mask", corruption_level=0.3).corrupt(x, seed=1)
    assert set(np.unique(masked)) == {0.0, 0.5}
    assert np.mean(masked == 0) == pytest.approx(0.3, abs=0.02)
    assert_close(small_ae().corrupt(x), x)  # no corruption: unchanged


def test_denoising_training_reconstructs_clean_images(binary_images):
    """A masked AE learns to fill in: on masked inputs it beats a plain AE."""

    def train(corruption):
        keras.utils.set_random_seed(0)
        ae = small_ae(seed=0, corruption=corruption, corruption_level=0.5)
        ae.compile(optimizer=keras.optimizers.Adam(2e-2))
        ae.fit(binary_images, epochs=20, batch_size=16, verbose=0)
        return ae

    denoiser, plain = train("mask"), train(None)
    masked = denoiser.corrupt(binary_images, seed=3)
    error = {
        name: float(np.mean((model.reconstruct(masked) - binary_images) ** 2))
        for name, model in (("denoiser", denoiser), ("plain", plain))
    }
    assert error["denoiser"] < 0.85 * error["plain"], error


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"likelihood": "poisson"}, r"poisson"),
        ({"corruption": "salt"}, r"corruption='salt'"),
        ({"corruption": "mask", "corruption_level": 1.0}, r"corruption_level=1.0"),
        ({"corruption": "gaussian", "corruption_level": -0.1}, r"corruption_level=-0.1"),
        ({"likelihood": "gaussian", "gaussian_variance": 0}, r"gaussian_variance=0"),
        ({"likelihood": "gaussian", "gaussian_variance": "learnt"}, r"gaussian_variance='learnt'"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        small_ae(**kwargs)


def test_bad_data_and_networks_are_rejected():
    ae = small_ae()
    ae.compile()
    with pytest.raises(ValueError, match="Bernoulli"):
        ae.fit(np.full((4,) + SHAPE, 2.0), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="latent_dim=2.*latent_dim=3"):
        AE(networks.dense_encoder(SHAPE, 2), networks.dense_decoder(3, SHAPE))

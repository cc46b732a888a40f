"""Tests for the autoregressive decoder: masked convolutions, PixelCNN, PixelVAE."""

import itertools

import keras
import numpy as np
import pytest
from keras import ops

from tests.helpers import (
    assert_close,
    assert_elbo_history,
    saved_model_round_trip,
    serialization_round_trip,
)
from vae_keras import evaluation, networks
from vae_keras.models import VAE, PixelIWAE, PixelVAE
from vae_keras.networks import MaskedConv2D, PixelCNN

pytestmark = pytest.mark.backend


def pixel_vae(shape=(8, 8, 1), latent_dim=2, channels=3, seed=0, **pixelcnn_args):
    pixelcnn_args = {"filters": 8, "head_units": 8, **pixelcnn_args}
    return PixelVAE(
        networks.dense_encoder(shape, latent_dim, hidden_units=(16,)),
        networks.dense_decoder(latent_dim, shape[:-1] + (channels,), hidden_units=(16,)),
        PixelCNN(shape, feature_channels=channels, **pixelcnn_args),
        seed=seed,
    )


def numpy(t):
    return np.asarray(ops.convert_to_numpy(t))


# === Causality ===


@pytest.mark.parametrize("channels", [1, 2])
def test_pixelcnn_logits_see_only_earlier_pixels(channels):
    shape = (5, 6, channels)
    net = PixelCNN(shape, feature_channels=2, filters=6, num_layers=2, head_units=6)
    rng = np.random.default_rng(0)
    x = (rng.random((1,) + shape) < 0.5).astype("float32")
    features = rng.normal(size=(1, 5, 6, 2)).astype("float32")
    base = numpy(net([x, features])).reshape(30, channels)
    next_reads = []
    for position in range(30):
        flipped = x.copy()
        row, col = divmod(position, 6)
        flipped[0, row, col, position % channels] = 1.0 - flipped[0, row, col, position % channels]
        changed = (
            np.abs(numpy(net([flipped, features])).reshape(30, channels) - base).max(axis=1) > 1e-6
        )
        assert not changed[: position + 1].any(), f"logits at or before pixel {position} read it"
        next_reads.append(position < 29 and changed[position + 1])
    assert np.mean(next_reads) > 0.5  # the context is not empty (a ReLU may hide a few)


def test_masked_conv_mask_and_config_round_trip():
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 2)).astype("float32")
    layer = MaskedConv2D(4, 5, "A", activation="relu")
    expected = numpy(layer(x))
    restored = serialization_round_trip(layer)
    assert restored.mask_type == "A" and restored.kernel_size == (5, 5)
    restored(x)
    restored.set_weights(layer.get_weights())
    assert_close(numpy(restored(x)), expected)
    assert numpy(layer.kernel).shape == (5, 5, 2, 4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"kernel_size": 4}, "odd kernel size"),
        ({"mask_type": "C"}, "mask_type"),
        ({"strides": 2}, "strides=1"),
    ],
)
def test_masked_conv_rejects_what_breaks_causality(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MaskedConv2D(4, **{"kernel_size": 3, **kwargs})


# === The likelihood ===


def test_log_p_x_given_z_is_a_normalised_distribution():
    # 2x2 binary images: the 16 probabilities p(x | z) must sum to 1 for any z.
    vae = pixel_vae(shape=(2, 2, 1), channels=2, first_kernel_size=3)
    images = np.array(list(itertools.product([0.0, 1.0], repeat=4)), "float32").reshape(16, 2, 2, 1)
    for z in np.random.default_rng(0).normal(size=(3, 2)).astype("float32"):
        log_p = numpy(
            vae.log_prob_given_codes(images, np.repeat(z[None], 1, axis=0).repeat(16, 0)[:16])
        )
        assert log_p.shape == (16,)
        assert abs(np.exp(log_p).sum() - 1.0) < 1e-5


def test_shared_context_equals_the_per_row_likelihood(binary_images):
    vae = pixel_vae()
    x = binary_images[:5]
    z = np.random.default_rng(1).normal(size=(3 * 5, 2)).astype("float32")
    fast = numpy(vae.log_prob_given_codes(x, z))
    slow = -numpy(vae.codes_nll(np.tile(x, (3, 1, 1, 1)), z))
    assert_close(fast, slow, atol=1e-4)


def test_fit_evaluate_and_bounds(binary_images):
    vae = pixel_vae()
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = vae.fit(
        binary_images, epochs=3, batch_size=16, verbose=0, validation_data=(binary_images,)
    ).history
    assert_elbo_history(history)
    assert history["loss"][-1] < history["loss"][0]
    elbo = evaluation.elbo(vae, binary_images, num_samples=50).mean()
    log_px = evaluation.log_likelihood(vae, binary_images, num_samples=200, verbose=False).mean()
    # val_loss is the same bound from one draw per image: allow 4 standard errors of that draw.
    one_draw = -evaluation.elbo(vae, binary_images, num_samples=1)
    tolerance = 4 * one_draw.std() / np.sqrt(len(one_draw))
    assert abs(-elbo - history["val_loss"][-1]) < tolerance, (elbo, tolerance)
    assert log_px >= elbo - 0.05  # the importance-weighted bound is the tighter one


def test_autoregression_models_what_a_small_latent_cannot():
    # Every image repeats one random 8-pixel row: 8 bits, but each row after
    # the first is a copy of the row above. A 1-d latent cannot carry 8 bits;
    # the PixelCNN reads the row above.
    rng = np.random.default_rng(0)
    rows = (rng.random((512, 1, 8, 1)) < 0.5).astype("float32")
    x = np.repeat(rows, 8, axis=1)
    losses = {}
    for name in ("vae", "pixel"):
        keras.utils.set_random_seed(0)
        if name == "vae":
            model = VAE(
                networks.dense_encoder((8, 8, 1), 1, hidden_units=(32,)),
                networks.dense_decoder(1, (8, 8, 1), hidden_units=(32,)),
                seed=0,
            )
        else:
            model = pixel_vae(latent_dim=1, first_kernel_size=3, num_layers=1)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        model.fit(x, epochs=15, batch_size=64, verbose=0)
        losses[name] = model.evaluate(x, verbose=0, return_dict=True)["loss"]
    assert losses["pixel"] < 8 * np.log(2) + 3.0 < losses["vae"], losses


# === Generation ===


def test_sequential_generation_matches_the_teacher_forced_probabilities():
    vae = pixel_vae(num_layers=2)  # reach of 5 rows: the banded generation is exercised
    z = np.random.default_rng(0).normal(size=(4, 2)).astype("float32")
    images, probabilities = vae._generate(z, seed=3)
    assert set(np.unique(images)) <= {0.0, 1.0}
    forced = numpy(ops.sigmoid(vae.pixelcnn([images, vae._features(z)])))
    assert_close(probabilities, forced, atol=1e-5)


def test_sampling_is_seeded_and_in_the_unit_interval():
    vae = pixel_vae()
    a, b = vae.sample(3, seed=7), vae.sample(3, seed=7)
    assert a.shape == (3, 8, 8, 1)
    assert_close(a, b, atol=0)
    assert a.min() >= 0 and a.max() <= 1
    assert not np.allclose(vae.sample(3, seed=8), a)


def test_save_and_load_keep_likelihood_and_samples(binary_images, tmp_path):
    vae = pixel_vae()
    vae.compile(optimizer="adam")
    vae.fit(binary_images, epochs=1, batch_size=16, verbose=0)
    loaded = saved_model_round_trip(vae, tmp_path)
    z = np.random.default_rng(0).normal(size=(2 * 4, 2)).astype("float32")
    assert_close(
        numpy(loaded.log_prob_given_codes(binary_images[:4], z)),
        numpy(vae.log_prob_given_codes(binary_images[:4], z)),
        atol=1e-4,
    )
    assert_close(loaded.sample(2, seed=1), vae.sample(2, seed=1), atol=1e-5)


# === Bad input ===


def test_pixel_vae_rejects_networks_that_do_not_fit():
    shape = (8, 8, 1)
    encoder = networks.dense_encoder(shape, 2, hidden_units=(16,))
    with pytest.raises(ValueError, match=r"per-pixel features shaped \(8, 8, 3\)"):
        PixelVAE(encoder, networks.dense_decoder(2, (8, 8, 2)), PixelCNN(shape, feature_channels=3))
    with pytest.raises(ValueError, match=r"models images shaped \(6, 6, 1\)"):
        PixelVAE(
            encoder, networks.dense_decoder(2, (8, 8, 3)), PixelCNN((6, 6, 1), feature_channels=3)
        )
    with pytest.raises(ValueError, match="must be a `vae_keras.networks.PixelCNN`"):
        PixelVAE(encoder, networks.dense_decoder(2, (8, 8, 3)), networks.dense_decoder(2, shape))
    with pytest.raises(ValueError, match="binary pixels \\('bernoulli'\\) or 8-bit pixels"):
        PixelVAE(
            encoder, networks.dense_decoder(2, (8, 8, 3)), PixelCNN(shape, 3), likelihood="gaussian"
        )


def test_export_refuses_the_sequential_decoder(tmp_path):
    from vae_keras.export import export_saved_model

    with pytest.raises(ValueError, match="pixel by pixel"):
        export_saved_model(pixel_vae(), tmp_path / "sm")
    assert not (tmp_path / "sm").exists()


# === PixelIWAE ===


def test_pixel_iwae_loss_is_the_importance_weighted_bound_and_fine_tunes_shared_networks(
    binary_images, tmp_path
):
    base = pixel_vae()
    tuned = PixelIWAE(base.encoder, base.decoder, pixelcnn=base.pixelcnn, num_samples=6, seed=3)
    x = binary_images[:16]
    # The loss is -log mean_i w_i over the k codes, with log p(x|z) from the shared context.
    log_w, log_px, _, _ = tuned.log_weights(x)
    assert tuple(log_w.shape) == (6, 16) and tuple(log_px.shape) == (6, 16)
    log_w = numpy(log_w).astype("float64")
    bound = np.log(np.exp(log_w - log_w.max(0)).mean(0)) + log_w.max(0)
    assert -bound.mean() <= -log_w.mean() + 1e-4  # never looser than the one-sample average
    tuned.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = tuned.fit(binary_images, epochs=2, batch_size=16, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    z = np.random.default_rng(0).normal(size=(4, 2)).astype("float32")
    assert_close(
        numpy(base.log_prob_given_codes(x[:4], z)), numpy(tuned.log_prob_given_codes(x[:4], z))
    )
    loaded = saved_model_round_trip(tuned, tmp_path)
    assert loaded.num_samples == 6 and isinstance(loaded.pixelcnn, PixelCNN)
    assert_close(
        numpy(loaded.log_prob_given_codes(x[:4], z)),
        numpy(tuned.log_prob_given_codes(x[:4], z)),
        atol=1e-4,
    )
    with pytest.raises(ValueError, match="Free bits"):
        PixelIWAE(base.encoder, base.decoder, pixelcnn=base.pixelcnn, free_bits=0.25)


# === 8-bit colour: a mixture of logistics per pixel (PixelCNN++'s likelihood) ===


def colour_pixel_vae(shape=(4, 4, 3), mixtures=2, seed=0, **pixelcnn_args):
    from vae_keras.likelihoods import DiscretizedLogistic

    likelihood = DiscretizedLogistic(num_mixtures=mixtures)
    pixelcnn_args = {"filters": 8, "head_units": 8, "first_kernel_size": 3, **pixelcnn_args}
    return PixelVAE(
        networks.dense_encoder(shape, 2, hidden_units=(16,)),
        networks.dense_decoder(2, shape[:-1] + (3,), hidden_units=(16,)),
        PixelCNN(
            shape,
            feature_channels=3,
            output_channels=likelihood.output_channels(shape[-1]),
            **pixelcnn_args,
        ),
        likelihood=likelihood,
        seed=seed,
    )


def test_colour_pixel_vae_is_causal_exact_and_trains(tmp_path):
    vae = colour_pixel_vae()
    rng = np.random.default_rng(0)
    x = (rng.integers(0, 256, size=(24, 4, 4, 3)) / 255).astype("float32")
    x[:, 1::2] = x[:, ::2]  # odd rows copy the row above: the PixelCNN can read it
    # Pixel (i, j)'s outputs do not move when pixel (i, j) or later ones change.
    z = rng.normal(size=(1, 2)).astype("float32")
    base = numpy(vae.pixelcnn([x[:1], vae._features(z)]))
    later = x[:1].copy()
    later[0, 2, 1:] = 1.0 - later[0, 2, 1:]
    later[0, 3] = 0.0
    moved = np.abs(numpy(vae.pixelcnn([later, vae._features(z)])) - base).max(-1)
    assert moved.reshape(-1)[: 2 * 4 + 2].max() < 1e-6  # at or before pixel (2, 1)
    assert moved.reshape(-1)[2 * 4 + 2 :].max() > 1e-6

    # log p(x | z) is the mixture's exact mass; the shared-context path agrees.
    codes = rng.normal(size=(2 * 5, 2)).astype("float32")
    fast = numpy(vae.log_prob_given_codes(x[:5], codes))
    slow = -numpy(vae.codes_nll(np.tile(x[:5], (2, 1, 1, 1)), codes))
    assert_close(fast, slow, atol=1e-3)

    vae.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = vae.fit(x, epochs=4, batch_size=8, verbose=0).history
    assert "bits_per_dim" in history and history["loss"][-1] < history["loss"][0]
    images = vae.sample(2, seed=1)
    assert images.shape == (2, 4, 4, 3) and images.min() >= 0 and images.max() <= 1
    assert_close(images, vae.sample(2, seed=1), atol=0)
    path = tmp_path / "colour.keras"
    vae.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert_close(
        numpy(loaded.log_prob_given_codes(x[:5], codes)),
        numpy(vae.log_prob_given_codes(x[:5], codes)),
        atol=1e-5,
    )


def test_colour_pixel_vae_rejects_a_pixelcnn_with_the_wrong_outputs():
    with pytest.raises(ValueError, match="needs 6 outputs per pixel.*output_channels=6"):
        PixelVAE(
            networks.dense_encoder((4, 4, 3), 2, hidden_units=(16,)),
            networks.dense_decoder(2, (4, 4, 3), hidden_units=(16,)),
            PixelCNN((4, 4, 3), feature_channels=3, filters=8, head_units=8),
            likelihood="discretized_logistic",
        )

"""The cached autoregressive sampler (`networks.CachedPixelCNN`) against the plain network."""

import numpy as np
import pytest
from keras import ops

from tests.helpers import assert_close
from vae_keras import likelihoods, networks
from vae_keras.models import CodePrior, PixelVAE
from vae_keras.networks import CachedPixelCNN, PixelCNN

pytestmark = pytest.mark.backend


def numpy(t):
    return np.asarray(ops.convert_to_numpy(t))


def randomise(model, scale=0.6, seed=0):
    """Random weights of a useful size: logits far from 0 and varied, biases not zero."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        if weight.trainable:
            weight.assign(scale * rng.normal(size=weight.shape).astype("float32"))
    return model


def pixel_vae(shape=(6, 7, 1), likelihood="bernoulli", **pixelcnn_args):
    likelihood = likelihoods.get(likelihood)
    features = 3
    pixelcnn_args = {"filters": 6, "head_units": 6, "num_layers": 2, **pixelcnn_args}
    return PixelVAE(
        networks.dense_encoder(shape, 2, hidden_units=(8,)),
        networks.dense_decoder(2, shape[:-1] + (features,), hidden_units=(8,)),
        PixelCNN(
            shape,
            feature_channels=features,
            output_channels=likelihood.output_channels(shape[-1]),
            **pixelcnn_args,
        ),
        likelihood=likelihood,
        seed=0,
    )


@pytest.mark.parametrize(
    "shape, args",
    [
        ((5, 6, 1), {"num_layers": 2}),
        ((4, 5, 2), {"num_layers": 0, "first_kernel_size": 5, "output_channels": 3}),
        ((6, 4, 3), {"num_layers": 3, "first_kernel_size": 3, "kernel_size": 5}),
    ],
)
def test_cached_logits_equal_the_networks_at_every_position(shape, args):
    net = randomise(PixelCNN(shape, feature_channels=2, filters=5, head_units=4, **args))
    rng = np.random.default_rng(1)
    x = (rng.random((3,) + shape) < 0.5).astype("float32")
    features = rng.normal(size=(3,) + shape[:-1] + (2,)).astype("float32")
    full = numpy(net([x, features]))
    cached = CachedPixelCNN(net, features)
    height, width = shape[:2]
    got = np.zeros_like(full)
    for i in range(height):
        for j in range(width):
            got[:, i, j] = numpy(cached.logits(i, j))
            cached.write(i, j, x[:, i, j])
    assert np.std(full) > 0.5  # the comparison is not between two near-constant arrays
    assert_close(got, full, atol=1e-4)


def test_cached_logits_read_the_pixels_written_not_later_ones():
    net = randomise(PixelCNN((3, 3, 1), feature_channels=1, filters=4, head_units=4))
    features = np.zeros((1, 3, 3, 1), "float32")
    cached = CachedPixelCNN(net, features)
    first = numpy(cached.logits(0, 0))
    cached.write(0, 0, np.ones((1, 1), "float32"))
    expected = numpy(
        net([np.pad(np.ones((1, 1, 1, 1), "float32"), [(0, 0), (0, 2), (0, 2), (0, 0)]), features])
    )
    assert_close(numpy(cached.logits(0, 1)), expected[:, 0, 1], atol=1e-5)
    assert not np.allclose(numpy(cached.logits(0, 1)), first)


def test_pixel_vae_cached_and_banded_draw_the_same_images():
    vae = randomise(pixel_vae(first_kernel_size=3))  # reach 3 rows < height: bands move
    z = np.random.default_rng(2).normal(size=(16, 2)).astype("float32")
    banded, p_banded = vae._generate(z, 11, sampler="banded")
    cached, p_cached = vae._generate(z, 11, sampler="cached")
    assert 0.1 < banded.mean() < 0.9 and np.std(p_banded) > 0.2, "draws too easy to match"
    np.testing.assert_array_equal(cached, banded)
    assert_close(p_cached, p_banded, atol=1e-5)
    # The public path (the cached one by default) and the seeding are unchanged.
    assert_close(vae.sample(5, seed=3), vae.sample(5, seed=3, sampler="banded"), atol=1e-5)
    assert_close(vae.decode(z, seed=4), vae.decode(z, seed=4, sampler="banded"), atol=1e-5)


def test_colour_pixel_vae_cached_and_banded_draw_the_same_images():
    likelihood = likelihoods.DiscretizedLogistic(num_mixtures=2)
    vae = randomise(pixel_vae((4, 4, 3), likelihood, first_kernel_size=3, num_layers=1), 0.3)
    z = np.random.default_rng(3).normal(size=(6, 2)).astype("float32")
    banded, mean_banded = vae._generate(z, 5, sampler="banded")
    cached, mean_cached = vae._generate(z, 5, sampler="cached")
    assert len(np.unique(banded)) > 20
    np.testing.assert_array_equal(cached, banded)
    assert_close(mean_cached, mean_banded, atol=1e-4)


@pytest.mark.parametrize("num_classes", [None, 3])
def test_code_prior_cached_and_banded_draw_the_same_grids(num_classes):
    prior = randomise(
        CodePrior((5, 4), 7, 2, num_classes=num_classes, filters=6, num_layers=2, head_units=6)
    )
    labels = None if num_classes is None else np.arange(12) % 3
    banded = prior.sample(12, labels=labels, seed=4, sampler="banded")
    cached = prior.sample(12, labels=labels, seed=4)
    assert banded.shape == (12, 5, 4) and len(np.unique(banded)) >= 4
    np.testing.assert_array_equal(cached, banded)
    hot = prior.sample(12, labels=labels, seed=4, temperature=0.5)
    np.testing.assert_array_equal(
        hot, prior.sample(12, labels=labels, seed=4, temperature=0.5, sampler="banded")
    )


def test_unknown_sampler_is_refused():
    vae = pixel_vae()
    with pytest.raises(ValueError, match="sampler='fast'"):
        vae.sample(1, seed=0, sampler="fast")
    prior = CodePrior((2, 2), 3, 2, filters=2, head_units=2)
    with pytest.raises(ValueError, match="sampler='fast'"):
        prior.sample(1, seed=0, sampler="fast")
    with pytest.raises(ValueError, match="PixelCNN"):
        CachedPixelCNN(prior, np.zeros((1, 2, 2, 1), "float32"))

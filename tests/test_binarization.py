import numpy as np
import pytest

from vae_keras import VAE, networks
from vae_keras.binarization import DynamicBinarization, binarize


def test_binarize_is_bernoulli_and_seeded():
    x = np.tile(np.array([0.0, 0.2, 0.5, 1.0], "float32"), (20000, 1))
    b = binarize(x, seed=1)
    assert set(np.unique(b)) <= {0.0, 1.0}
    np.testing.assert_allclose(b.mean(axis=0), [0.0, 0.2, 0.5, 1.0], atol=0.015)
    np.testing.assert_array_equal(b, binarize(x, seed=1))
    assert not np.array_equal(b, binarize(x, seed=2))
    with pytest.raises(ValueError, match="Bernoulli"):
        binarize(x * 255)


def test_dynamic_binarization_draws_fresh_batches_each_epoch():
    x = np.full((10, 6), 0.5, "float32")
    data = DynamicBinarization(x, batch_size=4, seed=0)
    assert len(data) == 3 and data[2].shape == (2, 6)
    first = np.concatenate([data[i] for i in range(3)])
    np.testing.assert_array_equal(
        first, np.concatenate([data[i] for i in range(3)])
    )  # stable within an epoch
    data.on_epoch_end()
    assert not np.array_equal(first, np.concatenate([data[i] for i in range(3)]))
    again = DynamicBinarization(x, batch_size=4, seed=0)
    np.testing.assert_array_equal(first, np.concatenate([again[i] for i in range(3)]))  # seeded


def test_dynamic_binarization_keeps_every_image_once_per_epoch():
    x = np.eye(8, dtype="float32")  # one-hot rows: binarization keeps them exactly
    data = DynamicBinarization(x, batch_size=3, seed=5)
    rows = np.concatenate([data[i] for i in range(len(data))])
    assert sorted(rows.argmax(1).tolist()) == list(range(8))


@pytest.mark.backend
def test_fit_on_dynamic_binarization(binary_images):
    vae = VAE(
        networks.dense_encoder((8, 8, 1), 2, hidden_units=(8,)),
        networks.dense_decoder(2, (8, 8, 1), hidden_units=(8,)),
    )
    vae.compile()
    history = vae.fit(DynamicBinarization(binary_images * 0.9, batch_size=16), epochs=2, verbose=0)
    assert sorted(history.history) == ["kl_loss", "loss", "reconstruction_loss"]

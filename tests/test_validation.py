"""One home for argument checks: NumPy integers are integers everywhere, and the messages agree."""

import numpy as np
import pytest

from vae_keras import VAE, datasets, networks, validation


def test_numpy_integers_are_accepted_by_factories_models_and_loaders():
    encoder = networks.dense_encoder((8, 8, 1), np.int64(2), hidden_units=np.int32(8))
    decoder = networks.conv_decoder(np.int64(2), (8, 8, 1), filters=(np.int64(4),))
    assert encoder.outputs[0].shape[-1] == 2 and decoder.outputs[0].shape[1:] == (8, 8, 1)
    vae = VAE(encoder, decoder, seed=0)
    assert vae.sample(np.int64(3), seed=np.int64(1)).shape == (3, 8, 8, 1)
    x, _ = datasets.load("digits", "test", limit=np.int64(5))
    assert len(x) == 5


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "4", np.float32(3)])
def test_positive_integer_errors_name_the_value(bad):
    with pytest.raises(ValueError, match=r"`latent_dim` must be a positive integer\. Received"):
        validation.check_positive_int(bad, "latent_dim")
    with pytest.raises(ValueError, match=r"must be a positive integer\. Received"):
        networks.dense_encoder((8, 8, 1), bad)


def test_the_package_has_one_positive_integer_check():
    from vae_keras.datasets import _checks
    from vae_keras.networks import _common

    assert _checks.check_positive_int is validation.check_positive_int
    assert _common.check_positive_int is validation.check_positive_int

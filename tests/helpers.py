"""A small test base (keras has no public TestCase): round trips for layers and models."""

import json

import keras
import numpy as np


def normalized(config):
    """Configs compare equal up to tuples-vs-lists (what JSON saving does)."""
    return json.loads(json.dumps(config, default=str))


def config_round_trip(obj):
    """`from_config(get_config())` must give an object with the same config."""
    config = obj.get_config()
    clone = type(obj).from_config(config)
    assert normalized(clone.get_config()) == normalized(config)
    return clone


def serialization_round_trip(obj):
    """Through `serialize_keras_object` and back, as `.keras` saving does."""
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(obj))
    assert type(restored) is type(obj)
    assert normalized(restored.get_config()) == normalized(obj.get_config())
    return restored


def saved_model_round_trip(model, tmp_path, name="model.keras"):
    """Saves to `.keras`, loads back with safe_mode=True, returns the loaded model."""
    path = tmp_path / name
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert type(loaded) is type(model)
    return loaded


def assert_close(a, b, atol=1e-5):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=atol, rtol=0)


VAE_HISTORY_KEYS = [
    "kl_loss",
    "loss",
    "reconstruction_loss",
    "val_kl_loss",
    "val_loss",
    "val_reconstruction_loss",
]


def assert_elbo_history(history, rtol=1e-5):
    """A VAE-family `fit` history with validation: the six names, and loss = rec + KL."""
    assert sorted(history) == VAE_HISTORY_KEYS
    for prefix in ("", "val_"):
        np.testing.assert_allclose(
            history[prefix + "loss"],
            np.add(history[prefix + "reconstruction_loss"], history[prefix + "kl_loss"]),
            rtol=rtol,
        )

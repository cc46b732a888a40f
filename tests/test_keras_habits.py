"""Keras habits that must just work with the package's models (issue 12)."""

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from vae_keras import VAE, networks, runs

SHAPE = (8, 8, 1)
X = np.random.default_rng(0).uniform(size=(16, *SHAPE)).astype("float32")
ROOT = Path(__file__).resolve().parents[1]


def small_vae(encoder=None):
    model = VAE(
        encoder or networks.dense_encoder(SHAPE, 2, hidden_units=(8,)),
        networks.dense_decoder(2, SHAPE, hidden_units=(8,)),
        seed=0,
    )
    model.compile()
    return model


@pytest.mark.backend
def test_keras_model_export_works_after_construction(tmp_path):
    if keras.backend.backend() == "torch":
        pytest.skip("Keras exports SavedModels from TensorFlow and JAX only")
    tf = pytest.importorskip("tensorflow")
    model = small_vae()
    model.export(tmp_path / "serving")  # no call or fit first, as for a functional model
    loaded = tf.saved_model.load(str(tmp_path / "serving"))
    served = loaded.serve(X[:3])
    np.testing.assert_allclose(np.asarray(served), model.reconstruct(X[:3]), atol=1e-5)


def test_keras_tensorboard_callback_works(tmp_path):
    pytest.importorskip("tensorboard")  # a declared dependency (setup.cfg)
    model = small_vae()
    model.fit(
        X, epochs=1, batch_size=8, verbose=0, callbacks=[keras.callbacks.TensorBoard(tmp_path)]
    )
    assert list(tmp_path.rglob("events.out.tfevents.*"))


@pytest.mark.backend
def test_a_model_saved_on_another_backend_resumes_training(tmp_path):
    other = "tensorflow" if keras.backend.backend() == "torch" else "torch"
    pytest.importorskip(other)
    path = tmp_path / "m.keras"
    script = (
        "import numpy as np\n"
        "from vae_keras import VAE, networks\n"
        "S = (8, 8, 1)\n"
        "m = VAE(networks.dense_encoder(S, 2, hidden_units=(8,)), "
        "networks.dense_decoder(2, S, hidden_units=(8,)), seed=0)\n"
        "m.compile(optimizer='adam')\n"
        "m.fit(np.random.default_rng(0).uniform(size=(16, *S)).astype('float32'), epochs=1, "
        "batch_size=8, verbose=0)\n"
        f"m.save({str(path)!r})\n"
    )
    env = {**os.environ, "KERAS_BACKEND": other, "PYTHONPATH": str(ROOT)}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=300)
    model = keras.models.load_model(path, safe_mode=True)
    assert type(model.optimizer) is type(keras.optimizers.Adam())  # this backend's class
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 2
    history = model.fit(X, epochs=1, batch_size=8, verbose=0).history
    assert np.isfinite(history["loss"]).all()
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 4


@pytest.mark.backend
def test_an_encoder_with_one_concatenated_output_is_split_in_half(tmp_path):
    """TensorFlow's CVAE tutorial: `mean, logvar = tf.split(encoder(x), 2, axis=1)`."""
    inputs = keras.Input(SHAPE)
    out = keras.layers.Dense(4)(keras.layers.Flatten()(inputs))
    concatenated = keras.Model(inputs, out)
    model = small_vae(concatenated)
    z_mean, z_log_var = model.encode(X[:2])
    both = keras.ops.convert_to_numpy(concatenated(X[:2]))
    np.testing.assert_allclose(z_mean, both[:, :2], atol=1e-6)
    np.testing.assert_allclose(z_log_var, both[:, 2:], atol=1e-6)
    model.fit(X, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(restored.encode(X[:2])[1], model.encode(X[:2])[1], atol=1e-6)
    odd = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    with pytest.raises(ValueError, match=r"encoder.output\[:, :k\]"):
        small_vae(odd)


def test_load_model_names_what_is_wrong_with_a_file(tmp_path):
    (tmp_path / "truncated.keras").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ValueError, match="corrupt or truncated"):
        runs.load_model(tmp_path / "truncated.keras")
    plain = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    plain.save(tmp_path / "plain.keras")
    with pytest.raises(ValueError, match="not a vae_keras model"):
        runs.load_model(tmp_path / "plain.keras")
    with pytest.raises(ValueError, match="is a folder"):
        runs.load_model(tmp_path)

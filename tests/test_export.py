"""SavedModel export: every endpoint, loaded by a process that cannot import vae_keras."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from vae_keras import VAE, networks
from vae_keras.export import ENDPOINTS, export_saved_model
from vae_keras.models import AE, ConditionalVAE, conditional_decoder, conditional_encoder

EXPORTS_FROM = ("tensorflow", "jax")
NUM_CLASSES = 3

# Runs in a fresh interpreter (-I: no user site, no script folder on the path),
# with vae_keras made unimportable: it sees only TensorFlow and the SavedModels.
LOADER = r"""
import json, sys

class _NoVaeKeras:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "vae_keras":
            raise ModuleNotFoundError("vae_keras is blocked in this process")

sys.meta_path.insert(0, _NoVaeKeras())
import numpy as np
import tensorflow as tf

spec = json.load(open(sys.argv[1]))
data = np.load(sys.argv[2])
out = {}
for name, export in spec.items():
    m = tf.saved_model.load(export["path"])
    x = data[name + "/x"]
    extra = [tf.constant(data[name + "/labels"])] if export["conditional"] else []
    codes = m.encode(x, *extra)
    out[name + "/mean"] = codes["mean"].numpy()
    out[name + "/log_var"] = codes["log_var"].numpy()
    out[name + "/decoded"] = m.decode(codes["mean"], *extra).numpy()
    out[name + "/reconstruct"] = m.reconstruct(x, *extra).numpy()
    out[name + "/serve"] = m.serve(x, *extra).numpy()
    kwargs = {"x": tf.constant(x)}
    if extra:
        kwargs["labels"] = extra[0]
    default = m.signatures["serving_default"](**kwargs)
    out[name + "/serving_default"] = list(default.values())[0].numpy()
    one_label = [tf.constant([1], tf.int32)] if export["conditional"] else []
    out[name + "/sample_a"] = m.sample(tf.constant(3), *one_label).numpy()
    out[name + "/sample_b"] = m.sample(tf.constant(3), *one_label).numpy()
    out[name + "/sample_5"] = m.sample(tf.constant(5), *one_label).numpy()
    if export["conditional"]:
        bad = tf.constant([0, NUM_CLASSES], tf.int32)
        out[name + "/bad_labels"] = m.decode(codes["mean"][:2], bad).numpy()
    out[name + "/signatures"] = np.array(sorted(m.signatures.keys()))
assert "vae_keras" not in sys.modules, "the loader imported vae_keras"
np.savez(sys.argv[3], **out)
""".replace("NUM_CLASSES", str(NUM_CLASSES))


def _skip_unless_export_backend():
    if keras.backend.backend() not in EXPORTS_FROM:
        pytest.skip(f"SavedModel export runs on {EXPORTS_FROM}")


def _data(n=6):
    rng = np.random.default_rng(0)
    return (rng.uniform(size=(n, 8, 8, 1)) > 0.5).astype("float32")


def _trained(model, x):
    model.compile(optimizer="adam")
    model.fit(x, epochs=1, batch_size=8, verbose=0)
    return model


def _models():
    keras.utils.set_random_seed(0)
    train = _data(32)
    labels = np.arange(32) % NUM_CLASSES
    vae = _trained(
        VAE(
            networks.dense_encoder((8, 8, 1), 2, hidden_units=(16,)),
            networks.dense_decoder(2, (8, 8, 1), hidden_units=(16,)),
            seed=0,
        ),
        train,
    )
    cvae = _trained(
        ConditionalVAE(
            conditional_encoder((8, 8, 1), 2, NUM_CLASSES, hidden_units=(16,)),
            conditional_decoder(2, (8, 8, 1), NUM_CLASSES, hidden_units=(16,)),
            num_classes=NUM_CLASSES,
            seed=0,
        ),
        (train, labels),
    )
    ae = _trained(
        AE(
            networks.dense_encoder((8, 8, 1), 2, hidden_units=(16,)),
            networks.dense_decoder(2, (8, 8, 1), hidden_units=(16,)),
            seed=0,
        ),
        train,
    )
    return {"vae": vae, "cvae": cvae, "ae": ae}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Exports three trained models, loads them in one vae_keras-free process."""
    _skip_unless_export_backend()
    root = tmp_path_factory.mktemp("exports")
    x, labels = _data(), np.array([0, 1, 2, 0, 1, 2], "int32")
    models, spec, arrays, expected = _models(), {}, {}, {}
    for name, model in models.items():
        conditional = name == "cvae"
        path = export_saved_model(model, root / name / "saved_model")
        spec[name] = {"path": str(path), "conditional": conditional}
        arrays[name + "/x"] = x
        if conditional:
            arrays[name + "/labels"] = labels
            expected[name] = {
                "reconstruct": model.reconstruct(x, labels),
                "encode": model.encode(x, labels),
                "sample_shape": (3,) + model.input_shape_,
            }
        else:
            expected[name] = {
                "reconstruct": model.reconstruct(x),
                "encode": model.encode(x),
                "sample_shape": (3,) + model.input_shape_,
            }
    (root / "spec.json").write_text(json.dumps(spec))
    np.savez(root / "inputs.npz", **arrays)
    (root / "loader.py").write_text(LOADER)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KERAS_BACKEND")}
    result = subprocess.run(
        [sys.executable, "-I", "loader.py", "spec.json", "inputs.npz", "outputs.npz"],
        cwd=root,
        env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    outputs = dict(np.load(root / "outputs.npz"))
    got = {
        name: {k.split("/", 1)[1]: v for k, v in outputs.items() if k.startswith(name + "/")}
        for name in models
    }
    return got, expected, root, models


def _check_endpoints(got, expected, latent_dim=2):
    x_shape = (6, 8, 8, 1)
    assert got["mean"].shape == got["log_var"].shape == (6, latent_dim)
    mean, log_var = expected["encode"]
    np.testing.assert_allclose(got["mean"], mean, atol=1e-5)
    np.testing.assert_allclose(got["log_var"], log_var, atol=1e-5)
    for key in ("decoded", "reconstruct", "serve", "serving_default"):
        assert got[key].shape == x_shape, key
        np.testing.assert_allclose(got[key], expected["reconstruct"], atol=1e-5, err_msg=key)
    assert got["decoded"].min() >= 0 and got["decoded"].max() <= 1  # Bernoulli: probabilities
    assert got["sample_a"].shape == got["sample_b"].shape == expected["sample_shape"]
    assert got["sample_5"].shape == (5,) + expected["sample_shape"][1:]
    assert np.abs(got["sample_a"] - got["sample_b"]).max() > 1e-3  # fresh draws per call
    assert set(ENDPOINTS) | {"serving_default"} == set(got["signatures"])


@pytest.mark.backend
def test_vae_endpoints_work_without_vae_keras(exported):
    got, expected, _, _ = exported
    _check_endpoints(got["vae"], expected["vae"])


@pytest.mark.backend
def test_conditional_vae_endpoints_take_integer_labels(exported):
    got, expected, _, _ = exported
    _check_endpoints(got["cvae"], expected["cvae"])
    bad = got["cvae"]["bad_labels"]  # labels [0, num_classes]: the second is out of range
    assert np.isfinite(bad[0]).all() and np.isnan(bad[1]).all()


@pytest.mark.backend
def test_autoencoder_endpoints(exported):
    got, expected, _, _ = exported
    _check_endpoints(got["ae"], expected["ae"])


@pytest.mark.backend
def test_export_replaces_atomically_and_respects_overwrite(exported, monkeypatch):
    import tensorflow as tf

    _, _, root, models = exported
    target = root / "vae" / "saved_model"
    model = models["ae"]
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_saved_model(model, target, overwrite=False)

    # A failure while writing leaves the old export in place and no debris.
    def broken_write_out(self, *args, **kwargs):
        raise OSError("disk full")

    archive_type = type(keras.export.ExportArchive())
    with monkeypatch.context() as patch:
        patch.setattr(archive_type, "write_out", broken_write_out)
        with pytest.raises(OSError, match="disk full"):
            export_saved_model(model, target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["saved_model"]
    assert "encode" in tf.saved_model.load(str(target)).signatures

    # Overwriting swaps in the new export: `target` now serves the AE export's figures.
    export_saved_model(model, target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["saved_model"]
    x = _data()
    loaded = tf.saved_model.load(str(target))  # keep it referenced: it owns the variables
    np.testing.assert_allclose(loaded.reconstruct(x).numpy(), model.reconstruct(x), atol=1e-5)


@pytest.mark.backend
def test_export_rejects_other_models_and_backends(tmp_path):
    encoder = networks.dense_encoder((8, 8, 1), 2, hidden_units=(4,))
    if keras.backend.backend() not in EXPORTS_FROM:
        vae = VAE(encoder, networks.dense_decoder(2, (8, 8, 1), hidden_units=(4,)))
        with pytest.raises(RuntimeError, match="KERAS_BACKEND=tensorflow"):
            export_saved_model(vae, tmp_path / "sm")
    with pytest.raises(ValueError, match="model.export"):
        export_saved_model(encoder, tmp_path / "sm")
    (tmp_path / "file").write_text("")
    if keras.backend.backend() in EXPORTS_FROM:
        vae = VAE(encoder, networks.dense_decoder(2, (8, 8, 1), hidden_units=(4,)))
        with pytest.raises(FileExistsError, match="is a file"):
            export_saved_model(vae, tmp_path / "file")
    assert not (tmp_path / "sm").exists()


def test_mixed_precision_model_exports_float32_endpoints(tmp_path):
    import tensorflow as tf

    _skip_unless_export_backend()
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    try:
        vae = VAE(
            networks.dense_encoder((8, 8, 1), 2, hidden_units=(16,)),
            networks.dense_decoder(2, (8, 8, 1), hidden_units=(16,)),
            seed=0,
        )
        x = _data()
        expected = vae.reconstruct(x)
        loaded = tf.saved_model.load(str(export_saved_model(vae, tmp_path / "sm")))
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    got = loaded.reconstruct(x)
    assert got.dtype == tf.float32 and loaded.sample(tf.constant(2)).dtype == tf.float32
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-5)

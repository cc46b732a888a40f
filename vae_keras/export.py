"""SavedModel export with named endpoints, loadable without vae_keras.

`export_saved_model(model, path)` writes a TensorFlow SavedModel of a trained
model whose class declares `export_endpoints` (`models.capabilities`): the
endpoints are the model's own, from `model.serving_functions()`. For `VAE`,
`AE`, `IWAE`, `ConditionalVAE` (and `HierarchicalVAE`'s top group) they are:

| endpoint              | inputs                               | returns                       |
|-----------------------|--------------------------------------|-------------------------------|
| `encode(x)`           | `x`: float32 `(batch, *input_shape)` | `{"mean", "log_var"}`         |
| `decode(z)`           | `z`: float32 `(batch, latent_dim)`   | float32, shaped like `x`      |
| `reconstruct(x)`      | as `encode`                          | `decode(encode(x)["mean"])`   |
| `serve(x)`            | as `encode`; the default signature   | `reconstruct(x)`              |
| `sample(num_samples)` | `num_samples`: int32 scalar          | float32 `(n, *input_shape)`   |

`decode` returns data space: probabilities for a Bernoulli likelihood (the
sigmoid of the logits is part of the graph), means for a Gaussian one.
`sample` decodes fresh N(0, I) draws on every call: a counter variable saved
in the model advances on each call (stateless TF random ops keyed by the
model's seed and that counter), so a reloaded model starts the same sequence
again. For reproducible samples draw `z` yourself and call `decode`.

A `VQVAE`'s `encode` returns int32 code indices `(batch, h, w)` and its `decode`
reads them (`models/_vq_export.py`); a `VQVAE2`'s `encode` returns both grids
`{"top", "bottom"}`, its `decode(top, bottom)` reads both and its `sample` draws
top-down (`models/_vq2_export.py`).

A `ConditionalVAE` takes integer class ids `labels` (int32, shape
`(batch,)`) as a second input of every endpoint: `encode(x, labels)`,
`decode(z, labels)`, `reconstruct(x, labels)`, `serve(x, labels)` and
`sample(num_samples, labels)`, where `labels` holds one id for all samples
or one per sample. Rows with an id outside `[0, num_classes)` come out NaN.

Loading needs TensorFlow only (keep the loaded object referenced while you
call its endpoints: it owns the variables):

    import numpy as np, tensorflow as tf
    m = tf.saved_model.load("runs/RUN/saved_model")
    x = np.zeros((4, 28, 28, 1), "float32")
    codes = m.encode(x)                   # {"mean": (4, d), "log_var": (4, d)}
    images = m.decode(codes["mean"])      # (4, 28, 28, 1), probabilities
    same = m.reconstruct(x)               # == images; m.serve(x) too
    fresh = m.sample(16)                  # (16, 28, 28, 1), new draws per call

TF Serving sees the same five signatures (`serving_default` is `serve`);
`encode` answers `{"mean", "log_var"}`, the others `{"output_0"}`.

Exporting works from the TensorFlow backend (the endpoints are then
differentiable with `tf.GradientTape`) and from JAX (through `jax2tf`,
native serialization for the CPU and CUDA platforms; not differentiable
after loading). PyTorch has no SavedModel path: load the `.keras` file under
`KERAS_BACKEND=tensorflow` and export there. With a `tf.distribute`
strategy, export after the strategy's scope.
"""

import os
import shutil
import tempfile
from pathlib import Path

import keras

from vae_keras.models.capabilities import (  # noqa: F401  (ENDPOINTS re-exported)
    ENDPOINTS,
    capabilities,
    require,
)
from vae_keras.saving import DIR_MODE, FILE_MODE, clean_leftovers, fault_point, temporary_prefix

_BACKENDS = ("tensorflow", "jax")


def endpoint_kwargs() -> dict:
    """`add_endpoint` arguments for this backend: JAX goes through jax2tf, native and CPU/CUDA."""
    if keras.backend.backend() != "jax":
        return {}
    # Gradients of a native-serialized function do not survive saving.
    return {
        "jax2tf_kwargs": {
            "native_serialization_platforms": ("cpu", "cuda"),
            "with_gradient": False,
        }
    }


def export_saved_model(model, path, *, overwrite: bool = True, verbose: bool = False) -> Path:
    """Writes `model` as a TensorFlow SavedModel with named endpoints.

    The SavedModel is written to a temporary folder beside `path`, then
    renamed into place, so `path` never holds a half-written export.

    Args:
        model: A built model whose class declares the capability
            `export_endpoints` (`VAE`, `AE`, `IWAE`, `ConditionalVAE`,
            `VQVAE`, `VQVAE2`, `HierarchicalVAE`; not `PixelVAE`, which decodes pixel
            by pixel: that raises `CapabilityError`).
        path: Folder to write (created; its parent too).
        overwrite: Replace an existing export at `path`. With `False`, an
            existing `path` raises `FileExistsError`.
        verbose: Print the endpoints and their signatures.

    Returns:
        The `Path` written.

    Example:

    >>> import tempfile, numpy as np, tensorflow as tf
    >>> from vae_keras import VAE, networks
    >>> from vae_keras.export import export_saved_model
    >>> vae = VAE(networks.dense_encoder((8, 8, 1), 2, hidden_units=(16,)),
    ...           networks.dense_decoder(2, (8, 8, 1), hidden_units=(16,)), seed=0)
    >>> out = export_saved_model(vae, tempfile.mkdtemp() + "/sm")
    >>> loaded = tf.saved_model.load(str(out))
    >>> tuple(loaded.sample(tf.constant(3)).shape)
    (3, 8, 8, 1)
    """
    _check_exportable(model)
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{str(path)!r} is a file; pass a folder path for the SavedModel.")
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{str(path)!r} already exists. Pass overwrite=True to replace it, or another path."
        )
    archive = _build_archive(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=temporary_prefix(path), suffix=".tmp"))
    try:
        archive.write_out(str(tmp), verbose=verbose)
        _follow_umask(tmp)  # mkdtemp makes 0700: a serving account could not read it
        fault_point("export")
        _replace_dir(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # What an export killed earlier left beside `path` (its new or its replaced folder).
    clean_leftovers(path.parent, prefix=f".{path.name}.")
    return path


# === Checks ===


def _check_exportable(model):
    declared = capabilities(model)
    require(
        model,
        "export_endpoints",
        "export_saved_model",
        instead=(
            f"{type(model).__name__}'s decoder generates pixel by pixel in a Python loop, which "
            "a SavedModel signature cannot hold: serve the .keras file "
            "(`vae_keras.saving.load_model`) instead."
            if declared.decode and not declared.single_pass_decoder
            else "It exports the package's encoder/decoder models (VAE, AE, IWAE, "
            "ConditionalVAE, VQVAE, VQVAE2, HierarchicalVAE); for any other Keras model use "
            "`model.export(path)`."
        ),
    )
    backend = keras.backend.backend()
    if backend not in _BACKENDS:
        raise RuntimeError(
            f"SavedModel export runs on the TensorFlow or JAX backend, not {backend!r}. "
            "The .keras file loads on any backend: rerun with KERAS_BACKEND=tensorflow, "
            "e.g. `KERAS_BACKEND=tensorflow vae-keras export --model RUN/model.keras --out DIR`."
        )
    if backend == "tensorflow":
        import tensorflow as tf

        if tf.distribute.has_strategy():
            raise RuntimeError(
                "export_saved_model was called inside a tf.distribute strategy scope, "
                "where TensorFlow cannot save the endpoints' signatures. Call it after the "
                "`with strategy.scope():` (or `distribute.strategy_scope(...)`) block; the "
                "trained model exports from there."
            )
    if any(d is None for d in model.input_shape_):
        raise ValueError(
            "Export needs a fixed example shape. Received a model with input shape "
            f"{tuple(model.input_shape_)}."
        )


# === Endpoints ===


def _build_archive(model):
    """The model's own endpoints (`model.serving_functions()`), written by one archive."""
    serving = model.serving_functions()
    kwargs = endpoint_kwargs()
    archive = keras.export.ExportArchive()
    archive.track(model)
    added = {}
    for name, (function, specs) in serving.endpoints.items():  # `serve` first: the default
        added[name] = archive.add_endpoint(name, function, specs, **kwargs)
    if serving.sample is not None:
        archive.add_endpoint("sample", serving.sample(added["decode"]))
    return archive


# === Atomic replace ===


def _follow_umask(root):
    """Gives a tree the modes of files and folders created under the user's umask."""
    os.chmod(root, DIR_MODE)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(os.path.join(folder, name), DIR_MODE)
        for name in files:
            os.chmod(os.path.join(folder, name), FILE_MODE)


def _replace_dir(new, path):
    """Renames the folder `new` to `path`, replacing an existing `path`."""
    if not path.exists():
        os.replace(new, path)
        return
    old = Path(tempfile.mkdtemp(dir=path.parent, prefix=temporary_prefix(path), suffix=".old"))
    os.replace(path, old / "export")  # same file system: a rename, not a copy
    fault_point("export_replace")
    try:
        os.replace(new, path)
    except BaseException:
        os.replace(old / "export", path)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)

"""Image datasets as float32 NumPy arrays in [0, 1], shaped `(N, H, W, C)`, ready for a VAE.

Sources: local MNIST-family IDX files (else a TFDS download), scikit-learn's bundled 8x8
digits, and any TensorFlow Datasets image dataset. See `load()`.
"""

import difflib
import gzip
import os
import struct
from pathlib import Path

import numpy as np

KNOWN_DATASETS = ("mnist", "fashion_mnist", "digits")
"""Names `load()` handles itself; any TensorFlow Datasets image dataset works too."""

ENV_VAR = "VAE_KERAS_DATA_DIR"

# IDX type byte -> big-endian NumPy dtype.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_DIGITS_TRAIN_FRACTION = 0.8


def load_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads one IDX file (raw or gzip-compressed) into a NumPy array.

    The IDX header is big-endian: two zero bytes, a type byte (0x08 uint8, 0x09 int8,
    0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), a byte with the number of
    dimensions, one 32-bit size per dimension, then the raw data. Gzip is detected from
    the file's magic bytes, not its name.

    Args:
        path: path of the file, e.g. `"mnist/t10k-labels-idx1-ubyte.gz"`.

    Returns:
        A NumPy array of the header's shape, in native byte order.

    Raises:
        FileNotFoundError: if `path` does not exist.
        ValueError: if the header is malformed or the data size does not match it; the
            message names the file and what is wrong.

    Example:

    >>> labels = load_idx("/data/mnist/t10k-labels-idx1-ubyte.gz")  # doctest: +SKIP
    >>> labels.shape, labels.dtype  # doctest: +SKIP
    ((10000,), dtype('uint8'))
    """
    path = Path(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise ValueError(f"IDX file {path}: corrupt gzip data ({e}).") from e
    if len(raw) < 4:
        raise ValueError(f"IDX file {path}: truncated header ({len(raw)} bytes, need 4+).")
    zero, type_code, ndim = raw[:2], raw[2], raw[3]
    if zero != b"\x00\x00":
        raise ValueError(
            f"IDX file {path}: bad magic {raw[:4].hex()}; the first two bytes "
            "must be zero. Is this an IDX file?"
        )
    if type_code not in _IDX_DTYPES:
        valid = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise ValueError(
            f"IDX file {path}: unknown data type byte 0x{type_code:02X} (valid: {valid})."
        )
    if ndim == 0:
        raise ValueError(f"IDX file {path}: the header declares 0 dimensions.")
    offset = 4 + 4 * ndim
    if len(raw) < offset:
        raise ValueError(
            f"IDX file {path}: truncated header: {ndim} dimensions need "
            f"{offset} bytes, found {len(raw)}."
        )
    shape = struct.unpack(f">{ndim}I", raw[4:offset])
    dtype = np.dtype(_IDX_DTYPES[type_code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - offset
    if found != expected:
        what = "truncated" if found < expected else "trailing bytes"
        raise ValueError(
            f"IDX file {path}: {what}: expected {expected} bytes of data "
            f"for shape {shape}, found {found}."
        )
    data = np.frombuffer(raw, dtype=dtype, count=expected // dtype.itemsize, offset=offset)
    return data.reshape(shape).astype(dtype.newbyteorder("="))


def load(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    *,
    limit: int | None = None,
    image_size: tuple[int, int] | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Loads an image dataset as float32 arrays in [0, 1].

    Args:
        name: `"mnist"`, `"fashion_mnist"`, `"digits"` or the name of any TensorFlow
            Datasets image dataset (e.g. `"cifar10"`, `"celeb_a"`).
        split: `"train"` or `"test"`. For datasets read through TFDS (other than
            `mnist` / `fashion_mnist`) any TFDS split string is passed through, e.g.
            `"train[:10%]"`.
        data_dir: folder to read from. For `mnist` / `fashion_mnist`: a folder holding
            the four IDX files (`train-images-idx3-ubyte[.gz]`,
            `train-labels-idx1-ubyte[.gz]`, `t10k-images-idx3-ubyte[.gz]`,
            `t10k-labels-idx1-ubyte[.gz]`) directly or in a subfolder named after the
            dataset. Defaults to `$VAE_KERAS_DATA_DIR`. Also given to TFDS as its
            `data_dir` (its download cache) when passed explicitly.
        limit: keep only the first `limit` examples.
        image_size: optional `(height, width)`; images are resized (bilinear with
            antialiasing) to it.
        seed: seed of the `digits` train/test split: a permutation of the 1797 images
            from `numpy.random.default_rng(seed)`; the first 80% (1438) are `"train"`,
            the remaining 359 `"test"`. Unused by the other datasets.

    Returns:
        A tuple `(x, y)`: `x` float32 of shape `(N, H, W, C)` (grayscale has `C == 1`)
        with values in [0, 1]; `y` int64 labels of shape `(N,)`, or `None` when the
        dataset has no `label` feature.

    Raises:
        ValueError: unknown `name` (close matches are suggested), bad `split`, `limit`
            or `image_size`, a TFDS dataset without an `image` feature, malformed IDX
            files, or pixel values that are not finite or not in [0, 1].
        FileNotFoundError: `data_dir` (or `$VAE_KERAS_DATA_DIR`) does not exist, or the
            `mnist` / `fashion_mnist` IDX files are not there and the TFDS download
            failed (no internet); the message lists the files and folders searched.
        ImportError: a non-built-in `name` while tensorflow-datasets is not installed.

    Example:

    >>> x, y = load("digits", split="test")
    >>> x.shape, x.dtype, y.shape
    ((359, 8, 8, 1), dtype('float32'), (359,))
    >>> x, y = load("mnist", data_dir="../shared/datasets", limit=100)  # doctest: +SKIP
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"`name` must be a dataset name string. Received: name={name!r}")
    name = name.strip()
    if limit is not None and (not _is_int(limit) or limit <= 0):
        raise ValueError(f"`limit` must be a positive integer or None. Received: limit={limit!r}")
    if image_size is not None:
        if not (
            isinstance(image_size, (tuple, list))
            and len(image_size) == 2
            and all(_is_int(s) and s > 0 for s in image_size)
        ):
            raise ValueError(
                "`image_size` must be a tuple (height, width) of positive "
                f"integers or None. Received: image_size={image_size!r}"
            )
        image_size = (int(image_size[0]), int(image_size[1]))
    key = name.lower()
    if key in KNOWN_DATASETS and split not in tuple(_IDX_FILES):
        raise ValueError(
            f"Invalid split {split!r} for dataset {key!r}. Valid choices: "
            "'train', 'test' (use `limit=` for a smaller subset)."
        )
    if key == "digits":
        x, y, scale = *_load_digits(split, seed), 16.0
    elif key in KNOWN_DATASETS:
        x, y = _load_local_idx(key, split, data_dir)
        scale = 1.0 if x is not None and x.dtype.kind == "f" else 255.0  # float IDX: in [0, 1]
    else:
        x, y = _load_tfds(name, split, data_dir, limit, image_size)
    if key in KNOWN_DATASETS and x is not None:
        x = x[:limit].astype(np.float32) / np.float32(scale)
        y = y[:limit].astype(np.int64)
        if image_size is not None and x.shape[1:3] != image_size:
            x = _resize(x, image_size)
    if x is None:  # mnist / fashion_mnist without a local copy: download through TFDS.
        x, y = _download(key, split, data_dir, limit, image_size)
    if x.size and not (np.isfinite(x).all() and x.min() >= 0.0 and x.max() <= 1.0):
        raise ValueError(
            f"Dataset {name!r}: pixel values must be finite and in [0, 1] "
            f"after scaling; found min={np.nanmin(x)}, max={np.nanmax(x)}, "
            f"non-finite={int((~np.isfinite(x)).sum())}."
        )
    return x, y


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _load_digits(split, seed):
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(seed).permutation(len(digits.images))
    n_train = int(round(_DIGITS_TRAIN_FRACTION * len(order)))
    idx = order[:n_train] if split == "train" else order[n_train:]
    return digits.images[idx][..., None], digits.target[idx]


def _search_dirs(name, data_dir):
    """Folders that may hold the IDX files; raises if a configured root is missing."""
    if data_dir is not None:
        root, origin = Path(data_dir).expanduser(), "data_dir"
    elif os.environ.get(ENV_VAR):
        root, origin = Path(os.environ[ENV_VAR]).expanduser(), f"${ENV_VAR}"
    else:
        return []
    if not root.is_dir():
        raise FileNotFoundError(
            f"Data folder {str(root)!r} (from {origin}) does not exist. "
            f"Pass an existing folder as data_dir= (or --data-dir), or "
            f"fix ${ENV_VAR}."
        )
    return [root / s for s in dict.fromkeys([name, name.replace("_", "-")])] + [root]


def _find(folder, basename):
    for candidate in (folder / (basename + ".gz"), folder / basename):
        if candidate.is_file():
            return candidate
    return None


def _load_local_idx(name, split, data_dir):
    """Returns `(images[..., None], labels)` from local IDX files, or `(None, None)`."""
    for folder in _search_dirs(name, data_dir):
        images_path, labels_path = (_find(folder, b) for b in _IDX_FILES[split])
        if images_path and labels_path:
            images, labels = load_idx(images_path), load_idx(labels_path)
            if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
                raise ValueError(
                    f"IDX files {images_path} and {labels_path} do not match: "
                    f"expected images (N, H, W) and labels (N,), found "
                    f"{images.shape} and {labels.shape}."
                )
            return images[..., None], labels
    return None, None


def _download(name, split, data_dir, limit, image_size):
    try:
        return _load_tfds(name, split, data_dir, limit, image_size)
    except Exception as e:
        files = ", ".join(f"{b}[.gz]" for b in _IDX_FILES[split])
        folders = [str(f) for f in _search_dirs(name, data_dir)]
        where = ", ".join(folders) or f"none: data_dir is not set and ${ENV_VAR} is empty"
        raise FileNotFoundError(
            f"Could not load dataset {name!r} (split {split!r}): no local copy of the IDX "
            f"files ({files}) in the folders searched ({where}), and the TensorFlow "
            f"Datasets download failed: {type(e).__name__}: {e}. Fix: pass data_dir= (or "
            f"--data-dir on the command line) pointing to a folder with these files, or "
            f"set {ENV_VAR} to a folder holding them or a '{name}/' subfolder with them."
        ) from e


def _resize(x, size, batch_size=1024):
    import tensorflow as tf

    out = np.empty((len(x), *size, x.shape[-1]), np.float32)
    for i in range(0, len(x), batch_size):
        out[i : i + batch_size] = tf.image.resize(
            x[i : i + batch_size], size, method="bilinear", antialias=True
        ).numpy()
    return np.clip(out, 0.0, 1.0, out=out)


def _unknown_name_error(name, builders):
    candidates = dict.fromkeys([*KNOWN_DATASETS, *builders])
    matches = difflib.get_close_matches(name, list(candidates), n=3)
    hint = f" Did you mean {' or '.join(repr(m) for m in matches)}?" if matches else ""
    return ValueError(
        f"Unknown dataset {name!r}.{hint} Built-in: "
        f"{', '.join(KNOWN_DATASETS)}; or any TensorFlow Datasets image "
        "dataset name."
    )


def _load_tfds(name, split, data_dir, limit, image_size, batch_size=256):
    try:
        import tensorflow_datasets as tfds
    except ImportError as e:
        raise ImportError(
            f"Dataset {name!r} is not built in ({', '.join(KNOWN_DATASETS)}); "
            "other names are read through TensorFlow Datasets, which is not "
            "installed: pip install tensorflow-datasets"
        ) from e
    import tensorflow as tf

    builders = tfds.list_builders()
    if name.split(":")[0].split("/")[0] not in builders:
        raise _unknown_name_error(name, builders)
    features = tfds.builder(name, data_dir=data_dir).info.features
    keys = list(features.keys()) if hasattr(features, "keys") else []
    if "image" not in keys:
        raise ValueError(
            f"TFDS dataset {name!r} has no 'image' feature (features: {keys}); "
            "only image datasets can be loaded."
        )
    has_label = "label" in keys and getattr(features["label"], "shape", None) == ()
    ds = tfds.load(name, split=split, data_dir=data_dir, as_supervised=False)
    if limit is not None:
        ds = ds.take(limit)
    spec = ds.element_spec["image"]
    if spec.shape.rank not in (2, 3):
        raise ValueError(
            f"TFDS dataset {name!r}: 'image' has shape {spec.shape}; expected (H, W[, C])."
        )
    if image_size is None and None in spec.shape.as_list()[:2]:
        raise ValueError(
            f"TFDS dataset {name!r} has images of varying size {spec.shape}; "
            "pass image_size=(height, width)."
        )

    def convert(example):
        image = example["image"]
        if image.shape.rank == 2:
            image = image[..., None]
        scale = 255.0 if image.dtype == tf.uint8 else 1.0
        image = tf.cast(image, tf.float32) / scale
        if image_size is not None:
            image = tf.image.resize(image, image_size, method="bilinear", antialias=True)
            image = tf.clip_by_value(image, 0.0, 1.0)
        label = tf.cast(example["label"], tf.int64) if has_label else tf.zeros((), tf.int64)
        return image, label

    ds = ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE)
    total = int(ds.cardinality())  # negative when unknown
    x = y = None
    parts, n = [], 0
    for xb, yb in tfds.as_numpy(ds.batch(batch_size).prefetch(2)):
        if total < 0:  # unknown size: keep the batches, join them once at the end
            parts.append((xb, yb))
            continue
        if x is None:  # known size: fill preallocated arrays, no intermediate copies
            x, y = np.empty((total, *xb.shape[1:]), np.float32), np.empty(total, np.int64)
        x[n : n + len(xb)], y[n : n + len(xb)] = xb, yb
        n += len(xb)
    if parts:
        (x, y), n = (
            (np.concatenate(p) for p in zip(*parts, strict=True)),
            sum(len(p[0]) for p in parts),
        )
    if x is None:
        raise ValueError(f"TFDS dataset {name!r}, split {split!r} is empty.")
    return x[:n], (y[:n] if has_label else None)

"""MNIST-family IDX files: the reader and the search for local copies."""

import gzip
import os
import struct
from pathlib import Path

import numpy as np

ENV_VAR = "VAE_KERAS_DATA_DIR"

# IDX type byte -> big-endian NumPy dtype.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


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

"""`load()`: any supported image dataset as float32 NumPy arrays in [0, 1], NHWC."""

import os

import numpy as np

from vae_keras.datasets._checks import is_int
from vae_keras.datasets._idx import _IDX_FILES, ENV_VAR, _load_local_idx, _search_dirs
from vae_keras.datasets._names import KNOWN_DATASETS, PROCEDURAL_DATASETS

_DIGITS_TRAIN_FRACTION = 0.8


def load(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    *,
    limit: int | None = None,
    image_size: int | tuple[int, int] | None = None,
    seed: int = 0,
    num_examples: int | None = None,
    captions: bool = False,
    hold_out=None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Loads an image dataset as float32 arrays in [0, 1].

    Args:
        name: `"mnist"`, `"fashion_mnist"`, `"digits"`, `"shapes"` (procedural colour
            shapes, see `load_shapes`), `"patches"` (crops of scikit-image's photographs,
            see `load_patches`) or the name of any TensorFlow Datasets image dataset (e.g.
            `"cifar10"`, `"celeb_a"`; read through `tfds_stream`, then gathered).
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
            antialiasing) to it. `"shapes"` and `"patches"` are generated at this size
            (an int means square; default 32).
        seed: seed of the `digits` train/test split: a permutation of the 1797 images
            from `numpy.random.default_rng(seed)`; the first 80% (1438) are `"train"`,
            the remaining 359 `"test"`. For `"shapes"` / `"patches"`: the seed of the
            generator (train and test use different streams of it). Unused otherwise.
        num_examples: how many `"shapes"` / `"patches"` to generate (default 10,000 for
            `"train"`, 2,000 for `"test"`). Unused by the other datasets.
        captions: `"shapes"` only: `y` is then a list of one caption per image
            (`datasets.caption`: "a large red heart at the top right").
        hold_out: `"shapes"` only: colour x shape pairs dropped from the train split,
            `[("red", "heart"), ...]` or `"red:heart,green:triangle"` (the test split
            keeps them; see `load_shapes`).

    Returns:
        A tuple `(x, y)`: `x` float32 of shape `(N, H, W, C)` (grayscale has `C == 1`)
        with values in [0, 1]; `y` int64 labels of shape `(N,)`, or `None` when the
        dataset has no `label` feature. `"shapes"` labels each image with its shape index
        (`SHAPE_NAMES`); `"patches"` has no labels.

    Raises:
        ValueError: unknown `name` (close matches are suggested), bad `split`, `limit`
            or `image_size`, a TFDS dataset without an `image` feature, malformed IDX
            files, or pixel values that are not finite or not in [0, 1].
        FileNotFoundError: `data_dir` (or `$VAE_KERAS_DATA_DIR`) does not exist, or the
            `mnist` / `fashion_mnist` IDX files are not there and the TFDS download
            failed (no internet); the message lists the files and folders searched.
        ImportError: a non-built-in `name` while tensorflow-datasets is not installed,
            or `"patches"` without scikit-image.

    Example:

    >>> x, y = load("digits", split="test")
    >>> x.shape, x.dtype, y.shape
    ((359, 8, 8, 1), dtype('float32'), (359,))
    >>> x, y = load("shapes", split="test", image_size=16, num_examples=5)
    >>> x.shape, y.dtype
    ((5, 16, 16, 3), dtype('int64'))
    >>> x, y = load("mnist", data_dir="../shared/datasets", limit=100)  # doctest: +SKIP
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"`name` must be a dataset name string. Received: name={name!r}")
    name = name.strip()
    if limit is not None and (not is_int(limit) or limit <= 0):
        raise ValueError(f"`limit` must be a positive integer or None. Received: limit={limit!r}")
    key = name.lower()
    if (captions or hold_out is not None) and key != "shapes":
        raise ValueError(
            f"`captions` and `hold_out` apply to the 'shapes' dataset only. Received: "
            f"name={name!r}, captions={captions!r}, hold_out={hold_out!r}"
        )
    if key in PROCEDURAL_DATASETS:
        extra = {"captions": captions, "hold_out": hold_out} if key == "shapes" else {}
        return _load_procedural(key, split, image_size, seed, num_examples, limit, **extra)
    if image_size is not None:
        if not (
            isinstance(image_size, (tuple, list))
            and len(image_size) == 2
            and all(is_int(s) and s > 0 for s in image_size)
        ):
            raise ValueError(
                "`image_size` must be a tuple (height, width) of positive "
                f"integers or None. Received: image_size={image_size!r}"
            )
        image_size = (int(image_size[0]), int(image_size[1]))
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


def _load_procedural(key, split, image_size, seed, num_examples, limit, **extra):
    if split not in ("train", "test"):
        raise ValueError(
            f"Invalid split {split!r} for dataset {key!r}. Valid choices: 'train', 'test' "
            "(use `num_examples=` for a smaller set)."
        )
    if num_examples is None and limit is not None:
        num_examples = limit
    elif num_examples is not None and limit is not None:
        num_examples = min(num_examples, limit)
    size = 32 if image_size is None else image_size
    if key == "shapes":
        from vae_keras.datasets.shapes import load_shapes

        captions, hold_out = extra["captions"], extra["hold_out"]
        x, y = load_shapes(split, size, num_examples=num_examples, seed=seed, hold_out=hold_out)
        if captions:  # the same rows' factors, in words
            from vae_keras.datasets.captions import caption
            from vae_keras.datasets.shapes import drop_pairs, shapes_factors

            factors = shapes_factors(split, num_examples, seed)
            if split == "train" and hold_out is not None:
                factors = drop_pairs(factors, hold_out)
            y = caption(factors)
        return x, y
    from vae_keras.datasets.patches import load_patches

    return load_patches(split, size, num_examples=num_examples, seed=seed), None


def _load_tfds(name, split, data_dir, limit, image_size):
    from vae_keras.datasets.tfds_stream import _load_tfds_arrays

    return _load_tfds_arrays(name, split, data_dir, limit, image_size)


def _load_digits(split, seed):
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(seed).permutation(len(digits.images))
    n_train = int(round(_DIGITS_TRAIN_FRACTION * len(order)))
    idx = order[:n_train] if split == "train" else order[n_train:]
    return digits.images[idx][..., None], digits.target[idx]


def _download(name, split, data_dir, limit, image_size):
    try:
        return _load_tfds(name, split, data_dir, limit, image_size)
    except Exception as e:  # any download failure becomes one clear error
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

"""TensorFlow Datasets images as a streaming `tf.data.Dataset` (and, gathered, for `load`)."""

import os

import numpy as np

from vae_keras.datasets._checks import check_choice, check_positive_int, image_size_pair
from vae_keras.datasets._names import KNOWN_DATASETS, unknown_name_error

CELEBA_CROP_BOX = (40, 15, 148, 148)
"""`(top, left, height, width)` of the `preprocessing="celeba"` crop of the aligned
178x218 CelebA faces: NVAE's `CropCelebA64` box `(15, 40, 178 - 15, 218 - 30)` (Vahdat &
Kautz 2020, github.com/NVlabs/NVAE `datasets.py`), itself from Larsen et al. 2016's
autoencoding_beyond_pixels. A 148x148 square, 5 pixels below the exact centre, so the crop
keeps the face and drops most of the background and shoulders."""


def tfds_stream(
    name: str,
    split: str = "train",
    *,
    image_size: int | tuple[int, int] | None = None,
    batch_size: int = 32,
    preprocessing: str | None = None,
    attributes: bool = False,
    shuffle: bool = False,
    seed: int = 0,
    limit: int | None = None,
    data_dir: str | os.PathLike | None = None,
):
    """Streams a TensorFlow Datasets image dataset as float32 batches in [0, 1].

    Nothing is materialised: images are decoded, cropped and resized batch by batch, so
    the full set never sits in memory (CelebA's 162,770 training faces at 64x64 would be
    8 GB as float32 arrays).

    Args:
        name: a TFDS image dataset, e.g. `"celeb_a"`, `"cifar10"`.
        split: any TFDS split string, e.g. `"train"`, `"test"`, `"train[:10%]"`.
        image_size: `N` or `(height, width)`: images are resized to it (bilinear with
            antialiasing, clipped to [0, 1], rounded to the 8-bit grid k/255). Needed for datasets of varying image size.
            With `preprocessing="celeba"` the default is 64.
        batch_size: examples per batch (the last batch may be smaller).
        preprocessing: `None`, or `"celeba"`: crop the aligned faces to
            `CELEBA_CROP_BOX` (148x148, NVAE's CelebA-64 crop) before resizing.
        attributes: yield `(x, attributes)` batches, `attributes` float32 of shape
            `(batch, K)` with 0/1 entries (CelebA: K = 40), in the order of
            `dataset.attribute_names`. `VAE.fit` would take the attributes as targets:
            train on `dataset.map(lambda x, a: x)`.
        shuffle: shuffle examples (a 10,000-example buffer, seeded by `seed`).
        seed: shuffling seed.
        limit: keep only the first `limit` examples of the split.
        data_dir: TFDS's data folder (its download cache); `None` for TFDS's default.

    Returns:
        A `tf.data.Dataset` of `x` batches, float32 `(batch, H, W, C)` in [0, 1], or of
        `(x, attributes)` batches. Attributes attached: `dataset.attribute_names` (with
        `attributes=True`) and `dataset.tfds_name`.

    Raises:
        ValueError: unknown `name` (close matches suggested), no `image` feature, no
            `attributes` feature while `attributes=True`, or a bad argument.
        ImportError: tensorflow-datasets is not installed.

    Example:

    >>> ds = tfds_stream("celeb_a", preprocessing="celeba", attributes=True)  # doctest: +SKIP
    >>> x, attrs = next(iter(ds))  # doctest: +SKIP
    >>> x.shape, attrs.shape  # doctest: +SKIP
    (TensorShape([32, 64, 64, 3]), TensorShape([32, 40]))
    """
    import tensorflow as tf

    batch_size = check_positive_int(batch_size, "batch_size")
    check_choice(preprocessing, "preprocessing", (None, "celeba"))
    if image_size is None and preprocessing == "celeba":
        image_size = 64
    size = None if image_size is None else image_size_pair(image_size)
    crop = CELEBA_CROP_BOX if preprocessing == "celeba" else None
    ds, info = _source(name, split, data_dir, limit, size, crop=crop, attributes=attributes)
    if shuffle:
        ds = ds.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(
        (lambda image, label, attrs: (image, attrs)) if attributes else (lambda *e: e[0]),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    ds = ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    ds.tfds_name = name
    if attributes:
        ds.attribute_names = info["attribute_names"]
    return ds


def _source(name, split, data_dir, limit, image_size, crop=None, attributes=False):
    """Unbatched `(image, label, attributes)` elements; checks `name` and its features."""
    try:
        import tensorflow_datasets as tfds
    except ImportError as e:
        raise ImportError(
            f"Dataset {name!r} is not built in ({', '.join(KNOWN_DATASETS)}); "
            "other names are read through TensorFlow Datasets, which is not "
            "installed: pip install tensorflow-datasets"
        ) from e
    import tensorflow as tf

    if limit is not None:
        limit = check_positive_int(limit, "limit")
    builders = tfds.list_builders()
    if name.split(":")[0].split("/")[0] not in builders:
        raise unknown_name_error(name, builders)
    features = tfds.builder(name, data_dir=data_dir).info.features
    keys = list(features.keys()) if hasattr(features, "keys") else []
    if "image" not in keys:
        raise ValueError(
            f"TFDS dataset {name!r} has no 'image' feature (features: {keys}); "
            "only image datasets can be loaded."
        )
    has_label = "label" in keys and getattr(features["label"], "shape", None) == ()
    attribute_names = []
    if attributes:
        if "attributes" not in keys:
            raise ValueError(
                f"TFDS dataset {name!r} has no 'attributes' feature (features: {keys}); "
                "pass attributes=False."
            )
        attribute_names = list(features["attributes"].keys())
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
        if crop is not None:
            image = tf.image.crop_to_bounding_box(image, *crop)
        scale = 255.0 if image.dtype == tf.uint8 else 1.0
        image = tf.cast(image, tf.float32) / scale
        if image_size is not None:
            image = tf.image.resize(image, image_size, method="bilinear", antialias=True)
            image = tf.clip_by_value(image, 0.0, 1.0)
            # Back on the 8-bit grid of the files, so 8-bit likelihoods apply.
            image = tf.round(image * 255.0) / 255.0
        label = tf.cast(example["label"], tf.int64) if has_label else tf.zeros((), tf.int64)
        attrs = (
            tf.stack([tf.cast(example["attributes"][k], tf.float32) for k in attribute_names])
            if attributes
            else tf.zeros((0,), tf.float32)
        )
        return image, label, attrs

    ds = ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE)
    return ds, {"has_label": has_label, "attribute_names": attribute_names}


def _load_tfds_arrays(name, split, data_dir, limit, image_size, batch_size=256):
    """`load()`'s TFDS path: the stream gathered into preallocated NumPy arrays."""
    import tensorflow_datasets as tfds

    ds, info = _source(name, split, data_dir, limit, image_size)
    total = int(ds.cardinality())  # negative when unknown
    x = y = None
    parts, n = [], 0
    for xb, yb, _ in tfds.as_numpy(ds.batch(batch_size).prefetch(2)):
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
    return x[:n], (y[:n] if info["has_label"] else None)

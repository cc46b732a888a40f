"""Natural-image patches: random crops of the photographs bundled with scikit-image.

Train and test come from different photographs, so test patches are of unseen scenes:

- train: `astronaut`, `coffee`, `rocket`, `immunohistochemistry`, `stereo_motorcycle`
  (left view) and `retina` (six RGB photographs, 1.1 to 2.0 megapixels in all);
- test: `chelsea` (a cat) and `hubble_deep_field`.

They ship inside the scikit-image wheel (no download). Values stay on the 1/255 grid of
the uint8 photographs: a patch is an exact crop when `crop_size == image_size` (the
default); otherwise the crop is resized (area averaging) and rounded back to k/255.
"""

import numpy as np

from vae_keras.datasets._checks import check_choice, check_positive_int, image_size_pair

TRAIN_PHOTOS = (
    "astronaut",
    "coffee",
    "rocket",
    "immunohistochemistry",
    "stereo_motorcycle",
    "retina",
)
TEST_PHOTOS = ("chelsea", "hubble_deep_field")
DEFAULT_NUM_EXAMPLES = {"train": 10_000, "test": 2_000}
_SPLIT_STREAMS = {"train": 0, "test": 1}


def load_patches(
    split: str = "train",
    image_size: int | tuple[int, int] = 32,
    *,
    num_examples: int | None = None,
    seed: int = 0,
    crop_size: int | tuple[int, int] | None = None,
) -> np.ndarray:
    """`load("patches", ...)`: random RGB crops of scikit-image's photographs.

    A photograph is drawn uniformly from the split's list (`TRAIN_PHOTOS` or
    `TEST_PHOTOS`), then a crop position uniformly inside it.

    Args:
        split: `"train"` or `"test"` (different photographs, and independent streams).
        image_size: `N` or `(height, width)` of the returned patches.
        num_examples: default 10,000 (train) or 2,000 (test). The first `k` patches are
            the same whatever `num_examples` is.
        seed: generator seed.
        crop_size: size of the crop taken from the photograph; defaults to `image_size`
            (no interpolation). A different size is resized to `image_size` with area
            averaging, then rounded to the nearest k/255.

    Returns:
        float32 `(N, height, width, 3)`, every value exactly `k / 255`.

    Raises:
        ImportError: scikit-image is not installed.
        ValueError: a bad argument, or a crop larger than a photograph.

    Example:

    >>> x = load_patches("test", 16, num_examples=4)
    >>> x.shape, x.dtype, bool(np.all(np.round(x * 255) == x * 255))
    ((4, 16, 16, 3), dtype('float32'), True)
    """
    check_choice(split, "split", tuple(_SPLIT_STREAMS))
    height, width = image_size_pair(image_size)
    crop_h, crop_w = (
        (height, width) if crop_size is None else image_size_pair(crop_size, "crop_size")
    )
    if num_examples is None:
        num_examples = DEFAULT_NUM_EXAMPLES[split]
    num_examples = check_positive_int(num_examples, "num_examples")
    photos = _photos(TRAIN_PHOTOS if split == "train" else TEST_PHOTOS)
    smallest = min(p.shape[:2] for p in photos)
    if crop_h > smallest[0] or crop_w > smallest[1]:
        raise ValueError(
            f"`crop_size` {(crop_h, crop_w)} is larger than the smallest {split} photograph "
            f"{smallest}. Pass a smaller image_size / crop_size."
        )
    rng = np.random.default_rng(np.random.SeedSequence([seed, _SPLIT_STREAMS[split]]))
    u = rng.random((num_examples, 3))  # row-major: prefixes are stable
    which = np.minimum((u[:, 0] * len(photos)).astype(np.int64), len(photos) - 1)
    crops = np.empty((num_examples, crop_h, crop_w, 3), np.uint8)
    for i, photo in enumerate(photos):
        idx = np.flatnonzero(which == i)
        tops = (u[idx, 1] * (photo.shape[0] - crop_h + 1)).astype(np.int64)
        lefts = (u[idx, 2] * (photo.shape[1] - crop_w + 1)).astype(np.int64)
        rows = tops[:, None, None] + np.arange(crop_h)[None, :, None]
        cols = lefts[:, None, None] + np.arange(crop_w)[None, None, :]
        crops[idx] = photo[rows, cols]
    if (crop_h, crop_w) == (height, width):
        return crops.astype(np.float32) / np.float32(255)
    return _resize_to_grid(crops, (height, width))


def _photos(names):
    try:
        from skimage import data
    except ImportError as e:
        raise ImportError(
            'The "patches" dataset crops the photographs bundled with scikit-image, which '
            "is not installed: pip install scikit-image (or: pip install vae_keras[images])"
        ) from e
    photos = []
    for name in names:
        photo = getattr(data, name)()
        photo = photo[0] if isinstance(photo, tuple) else photo  # stereo pair: left view
        photos.append(np.ascontiguousarray(photo[..., :3], dtype=np.uint8))
    return photos


def _resize_to_grid(crops, size, batch_size=1024):
    import tensorflow as tf

    out = np.empty((len(crops), *size, 3), np.float32)
    for i in range(0, len(crops), batch_size):
        part = tf.image.resize(crops[i : i + batch_size], size, method="area").numpy()
        out[i : i + batch_size] = np.clip(np.round(part), 0, 255) / np.float32(255)
    return out

"""`image_folder()`: your own images, streamed from a folder as a `tf.data.Dataset`."""

import os

import numpy as np

from vae_keras.datasets._checks import check_choice, check_positive_int, image_size_pair
from vae_keras.datasets._files import check_files, check_folder, list_files


def image_folder(
    path: str | os.PathLike,
    image_size: int | tuple[int, int] = 64,
    *,
    batch_size: int = 32,
    color_mode: str = "rgb",
    center_crop: bool = True,
    labels: str | None = None,
    validation_split: float | None = None,
    subset: str | None = None,
    seed: int = 0,
    shuffle: bool = True,
    on_error: str = "skip",
    follow_links: bool = False,
):
    """Streams the images of a folder as float32 batches in [0, 1], NHWC.

    Files are listed once (sorted, recursively; PNG, JPEG, BMP and GIF by extension, the
    first frame of an animated GIF) and read and decoded batch by batch: only the file
    list is held in memory, never the images. Each image is converted to `color_mode`
    (a gray PNG in an RGB set gets 3 equal channels; an alpha channel is dropped), then,
    with `center_crop`, cropped to the largest centred box of the target aspect ratio (a
    square for a square `image_size`), then resized to `image_size` (bilinear with
    antialiasing, then rounded back to the 8-bit grid k/255 of the files, so 8-bit
    likelihoods apply). Without `center_crop` the whole image is resized, so a non-square
    photo is squashed.

    Args:
        path: the folder.
        image_size: `N` or `(height, width)` of the output images.
        batch_size: images per batch (the last one may be smaller).
        color_mode: `"rgb"` (3 channels) or `"grayscale"` (1 channel, ITU-R 601 luma).
        center_crop: crop to the target aspect ratio before resizing (see above).
        labels: `None`, or `"inferred"`: each immediate subfolder is a class (sorted
            names, `dataset.class_names`); files directly in `path` are then ignored.
            Batches are then `((x, labels),)`, the input pair `ConditionalVAE.fit`
            expects, `labels` int32 of shape `(batch,)`; `dataset.map(lambda p: p)`
            gives plain `(x, labels)` batches.
        validation_split: fraction of the files held out, e.g. `0.1`, or `None`.
        subset: with `validation_split`: `"training"`, `"validation"` or `"both"` (then
            a tuple `(training, validation)` is returned). The split is a fixed function
            of the sorted file list and `seed`, so the two subsets never overlap.
        seed: seed of the split and of the shuffling.
        shuffle: reshuffle the file order every epoch (a buffer of all file names).
        on_error: `"skip"`: unreadable files are left out and counted, with one warning
            naming the first of them and the count (`dataset.skipped_files` lists the
            files found bad before streaming); `"raise"`: a `ValueError` naming the file.
            Files are checked cheaply up front (the format's first bytes, and its end
            marker within the last KiB); a file that passes but still fails to decode is
            skipped by `tf.data`'s `ignore_errors` (with `"raise"`, TF's error stops the
            iteration). Because of that, with `"skip"` Keras learns the number of batches
            only at the end of the first epoch (and warns once that the input "ran out of
            data": harmless); with `"raise"` it is known up front.
        follow_links: follow symbolic links to folders while listing.

    Returns:
        A `tf.data.Dataset` of float32 batches `(batch, height, width, channels)` in
        [0, 1] (or `((x, labels),)` batches), with attributes `file_paths` (sorted, in
        the subset), `num_files`, `skipped_files` and, with labels, `class_names`.
        A tuple of two such datasets for `subset="both"`.

    Raises:
        FileNotFoundError: `path` does not exist.
        NotADirectoryError: `path` is a file.
        ValueError: no image files in `path` (the message says what was found), every
            file unreadable, a bad argument, or (with `on_error="raise"`) an unreadable
            file, named.

    Example:

    >>> import tempfile
    >>> from PIL import Image
    >>> folder = tempfile.mkdtemp()
    >>> for i in range(3):
    ...     Image.new("RGB", (12, 8), (255, 0, 0)).save(f"{folder}/{i}.png")
    >>> ds = image_folder(folder, 4, batch_size=2)
    >>> x = next(iter(ds)).numpy()
    >>> x.shape, x.dtype, float(x[..., 0].min()), ds.num_files
    ((2, 4, 4, 3), dtype('float32'), 1.0, 3)
    """
    height, width = image_size_pair(image_size)
    batch_size = check_positive_int(batch_size, "batch_size")
    check_choice(color_mode, "color_mode", ("rgb", "grayscale"))
    check_choice(labels, "labels", (None, "inferred"))
    check_choice(on_error, "on_error", ("skip", "raise"))
    if validation_split is None:
        if subset is not None:
            raise ValueError(
                f"`subset` needs `validation_split`. Received: subset={subset!r}, "
                "validation_split=None."
            )
    else:
        if not (isinstance(validation_split, (int, float)) and 0 < validation_split < 1):
            raise ValueError(
                "`validation_split` must be a number strictly between 0 and 1, or None. "
                f"Received: validation_split={validation_split!r}"
            )
        check_choice(subset, "subset", ("training", "validation", "both"))

    root = check_folder(path)
    files, targets, class_names = list_files(root, labels, follow_links)
    files, targets, skipped = check_files(root, files, targets, on_error)

    options = {
        "size": (height, width),
        "batch_size": batch_size,
        "channels": 3 if color_mode == "rgb" else 1,
        "center_crop": center_crop,
        "labelled": labels is not None,
        "shuffle": shuffle,
        "seed": seed,
        "on_error": on_error,
        "class_names": class_names,
        "skipped": skipped,
    }
    if validation_split is None:
        return _build(files, targets, **options)
    order = np.random.default_rng(seed).permutation(len(files))
    num_val = int(round(validation_split * len(files)))
    if subset == "both" and not 0 < num_val < len(files):
        raise ValueError(
            f"validation_split={validation_split} of {len(files)} files leaves a subset "
            "empty. Use more images or another validation_split."
        )
    val = np.zeros(len(files), bool)
    val[order[:num_val]] = True
    parts = {"training": ~val, "validation": val}
    built = {}
    for name in ("training", "validation") if subset == "both" else (subset,):
        keep = np.flatnonzero(parts[name])
        if keep.size == 0:
            raise ValueError(
                f"The {name} subset of {root} is empty ({len(files)} files, "
                f"validation_split={validation_split}). Use more images or another "
                "validation_split."
            )
        built[name] = _build([files[i] for i in keep], targets[keep], **options)
    return (built["training"], built["validation"]) if subset == "both" else built[subset]


def _build(
    files,
    targets,
    *,
    size,
    batch_size,
    channels,
    center_crop,
    labelled,
    shuffle,
    seed,
    on_error,
    class_names,
    skipped,
):
    import tensorflow as tf

    height, width = size

    def decode(file, target):
        image = tf.io.decode_image(
            tf.io.read_file(file), channels=3, expand_animations=False, dtype=tf.float32
        )  # channels=3: gray is repeated, alpha dropped; dtype scales 8/16 bits to [0, 1]
        if channels == 1:
            image = tf.image.rgb_to_grayscale(image)
        if center_crop:
            image = _crop_to_aspect(image, height / width)
        image = tf.image.resize(image, size, method="bilinear", antialias=True)
        image = tf.clip_by_value(image, 0.0, 1.0)
        # Back on the 8-bit grid of the files, so 8-bit likelihoods apply.
        image = tf.round(image * 255.0) / 255.0
        image = tf.ensure_shape(image, (height, width, channels))
        return ((image, target),) if labelled else image

    ds = tf.data.Dataset.from_tensor_slices((files, targets))
    if shuffle:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    if on_error == "skip":
        ds = ds.ignore_errors(log_warning=True)
    ds = ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    ds.file_paths = list(files)
    ds.num_files = len(files)
    ds.skipped_files = list(skipped)
    if class_names is not None:
        ds.class_names = list(class_names)
    return ds


def _crop_to_aspect(image, aspect):
    """The largest centred crop with height / width == `aspect`."""
    import tensorflow as tf

    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    h, w = shape[0], shape[1]
    crop_h = tf.minimum(h, tf.round(w * aspect))
    crop_w = tf.minimum(w, tf.round(h / aspect))
    crop_h, crop_w = tf.maximum(crop_h, 1.0), tf.maximum(crop_w, 1.0)
    top = tf.cast((h - crop_h) // 2, tf.int32)
    left = tf.cast((w - crop_w) // 2, tf.int32)
    return tf.image.crop_to_bounding_box(
        image, top, left, tf.cast(crop_h, tf.int32), tf.cast(crop_w, tf.int32)
    )

"""Inputs of the shapes oracle: image checks, caption-word targets, a box blur."""

import numpy as np


def box_blur(images, size: int = 3) -> np.ndarray:
    """Each pixel replaced by the mean of its `size` x `size` neighbourhood (zeros outside).

    Example:

    >>> image = np.zeros((1, 5, 5, 3), np.float32); image[0, 2, 2] = 9.0
    >>> float(box_blur(image)[0, 1, 1, 0]), float(box_blur(image).sum())
    (1.0, 27.0)
    """
    images = np.asarray(images, np.float32)
    half = size // 2
    padded = np.pad(images, ((0, 0), (half, half), (half, half), (0, 0)))
    height, width = images.shape[1:3]
    out = np.zeros_like(images)
    for dy in range(size):
        for dx in range(size):
            out += padded[:, dy : dy + height, dx : dx + width]
    return out / np.float32(size * size)


def check_images(images) -> np.ndarray:
    array = np.asarray(images, dtype=np.float32)
    if array.ndim != 4 or array.shape[-1] != 3 or array.shape[0] == 0:
        raise ValueError(
            f"`images` must be RGB images shaped (N, height, width, 3). Received shape "
            f"{array.shape}."
        )
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
        raise ValueError(
            f"`images` must be finite values in [0, 1] (divide 8-bit images by 255, clip a "
            f"generator's output). Received range [{array.min()}, {array.max()}]."
        )
    return array


def as_targets(targets, n, vocabulary):
    """`{attribute: list of n words or None}` from parallel lists or a list of dicts."""
    if isinstance(targets, dict):
        columns = {a: list(targets[a]) for a in tuple(vocabulary) if a in targets}
    else:
        targets = list(targets)
        if not targets or not isinstance(targets[0], dict):
            raise ValueError(
                "`targets` must be a dict of lists or a non-empty list of dicts of words. "
                f"Received: {targets!r:.200}"
            )
        columns = {a: [t.get(a) for t in targets] for a in tuple(vocabulary) if a in targets[0]}
    if not columns:
        raise ValueError(f"`targets` names none of {tuple(vocabulary)}. Received: {targets!r:.200}")
    for attribute, words in columns.items():
        if len(words) != n:
            raise ValueError(
                f"`targets['{attribute}']` has {len(words)} entries for {n} images; pass one "
                "per image."
            )
        bad = sorted({w for w in words if w is not None and w not in vocabulary[attribute]})
        if bad:
            raise ValueError(
                f"Unknown {attribute} words {bad}; the vocabulary is {vocabulary[attribute]}."
            )
    return columns

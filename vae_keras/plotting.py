"""Pictures of a VAE: image grids (more plots build on these).

matplotlib is imported inside the functions that draw, with the headless
"Agg" backend, so importing this module is cheap and needs no display.
"""

import os

import numpy as np


def image_grid(images, ncols: int | None = None, padding: int = 1, pad_value: float = 1.0):
    """Tiles a batch of images `(N, H, W[, C])` into one `(rows*H', cols*W', C)` array.

    Example:

    >>> image_grid(np.zeros((6, 4, 4, 1)), ncols=3).shape
    (9, 14, 1)
    """
    images = np.asarray(images, dtype="float32")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(
            "`images` must be shaped (N, height, width[, channels]) with N >= 1. "
            f"Received shape {images.shape}."
        )
    n, h, w, c = images.shape
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    grid = np.full(
        (nrows * (h + padding) - padding, ncols * (w + padding) - padding, c),
        pad_value,
        dtype="float32",
    )
    for i in range(n):
        r, col = divmod(i, ncols)
        grid[r * (h + padding) : r * (h + padding) + h, col * (w + padding) : col * (w + padding) + w] = images[i]
    return grid


def save_image_grid(images, path, ncols: int | None = None, scale: int = 2):
    """Writes a PNG grid of images in [0, 1] (atomically: temp file, then rename)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image

    grid = np.clip(image_grid(images, ncols), 0.0, 1.0)
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    if grid.shape[-1] == 1:
        grid = np.repeat(grid, 3, axis=-1)
    tmp = f"{path}.tmp.png"
    matplotlib.image.imsave(tmp, grid)
    os.replace(tmp, path)
    return path

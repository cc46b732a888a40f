"""Image grids: tiled arrays, PNG files, and figures of samples and reconstructions."""

import numpy as np

from vae_keras.plotting._common import (
    as_images,
    atomic_path,
    check_int,
    finish,
    image_axes,
    new_figure,
)

# Extra 1/4 pixel so matplotlib's truncation of `figsize * dpi` never loses a pixel.
_EPSILON_PX = 0.25


def image_grid(images, ncols: int | None = None, padding: int = 1, pad_value: float = 1.0):
    """Tiles a batch of images `(N, H, W[, C])` into one `(rows*H', cols*W', C)` array.

    Images are placed row by row; `padding` pixels of `pad_value` separate
    them. The last row is filled with `pad_value` where images run out.

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
        top, left = r * (h + padding), col * (w + padding)
        grid[top : top + h, left : left + w] = images[i]
    return grid


def paired_grid(x, x_hat, ncols: int | None = None, padding: int = 1, pad_value: float = 1.0):
    """Tiles originals and reconstructions: a row of `x`, then the same row of `x_hat`.

    With `N` pairs and `ncols` columns (default: about `sqrt(2 N)`, a
    divisor of `N` when one is near, so no row is left half empty), the grid has `2 * ceil(N / ncols)` rows of images; row `2k` holds
    `x[k*ncols:(k+1)*ncols]` and row `2k+1` their reconstructions.

    Example:

    >>> paired_grid(np.zeros((8, 4, 4, 1)), np.ones((8, 4, 4, 1)), ncols=4).shape
    (19, 19, 1)
    """
    x, x_hat = as_images(x, "x"), as_images(x_hat, "x_hat")
    if x.shape != x_hat.shape:
        raise ValueError(
            f"`x` and `x_hat` must have the same shape. Received {x.shape} and {x_hat.shape}."
        )
    n = len(x)
    ncols = min(n, check_int(ncols, "ncols")) if ncols else _pair_columns(n)
    blank = np.full((1,) + x.shape[1:], pad_value, "float32")
    tiles = []
    for start in range(0, n, ncols):
        for batch in (x, x_hat):
            row = list(batch[start : start + ncols])
            tiles += row + [blank[0]] * (ncols - len(row))
    return image_grid(np.stack(tiles), ncols=ncols, padding=padding, pad_value=pad_value)


def _pair_columns(n):
    target = np.sqrt(2 * n)
    near = [d for d in range(1, n + 1) if n % d == 0 and target / 2 <= d <= 2 * target]
    if near:
        return min(near, key=lambda d: (abs(d - target), -d))
    return min(n, int(np.ceil(target)))


# Automatic scale (`scale=None`): each pixel a `k x k` block, so that the grid's longer side
# reaches about LEGIBLE_PX (8x8 digits would otherwise be unreadable specks); k is 1 to 8.
LEGIBLE_PX, MAX_AUTO_SCALE = 480, 8


def legible_scale(grid, scale: int | None = None) -> int:
    """`scale`, or for `None` the block size that makes `grid` legible (see LEGIBLE_PX)."""
    if scale is not None:
        return check_int(scale, "scale")
    longest = max(np.shape(grid)[:2])
    return int(min(MAX_AUTO_SCALE, max(1, -(-LEGIBLE_PX // longest))))


def save_grid_png(grid, path, scale: int | None = None):
    """Writes an already tiled `(H, W, C)` grid in [0, 1] as a PNG, atomically."""
    import matplotlib.image

    grid = np.clip(np.asarray(grid, "float32"), 0.0, 1.0)
    scale = legible_scale(grid, scale)
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    if grid.shape[-1] == 1:
        grid = np.repeat(grid, 3, axis=-1)
    with atomic_path(path) as tmp:
        matplotlib.image.imsave(tmp, grid, format="png")
    return path


def grid_to_uint8(grid):
    """An `(H, W, C)` grid in [0, 1] as `(H, W, 3)` uint8 RGB (gray repeated, alpha dropped)."""
    grid = np.clip(np.asarray(grid, "float32"), 0.0, 1.0)
    if grid.shape[-1] == 1:
        grid = np.repeat(grid, 3, axis=-1)
    return np.round(grid[..., :3] * 255).astype("uint8")


def save_grid_gif(grids, path, scale: int | None = None, duration_ms: int = 400):
    """Writes grids (same size, float in [0, 1] or uint8) as a looping GIF, atomically."""
    from PIL import Image

    frames = [g if np.asarray(g).dtype == np.uint8 else grid_to_uint8(g) for g in grids]
    if not frames:
        raise ValueError("`grids` is empty: a GIF needs at least one frame.")
    scale = legible_scale(frames[0], scale)
    images = [Image.fromarray(np.asarray(f).repeat(scale, 0).repeat(scale, 1)) for f in frames]
    with atomic_path(path) as tmp:
        images[0].save(
            tmp, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=0
        )
    return path


def save_image_grid(images, path, ncols: int | None = None, scale: int | None = None):
    """Writes a PNG grid of images in [0, 1] (atomically: temp file, then rename).

    The PNG is pixel exact: each image pixel becomes a `scale x scale` block,
    with 1-pixel (times `scale`) white gaps between images.
    """
    return save_grid_png(image_grid(images, ncols), path, scale=scale)


def grid_figure(
    grid,
    scale: int | None = None,
    dpi: int = 100,
    left_px: int = 0,
    top_px: int = 0,
    bottom_px: int = 0,
):
    """A figure showing `grid` pixel exact (`scale` px per pixel), with optional margins.

    The figure is `W*scale + left_px` by `H*scale + top_px + bottom_px`
    pixels at `dpi`; margins hold labels or a title. Returns `(fig, ax)`.
    """
    scale = legible_scale(grid, scale)
    h, w = grid.shape[0] * scale, grid.shape[1] * scale
    width = w + left_px + _EPSILON_PX
    height = h + top_px + bottom_px + _EPSILON_PX
    fig = new_figure((width / dpi, height / dpi), dpi=dpi)
    ax = image_axes(fig, grid, (left_px / width, bottom_px / height, w / width, h / height))
    return fig, ax


def _title(fig, ax, title, top_px):
    if title:
        fig.text(0.5, 1.0 - 0.5 * top_px / (fig.bbox.height), title, ha="center", va="center")


def sample_grid(
    images,
    ncols: int | None = None,
    scale: int | None = None,
    title: str | None = None,
    dpi: int = 100,
    path=None,
):
    """A figure of a batch of images, tiled (samples, a dataset, decoded codes).

    Args:
        images: `(N, H, W[, C])` with 1, 3 or 4 channels, or flat square
            vectors `(N, H*W)`; values are clipped to [0, 1].
        ncols: Images per row (default `ceil(sqrt(N))`).
        scale: Screen pixels per image pixel (None: automatic, small images upscaled).
        title: Optional title, drawn in a 24-pixel band on top.
        dpi: Figure resolution.
        path: When given, the figure is also saved there (atomically).

    Returns:
        A `matplotlib.figure.Figure` of exactly
        `(cols*(W+1)-1)*scale` by `(rows*(H+1)-1)*scale (+24)` pixels.

    Example:

    >>> fig = sample_grid(np.random.default_rng(0).uniform(size=(16, 8, 8, 1)), scale=4)
    """
    grid = image_grid(as_images(images), ncols)
    top = 24 if title else 0
    fig, ax = grid_figure(grid, scale=scale, dpi=dpi, top_px=top)
    _title(fig, ax, title, top)
    return finish(fig, path)


def reconstruction_grid(
    x,
    x_hat,
    ncols: int | None = None,
    scale: int | None = None,
    title: str | None = None,
    dpi: int = 100,
    path=None,
):
    """A figure of images above their reconstructions (see `paired_grid`).

    Rows alternate originals and reconstructions, labelled `x` and `x̂` in a
    24-pixel left margin. Returns a `matplotlib.figure.Figure`.

    Example:

    >>> x = np.random.default_rng(0).uniform(size=(8, 8, 8, 1))
    >>> fig = reconstruction_grid(x, 1.0 - x, ncols=4)
    """
    x, x_hat = as_images(x, "x"), as_images(x_hat, "x_hat")
    grid = paired_grid(x, x_hat, ncols)
    h = x.shape[1]
    top = 24 if title else 0
    fig, ax = grid_figure(grid, scale=scale, dpi=dpi, left_px=24, top_px=top)
    rows = (grid.shape[0] + 1) // (h + 1)
    ax.set_yticks([r * (h + 1) + h / 2 - 0.5 for r in range(rows)])
    ax.set_yticklabels(["x" if r % 2 == 0 else "x̂" for r in range(rows)])
    ax.tick_params(length=0)
    _title(fig, ax, title, top)
    return finish(fig, path)

"""What each level of a hierarchical VAE controls: keep the top groups, redraw the rest."""

import numpy as np

from vae_keras.models.capabilities import require
from vae_keras.plotting._common import as_images, check_int, finish
from vae_keras.plotting.grids import _title, grid_figure, image_grid


def hierarchy_levels(
    model,
    x,
    num_samples: int = 7,
    temperature: float = 0.8,
    seed: int = 0,
    scale: int | None = None,
    title: str | None = None,
    path=None,
):
    """A figure of what each level of a `HierarchicalVAE` holds.

    For each image of `x`, one row per level `k = 1 .. num_groups - 1`:
    the image, then `num_samples` images that keep its top `k` latent groups
    (posterior means) and redraw the lower ones from the prior at
    `temperature` (`model.resample`). Rows that barely vary are levels whose
    lower groups hold only detail; rows that vary a lot leave shape and
    style to the groups below.

    Args:
        model: A `HierarchicalVAE`.
        x: A few images `(N, H, W, C)` (each adds `num_groups - 1` rows).
        num_samples: Redrawn images per row.
        temperature: Prior temperature of the redrawn groups.
        seed: Seed of the redraws.
        scale, title, path: As in `plotting.sample_grid`.

    Returns:
        A `matplotlib.figure.Figure`, rows labelled `top k`.

    Example:

    >>> from vae_keras.models import HierarchicalVAE
    >>> model = HierarchicalVAE((8, 8, 1), widths=(8, 8), groups=(1, 1), seed=0)
    >>> fig = hierarchy_levels(model, np.zeros((1, 8, 8, 1), "float32"), num_samples=3)
    """
    require(model, "latent_groups", "hierarchy_levels (a picture of a HierarchicalVAE)")
    num_samples = check_int(num_samples, "num_samples")
    x = as_images(x, "x")
    levels = list(range(1, max(2, model.num_groups)))
    rows, labels = [], []
    for i, image in enumerate(x):
        for keep in levels:
            redrawn = model.resample(
                image[None], keep, num_samples, seed=seed + keep, temperature=temperature
            )
            rows.append(np.concatenate([image[None], as_images(redrawn)]))
            labels.append(f"top {keep}" + (f" · x{i}" if len(x) > 1 else ""))
    grid = image_grid(np.concatenate(rows), ncols=num_samples + 1)
    h = x.shape[1]
    top = 24 if title else 0
    fig, ax = grid_figure(grid, scale=scale, left_px=64, top_px=top)
    ax.set_yticks([r * (h + 1) + h / 2 - 0.5 for r in range(len(rows))])
    ax.set_yticklabels(labels, fontsize=8)
    ax.tick_params(length=0)
    _title(fig, ax, title, top)
    return finish(fig, path)

"""Pictures of discrete codes (`VQVAE`): codebook usage and the code grids of images."""

import numpy as np

from vae_keras.models.capabilities import capabilities
from vae_keras.plotting._common import as_images, check_int, finish, image_axes, new_figure


def _counts(model_or_counts, x):
    if capabilities(model_or_counts).discrete_codes:
        if x is None:
            raise ValueError("Pass the data to encode: `x=` is required with a model.")
        return np.asarray(model_or_counts.code_counts(x))
    if x is not None:
        raise ValueError("`x` is only used with a model; the first argument is already counts.")
    counts = np.asarray(model_or_counts)
    if counts.ndim != 1 or len(counts) < 2 or (counts < 0).any():
        raise ValueError(
            "Code counts must be a 1-D array of non-negative counts, one per codebook entry. "
            f"Received shape {counts.shape}."
        )
    return counts


def code_usage(
    model_or_counts,
    x=None,
    sort: bool = True,
    log: bool = True,
    figsize=(8, 3),
    title=None,
    path=None,
):
    """Bar chart of how often each codebook entry is used (codebook collapse shows here).

    Args:
        model_or_counts: A `VQVAE` (then `x` is encoded) or counts `(K,)`.
        x: Data to encode when a model is given.
        sort: Sort the entries by use (a flat chart is a codebook in full use).
        log: Logarithmic counts (rarely used entries stay visible).
        figsize: Figure size in inches.
        title: Title; default states the share in use and the perplexity.
        path: When given, the figure is also saved there (atomically).

    Example:

    >>> fig = code_usage(np.array([5, 0, 3, 2]))
    >>> len(fig.axes)
    1
    """
    counts = _counts(model_or_counts, x)
    p = counts / max(counts.sum(), 1)
    nonzero = p[p > 0]
    perplexity = float(np.exp(-(nonzero * np.log(nonzero)).sum())) if len(nonzero) else 0.0
    shown = np.sort(counts)[::-1] if sort else counts
    fig = new_figure(figsize)
    ax = fig.add_subplot(1, 1, 1)
    ax.bar(np.arange(len(shown)), shown, width=1.0, color="tab:blue")
    ax.set_xlabel("codebook entries" + (", most used first" if sort else " (index)"))
    ax.set_ylabel("positions coded")
    if log and counts.max() > 0:
        ax.set_yscale("log")
    ax.set_xlim(-0.5, len(shown) - 0.5)
    ax.set_title(
        title
        or f"{(counts > 0).mean():.0%} of {len(counts)} codes in use, perplexity {perplexity:.1f}"
    )
    fig.tight_layout()
    return finish(fig, path)


def code_grids(model, x, num_images: int = 4, cmap: str = "tab20", figsize=None, path=None):
    """The keras.io VQ-VAE picture: each image, its grid of code indices, its reconstruction
    (a VQ-VAE-2: its top and its bottom grid between them).

    Args:
        model: A trained `VQVAE` or `VQVAE2`.
        x: Images; the first `num_images` are drawn, one row each.
        num_images: Rows.
        cmap: Colour map of the code indices (shown with their numbers on small grids).
        figsize: Figure size in inches (default 3 per panel).
        path: When given, the figure is also saved there (atomically).
    """
    num_images = check_int(num_images, "num_images")
    x = np.asarray(x)[:num_images]
    grids = model.encode_indices(x)
    levels = model.code_levels
    grids = (grids,) if len(levels) == 1 else tuple(grids)  # VQ-VAE-2: top, bottom
    names = ("codes",) if len(levels) == 1 else tuple(f"{level} codes" for level in levels)
    originals = as_images(x, "x")
    reconstructions = as_images(model.reconstruct(x), "reconstruction")
    rows, columns = len(x), len(grids) + 2
    fig = new_figure(figsize or (2.5 * columns, 2.5 * rows))
    panels = [
        ("image", originals, "image"),
        *(("codes", grid, name) for grid, name in zip(grids, names, strict=True)),
        ("image", reconstructions, "reconstruction"),
    ]
    for r in range(rows):
        top = 1.0 - (r + 1) / rows
        for c, (kind, panel, name) in enumerate(panels):
            rect = (c / columns + 0.01, top + 0.02, 1 / columns - 0.02, 1 / rows - 0.1)
            if kind == "image":
                ax = image_axes(fig, panel[r], rect)
            else:
                ax = fig.add_axes(rect)
                ax.imshow(panel[r], cmap=cmap, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                if panel[r].size <= 100:
                    for (i, j), k in np.ndenumerate(panel[r]):
                        ax.text(j, i, str(k), ha="center", va="center", fontsize=6)
            ax.set_title(name, fontsize=8)
    return finish(fig, path)


def run_figures(model, x, history, directory, num_images: int = 64, seed: int = 0) -> dict:
    """A `VQVAE` run's figures (`report.write_run_figures` calls this): training history,
    prior samples, reconstructions, code usage and code grids. Returns `{name: path}`."""
    import os

    from vae_keras.plotting.grids import reconstruction_grid, sample_grid
    from vae_keras.plotting.history import history_dict, training_history

    figures = {}

    def path(name):
        figures[name] = os.path.join(os.fspath(directory), f"{name}.png")
        return figures[name]

    if history is not None and any(len(v) for v in history_dict(history).values()):
        training_history(history, path=path("training_history"))
    if model.prior_is_fitted():
        sample_grid(model.sample(num_images, seed=seed), path=path("samples"))
    shown = np.asarray(x)[: max(1, num_images // 2)]
    reconstruction_grid(shown, model.reconstruct(shown), path=path("reconstructions"))
    code_usage(model, x, path=path("code_usage"))
    code_grids(model, x, num_images=4, path=path("code_grids"))
    return figures

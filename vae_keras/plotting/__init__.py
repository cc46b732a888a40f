"""Pictures of a VAE: image grids, latent space, decoded manifolds, latent arithmetic,
training curves.

Every plot returns a `matplotlib.figure.Figure` and takes an optional
`path=` to save it (atomically: temp file, then rename). matplotlib is
imported inside the functions that draw, and figures are built without
pyplot, so they render headless and importing this package is cheap.
Images may be gray `(N, H, W)` / `(N, H, W, 1)`, RGB or RGBA; values are
clipped to [0, 1].

Example:

>>> import numpy as np
>>> from vae_keras import plotting
>>> z = np.random.default_rng(0).normal(size=(200, 2))
>>> fig = plotting.latent_scatter(z, labels=np.arange(200) % 10)
"""

from vae_keras.plotting.arithmetic import (
    apply_attribute,
    attribute_arithmetic,
    attribute_vector,
)
from vae_keras.plotting.codes import code_grids, code_usage
from vae_keras.plotting.decoded import (
    interpolation,
    latent_manifold,
    latent_traversals,
    manifold_grid,
)
from vae_keras.plotting.grids import (
    grid_to_uint8,
    image_grid,
    paired_grid,
    reconstruction_grid,
    sample_grid,
    save_grid_gif,
    save_grid_png,
    save_image_grid,
)
from vae_keras.plotting.hierarchy import hierarchy_levels
from vae_keras.plotting.history import training_history
from vae_keras.plotting.latent import latent_histograms, latent_scatter, project_2d

__all__ = [
    "apply_attribute",
    "attribute_arithmetic",
    "attribute_vector",
    "code_grids",
    "code_usage",
    "grid_to_uint8",
    "hierarchy_levels",
    "image_grid",
    "interpolation",
    "latent_histograms",
    "latent_manifold",
    "latent_scatter",
    "latent_traversals",
    "manifold_grid",
    "paired_grid",
    "project_2d",
    "reconstruction_grid",
    "sample_grid",
    "save_grid_gif",
    "save_grid_png",
    "save_image_grid",
    "training_history",
]

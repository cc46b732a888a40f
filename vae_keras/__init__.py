"""vae_keras: variational autoencoders for Keras 3.

Example:

>>> from vae_keras import VAE, networks
>>> vae = VAE(networks.conv_encoder((28, 28, 1), 2), networks.conv_decoder(2, (28, 28, 1)))
"""

__version__ = "0.1.0"

# `_quiet` first: inside the `vae-keras` command it imports the backend with its start-up
# log hidden (see vae_keras/_quiet.py).
from vae_keras import (
    _quiet,  # noqa: F401  # isort: split
    binarization,
    callbacks,
    datasets,
    disentanglement,
    distribute,
    evaluation,
    export,
    losses,
    networks,
    plotting,
    precision,
    presets,
    priors,
    saving,
)
from vae_keras.layers import Sampling
from vae_keras.models import (
    AE,
    IWAE,
    VAE,
    VQVAE,
    VQVAE2,
    BetaTCVAE,
    ConditionalVAE,
    FactorVAE,
    HierarchicalVAE,
    PixelVAE,
    conditional_decoder,
    conditional_encoder,
)

# The `vae-keras` application's modules load on first use, so `import vae_keras` loads the
# library alone (the application imports the library, never the reverse).
_APP_MODULES = ("explorer", "report")


def __getattr__(name):
    if name in _APP_MODULES:
        import importlib

        return importlib.import_module(f"vae_keras.{name}")
    raise AttributeError(f"module 'vae_keras' has no attribute {name!r}")


__all__ = [
    "AE",
    "BetaTCVAE",
    "FactorVAE",
    "HierarchicalVAE",
    "ConditionalVAE",
    "IWAE",
    "PixelVAE",
    "Sampling",
    "VAE",
    "VQVAE",
    "VQVAE2",
    "__version__",
    "conditional_decoder",
    "conditional_encoder",
    "binarization",
    "callbacks",
    "datasets",
    "disentanglement",
    "distribute",
    "evaluation",
    "explorer",
    "export",
    "losses",
    "networks",
    "plotting",
    "precision",
    "presets",
    "priors",
    "report",
    "saving",
]

"""vae_keras: variational autoencoders for Keras 3.

Example:

>>> from vae_keras import VAE, networks
>>> vae = VAE(networks.conv_encoder((28, 28, 1), 2), networks.conv_decoder(2, (28, 28, 1)))
"""

__version__ = "0.1.0"

from vae_keras import (
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
    report,
)
from vae_keras.layers import Sampling
from vae_keras.models import (
    AE,
    IWAE,
    VAE,
    BetaTCVAE,
    ConditionalVAE,
    FactorVAE,
    PixelVAE,
    conditional_decoder,
    conditional_encoder,
)

__all__ = [
    "AE",
    "BetaTCVAE",
    "FactorVAE",
    "ConditionalVAE",
    "IWAE",
    "PixelVAE",
    "Sampling",
    "VAE",
    "__version__",
    "conditional_decoder",
    "conditional_encoder",
    "binarization",
    "callbacks",
    "datasets",
    "disentanglement",
    "distribute",
    "evaluation",
    "export",
    "losses",
    "networks",
    "plotting",
    "precision",
    "report",
]

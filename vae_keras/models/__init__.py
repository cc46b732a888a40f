"""Models: VAE (and the family built on the same base)."""

from vae_keras.models.base import LatentModel
from vae_keras.models.vae import VAE

__all__ = ["LatentModel", "VAE"]

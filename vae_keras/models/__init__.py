"""Models: VAE and the family built on the same base (AE, ConditionalVAE, IWAE, PixelVAE,
VQVAE, VQVAE2, BetaTCVAE, FactorVAE, HierarchicalVAE)."""

from vae_keras.models.autoencoder import AE
from vae_keras.models.base import LatentModel
from vae_keras.models.capabilities import Capabilities, CapabilityError
from vae_keras.models.code_prior import CodePrior
from vae_keras.models.conditional import ConditionalVAE
from vae_keras.models.conditional_networks import conditional_decoder, conditional_encoder
from vae_keras.models.factor_vae import FactorVAE
from vae_keras.models.hierarchical import HierarchicalVAE
from vae_keras.models.iwae import IWAE
from vae_keras.models.pixel_vae import PixelIWAE, PixelVAE
from vae_keras.models.tc_vae import BetaTCVAE
from vae_keras.models.transformer_prior import TransformerPrior
from vae_keras.models.vae import VAE
from vae_keras.models.vq_vae import VQVAE
from vae_keras.models.vq_vae2 import VQVAE2

__all__ = [
    "AE",
    "BetaTCVAE",
    "Capabilities",
    "CapabilityError",
    "CodePrior",
    "ConditionalVAE",
    "FactorVAE",
    "HierarchicalVAE",
    "IWAE",
    "LatentModel",
    "PixelIWAE",
    "PixelVAE",
    "TransformerPrior",
    "VAE",
    "VQVAE",
    "VQVAE2",
    "conditional_decoder",
    "conditional_encoder",
]

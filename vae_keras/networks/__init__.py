"""Encoder and decoder factories. Any encoder pairs with any decoder of the same latent size."""

from vae_keras.networks.autoregressive import MaskedConv2D, PixelCNN
from vae_keras.networks.cached_pixelcnn import CachedPixelCNN
from vae_keras.networks.conv import conv_decoder, conv_encoder
from vae_keras.networks.defaults import default_networks
from vae_keras.networks.dense import dense_decoder, dense_encoder
from vae_keras.networks.grid import vq_decoder, vq_encoder
from vae_keras.networks.output_conv import TapConv2DTranspose
from vae_keras.networks.residual import residual_decoder, residual_encoder
from vae_keras.networks.transformer import CausalTransformer
from vae_keras.networks.upsampling import DepthToSpace, ShuffledConv2DTranspose

__all__ = [
    "CachedPixelCNN",
    "CausalTransformer",
    "DepthToSpace",
    "MaskedConv2D",
    "PixelCNN",
    "ShuffledConv2DTranspose",
    "TapConv2DTranspose",
    "conv_decoder",
    "conv_encoder",
    "default_networks",
    "dense_decoder",
    "dense_encoder",
    "residual_decoder",
    "residual_encoder",
    "vq_decoder",
    "vq_encoder",
]

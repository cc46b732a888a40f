"""vae_keras: variational autoencoders for Keras 3.

Example:

>>> from vae_keras import VAE, networks
>>> vae = VAE(networks.conv_encoder((28, 28, 1), 2), networks.conv_decoder(2, (28, 28, 1)))
"""

__version__ = "0.1.0"

from vae_keras import datasets, losses, networks
from vae_keras.layers import Sampling
from vae_keras.models import VAE

__all__ = ["Sampling", "VAE", "datasets", "losses", "networks", "__version__"]

"""The command line's recipes: which networks and likelihood a dataset gets, and the model.

`vae-keras train` defaults to `--architecture auto --likelihood auto`:

- the gray benchmark sets (`mnist`, `fashion_mnist`, `digits`) keep the MNIST recipe: the
  classic conv pair and a Bernoulli likelihood;
- everything else (a folder of images, `shapes`, `patches`, a TFDS set) is 8-bit colour
  (or gray) photography: residual networks for 32 px and more
  (`networks.default_networks`) and the discretized logistic, so runs report bits per
  dimension on the 0-255 scale.

`--architecture pixelcnn` is the PixelVAE: on binary data the MNIST recipe of
`benchmarks/quality_mnist.py`; with the discretized logistic, the colour recipe of
`benchmarks/bits_per_dim.py` (a PixelCNN with a mixture of 5 logistics per pixel).
`--architecture vqvae` is the `VQVAE` of `benchmarks/vq_vae.py` (then its prior is fitted).
`--architecture hierarchical` is `HierarchicalVAE` with its defaults (the MNIST recipe of
`benchmarks/quality_mnist.py`: Adam with the gradient's global norm clipped at 200); it has its
own latent groups, so `--latent-dim` is not used.
"""

import keras

from vae_keras import likelihoods, networks
from vae_keras.networks.defaults import default_family

GRAY_BENCHMARKS = ("mnist", "fashion_mnist", "digits")
ARCHITECTURES = ("auto", "conv", "dense", "residual", "pixelcnn", "vqvae", "hierarchical")
LIKELIHOOD_CHOICES = ("auto", "bernoulli", "gaussian", "discretized_logistic")
# --architecture pixelcnn, binary: decoder features per pixel, and free bits (nats per
# latent dimension) that keep the latent in use beside the PixelCNN.
PIXEL_FEATURES, PIXEL_FREE_BITS = 4, 0.25
# --architecture pixelcnn, 8-bit colour (benchmarks/bits_per_dim.py).
COLOUR_PIXEL_FEATURES, COLOUR_MIXTURES, COLOUR_WIDTHS = 16, 5, (16, 32, 64)
# --architecture vqvae: codebook size (--latent-dim is the code vectors' size).
VQ_CODES = 128


def default_likelihood(dataset: str) -> str:
    """Bernoulli for the gray benchmark sets, the discretized logistic for 8-bit images."""
    return "bernoulli" if dataset.lower() in GRAY_BENCHMARKS else "discretized_logistic"


def resolve_architecture(architecture: str, shape) -> str:
    """`"auto"` -> what `networks.default_networks` picks for `shape`."""
    if architecture != "auto":
        return architecture
    return default_family(tuple(shape))


def build_model(
    *,
    architecture: str,
    likelihood: str,
    shape,
    latent_dim: int,
    beta: float = 1.0,
    seed: int = 0,
    learning_rate: float = 1e-3,
    binarize: bool = False,
):
    """The compiled model of a `vae-keras train` run (validates the combination first)."""
    from vae_keras import VAE

    if binarize and likelihood != "bernoulli":
        raise ValueError(
            f"--binarize needs --likelihood bernoulli (binary pixels); got {likelihood}."
        )
    shape = tuple(shape)
    if likelihood == "discretized_logistic" and len(shape) != 3:
        raise ValueError(
            "--likelihood discretized_logistic models 8-bit images (height, width, channels); "
            f"the data are shaped {shape}."
        )
    if architecture == "pixelcnn":
        model = _pixel_vae(likelihood, shape, latent_dim, beta, seed)
    elif architecture == "vqvae":
        model = _vq_vae(likelihood, shape, latent_dim, seed)
    elif architecture == "hierarchical":
        from vae_keras import HierarchicalVAE

        if len(shape) != 3:
            raise ValueError(
                "--architecture hierarchical models images (height, width, channels); the data "
                f"are {shape}."
            )
        model = HierarchicalVAE(shape, likelihood=likelihood, seed=seed)
    else:
        channels = likelihoods.get(likelihood).output_channels(shape[-1])
        builders = {
            "conv": (networks.conv_encoder, networks.conv_decoder),
            "dense": (networks.dense_encoder, networks.dense_decoder),
            "residual": (networks.residual_encoder, networks.residual_decoder),
        }
        make_encoder, make_decoder = builders[architecture]
        decoder_args = {} if channels == shape[-1] else {"output_channels": channels}
        model = VAE(
            make_encoder(shape, latent_dim),
            make_decoder(latent_dim, shape, **decoder_args),
            beta=beta,
            likelihood=likelihood,
            seed=seed,
        )
    # A model class may name the gradient clipping its recipe trains with (HierarchicalVAE).
    clipnorm = model.RECIPE_GLOBAL_CLIPNORM
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, global_clipnorm=clipnorm))
    return model


def _vq_vae(likelihood, shape, embedding_dim, seed):
    """`--architecture vqvae`: the keras.io VQ-VAE's networks, 128 codes of `--latent-dim`."""
    from vae_keras import VQVAE
    from vae_keras.layers import VectorQuantizer

    if len(shape) != 3:
        raise ValueError(
            f"--architecture vqvae models images (height, width, channels); the data are {shape}."
        )
    encoder = networks.vq_encoder(shape, embedding_dim)
    channels = likelihoods.get(likelihood).output_channels(shape[-1])
    decoder = networks.vq_decoder(tuple(encoder.output.shape[1:]), shape, output_channels=channels)
    return VQVAE(
        encoder,
        decoder,
        VectorQuantizer(VQ_CODES, embedding_dim, seed=seed),
        likelihood=likelihood,
        seed=seed,
    )


def _pixel_vae(likelihood, shape, latent_dim, beta, seed):
    from vae_keras.models import PixelVAE

    if len(shape) != 3 or likelihood not in ("bernoulli", "discretized_logistic"):
        raise ValueError(
            "--architecture pixelcnn models images (height, width, channels) with --likelihood "
            "bernoulli (binary; add --binarize for gray-level data) or discretized_logistic "
            f"(8-bit). Received: --likelihood {likelihood}, data shaped {shape}."
        )
    if likelihood == "bernoulli":
        return PixelVAE(
            networks.conv_encoder(shape, latent_dim),
            networks.dense_decoder(latent_dim, shape[:-1] + (PIXEL_FEATURES,)),
            networks.PixelCNN(shape, PIXEL_FEATURES),
            beta=beta,
            free_bits=PIXEL_FREE_BITS,
            seed=seed,
        )
    mixture = likelihoods.DiscretizedLogistic(num_mixtures=COLOUR_MIXTURES)
    features = COLOUR_PIXEL_FEATURES
    return PixelVAE(
        networks.residual_encoder(shape, latent_dim, widths=COLOUR_WIDTHS),
        networks.residual_decoder(
            latent_dim, shape, widths=COLOUR_WIDTHS, output_channels=features
        ),
        networks.PixelCNN(
            shape,
            feature_channels=features,
            filters=64,
            num_layers=4,
            first_kernel_size=5,
            head_units=64,
            output_channels=mixture.output_channels(shape[-1]),
        ),
        likelihood=mixture,
        beta=beta,
        free_bits=0.1,
        seed=seed,
    )

"""Sensible encoder/decoder defaults from the shape of the data."""

from collections.abc import Sequence

import keras

from vae_keras.networks._common import check_positive_int, check_shape
from vae_keras.networks.conv import conv_decoder, conv_encoder
from vae_keras.networks.dense import dense_decoder, dense_encoder
from vae_keras.networks.residual import residual_decoder, residual_encoder

# Gray images up to this side keep the classic two-layer conv pair (MNIST's recipe).
SMALL_GRAY_SIDE = 28
# Residual nets need a few stages to pay off; smaller colour images use the conv pair.
MIN_RESIDUAL_SIDE = 8


def default_family(input_shape: Sequence[int] | int) -> str:
    """`"dense"`, `"conv"` or `"residual"`: the factories `default_networks` uses.

    >>> default_family((28, 28, 1)), default_family((32, 32, 3)), default_family(10)
    ('conv', 'residual', 'dense')
    """
    input_shape = check_shape(input_shape, "input_shape")
    if len(input_shape) != 3:
        return "dense"
    height, width, channels = input_shape
    small = min(height, width) < MIN_RESIDUAL_SIDE
    small_gray = channels == 1 and max(height, width) <= SMALL_GRAY_SIDE
    return "conv" if small or small_gray else "residual"


def default_networks(
    input_shape: Sequence[int] | int,
    latent_dim: int,
    output_channels: int | None = None,
) -> tuple[keras.Model, keras.Model]:
    """An `(encoder, decoder)` pair with defaults chosen from the data shape.

    - flat vectors `(D,)`: `dense_encoder` / `dense_decoder`;
    - gray images up to 28x28 (MNIST-like), or any image smaller than 8 px
      on a side: the classic `conv_encoder` / `conv_decoder`;
    - colour images, or gray ones of 32 px and more: `residual_encoder` /
      `residual_decoder` (one stage per factor 2 down to 4x4).

    Args:
        input_shape: Shape of one example, without the batch axis.
        latent_dim: Size of the latent code.
        output_channels: Channels the decoder emits (default: the image's),
            e.g. `2 * channels` for a discretized-logistic likelihood.

    Returns:
        `(encoder, decoder)`, functional `keras.Model`s.

    Example:

    >>> encoder, decoder = default_networks((64, 64, 3), 32)
    >>> encoder.get_layer("down_3").name, tuple(decoder.output.shape)
    ('down_3', (None, 64, 64, 3))
    >>> default_networks((28, 28, 1), 2)[0].get_layer("conv_1").name
    'conv_1'
    """
    input_shape = check_shape(input_shape, "input_shape")
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    family = default_family(input_shape)
    if family == "dense":
        return (
            dense_encoder(input_shape, latent_dim),
            dense_decoder(latent_dim, input_shape, output_channels=output_channels),
        )
    if family == "conv":
        return (
            conv_encoder(input_shape, latent_dim),
            conv_decoder(latent_dim, input_shape, output_channels=output_channels),
        )
    return (
        residual_encoder(input_shape, latent_dim),
        residual_decoder(latent_dim, input_shape, output_channels=output_channels),
    )

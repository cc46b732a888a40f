"""Sensible encoder/decoder defaults from the shape of the data (`auto` in the family table)."""

from collections.abc import Sequence

import keras

from vae_keras.networks import families
from vae_keras.networks._common import check_positive_int, check_shape

# Kept importable from here (their home is the family table, `networks.families`).
from vae_keras.networks.families import (  # noqa: F401
    MIN_RESIDUAL_SIDE,
    SMALL_GRAY_SIDE,
    default_family,
)


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
    family = families.get(default_family(input_shape))
    # `output_channels` goes to the decoder as given (None: the image's own channels).
    return (
        family.encoder(input_shape, latent_dim),
        family.decoder(latent_dim, input_shape, output_channels=output_channels),
    )

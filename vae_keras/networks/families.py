"""The network families: each name -> its encoder and decoder factories, registered once.

The command line (`--network`, `--architecture conv|dense|residual`), the presets, `auto`
(`default_family`, `default_networks`) and the conditional factories all read this table.

Example:

>>> family = get("dense")
>>> family.encoder.__name__, family.images_only
('dense_encoder', False)
>>> resolve("auto", (28, 28, 1)), resolve("auto", (32, 32, 3)), resolve("auto", (10,))
('conv', 'residual', 'dense')
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import keras

from vae_keras.networks._common import check_shape
from vae_keras.networks.conv import conv_decoder, conv_encoder
from vae_keras.networks.dense import dense_decoder, dense_encoder
from vae_keras.networks.residual import residual_decoder, residual_encoder

# `auto` (`default_family`): gray images up to this side keep the classic two-layer conv pair
# (MNIST's recipe).
SMALL_GRAY_SIDE = 28
# Residual nets need a few stages to pay off; smaller colour images use the conv pair.
MIN_RESIDUAL_SIDE = 8
AUTO = "auto"


@dataclass(frozen=True)
class Family:
    """One network family: its encoder and decoder factories and the data they take.

    `encoder(input_shape, latent_dim, **options)` and
    `decoder(latent_dim, output_shape, output_channels=None, **options)` return functional
    `keras.Model`s; `images_only` families need `(height, width, channels)` data.
    """

    name: str
    encoder: Callable[..., keras.Model]
    decoder: Callable[..., keras.Model]
    images_only: bool
    description: str

    def networks(
        self, shape, latent_dim: int, output_channels: int | None = None, **options
    ) -> tuple[keras.Model, keras.Model]:
        """`(encoder, decoder)` for data shaped `shape` (`options` go to both factories)."""
        decoder_args = {} if output_channels is None else {"output_channels": output_channels}
        return (
            self.encoder(shape, latent_dim, **options),
            self.decoder(latent_dim, shape, **decoder_args, **options),
        )


FAMILIES = {
    family.name: family
    for family in (
        Family(
            "conv",
            conv_encoder,
            conv_decoder,
            images_only=True,
            description="two stride-2 convolutions each way (the MNIST recipe)",
        ),
        Family(
            "dense",
            dense_encoder,
            dense_decoder,
            images_only=False,
            description="fully connected layers (flat vectors or flattened images)",
        ),
        Family(
            "residual",
            residual_encoder,
            residual_decoder,
            images_only=True,
            description="residual stages down to 4x4 (colour images, 32 px and more)",
        ),
    )
}
NAMES = tuple(FAMILIES)


def get(name: str) -> Family:
    """The family called `name` (one of `NAMES`)."""
    if isinstance(name, Family):
        return name
    if name not in FAMILIES:
        raise ValueError(
            f"Unknown network family {name!r}. Use one of {', '.join(NAMES)} (or 'auto', "
            "resolved from the data's shape)."
        )
    return FAMILIES[name]


def default_family(input_shape: Sequence[int] | int) -> str:
    """`"dense"`, `"conv"` or `"residual"`: the family `auto` picks for data of this shape.

    - flat vectors `(D,)`: dense;
    - gray images up to 28x28 (MNIST-like), or any image smaller than 8 px on a side: conv;
    - colour images, or gray ones of 32 px and more: residual.

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


def resolve(name: str, shape) -> str:
    """`name`, or for `"auto"` the `default_family` of `shape`."""
    if name in (None, AUTO):
        return default_family(tuple(shape))
    return get(name).name

"""Conv encoder and decoder that stop at a spatial grid of code vectors (for `VQVAE`).

The default pair is the keras.io VQ-VAE example's: two stride-2 convolutions
(32 then 64 filters) and a 1x1 convolution to `embedding_dim` channels, so a
28x28 image becomes a 7x7 grid of codes; the decoder mirrors it with
transposed convolutions and crops to the output size.
"""

from collections.abc import Sequence

import keras

from vae_keras.networks._common import check_positive_int, check_shape, check_units
from vae_keras.networks.conv import _downsampled
from vae_keras.networks.output_conv import TapConv2DTranspose
from vae_keras.networks.upsampling import ShuffledConv2DTranspose


def vq_encoder(
    input_shape: Sequence[int],
    embedding_dim: int,
    filters: Sequence[int] = (32, 64),
    kernel_size: int = 3,
    activation: str = "relu",
    name: str = "vq_encoder",
) -> keras.Model:
    """A convolutional encoder `image -> (height / 2**n, width / 2**n, embedding_dim)` grid.

    Args:
        input_shape: `(height, width, channels)` of one image.
        embedding_dim: Channels of the output grid (the quantizer's `embedding_dim`).
        filters: Filters of the stride-2 convolutions; each halves the size (rounding up).
        kernel_size: Kernel size of the stride-2 convolutions.
        activation: Their activation.
        name: Name of the returned model.

    Example:

    >>> tuple(vq_encoder((28, 28, 1), 16).output.shape)
    (None, 7, 7, 16)
    """
    input_shape = check_shape(input_shape, "input_shape", min_rank=3, max_rank=3)
    embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
    filters = check_units(filters, "filters")
    kernel_size = check_positive_int(kernel_size, "kernel_size")

    # === Layers and functional model ===
    inputs = keras.Input(shape=input_shape, name="x")
    x = inputs
    for i, f in enumerate(filters):
        x = keras.layers.Conv2D(
            f, kernel_size, strides=2, padding="same", activation=activation, name=f"conv_{i}"
        )(x)
    z_e = keras.layers.Conv2D(embedding_dim, 1, padding="same", name="z_e")(x)
    return keras.Model(inputs, z_e, name=name)


def vq_decoder(
    grid_shape: Sequence[int],
    output_shape: Sequence[int],
    filters: Sequence[int] = (64, 32),
    kernel_size: int = 3,
    activation: str = "relu",
    output_activation: str | None = None,
    name: str = "vq_decoder",
    *,
    output_channels: int | None = None,
) -> keras.Model:
    """A transposed-convolution decoder `(h, w, D) grid -> image`.

    One stride-2 `Conv2DTranspose` per entry of `filters`, then a stride-1
    one to the output channels (logits or means: no activation by default),
    cropped to `output_shape`.

    Args:
        grid_shape: `(height, width, embedding_dim)` of the code grid.
        output_shape: `(height, width, channels)` of one image.
        filters: Filters of the stride-2 transposed convolutions.
        kernel_size: Their kernel size.
        activation: Their activation.
        output_activation: Activation of the output (`None`: logits or means).
        name: Name of the returned model.
        output_channels: Output channels, default `output_shape[-1]` (a
            likelihood with several parameters per sub-pixel needs more).

    Example:

    >>> tuple(vq_decoder((7, 7, 16), (28, 28, 1)).output.shape)
    (None, 28, 28, 1)
    """
    grid_shape = check_shape(grid_shape, "grid_shape", min_rank=3, max_rank=3)
    output_shape = check_shape(output_shape, "output_shape", min_rank=3, max_rank=3)
    filters = check_units(filters, "filters")
    kernel_size = check_positive_int(kernel_size, "kernel_size")
    height, width, channels = output_shape
    if output_channels is not None:
        channels = check_positive_int(output_channels, "output_channels")
    scale = 2 ** len(filters)
    expected = (_downsampled(height, len(filters)), _downsampled(width, len(filters)))
    if tuple(grid_shape[:2]) != expected:
        raise ValueError(
            f"A grid of {grid_shape[0]}x{grid_shape[1]} codes with {len(filters)} stride-2 "
            f"layers does not make {height}x{width} images (that needs a "
            f"{expected[0]}x{expected[1]} grid). Received: grid_shape={grid_shape}, "
            f"output_shape={output_shape}, filters={filters}; use the encoder's filters."
        )

    # === Layers and functional model ===
    inputs = keras.Input(shape=grid_shape, name="z_q")
    x = inputs
    for i, f in enumerate(filters):
        x = ShuffledConv2DTranspose(
            f, kernel_size, strides=2, padding="same", activation=activation, name=f"deconv_{i}"
        )(x)
    x = TapConv2DTranspose(
        channels, 3, padding="same", activation=output_activation, name="decoder_output"
    )(x)
    crop_h, crop_w = expected[0] * scale - height, expected[1] * scale - width
    if crop_h or crop_w:
        x = keras.layers.Cropping2D(
            ((crop_h // 2, crop_h - crop_h // 2), (crop_w // 2, crop_w - crop_w // 2)), name="crop"
        )(x)
    return keras.Model(inputs, x, name=name)

"""Convolutional encoder and decoder factories (functional API).

The default pair is the classic one from the Keras VAE example: two stride-2
convolutions (32 then 64 filters), a dense layer, then the latent code; the
decoder mirrors it with transposed convolutions. Any image size works: the
decoder upsamples to the next multiple of `2 ** len(filters)` and crops.
"""

from collections.abc import Sequence

import keras

from vae_keras.networks._common import check_positive_int, check_shape, check_units
from vae_keras.networks.output_conv import TapConv2DTranspose
from vae_keras.networks.upsampling import check_upsampling, upsample


def _downsampled(size: int, times: int) -> int:
    for _ in range(times):
        size = -(-size // 2)  # "same" padding with stride 2 rounds up
    return size


def conv_encoder(
    input_shape: Sequence[int],
    latent_dim: int,
    filters: Sequence[int] = (32, 64),
    kernel_size: int = 3,
    dense_units: int | None = 256,
    activation: str = "relu",
    name: str = "encoder",
) -> keras.Model:
    """A convolutional encoder `image -> [z_mean, z_log_var]`.

    Args:
        input_shape: `(height, width, channels)` of one image.
        latent_dim: Size of the latent code.
        filters: Filters of the stride-2 convolutions, first to last. Each
            halves the height and width (rounding up).
        kernel_size: Kernel size of every convolution.
        dense_units: Width of the dense layer between the convolutions and
            the latent code; `None` for none. The Keras example uses 16.
        activation: Activation of the hidden layers.
        name: Name of the returned model.

    Returns:
        A functional `keras.Model` with outputs `[z_mean, z_log_var]`.

    Example:

    >>> encoder = conv_encoder((28, 28, 1), latent_dim=2)
    >>> [tuple(t.shape) for t in encoder.outputs]
    [(None, 2), (None, 2)]
    """
    input_shape = check_shape(input_shape, "input_shape", min_rank=1, max_rank=3)
    if len(input_shape) != 3:
        raise ValueError(
            "`conv_encoder` needs images shaped (height, width, channels). "
            f"Received: input_shape={input_shape}. Add a channel axis "
            "(e.g. x[..., None]) or use `dense_encoder` for flat vectors."
        )
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    filters = check_units(filters, "filters")
    kernel_size = check_positive_int(kernel_size, "kernel_size")
    if dense_units is not None:
        dense_units = check_positive_int(dense_units, "dense_units")

    # === Layers and functional model ===
    inputs = keras.Input(shape=input_shape, name="x")
    x = inputs
    for i, f in enumerate(filters):
        x = keras.layers.Conv2D(
            f, kernel_size, strides=2, padding="same", activation=activation, name=f"conv_{i}"
        )(x)
    x = keras.layers.Flatten(name="flatten")(x)
    if dense_units:
        x = keras.layers.Dense(dense_units, activation=activation, name="dense")(x)
    z_mean = keras.layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = keras.layers.Dense(latent_dim, name="z_log_var")(x)
    return keras.Model(inputs, [z_mean, z_log_var], name=name)


def conv_decoder(
    latent_dim: int,
    output_shape: Sequence[int],
    filters: Sequence[int] = (64, 32),
    kernel_size: int = 3,
    dense_units: int | None = None,
    activation: str = "relu",
    output_activation: str | None = None,
    name: str = "decoder",
    *,
    output_channels: int | None = None,
    upsampling: str = "transpose",
) -> keras.Model:
    """A convolutional decoder `z -> image`.

    `z` goes through an optional dense layer, then a dense layer to a small
    feature map (`output size / 2 ** len(filters)`, rounded up), then one
    stride-2 upsampling stage per entry of `filters` (a `Conv2DTranspose` by
    default), then a stride-1 `Conv2DTranspose` to the output channels (`TapConv2DTranspose`),
    cropped to `output_shape`.

    Args:
        latent_dim: Size of the latent code.
        output_shape: `(height, width, channels)` of one generated image.
        filters: Filters of the stride-2 transposed convolutions, first to
            last (the mirror of the encoder's `filters`).
        kernel_size: Kernel size of every transposed convolution.
        dense_units: Optional width of a dense layer before the feature map.
        activation: Activation of the hidden layers.
        output_activation: `None` for logits (Bernoulli) or means (Gaussian);
            `"sigmoid"` also works with `VAE`, which then reads probabilities.
        name: Name of the returned model.
        output_channels: Channels of the output; default `output_shape[-1]`.
            Likelihoods with several parameters per sub-pixel need more
            (e.g. `2 * channels` for a location and a log-scale each).
        upsampling: How each stage doubles the size: `"transpose"` (a
            stride-2 `Conv2DTranspose`; on JAX, whose CPU backend trains
            those slowly, computed exactly as a convolution and a pixel
            shuffle: `ShuffledConv2DTranspose`), `"resize"`
            (nearest-neighbour `UpSampling2D` + `Conv2D`) or
            `"depth_to_space"` (`Conv2D` of kernel `ceil(kernel_size / 2)` to
            4x the filters, then a pixel shuffle); see
            `vae_keras.networks.upsampling`.

    Returns:
        A functional `keras.Model` from `(batch, latent_dim)` to
        `(batch, height, width, output_channels)`.

    Example:

    >>> decoder = conv_decoder(2, (32, 32, 3))
    >>> tuple(decoder.output.shape)
    (None, 32, 32, 3)
    >>> tuple(conv_decoder(2, (32, 32, 3), output_channels=6).output.shape)
    (None, 32, 32, 6)
    """
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    output_shape = check_shape(output_shape, "output_shape", min_rank=1, max_rank=3)
    if len(output_shape) != 3:
        raise ValueError(
            "`conv_decoder` generates images shaped (height, width, channels). "
            f"Received: output_shape={output_shape}. Use `dense_decoder` for flat vectors."
        )
    filters = check_units(filters, "filters")
    kernel_size = check_positive_int(kernel_size, "kernel_size")
    upsampling = check_upsampling(upsampling)
    height, width, channels = output_shape
    if output_channels is not None:
        channels = check_positive_int(output_channels, "output_channels")
    base_h, base_w = _downsampled(height, len(filters)), _downsampled(width, len(filters))
    scale = 2 ** len(filters)

    # === Layers and functional model ===
    inputs = keras.Input(shape=(latent_dim,), name="z")
    x = inputs
    if dense_units:
        dense_units = check_positive_int(dense_units, "dense_units")
        x = keras.layers.Dense(dense_units, activation=activation, name="dense")(x)
    x = keras.layers.Dense(base_h * base_w * filters[0], activation=activation, name="project")(x)
    x = keras.layers.Reshape((base_h, base_w, filters[0]), name="reshape")(x)
    for i, f in enumerate(filters):
        x = upsample(x, f, kernel_size, activation, upsampling, i)
    x = TapConv2DTranspose(
        channels, kernel_size, padding="same", activation=output_activation, name="decoder_output"
    )(x)
    crop_h, crop_w = base_h * scale - height, base_w * scale - width
    if crop_h or crop_w:
        x = keras.layers.Cropping2D(
            ((crop_h // 2, crop_h - crop_h // 2), (crop_w // 2, crop_w - crop_w // 2)), name="crop"
        )(x)
    return keras.Model(inputs, x, name=name)

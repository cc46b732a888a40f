"""Residual encoder and decoder factories for colour images (functional API).

Both scale with the resolution: one stride-2 stage per factor 2 from the
image size down to a small base feature map (`base_size`, 4 by default: 32 px
gives 3 stages, 64 px 4, 128 px 5). Every resolution level holds
`blocks_per_stage` pre-activation residual blocks
(`[norm] -> act -> conv3x3 -> [norm] -> act -> conv3x3`, plus the skip) whose
last convolution starts at zero, so a fresh network is a plain
down/up-sampling path and deep stacks train stably. Sizes that are not powers
of two are handled like `conv.py`: "same" padding rounds up on the way down,
the decoder upsamples to the next size and crops.
"""

import math
from collections.abc import Sequence

import keras

from vae_keras.networks._common import check_positive_int, check_shape, check_units
from vae_keras.networks.conv import _downsampled

NORMALIZATIONS = (None, "batch", "group", "layer")
DEFAULT_WIDTHS = (32, 64, 128, 128)


def num_stages(size: int, base_size: int = 4) -> int:
    """Stride-2 stages from `size` down to `base_size` (each rounds up).

    Example:

    >>> [num_stages(s) for s in (8, 28, 32, 64, 128)]
    [1, 3, 3, 4, 5]
    """
    stages = 0
    while size > base_size:
        size = -(-size // 2)
        stages += 1
    return stages


def _level_widths(widths, levels: int) -> tuple[int, ...]:
    """One width per resolution level, full resolution first.

    An int is a base width that doubles per level up to 4x; a shorter
    sequence repeats its last entry, a longer one is cut.
    """
    if isinstance(widths, int) and not isinstance(widths, bool):
        widths = check_positive_int(widths, "widths")
        return tuple(min(widths * 2**i, 4 * widths) for i in range(levels))
    widths = check_units(widths, "widths")
    if not widths:
        raise ValueError(
            "`widths` must be a positive int or a non-empty sequence of them. Received: widths=()"
        )
    return tuple(widths[min(i, len(widths) - 1)] for i in range(levels))


def _check_common(image_shape, name, blocks_per_stage, normalization, base_size):
    image_shape = check_shape(image_shape, name, min_rank=1, max_rank=3)
    if len(image_shape) != 3:
        raise ValueError(
            f"Residual networks need images shaped (height, width, channels). "
            f"Received: {name}={image_shape}. Add a channel axis (e.g. x[..., None]) "
            "or use the dense factories for flat vectors."
        )
    base_size = check_positive_int(base_size, "base_size")
    if min(image_shape[:2]) < base_size:
        raise ValueError(
            f"The image is smaller than the base feature map: {name}={image_shape} but "
            f"base_size={base_size}. Use images of at least {base_size}x{base_size}, "
            "a smaller `base_size`, or `conv_encoder`/`conv_decoder`."
        )
    if isinstance(blocks_per_stage, bool) or not isinstance(blocks_per_stage, int):
        raise ValueError(
            f"`blocks_per_stage` must be a non-negative integer. "
            f"Received: blocks_per_stage={blocks_per_stage!r}"
        )
    if blocks_per_stage < 0:
        raise ValueError(
            f"`blocks_per_stage` must be a non-negative integer. "
            f"Received: blocks_per_stage={blocks_per_stage!r}"
        )
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"`normalization` must be one of {NORMALIZATIONS}. "
            f"Received: normalization={normalization!r}"
        )
    return image_shape


def _norm(x, normalization, name):
    if normalization is None:
        return x
    if normalization == "batch":
        return keras.layers.BatchNormalization(name=name)(x)
    if normalization == "group":
        # Up to 8 groups that divide the width (any width works).
        groups = math.gcd(int(x.shape[-1]), 8)
        return keras.layers.GroupNormalization(groups=groups, name=name)(x)
    # "layer": per position over the channels, independent of the batch.
    return keras.layers.LayerNormalization(axis=-1, name=name)(x)


def _residual_block(x, normalization, activation, name):
    width = int(x.shape[-1])
    h = _norm(x, normalization, f"{name}_norm_0")
    h = keras.layers.Activation(activation, name=f"{name}_act_0")(h)
    h = keras.layers.Conv2D(width, 3, padding="same", name=f"{name}_conv_0")(h)
    h = _norm(h, normalization, f"{name}_norm_1")
    h = keras.layers.Activation(activation, name=f"{name}_act_1")(h)
    # Zero-initialised: the block starts as the identity (stable at any depth).
    h = keras.layers.Conv2D(
        width, 3, padding="same", kernel_initializer="zeros", name=f"{name}_conv_1"
    )(h)
    return keras.layers.Add(name=f"{name}_add")([x, h])


def _blocks(x, count, normalization, activation, prefix):
    for b in range(count):
        x = _residual_block(x, normalization, activation, f"{prefix}_block_{b}")
    return x


def residual_encoder(
    input_shape: Sequence[int],
    latent_dim: int,
    widths: Sequence[int] | int = DEFAULT_WIDTHS,
    blocks_per_stage: int = 1,
    normalization: str | None = None,
    activation: str = "swish",
    dense_units: int | None = 256,
    base_size: int = 4,
    name: str = "encoder",
) -> keras.Model:
    """A residual convolutional encoder `image -> [z_mean, z_log_var]`.

    A 3x3 stem convolution, then per resolution level `blocks_per_stage`
    residual blocks followed by a stride-2 convolution to the next level's
    width, until the smaller side reaches `base_size`; then residual blocks
    at the base, a flatten, an optional dense layer and the two heads.

    Args:
        input_shape: `(height, width, channels)` of one image, at least
            `base_size` on each side.
        latent_dim: Size of the latent code.
        widths: Channels per resolution level, full resolution first (a
            shorter tuple repeats its last entry, a longer one is cut), or
            an int: a base width doubling per level up to 4x. The default
            `(32, 64, 128, 128)` suits 32-64 px RGB on a CPU.
        blocks_per_stage: Residual blocks per resolution level (0 for a
            plain strided-convolution stack).
        normalization: `None`, `"batch"`, `"group"` (up to 8 groups) or
            `"layer"` (over the channels of each position).
        activation: Activation inside the blocks and the dense layer.
        dense_units: Width of the dense layer before the latent heads;
            `None` for none.
        base_size: Smallest side of the last feature map.
        name: Name of the returned model.

    Returns:
        A functional `keras.Model` with outputs `[z_mean, z_log_var]`.

    Example:

    >>> encoder = residual_encoder((32, 32, 3), latent_dim=16)
    >>> [tuple(t.shape) for t in encoder.outputs]
    [(None, 16), (None, 16)]
    >>> tuple(encoder.get_layer("base").output.shape)
    (None, 4, 4, 128)
    """
    input_shape = _check_common(
        input_shape, "input_shape", blocks_per_stage, normalization, base_size
    )
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    if dense_units is not None:
        dense_units = check_positive_int(dense_units, "dense_units")
    stages = num_stages(min(input_shape[:2]), base_size)
    level_widths = _level_widths(widths, stages + 1)

    # === Layers and functional model ===
    inputs = keras.Input(shape=input_shape, name="x")
    x = keras.layers.Conv2D(level_widths[0], 3, padding="same", name="stem")(inputs)
    for i in range(stages):
        x = _blocks(x, blocks_per_stage, normalization, activation, f"stage_{i}")
        x = keras.layers.Conv2D(
            level_widths[i + 1], 3, strides=2, padding="same", name=f"down_{i}"
        )(x)
    x = _blocks(x, blocks_per_stage, normalization, activation, "base")
    x = _norm(x, normalization, "base_norm")
    x = keras.layers.Activation(activation, name="base")(x)

    # === Latent heads ===
    x = keras.layers.Flatten(name="flatten")(x)
    if dense_units:
        x = keras.layers.Dense(dense_units, activation=activation, name="dense")(x)
    z_mean = keras.layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = keras.layers.Dense(latent_dim, name="z_log_var")(x)
    return keras.Model(inputs, [z_mean, z_log_var], name=name)


def residual_decoder(
    latent_dim: int,
    output_shape: Sequence[int],
    widths: Sequence[int] | int = DEFAULT_WIDTHS,
    blocks_per_stage: int = 1,
    normalization: str | None = None,
    activation: str = "swish",
    dense_units: int | None = None,
    base_size: int = 4,
    output_channels: int | None = None,
    output_activation: str | None = None,
    name: str = "decoder",
) -> keras.Model:
    """A residual decoder `z -> image`, the mirror of `residual_encoder`.

    `z` goes through an optional dense layer and a dense projection to the
    base feature map, then per resolution level (coarsest first) residual
    blocks and a nearest-neighbour upsampling followed by a 3x3 convolution
    (no checkerboard artefacts), then blocks at full resolution and a final
    3x3 convolution to `output_channels`, cropped to `output_shape`.

    Args:
        latent_dim: Size of the latent code.
        output_shape: `(height, width, channels)` of one generated image.
        widths: As in `residual_encoder` (full resolution first), so the
            same value builds a mirrored pair.
        blocks_per_stage: Residual blocks per resolution level.
        normalization: `None`, `"batch"`, `"group"` or `"layer"`.
        activation: Activation inside the blocks and the dense layers.
        dense_units: Optional width of a dense layer before the projection.
        base_size: Smallest side of the first feature map.
        output_channels: Channels of the output; default `output_shape[-1]`.
            Likelihoods with several parameters per sub-pixel need more
            (e.g. `2 * channels` for a location and a log-scale each).
        output_activation: `None` for logits or means (the default).
        name: Name of the returned model.

    Returns:
        A functional `keras.Model` from `(batch, latent_dim)` to
        `(batch, height, width, output_channels)`.

    Example:

    >>> decoder = residual_decoder(16, (28, 28, 1))
    >>> tuple(decoder.output.shape)
    (None, 28, 28, 1)
    >>> tuple(residual_decoder(16, (64, 64, 3), output_channels=6).output.shape)
    (None, 64, 64, 6)
    """
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    output_shape = _check_common(
        output_shape, "output_shape", blocks_per_stage, normalization, base_size
    )
    if dense_units is not None:
        dense_units = check_positive_int(dense_units, "dense_units")
    height, width, channels = output_shape
    if output_channels is None:
        output_channels = channels
    output_channels = check_positive_int(output_channels, "output_channels")
    stages = num_stages(min(height, width), base_size)
    level_widths = _level_widths(widths, stages + 1)
    base_h, base_w = _downsampled(height, stages), _downsampled(width, stages)

    # === Layers and functional model ===
    inputs = keras.Input(shape=(latent_dim,), name="z")
    x = inputs
    if dense_units:
        x = keras.layers.Dense(dense_units, activation=activation, name="dense")(x)
    x = keras.layers.Dense(base_h * base_w * level_widths[-1], name="project")(x)
    x = keras.layers.Reshape((base_h, base_w, level_widths[-1]), name="reshape")(x)
    x = _blocks(x, blocks_per_stage, normalization, activation, "base")
    for i in reversed(range(stages)):
        x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"upsample_{i}")(x)
        x = keras.layers.Conv2D(level_widths[i], 3, padding="same", name=f"up_{i}")(x)
        x = _blocks(x, blocks_per_stage, normalization, activation, f"stage_{i}")
    x = _norm(x, normalization, "output_norm")
    x = keras.layers.Activation(activation, name="output_act")(x)
    x = keras.layers.Conv2D(
        output_channels, 3, padding="same", activation=output_activation, name="decoder_output"
    )(x)
    crop_h, crop_w = base_h * 2**stages - height, base_w * 2**stages - width
    if crop_h or crop_w:
        x = keras.layers.Cropping2D(
            ((crop_h // 2, crop_h - crop_h // 2), (crop_w // 2, crop_w - crop_w // 2)), name="crop"
        )(x)
    return keras.Model(inputs, x, name=name)

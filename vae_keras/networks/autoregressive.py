"""Autoregressive pixel models: masked convolutions and a small PixelCNN head.

A factorised decoder predicts every pixel from `z` alone, so whatever `z`
leaves uncertain (the exact stroke position, its thickness) is paid for as
independent per-pixel noise. An autoregressive decoder (PixelCNN, van den
Oord et al. 2016; PixelVAE, Gulrajani et al. 2017) predicts each pixel from
`z` *and* the pixels before it in raster order, which removes much of that
cost: this is how VAEs on binarized MNIST get below ~82 nats.

`PixelCNN` here is split in two so that a likelihood evaluation with `k`
importance samples stays cheap: the masked convolutions read only `x`
(`context(x)`, once per image), and a per-pixel head mixes that context with
the decoder's per-pixel features of each `z` (`logits(features, context)`,
`k` times, 1x1 layers only).
"""

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from vae_keras.networks._common import check_positive_int, check_shape

MASK_TYPES = ("A", "B")


def causal_mask(kernel_size: int, mask_type: str) -> np.ndarray:
    """The `(k, k)` spatial mask of a raster-order causal convolution.

    Rows above the centre and the pixels left of it in the centre row are
    visible; the centre itself only for type `"B"` (layers after the first,
    whose centre features already depend on earlier pixels only).

    >>> causal_mask(3, "A").astype(int).tolist()
    [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    >>> causal_mask(3, "B").astype(int).tolist()
    [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
    """
    if mask_type not in MASK_TYPES:
        raise ValueError(
            f"`mask_type` must be one of {MASK_TYPES}. Received: mask_type={mask_type!r}"
        )
    if kernel_size % 2 != 1:
        raise ValueError(
            f"A causal mask needs an odd kernel size (3, 5, 7, ...). Received: kernel_size={kernel_size}"
        )
    mask = np.zeros((kernel_size, kernel_size), "float32")
    centre = kernel_size // 2
    mask[:centre] = 1.0
    mask[centre, : centre + (mask_type == "B")] = 1.0
    return mask


@keras.saving.register_keras_serializable(package="vae_keras")
class MaskedConv2D(keras.layers.Conv2D):
    """A stride-1, "same"-padded `Conv2D` whose kernel sees only earlier pixels.

    Pixels are ordered row by row; all channels of a pixel are predicted
    together (each given the earlier pixels), so any number of channels
    works.

    Args:
        filters, kernel_size: As for `Conv2D` (`kernel_size` a single odd int).
        mask_type: `"A"` (first layer: the centre pixel is hidden) or `"B"`.
        **kwargs: Other `Conv2D` arguments (`activation`, ...).
    """

    def __init__(self, filters, kernel_size, mask_type="B", **kwargs):
        if not isinstance(kernel_size, int):
            raise ValueError(
                f"`kernel_size` must be one odd int. Received: kernel_size={kernel_size!r}"
            )
        for key in ("strides", "dilation_rate"):
            if kwargs.get(key, 1) not in (1, (1, 1)):
                raise ValueError(
                    f"MaskedConv2D supports {key}=1 only. Received: {key}={kwargs[key]!r}"
                )
        kwargs["padding"] = "same"
        super().__init__(filters, kernel_size, **kwargs)
        self.mask_type = mask_type
        self._mask = causal_mask(kernel_size, mask_type)[:, :, None, None]

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, kernel * ops.cast(self._mask, kernel.dtype))

    def get_config(self):
        config = super().get_config()
        config["kernel_size"] = config["kernel_size"][0]
        for key in ("padding", "strides", "dilation_rate"):
            config.pop(key, None)
        return {**config, "mask_type": self.mask_type}


@keras.saving.register_keras_serializable(package="vae_keras")
class PixelCNN(keras.Model):
    """Autoregressive output model `logits = f(decoder features of z, x_<i)`.

    - `context(x)`: a type-A masked convolution, then residual type-B masked
      convolutions, projected to `head_units` channels: causal features of
      the image (position `i` sees pixels `< i` only).
    - `logits(features, context)`: per pixel, `relu(W_f features + context)`
      through one hidden 1x1 layer to the logits, plus a linear skip from the
      features (so a fresh model starts as the factorised decoder).
    - `call([x, features])` is `logits(features, context(x))`.

    Args:
        input_shape: `(height, width, channels)` of the images.
        feature_channels: Channels of the decoder's per-pixel features.
        filters: Channels of the masked convolutions.
        num_layers: Residual type-B layers after the type-A one.
        first_kernel_size: Odd kernel size of the type-A layer.
        kernel_size: Odd kernel size of the type-B layers.
        head_units: Width of the per-pixel head.
        output_channels: Outputs per pixel (default: the image's channels,
            one logit each). A likelihood with several parameters per pixel
            needs more, e.g. `DiscretizedLogistic(num_mixtures=5)
            .output_channels(3)` = 50 for RGB: a mixture of logistics whose
            channel coupling makes the colours of a pixel depend on each
            other, while the masks make the pixel depend on earlier ones.

    Example:

    >>> import numpy as np
    >>> net = PixelCNN((8, 8, 1), feature_channels=2, filters=4, head_units=4)
    >>> x = np.zeros((3, 8, 8, 1), "float32"); f = np.zeros((3, 8, 8, 2), "float32")
    >>> tuple(net([x, f]).shape)
    (3, 8, 8, 1)
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        feature_channels: int,
        filters: int = 32,
        num_layers: int = 2,
        first_kernel_size: int = 7,
        kernel_size: int = 3,
        head_units: int = 32,
        output_channels: int | None = None,
        name: str = "pixelcnn",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        shape = check_shape(input_shape, "input_shape", min_rank=3, max_rank=3)
        for value, label in (
            (feature_channels, "feature_channels"),
            (filters, "filters"),
            (head_units, "head_units"),
            (first_kernel_size, "first_kernel_size"),
            (kernel_size, "kernel_size"),
        ):
            check_positive_int(value, label)
        if output_channels is not None:
            output_channels = check_positive_int(output_channels, "output_channels")
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 0:
            raise ValueError(
                f"`num_layers` must be an integer >= 0. Received: num_layers={num_layers!r}"
            )
        self.image_shape = shape
        self.feature_channels = feature_channels
        self.filters, self.num_layers, self.head_units = filters, num_layers, head_units
        self.first_kernel_size, self.kernel_size = first_kernel_size, kernel_size
        self.output_channels = output_channels
        outputs = shape[-1] if output_channels is None else output_channels

        # === Layers ===
        self.first = MaskedConv2D(
            filters, first_kernel_size, "A", activation="relu", name="masked_a"
        )
        self.blocks = [
            MaskedConv2D(filters, kernel_size, "B", activation="relu", name=f"masked_b_{i}")
            for i in range(num_layers)
        ]
        self.context_projection = keras.layers.Dense(head_units, name="context_projection")
        self.feature_projection = keras.layers.Dense(
            head_units, use_bias=False, name="feature_projection"
        )
        self.hidden = keras.layers.Dense(head_units, activation="relu", name="hidden")
        self.head_output = keras.layers.Dense(outputs, name="head_output")
        self.skip = keras.layers.Dense(outputs, name="skip")
        self._build_layers()

    def _build_layers(self):
        height, width, channels = self.image_shape
        self.first.build((None, height, width, channels))
        for block in self.blocks:
            block.build((None, height, width, self.filters))
        self.context_projection.build((None, height, width, self.filters))
        self.feature_projection.build((None, height, width, self.feature_channels))
        self.hidden.build((None, height, width, self.head_units))
        self.head_output.build((None, height, width, self.head_units))
        self.skip.build((None, height, width, self.feature_channels))
        self.built = True

    @property
    def receptive_rows(self) -> int:
        """How many rows above a pixel its logits can see (for banded generation)."""
        return self.first_kernel_size // 2 + self.num_layers * (self.kernel_size // 2)

    def context(self, x, training=False):
        """Causal features of `x`: `(batch, height, width, head_units)`."""
        h = self.first(x)
        for block in self.blocks:
            h = h + block(h)  # residual: the receptive field grows, the signal stays
        return self.context_projection(h)

    def logits(self, features, context, training=False):
        """Per-pixel logits from decoder features and (matching) causal context."""
        h = ops.relu(self.feature_projection(features) + context)
        return self.head_output(self.hidden(h)) + self.skip(features)

    def call(self, inputs, training=False):
        x, features = inputs
        return self.logits(features, self.context(x, training=training), training=training)

    def get_config(self):
        return {
            **super().get_config(),
            "input_shape": list(self.image_shape),
            "feature_channels": self.feature_channels,
            "filters": self.filters,
            "num_layers": self.num_layers,
            "first_kernel_size": self.first_kernel_size,
            "kernel_size": self.kernel_size,
            "head_units": self.head_units,
            "output_channels": self.output_channels,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("trainable", None)
        config.pop("dtype", None)
        return cls(**config)

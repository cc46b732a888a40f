"""Stride-2 upsampling stages for the convolutional decoders.

Three ways to double the height and width of a feature map and change its
width to `filters`:

- `"transpose"`: one stride-2 `Conv2DTranspose` (the Keras VAE example's).
- `"resize"`: nearest-neighbour `UpSampling2D`, then a `Conv2D` at the new
  size (the "resize-convolution" of Odena et al., 2016, free of
  checkerboard artefacts; four times the multiply-adds of `"transpose"`).
- `"depth_to_space"`: a `Conv2D` to `4 * filters` channels at the old size,
  then a pixel shuffle (`DepthToSpace`, Shi et al., 2016): the sub-pixel
  convolution. Its kernel spans `ceil(kernel_size / 2)` pixels of the small
  map, as many as a stride-2 transposed convolution of `kernel_size` reaches
  for each output pixel (2 for 3), so it does the work of `"transpose"` as a
  plain convolution.

Why the choice: on CPU, XLA (JAX) computes the kernel gradient of a stride-2
transposed convolution (a convolution of the dilated input) over ten times
slower than its forward pass, and some 35 times slower than TensorFlow; plain
convolutions do not have that problem. `"depth_to_space"` trains the default
MNIST VAE 3.4x faster than `"transpose"` on JAX, about as fast on TensorFlow,
and reaches a test loss as good (BENCHMARKS.md, "Conv decoder upsampling on
three backends").
"""

import keras
from keras import ops

UPSAMPLINGS = ("transpose", "resize", "depth_to_space")


def check_upsampling(upsampling) -> str:
    """Returns `upsampling` if it is one of `UPSAMPLINGS`, or raises a clear error."""
    if not isinstance(upsampling, str) or upsampling not in UPSAMPLINGS:
        raise ValueError(
            f"`upsampling` must be one of {', '.join(repr(u) for u in UPSAMPLINGS)}. "
            f"Received: upsampling={upsampling!r}"
        )
    return upsampling


@keras.saving.register_keras_serializable(package="vae_keras")
class DepthToSpace(keras.layers.Layer):
    """Pixel shuffle: `(batch, h, w, c * b * b) -> (batch, h * b, w * b, c)`.

    A layer around `keras.ops.depth_to_space` (channels last), so models that
    use it save to `.keras` and load in safe mode.

    Args:
        block_size: Integer, the upsampling factor `b` (at least 2).
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Example:

    >>> import numpy as np
    >>> tuple(DepthToSpace(2)(np.zeros((1, 3, 3, 8))).shape)
    (1, 6, 6, 2)
    """

    def __init__(self, block_size: int = 2, **kwargs):
        super().__init__(**kwargs)
        if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 2:
            raise ValueError(
                f"`block_size` must be an integer of at least 2. Received: block_size={block_size!r}"
            )
        self.block_size = block_size

    def call(self, inputs):
        return ops.depth_to_space(inputs, self.block_size, data_format="channels_last")

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        b = self.block_size
        if channels is not None and channels % (b * b):
            raise ValueError(
                f"`DepthToSpace({b})` needs channels divisible by {b * b}. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        return (
            batch,
            None if height is None else height * b,
            None if width is None else width * b,
            None if channels is None else channels // (b * b),
        )

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size}


def upsample(x, filters: int, kernel_size: int, activation, upsampling: str, index: int):
    """Doubles the height and width of `x` and gives it `filters` channels.

    Layer names: `deconv_{index}` (`"transpose"`), `upsample_{index}` then
    `conv_{index}` (`"resize"`), `conv_{index}` then `shuffle_{index}`
    (`"depth_to_space"`, kernel `ceil(kernel_size / 2)`).
    """
    upsampling = check_upsampling(upsampling)
    if upsampling == "transpose":
        return keras.layers.Conv2DTranspose(
            filters,
            kernel_size,
            strides=2,
            padding="same",
            activation=activation,
            name=f"deconv_{index}",
        )(x)
    if upsampling == "resize":
        x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"upsample_{index}")(x)
        return keras.layers.Conv2D(
            filters, kernel_size, padding="same", activation=activation, name=f"conv_{index}"
        )(x)
    x = keras.layers.Conv2D(
        4 * filters,
        -(-kernel_size // 2),
        padding="same",
        activation=activation,
        name=f"conv_{index}",
    )(x)
    return DepthToSpace(2, name=f"shuffle_{index}")(x)

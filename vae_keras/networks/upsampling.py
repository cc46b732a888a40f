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
slower than its forward pass, and some 30 times slower than TensorFlow; plain
convolutions do not have that problem. `"transpose"` therefore builds a
`ShuffledConv2DTranspose`: the same layer and weights as Keras's
`Conv2DTranspose`, which on JAX computes the same function as a plain
convolution (one matmul over shifted windows) and a pixel shuffle (the default MNIST VAE's step: 128 against
407 ms on an idle 2-core CPU; TensorFlow: 65 ms). `"resize"` and
`"depth_to_space"` are different networks (BENCHMARKS.md, "Conv decoder
upsampling on three backends").
"""

import keras
import numpy as np
from keras import ops

from vae_keras.networks._windows import stacked_windows

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


@keras.saving.register_keras_serializable(package="vae_keras")
class ShuffledConv2DTranspose(keras.layers.Conv2DTranspose):
    """`Conv2DTranspose` that, where it pays, runs as a convolution and a pixel shuffle.

    A strided transposed convolution with `"same"` padding gives output pixel
    `(s*i + a, s*j + b)` from a few input pixels around `(i, j)`, through the
    kernel taps of phase `(a, b)`. So it equals a plain convolution at the
    input size to `s*s*filters` channels (the taps of every phase, zeros where
    a phase has none) followed by a pixel shuffle: the sub-pixel form of Shi
    et al. (2016), with the transposed kernel's weights rearranged, not new
    ones. The outputs agree to float rounding; the weights, config and saved
    files are `Conv2DTranspose`'s.

    Why: XLA on CPU (JAX) computes a strided transposed convolution's kernel
    gradient as a convolution of the zero-dilated input, 14x slower than its
    forward pass and 36x slower than TensorFlow (BENCHMARKS.md, "Conv decoder
    upsampling on three backends"). The shuffled form has 16/9 the
    multiply-adds for a 3x3 stride-2 kernel but no transposed convolution; it
    runs as one matmul over the shifted windows of the input (XLA's CPU matmul
    is near peak, its convolutions are not), with the bias and an elementwise
    activation applied before the shuffle. On the
    backends in `SHUFFLED_BACKENDS` it is used; elsewhere (TensorFlow, whose
    oneDNN transposed convolution is fast), and for configurations it does not
    cover (`"valid"` padding, `output_padding`, dilation, channels first,
    stride 1), the layer runs Keras's `Conv2DTranspose.call`.

    Example:

    >>> import numpy as np
    >>> layer = ShuffledConv2DTranspose(4, 3, strides=2, padding="same")
    >>> tuple(layer(np.zeros((1, 5, 5, 2), "float32")).shape)
    (1, 10, 10, 4)
    """

    SHUFFLED_BACKENDS = ("jax",)

    def _shuffles(self) -> bool:
        return (
            keras.backend.backend() in self.SHUFFLED_BACKENDS
            and self.padding == "same"
            and self.output_padding is None
            and self.dilation_rate == (1, 1)
            and self.data_format == "channels_last"
            and max(self.strides) > 1
        )

    def call(self, inputs):
        if not self._shuffles():
            return super().call(inputs)
        (pad_h, index_h), (pad_w, index_w) = (
            _phase_taps(k, s) for k, s in zip(self.kernel_size, self.strides, strict=True)
        )
        sh, sw = self.strides
        # Kernel (kh, kw, filters, in) -> one zero tap appended on each spatial
        # axis -> gathered to (sh, dh, sw, dw, filters, in) -> (dh*dw*in, sh*sw*filters),
        # rows in the order of the windows below.
        kernel = ops.pad(self.kernel, [[0, 1], [0, 1], [0, 0], [0, 0]])
        kernel = ops.take(kernel, index_h.reshape(-1), axis=0)
        kernel = ops.take(kernel, index_w.reshape(-1), axis=1)
        dh, dw = index_h.shape[1], index_w.shape[1]
        kernel = ops.reshape(kernel, (sh, dh, sw, dw, self.filters, -1))
        kernel = ops.transpose(kernel, (1, 3, 5, 0, 2, 4))
        kernel = ops.reshape(kernel, (-1, sh * sw * self.filters))
        x = ops.pad(inputs, [[0, 0], list(pad_h), list(pad_w), [0, 0]])
        # The convolution as one matmul over the dh*dw shifted windows.
        height, width = ops.shape(inputs)[1], ops.shape(inputs)[2]
        x = ops.matmul(stacked_windows(x, dh, dw, height, width), kernel)
        # Bias and an elementwise activation before the shuffle: the same
        # values, but XLA differentiates the activation through the shuffle's
        # transpose slowly (the default MNIST VAE: 133-140 against 157 ms/step).
        if self.use_bias:
            x = ops.add(x, ops.tile(self.bias, (sh * sw,)))
        elementwise = self.activation in _ELEMENTWISE_ACTIVATIONS
        if elementwise:
            x = self.activation(x)
        x = ops.reshape(x, (-1, height, width, sh, sw, self.filters))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        outputs = ops.reshape(x, (-1, height * sh, width * sw, self.filters))
        if self.activation is not None and not elementwise:
            return self.activation(outputs)
        return outputs


# Keras activations that act on each value alone, so they commute with a pixel
# shuffle (softmax, glu and sparsemax mix the channel axis and are not here).
_ELEMENTWISE_ACTIVATIONS = frozenset(
    getattr(keras.activations, name)
    for name in (  # noqa: SIM905 (one list of names, kept compact)
        "celu elu exponential gelu hard_shrink hard_sigmoid hard_silu hard_tanh leaky_relu "
        "linear log_sigmoid mish relu relu6 selu sigmoid silu soft_shrink softplus softsign "
        "sparse_plus sparse_sigmoid squareplus tanh tanh_shrink"
    ).split()
    if hasattr(keras.activations, name)
)


def _phase_taps(kernel_size: int, stride: int):
    """One axis of the shuffled form of a `"same"` transposed convolution.

    Output pixel `stride*m + a` sums `x[m + d] * w[t]` over the taps `t` with
    `t = a + left - stride*d`, `left = max(kernel_size - stride, 0) // 2`
    (TensorFlow's `"same"` padding, which every Keras backend follows). Returns
    the input padding `(before, after)` that makes the offsets `d` a "valid"
    window, and an index array `(stride, window)` of taps per phase and
    window position, `kernel_size` where the phase has no tap (the appended zero).
    """
    left = max(kernel_size - stride, 0) // 2
    taps = {
        (a, (a + left - t) // stride): t
        for a in range(stride)
        for t in range(kernel_size)
        if (a + left - t) % stride == 0
    }
    offsets = [d for _, d in taps]
    low, high = min(offsets), max(offsets)
    index = np.full((stride, high - low + 1), kernel_size, dtype="int32")
    for (a, d), t in taps.items():
        index[a, d - low] = t
    return (-low, high), index


def upsample(x, filters: int, kernel_size: int, activation, upsampling: str, index: int):
    """Doubles the height and width of `x` and gives it `filters` channels.

    Layer names: `deconv_{index}` (`"transpose"`), `upsample_{index}` then
    `conv_{index}` (`"resize"`), `conv_{index}` then `shuffle_{index}`
    (`"depth_to_space"`, kernel `ceil(kernel_size / 2)`).
    """
    upsampling = check_upsampling(upsampling)
    if upsampling == "transpose":
        return ShuffledConv2DTranspose(
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

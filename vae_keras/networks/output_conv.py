"""The decoders' last layer: a stride-1 transposed convolution to a few channels, as matmuls.

A conv decoder ends in a 3x3 stride-1 `Conv2DTranspose` from its last feature
map (say 32 channels) to the image's channels (1 for gray MNIST). XLA's CPU
convolutions are slow at so few output channels: on JAX this layer took 19 ms
of the default MNIST VAE's 128 ms training step, twice TensorFlow's time
(BENCHMARKS.md, "Conv decoder upsampling on three backends").
`TapConv2DTranspose` computes the same function as matmuls: one from the input
to every kernel tap's contribution, then a sum of shifted slices; its gradient
is written the same way (the shifted upstream gradients and two matmuls).
"""

import keras
from keras import ops

from vae_keras.networks._windows import stacked_windows


@keras.saving.register_keras_serializable(package="vae_keras")
class TapConv2DTranspose(keras.layers.Conv2DTranspose):
    """`Conv2DTranspose` that, for stride 1 and few filters, runs as matmuls over its kernel taps.

    With stride 1 and `"same"` padding, output pixel `(m, n)` sums
    `x[m + lh - i, n + lw - j] @ kernel[i, j]` over the taps `(i, j)`
    (`lh = (kh - 1) // 2`, TensorFlow's `"same"` padding, which every Keras
    backend follows). So `y = x @ W` to `kh * kw * filters` channels (one per
    tap and filter) followed by a sum of `kh * kw` shifted slices of `y` is the
    same function; the gradient takes the shifted slices of the upstream
    gradient (an array of the same `kh * kw * filters` channels) and two
    matmuls. That pays while `y` is no larger than the input, i.e.
    `kh * kw * filters <= input channels` (a gray image from 32 channels: 9 <=
    32); otherwise, and for strides, dilation, `output_padding`, `"valid"`
    padding or channels first, the layer runs Keras's `Conv2DTranspose.call`.
    Weights, config and saved files are `Conv2DTranspose`'s.

    It runs on the backends in `TAP_BACKENDS`, JAX only, as measured on a
    2-core CPU: the default MNIST VAE's step on JAX 135.8 -> 118.5 ms;
    TensorFlow unchanged in training (65.1 ms) and evaluation; torch slower
    (82.3 -> 108.0 ms).

    Example:

    >>> import numpy as np
    >>> layer = TapConv2DTranspose(1, 3, padding="same")
    >>> tuple(layer(np.zeros((2, 5, 5, 16), "float32")).shape)
    (2, 5, 5, 1)
    """

    TAP_BACKENDS = ("jax",)

    def _taps(self, input_shape) -> bool:
        kh, kw = self.kernel_size
        input_channels = input_shape[-1]
        return (
            keras.backend.backend() in self.TAP_BACKENDS
            and self.strides == (1, 1)
            and self.padding == "same"
            and self.output_padding is None
            and self.dilation_rate == (1, 1)
            and self.data_format == "channels_last"
            and None not in tuple(input_shape[1:])
            and kh * kw * self.filters <= input_channels
        )

    def call(self, inputs):
        if not self._taps(inputs.shape):
            return super().call(inputs)
        outputs = _tap_conv_transpose(inputs, self.kernel)
        if self.use_bias:
            outputs = ops.add(outputs, self.bias)
        return self.activation(outputs)


def _tap_conv_transpose(x, kernel):
    """`ops.conv_transpose(x, kernel, strides=1, padding="same")`, kernel `(kh, kw, filters, in)`."""
    kh, kw, filters, channels = kernel.shape
    lh, lw = (kh - 1) // 2, (kw - 1) // 2
    height, width = x.shape[1], x.shape[2]
    taps = kh * kw * filters
    # (in, kh * kw * filters), columns ordered tap row, tap column, filter.
    weights = ops.reshape(ops.transpose(kernel, (3, 0, 1, 2)), (channels, taps))

    @ops.custom_gradient
    def tap_conv(x, weights):
        y = ops.matmul(x, weights)
        y = ops.pad(y, [[0, 0], [kh - 1 - lh, lh], [kw - 1 - lw, lw], [0, 0]])
        out = None
        for i in range(kh):
            for j in range(kw):
                c = (i * kw + j) * filters
                term = y[:, kh - 1 - i : kh - 1 - i + height, kw - 1 - j : kw - 1 - j + width]
                term = term[..., c : c + filters]
                out = term if out is None else ops.add(out, term)

        def grad(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            padded = ops.pad(upstream, [[0, 0], [lh, kh - 1 - lh], [lw, kw - 1 - lw], [0, 0]])
            # d loss / d y: (batch, height, width, taps).
            shifted = stacked_windows(padded, kh, kw, height, width)
            d_x = ops.matmul(shifted, ops.transpose(weights))
            d_weights = ops.matmul(
                ops.transpose(ops.reshape(x, (-1, channels))), ops.reshape(shifted, (-1, taps))
            )
            return d_x, d_weights

        return out, grad

    return tap_conv(x, weights)

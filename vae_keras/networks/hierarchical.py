"""Building blocks of a deep hierarchical VAE (NVAE / VDVAE style).

- `ResidualCell`: VDVAE's bottleneck block `h + conv1x1(conv3x3(conv3x3(conv1x1(h))))`
  with swish activations; its last convolution starts at zero (`zero_init`), so
  a deep stack starts as the identity and the hierarchy trains stably.
- `pixel_shuffle`: depth-to-space (`(h, w, 4c) -> (2h, 2w, c)`), the cheap way
  from the finest latent scale to full resolution (no transposed convolution).
- `soft_clamp`: NVAE's `b * tanh(x / b)`, a bounded log-variance that keeps
  gradients (a hard clip has none outside the bounds).
"""

import keras
from keras import ops


def soft_clamp(x, bound):
    """`bound * tanh(x / bound)`: ~x near 0, smoothly bounded by ±`bound`.

    >>> import numpy as np
    >>> np.round(keras.ops.convert_to_numpy(soft_clamp(np.array([0.1, 100.0]), 5.0)), 3)
    array([0.1, 5. ], dtype=float32)
    """
    x = ops.convert_to_tensor(x, "float32")
    return bound * ops.tanh(x / bound)


def pixel_shuffle(x):
    """Depth-to-space by 2: `(batch, h, w, 4c) -> (batch, 2h, 2w, c)`."""
    _, h, w, c4 = x.shape
    c = c4 // 4
    x = ops.reshape(x, (-1, h, w, 2, 2, c))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, 2 * h, 2 * w, c))


def crop_to(x, height, width):
    """The top-left `height x width` of a feature map (upsampling rounds sizes up)."""
    if x.shape[1] == height and x.shape[2] == width:
        return x
    return x[:, :height, :width, :]


@keras.saving.register_keras_serializable(package="vae_keras")
class ResidualCell(keras.layers.Layer):
    """A bottleneck residual cell: `h + f(h)` with `f` = 1x1, 3x3, 3x3, 1x1 convolutions.

    Args:
        width: Channels in and out.
        bottleneck: Inner width as a fraction of `width` (VDVAE: 0.25).
        zero_init: Start the last convolution at zero, so the cell starts as
            the identity (VDVAE scales it down instead; zero is the limit).
        out_width: Channels out when the cell changes width (then no skip
            connection is possible and `zero_init` does not apply).

    Example:

    >>> cell = ResidualCell(8)
    >>> tuple(cell(keras.ops.ones((2, 7, 7, 8))).shape)
    (2, 7, 7, 8)
    """

    def __init__(self, width, bottleneck=0.5, zero_init=True, out_width=None, **kwargs):
        super().__init__(**kwargs)
        self.width = int(width)
        self.bottleneck = float(bottleneck)
        self.zero_init = bool(zero_init)
        self.out_width = None if out_width is None else int(out_width)
        mid = max(4, int(round(self.width * self.bottleneck)))
        out = self.out_width or self.width
        residual = self.out_width is None or self.out_width == self.width
        last_init = "zeros" if (self.zero_init and residual) else "glorot_uniform"
        self.convs = [
            keras.layers.Conv2D(mid, 1, name="in"),
            keras.layers.Conv2D(mid, 3, padding="same", name="mid_0"),
            keras.layers.Conv2D(mid, 3, padding="same", name="mid_1"),
            keras.layers.Conv2D(out, 1, kernel_initializer=last_init, name="out"),
        ]
        self.residual = residual

    def build(self, input_shape):
        shape = tuple(input_shape)
        for conv in self.convs:
            conv.build(shape)
            shape = shape[:-1] + (conv.filters,)
        self.built = True

    def call(self, h):
        x = h
        for conv in self.convs:
            x = conv(ops.silu(x))
        return h + x if self.residual else x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.out_width or self.width,)

    def get_config(self):
        return {
            **super().get_config(),
            "width": self.width,
            "bottleneck": self.bottleneck,
            "zero_init": self.zero_init,
            "out_width": self.out_width,
        }

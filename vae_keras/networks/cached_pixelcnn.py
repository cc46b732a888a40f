"""Fast sequential generation from a `PixelCNN`: one position per step, cached activations.

Drawing an image pixel by pixel with the plain network costs one pass of the
masked convolutions per pixel (over the rows a pixel can see). But every
layer's activation at position `i` depends on the pixels before `i` only (the
masks' causality), so it is final as soon as pixel `i` is about to be drawn,
and never changes afterwards. `CachedPixelCNN` therefore keeps each layer's
activations in a cache and, per step, computes every layer at the one new
position only: the visible part of each masked kernel applied to the cached
patch around it (a small matmul), as in "fast generation for convolutional
autoregressive models" (Ramachandran et al., 2017).

The numbers are those of the plain network up to float rounding (a matmul
instead of a convolution sums in another order), so seeded draws are the
same draws.
"""

import numpy as np
from keras import ops

from vae_keras.networks.autoregressive import PixelCNN, causal_mask


class _CachedLayer:
    """One `MaskedConv2D` evaluated at one position from a padded NumPy cache of its input."""

    def __init__(self, layer, batch_size, image_shape, input_channels):
        height, width = image_shape
        size = layer.kernel_size[0]
        self.pad = size // 2
        self.rows, self.cols = np.nonzero(causal_mask(size, layer.mask_type))
        kernel = ops.convert_to_numpy(ops.cast(layer.kernel, "float32"))[self.rows, self.cols]
        kernel = kernel.reshape(-1, kernel.shape[-1])
        if layer.bias is not None:  # a column of ones in the patch adds the bias
            bias = ops.convert_to_numpy(ops.cast(layer.bias, "float32"))
            kernel = np.concatenate([kernel, bias[None]])
        self.dtype = layer.compute_dtype
        self.kernel = ops.convert_to_tensor(kernel, self.dtype)
        self.activation = layer.activation
        # The layer's input, zero-padded above, left and right ("same" padding).
        self.inputs = np.zeros(
            (batch_size, height + self.pad, width + 2 * self.pad, input_channels), "float32"
        )
        self.patch = np.ones((batch_size, len(kernel)), "float32")

    def write(self, i, j, value):
        self.inputs[:, i + self.pad, j + self.pad] = value

    def at(self, i, j):
        """The layer's output at `(i, j)`, `(batch, filters)`."""
        patch = self.inputs[:, i + self.rows, j + self.cols]
        self.patch[:, : patch[0].size] = patch.reshape(len(patch), -1)
        # `@` rather than `ops.matmul`: the same backend matmul, a third of the overhead
        # (TensorFlow) on these small per-step products.
        return self.activation(ops.convert_to_tensor(self.patch, self.dtype) @ self.kernel)


class CachedPixelCNN:
    """Evaluates a `PixelCNN` one position at a time, in raster order, for generation.

    Call `logits(i, j)` for positions in raster order, and `write(i, j,
    value)` with each drawn pixel before asking for the next position: the
    returned logits equal (up to float rounding) those of `pixelcnn([x,
    features])[:, i, j]` with the pixels written so far. Each step costs one
    small matmul per layer instead of a pass of the masked convolutions.

    Args:
        pixelcnn: A `networks.PixelCNN`.
        features: The decoder's per-pixel features, `(batch, height, width,
            feature_channels)` (a tensor or array).

    Example:

    >>> import numpy as np
    >>> net = PixelCNN((4, 4, 1), feature_channels=2, filters=4, head_units=4)
    >>> f = np.ones((2, 4, 4, 2), "float32")
    >>> cached = CachedPixelCNN(net, f)
    >>> tuple(cached.logits(0, 0).shape)
    (2, 1)
    """

    def __init__(self, pixelcnn: PixelCNN, features):
        if not isinstance(pixelcnn, PixelCNN):
            raise ValueError(
                f"`pixelcnn` must be a `vae_keras.networks.PixelCNN`. Received: pixelcnn={pixelcnn!r}"
            )
        height, width, channels = pixelcnn.image_shape
        features = ops.convert_to_tensor(features)
        batch_size = int(features.shape[0])
        size = (height, width)
        self.first = _CachedLayer(pixelcnn.first, batch_size, size, channels)
        self.blocks = [
            _CachedLayer(block, batch_size, size, pixelcnn.filters) for block in pixelcnn.blocks
        ]
        # The head's terms that read the features only, for every position at once
        # (with the biases of the layers they meet), kept in NumPy.
        context, hidden, output = (
            pixelcnn.context_projection,
            pixelcnn.hidden,
            pixelcnn.head_output,
        )
        self.projected = _positions(pixelcnn.feature_projection(features) + context.bias)
        self.skipped = _positions(pixelcnn.skip(features) + output.bias)
        self.context_kernel, self.hidden_kernel, self.hidden_bias, self.output_kernel = (
            ops.cast(ops.convert_to_tensor(weight), weight.dtype if dtype is None else dtype)
            for weight, dtype in (
                (context.kernel, context.compute_dtype),
                (hidden.kernel, hidden.compute_dtype),
                (hidden.bias, hidden.compute_dtype),
                (output.kernel, output.compute_dtype),
            )
        )

    def write(self, i, j, value):
        """Records the drawn pixel `(i, j)`: `(batch, channels)`."""
        self.first.write(i, j, value)

    def logits(self, i, j):
        """The PixelCNN's outputs at `(i, j)` given the pixels written before it."""
        h = self.first.at(i, j)
        for block in self.blocks:
            block.write(i, j, ops.convert_to_numpy(ops.cast(h, "float32")))
            h = h + block.at(i, j)
        projected = ops.convert_to_tensor(self.projected[i, j], h.dtype)
        h = ops.relu(h @ self.context_kernel + projected)
        h = ops.relu(h @ self.hidden_kernel + self.hidden_bias)
        skipped = ops.convert_to_tensor(self.skipped[i, j], h.dtype)
        return h @ self.output_kernel + skipped


def _positions(tensor):
    """`(batch, height, width, c)` -> a NumPy `(height, width, batch, c)`: a step reads
    one position as a contiguous array (slicing a JAX array at a new index compiles)."""
    array = ops.convert_to_numpy(ops.cast(tensor, "float32"))
    return np.ascontiguousarray(np.transpose(array, (1, 2, 0, 3)))


def cached_generation_supported(pixelcnn) -> bool:
    """Whether `CachedPixelCNN` reproduces `pixelcnn` (the plain class, channels-last layers)."""
    layers = [pixelcnn.first, *pixelcnn.blocks]
    return type(pixelcnn) is PixelCNN and all(
        layer.data_format == "channels_last" for layer in layers
    )

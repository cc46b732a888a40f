"""Shifted windows stacked on the channel axis (im2col), for convolutions run as one matmul."""

from keras import ops


def stacked_windows(x, rows: int, cols: int, height: int, width: int):
    """`(batch, height, width, rows * cols * channels)`: window `(i, j)` is
    `x[:, i : i + height, j : j + width]`, windows in row-major order, so a
    kernel reshaped to `(rows * cols * channels, out)` multiplies them in one
    matmul (XLA's CPU matmul runs near peak, its convolutions do not)."""
    windows = [x[:, i : i + height, j : j + width] for i in range(rows) for j in range(cols)]
    return ops.concatenate(windows, axis=-1)

"""VQ-VAE-2's bottom prior: a `CodePrior` over the bottom code grid given the top codes.

The `CodePrior`'s PixelCNN already takes per-position features (its `features`
hook, one-hot class labels there). Here the condition is the whole top code
grid, known before the bottom grid is drawn, so it needs no mask: a small
conv stack reads the one-hot top codes at the top resolution (each position
sees its neighbours), nearest-neighbour upsampling takes them to the bottom
grid (cropped as the model's networks crop), and a 3x3 conv gives the
`condition_channels` features every bottom position's conditional reads
(Razavi et al. 2019 condition their bottom PixelSNAIL the same way, through a
conv stack over the top codes).
"""

from collections.abc import Sequence

import keras
from keras import ops

from vae_keras.models.code_prior import CodePrior
from vae_keras.networks._common import check_positive_int, check_shape


def upsample_to(grid, size):
    """Nearest-neighbour upsampling of `(batch, h, w, c)` by an integer factor, cropped to
    `size` = `(height, width)` centred as `networks.vq_decoder` crops."""
    height, width = grid.shape[1], grid.shape[2]
    factor_h, factor_w = -(-size[0] // height), -(-size[1] // width)
    grid = ops.repeat(ops.repeat(grid, factor_h, axis=1), factor_w, axis=2)
    crop_h, crop_w = height * factor_h - size[0], width * factor_w - size[1]
    return grid[:, crop_h // 2 : crop_h // 2 + size[0], crop_w // 2 : crop_w // 2 + size[1]]


@keras.saving.register_keras_serializable(package="vae_keras")
class ConditionedCodePrior(CodePrior):
    """`p(bottom | top) = prod_i p(b_i | b_<i, top)` over a `(height, width)` code grid.

    Train it with `VQVAE2.fit_prior` (or `compile()` then `fit((bottom, top),
    bottom)`); `nll(bottom, top)` and `sample(n, top, seed=...)` take the top
    grid where `CodePrior` takes class labels.

    Args:
        grid_shape: `(height, width)` of the bottom code grid.
        num_embeddings: Bottom codebook size.
        embedding_dim: Size of the bottom code vectors (for the codebook fingerprint).
        top_grid_shape: `(height, width)` of the top code grid (not larger).
        top_num_embeddings: Top codebook size.
        condition_channels: Channels of the features computed from the top codes.
        filters, num_layers, first_kernel_size, kernel_size, head_units: As for `CodePrior`.

    Example:

    >>> import numpy as np
    >>> prior = ConditionedCodePrior((4, 4), 8, 2, (2, 2), 5, condition_channels=4,
    ...                              filters=8, head_units=8)
    >>> bottom, top = np.zeros((3, 4, 4), "int32"), np.zeros((3, 2, 2), "int32")
    >>> tuple(prior((bottom, top)).shape), tuple(prior.nll(bottom, top).shape)
    ((3, 4, 4, 8), (3,))
    """

    def __init__(
        self,
        grid_shape: Sequence[int],
        num_embeddings: int,
        embedding_dim: int,
        top_grid_shape: Sequence[int],
        top_num_embeddings: int,
        condition_channels: int = 32,
        filters: int = 64,
        num_layers: int = 4,
        first_kernel_size: int = 7,
        kernel_size: int = 3,
        head_units: int = 128,
        name: str = "bottom_prior",
        **kwargs,
    ):
        kwargs.pop("num_classes", None)
        condition_channels = check_positive_int(condition_channels, "condition_channels")
        # `num_classes` sizes the PixelCNN's per-position features in `CodePrior`; here they
        # are the condition's channels (the class-label path is replaced by `features`).
        super().__init__(
            grid_shape,
            num_embeddings,
            embedding_dim,
            num_classes=condition_channels,
            filters=filters,
            num_layers=num_layers,
            first_kernel_size=first_kernel_size,
            kernel_size=kernel_size,
            head_units=head_units,
            name=name,
            **kwargs,
        )
        self.top_grid_shape = check_shape(top_grid_shape, "top_grid_shape", min_rank=2, max_rank=2)
        if any(t > b for t, b in zip(self.top_grid_shape, self.grid_shape, strict=True)):
            raise ValueError(
                f"The top grid {self.top_grid_shape} must not be larger than the bottom grid "
                f"{self.grid_shape}. Received: top_grid_shape={top_grid_shape!r}."
            )
        self.top_num_embeddings = check_positive_int(top_num_embeddings, "top_num_embeddings")
        self.condition_channels = condition_channels

        # === Layers: the condition stack over the one-hot top codes ===
        self.top_conv = keras.layers.Conv2D(
            condition_channels, 3, padding="same", activation="relu", name="top_conv"
        )
        self.condition_conv = keras.layers.Conv2D(
            condition_channels, 3, padding="same", name="condition_conv"
        )
        self.top_conv.build((None, *self.top_grid_shape, self.top_num_embeddings))
        self.condition_conv.build((None, *self.grid_shape, condition_channels))

    def check_top(self, top):
        """`top` as an int32 tensor, checked against the top grid's shape."""
        if top is None:
            raise ValueError(
                "The bottom prior is conditioned on the top code grid: pass the top indices."
            )
        top = ops.convert_to_tensor(top)
        if tuple(top.shape[1:]) != tuple(self.top_grid_shape):
            raise ValueError(
                f"The bottom prior is conditioned on top code grids shaped (n, "
                f"{self.top_grid_shape[0]}, {self.top_grid_shape[1]}). Received shape "
                f"{tuple(top.shape)}; pass the top grids of `encode_indices`."
            )
        return ops.cast(top, "int32")

    def features(self, labels, batch_size):
        """The PixelCNN's per-position features, computed from the top grids `labels`."""
        top = self.check_top(labels)
        one_hot = ops.one_hot(top, self.top_num_embeddings, dtype="float32")
        h = upsample_to(self.top_conv(one_hot), self.grid_shape)
        return ops.cast(self.condition_conv(h), "float32")

    def nll(self, indices, labels=None):
        """`-log p(bottom | top)` per grid, in nats (a tensor); `labels` is the top grid."""
        self.check_top(labels)  # here, where its message is not wrapped by the layer call
        logits = self((indices, labels))
        return -ops.sum(self.log_prob_terms(indices, logits), axis=(1, 2))

    def get_config(self):
        config = super().get_config()
        config.pop("num_classes")
        return {
            **config,
            "top_grid_shape": list(self.top_grid_shape),
            "top_num_embeddings": self.top_num_embeddings,
            "condition_channels": self.condition_channels,
        }

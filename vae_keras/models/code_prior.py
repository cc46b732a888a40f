"""A learned autoregressive prior over a grid of discrete codes (VQ-VAE's PixelCNN prior).

The package's `networks.PixelCNN` is reused as it is: its "image" is the
one-hot code grid `(h, w, K)` (a type-A mask hides each position's own code,
so position `i` sees the codes before it in raster order only), its outputs
are `K` logits per position (a categorical over the codebook), and its
per-position "features" carry the condition: the one-hot class label at every
position for a class-conditional prior, a constant 1 otherwise (a learned
bias through the head's linear skip).
"""

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from vae_keras.models._grid_prior import GridPrior
from vae_keras.networks.autoregressive import PixelCNN
from vae_keras.networks.cached_pixelcnn import CachedPixelCNN

SAMPLERS = ("cached", "banded", "full")


@keras.saving.register_keras_serializable(package="vae_keras")
class CodePrior(GridPrior, keras.Model):
    """`p(indices) = prod_i p(k_i | k_<i [, label])` over a `(height, width)` code grid.

    Train it with `VQVAE.fit_prior` (or `compile()` then `fit(indices, indices)`,
    `fit((indices, labels), indices)` when conditional): the loss is the
    negative log-likelihood of a grid in nats, summed over positions and
    averaged over the batch. It remembers the codebook it was fitted on
    (`fitted_codebook`), so a model can refuse to sample with a prior fitted
    on another model's codes.

    Args:
        grid_shape: `(height, width)` of the code grid.
        num_embeddings: Codebook size `K`.
        embedding_dim: Size of the code vectors (for the codebook fingerprint).
        num_classes: Classes of a class-conditional prior, or `None`.
        filters, num_layers, first_kernel_size, kernel_size, head_units:
            The `networks.PixelCNN`'s (the default sees the whole 7x7 grid
            before each position: 3 rows from the 7x7 type-A layer, then one
            per 3x3 type-B layer).

    Example:

    >>> import numpy as np
    >>> prior = CodePrior((4, 4), num_embeddings=8, embedding_dim=2, filters=8, head_units=8)
    >>> tuple(prior(np.zeros((2, 4, 4), "int32")).shape)
    (2, 4, 4, 8)
    """

    def __init__(
        self,
        grid_shape: Sequence[int],
        num_embeddings: int,
        embedding_dim: int,
        num_classes: int | None = None,
        filters: int = 64,
        num_layers: int = 4,
        first_kernel_size: int = 7,
        kernel_size: int = 3,
        head_units: int = 128,
        name: str = "code_prior",
        **kwargs,
    ):
        kwargs.pop("trainable", None)
        super().__init__(name=name, **kwargs)
        self._init_codes(grid_shape, num_embeddings, embedding_dim, num_classes)
        self.pixelcnn_config = {
            "filters": filters,
            "num_layers": num_layers,
            "first_kernel_size": first_kernel_size,
            "kernel_size": kernel_size,
            "head_units": head_units,
        }
        # === Layers ===
        self.pixelcnn = PixelCNN(
            (*self.grid_shape, self.num_embeddings),
            feature_channels=num_classes or 1,
            output_channels=self.num_embeddings,
            name="code_pixelcnn",
            **self.pixelcnn_config,
        )
        # === State: what the prior was fitted on ===
        self._init_fingerprint()
        self.built = True

    # === Network ===

    def _split(self, inputs):
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 2:
                raise ValueError(
                    f"CodePrior takes `indices` or `(indices, labels)`. Received {len(inputs)} inputs."
                )
            return inputs[0], inputs[1]
        return inputs, None

    def features(self, labels, batch_size):
        """The PixelCNN's per-position features: one-hot labels, or ones."""
        height, width = self.grid_shape
        if self.num_classes is None:
            return ops.ones((batch_size, height, width, 1), "float32")
        if labels is None:
            raise ValueError(
                f"This prior is conditioned on {self.num_classes} classes: pass `labels` "
                "(integer class ids, one per grid or one for all)."
            )
        one_hot = ops.one_hot(ops.reshape(ops.cast(labels, "int32"), (-1,)), self.num_classes)
        return ops.broadcast_to(
            ops.cast(one_hot, "float32")[:, None, None, :],
            (batch_size, height, width, self.num_classes),
        )

    def call(self, inputs, training=False):
        """Logits `(batch, height, width, K)` of each position given the codes before it."""
        indices, labels = self._split(inputs)
        indices = ops.cast(indices, "int32")
        grid = ops.one_hot(indices, self.num_embeddings, dtype="float32")
        features = self.features(labels, ops.shape(indices)[0])
        return ops.cast(self.pixelcnn([grid, features], training=training), "float32")

    def log_prob_terms(self, indices, logits):
        """`log p(k_i | k_<i)` per position, `(batch, height, width)`."""
        log_probs = ops.log_softmax(logits, axis=-1)
        one_hot = ops.one_hot(ops.cast(indices, "int32"), self.num_embeddings, dtype="float32")
        return ops.sum(log_probs * one_hot, axis=-1)

    def nll(self, indices, labels=None):
        """`-log p(indices [| labels])` per grid, in nats (a tensor)."""
        logits = self((indices, labels) if self.num_classes else indices)
        return -ops.sum(self.log_prob_terms(indices, logits), axis=(1, 2))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Mean over the batch of each grid's NLL in nats (the Keras trainers call this)."""
        indices = y if y is not None else self._split(x)[0]
        loss = -ops.mean(ops.sum(self.log_prob_terms(indices, y_pred), axis=(1, 2)))
        return loss + ops.sum(self.losses) if self.losses else loss

    # === Sampling (sequential over positions) ===

    samplers = SAMPLERS

    def sample(
        self,
        num_samples: int,
        labels=None,
        seed=None,
        temperature: float = 1.0,
        sampler: str = "cached",
        top_k: int | None = None,
    ):
        """Draws `(num_samples, height, width)` int32 grids, one position at a time.

        `temperature` divides the logits; `top_k` keeps the k likeliest codes.
        `sampler="cached"` (the default) computes each layer at the new position
        only (`networks.CachedPixelCNN`); `"banded"` (or `"full"`) reruns the
        PixelCNN on the rows a position can see. Both draw the same grids for a seed.
        """
        self.check_sampling(sampler, top_k)
        height, width = self.grid_shape
        indices = np.zeros((num_samples, height, width), "int32")
        generator = keras.random.SeedGenerator(seed)
        reach = self.pixelcnn.receptive_rows
        features = self.features(labels, num_samples)
        cached = CachedPixelCNN(self.pixelcnn, features) if sampler == "cached" else None
        eye = np.eye(self.num_embeddings, dtype="float32")
        for i in range(height):
            top = max(0, i - reach)
            for j in range(width):
                if cached is not None:
                    logits = cached.logits(i, j)
                else:
                    grid = ops.one_hot(
                        indices[:, top : i + 1], self.num_embeddings, dtype="float32"
                    )
                    logits = self.pixelcnn([grid, features[:, top : i + 1]])[:, i - top, j]
                indices[:, i, j] = self.draw_codes(logits, generator, temperature, top_k)
                if cached is not None:
                    cached.write(i, j, eye[indices[:, i, j]])
        return indices

    # === Config ===

    def get_config(self):
        return {
            "name": self.name,
            "grid_shape": list(self.grid_shape),
            "num_embeddings": self.num_embeddings,
            "embedding_dim": self.embedding_dim,
            "num_classes": self.num_classes,
            **self.pixelcnn_config,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("dtype", None)
        return cls(**config)

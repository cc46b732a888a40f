"""What every prior over a VQ code grid shares: the contract `VQVAE` relies on.

A grid prior (`CodePrior`, `TransformerPrior`) is a `keras.Model` with `grid_shape`,
`num_embeddings`, `embedding_dim`, `num_classes`; trained by `fit(inputs, indices)`
(its `compute_loss` is the NLL of a grid in nats); `nll(indices, condition)`;
`sample(num_samples, condition, seed, temperature, sampler, top_k)`. `GridPrior` adds
the parts they share: the condition from `labels` / `captions`, the codebook
fingerprint (so a model refuses a prior fitted on other codes), and the sampling step.
"""

import keras
import numpy as np
from keras import ops

_FILTERED = -1e9  # logits outside the top k: exp() of it is exactly 0 in float32


class GridPrior:
    """Mixin of the grid priors (with `keras.Model`): condition, fingerprint, sampling step."""

    samplers = ("cached", "full")

    def _init_codes(self, grid_shape, num_embeddings, embedding_dim, num_classes):
        """Checks and sets what the prior models: the grid, the codebook, the classes."""
        from vae_keras.networks._common import check_positive_int, check_shape

        self.grid_shape = check_shape(grid_shape, "grid_shape", min_rank=2, max_rank=2)
        self.num_embeddings = check_positive_int(num_embeddings, "num_embeddings")
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        if num_classes is not None:
            check_positive_int(num_classes, "num_classes")
        self.num_classes = num_classes

    # === The condition ===

    @property
    def takes_captions(self) -> bool:
        """Whether the prior reads captions (it has a tokenizer)."""
        return False

    def encode_captions(self, captions, num: int):
        raise ValueError(
            f"This {type(self).__name__} takes no captions. Build the model with "
            "VQVAE(..., prior='transformer') to condition on captions."
        )

    def condition(self, num: int, labels=None, captions=None):
        """The prior's condition for `num` grids (NumPy int32), or `None` when unconditional."""
        if captions is not None:
            if labels is not None:
                raise ValueError("Pass `labels` or `captions`, not both.")
            return self.encode_captions(captions, num)
        if self.num_classes is None:
            if labels is not None:
                raise ValueError(
                    "This VQVAE's prior is unconditional; `labels` apply only to a model "
                    f"built with num_classes. Received labels of shape {np.shape(labels)}."
                )
            return None
        if labels is None:
            raise ValueError(
                f"This VQVAE's prior is conditioned on {self.num_classes} classes: pass `labels`."
            )
        labels = np.asarray(labels)
        if labels.ndim == 0:
            labels = np.full(num, labels)
        if labels.shape != (num,) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"`labels` must be integer class ids, one per example ({num}) or one "
                f"for all. Received shape {labels.shape}, dtype {labels.dtype}."
            )
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(
                f"`labels` must lie in [0, {self.num_classes}). Received values from "
                f"{labels.min()} to {labels.max()}."
            )
        return labels.astype("int32")

    # === Sampling ===

    def check_sampling(self, sampler, top_k):
        if sampler not in self.samplers:
            raise ValueError(
                f"`sampler` must be one of {self.samplers}. Received: sampler={sampler!r}"
            )
        if top_k is not None and not (
            isinstance(top_k, (int, np.integer)) and 1 <= top_k <= self.num_embeddings
        ):
            raise ValueError(
                f"`top_k` must be None or an integer in [1, {self.num_embeddings}]. "
                f"Received: top_k={top_k!r}"
            )

    def draw_codes(self, logits, generator, temperature=1.0, top_k=None):
        """One categorical draw per row of `logits` (`(batch, K)`): NumPy int32 `(batch,)`.

        `temperature` divides the logits; `top_k` keeps the k largest (ties kept).
        """
        step = ops.cast(logits, "float32") / temperature
        if top_k is not None:
            kth = ops.top_k(step, top_k)[0][:, -1:]
            step = ops.where(step < kth, _FILTERED, step)
        draw = keras.random.categorical(step, 1, seed=generator, dtype="int32")
        return ops.convert_to_numpy(draw)[:, 0]

    # === Fingerprint: what the prior was fitted on ===

    def _init_fingerprint(self):
        state = {"trainable": False, "autocast": False, "dtype": "float32"}
        self.fitted_codebook = self.add_weight(
            shape=(self.num_embeddings, self.embedding_dim),
            initializer="zeros",
            name="fitted_codebook",
            **state,
        )
        self.fitted = self.add_weight(shape=(), initializer="zeros", name="fitted", **state)

    def remember_codebook(self, codebook):
        # A copy (on JAX two variables must not share one buffer).
        self.fitted_codebook.assign(ops.copy(ops.cast(ops.convert_to_tensor(codebook), "float32")))
        self.fitted.assign(1.0)

    def is_fitted(self) -> bool:
        return bool(ops.convert_to_numpy(self.fitted) > 0)

    def matches_codebook(self, codebook, tolerance: float = 1e-4) -> bool:
        """Whether `codebook` is (within `tolerance`, relative) the one it was fitted on."""
        fitted = np.asarray(ops.convert_to_numpy(self.fitted_codebook), "float64")
        codebook = np.asarray(ops.convert_to_numpy(codebook), "float64")
        if fitted.shape != codebook.shape:
            return False
        scale = max(float(np.abs(codebook).max()), 1e-12)
        return float(np.abs(fitted - codebook).max()) <= tolerance * scale

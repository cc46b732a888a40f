"""`VQVAE`'s learned prior: fitting it on the codes, its NLL, the log p(x) bound, sampling."""

import keras
import numpy as np
from keras import ops

from vae_keras.models.code_prior import CodePrior
from vae_keras.validation import check_positive_int


def check_prior(prior, grid, quantizer, num_classes):
    """Checks that `prior` models this grid, codebook and condition."""
    if not isinstance(prior, CodePrior):
        raise ValueError(
            f"`prior` must be a `vae_keras.models.CodePrior` or None. Received: prior={prior!r}"
        )
    wanted = (tuple(grid[:2]), quantizer.num_embeddings, quantizer.embedding_dim, num_classes)
    found = (tuple(prior.grid_shape), prior.num_embeddings, prior.embedding_dim, prior.num_classes)
    if wanted != found:
        raise ValueError(
            "The prior does not fit this model: (grid_shape, num_embeddings, embedding_dim, "
            f"num_classes) is {found} for the prior and {wanted} for the model. Build it with "
            f"CodePrior({wanted[0]}, {wanted[1]}, {wanted[2]}, num_classes={wanted[3]}), or "
            "pass prior=None."
        )


class PriorMethods:
    """The prior's part of `VQVAE` (a mixin: it reads `self.prior`, `self.quantizer`,
    `self.prior_classes`, `self.grid_shape` and the model's inference helpers)."""

    # === The prior ===

    def _prior_inputs(self, indices, labels):
        if self.prior_classes is None:
            if labels is not None:
                raise ValueError(
                    "This VQVAE's prior is unconditional; `labels` apply only to a model "
                    f"built with num_classes. Received labels of shape {np.shape(labels)}."
                )
            return indices
        if labels is None:
            raise ValueError(
                f"This VQVAE's prior is conditioned on {self.prior_classes} classes: pass `labels`."
            )
        labels = np.asarray(labels)
        if labels.ndim == 0:
            labels = np.full(len(indices), labels)
        if labels.shape != (len(indices),) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"`labels` must be integer class ids, one per example ({len(indices)}) or one "
                f"for all. Received shape {labels.shape}, dtype {labels.dtype}."
            )
        if labels.size and (labels.min() < 0 or labels.max() >= self.prior_classes):
            raise ValueError(
                f"`labels` must lie in [0, {self.prior_classes}). Received values from "
                f"{labels.min()} to {labels.max()}."
            )
        return (indices, labels.astype("int32"))

    def fit_prior(
        self,
        x,
        labels=None,
        epochs: int = 10,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        validation_data=None,
        verbose="auto",
        **kwargs,
    ):
        """Trains the prior on the code grids of images `x` (the model's encoder).

        `labels` (one class id per image) are required for a class-conditional
        prior (`num_classes`). `validation_data` is `x_val` or `(x_val,
        labels_val)`. Returns the `History`: `loss` (and `val_loss`) is the
        prior's NLL of a grid in nats per image.
        """
        epochs = check_positive_int(epochs, "epochs")
        indices = self.encode_indices(x)
        inputs = self._prior_inputs(indices, labels)
        if validation_data is not None:
            vx, vy = (
                tuple(validation_data) + (None,)
                if isinstance(validation_data, (tuple, list))
                else (validation_data, None)
            )[:2]
            v_indices = self.encode_indices(vx)
            validation_data = (self._prior_inputs(v_indices, vy), v_indices)
        self.prior.trainable = True
        try:
            self.prior.compile(optimizer=keras.optimizers.Adam(learning_rate))
            history = self.prior.fit(
                inputs,
                indices,
                epochs=epochs,
                batch_size=batch_size,
                validation_data=validation_data,
                verbose=verbose,
                **kwargs,
            )
        finally:
            self.prior.trainable = False
        self.prior.remember_codebook(self.quantizer.embeddings)
        return history

    def _check_prior_ready(self):
        if not self.prior.is_fitted():
            raise ValueError(
                "The prior over codes has not been trained yet. Call "
                "`model.fit_prior(x_train)` (after `fit`) before `sample`, `prior_nll` or "
                "`nll_bound`."
            )
        if not self.prior.matches_codebook(self.quantizer.embeddings):
            raise ValueError(
                "The prior was fitted on other codes than this model's: the codebook changed "
                "since `fit_prior` (more training), or the prior comes from another model. "
                "Call `model.fit_prior(x_train)` again."
            )

    def prior_nll(self, x=None, labels=None, indices=None, batch_size: int = 256) -> np.ndarray:
        """`-log p(indices)` per example in nats, of `x`'s codes (or of `indices`)."""
        self._check_prior_ready()
        indices = self.encode_indices(x) if indices is None else self.check_indices(indices)
        inputs = self._prior_inputs(indices, labels)
        arrays = [indices] if self.prior_classes is None else [indices, inputs[1]]
        return self._batched(
            lambda ib, lb=None: ops.convert_to_numpy(self.prior.nll(ib, lb)), arrays, batch_size
        )

    def nll_bound(self, x, labels=None, batch_size: int = 256) -> np.ndarray:
        """Upper bound on `-log p(x)` per example, in nats: reconstruction NLL + prior NLL."""
        x = self.check_inputs(x)
        self._check_prior_ready()
        reconstruction = self._batched(
            lambda xb: ops.convert_to_numpy(self.compute_losses_per_example(xb)), [x], batch_size
        )
        return reconstruction + self.prior_nll(x, labels, batch_size=batch_size)

    def compute_losses_per_example(self, x):
        """`-log p(x | z_q)` per example (a tensor)."""
        outputs = self.decoder(self.quantizer.quantize_vectors(self.encoder(x))["quantized"])
        return self.reconstruction_nll(x, outputs)

    def sample_indices(
        self, num_samples: int, labels=None, seed: int | None = None, temperature=1.0
    ):
        """Draws index grids `(n, height, width)` from the prior."""
        num_samples = check_positive_int(num_samples, "num_samples")
        self._check_prior_ready()
        if seed is None:
            draw = keras.random.randint((), 0, 2**31 - 1, seed=self.prior_seed_generator)
            seed = int(ops.convert_to_numpy(draw))
        placeholder = np.zeros((num_samples, *self.grid_shape), "int32")
        inputs = self._prior_inputs(placeholder, labels)
        labels = None if self.prior_classes is None else inputs[1]
        return self.prior.sample(num_samples, labels, seed=seed, temperature=temperature)

    def sample(self, num_samples: int, labels=None, seed: int | None = None, batch_size: int = 256):
        """Draws code grids from the prior (sequentially) and decodes them, as NumPy.

        `labels`: class ids (one, or one per sample) for a class-conditional prior.
        """
        return self.decode_indices(
            self.sample_indices(num_samples, labels, seed), batch_size=batch_size
        )

"""`VQVAE`'s learned prior: fitting it on the codes, its NLL, the log p(x) bound, sampling."""

import keras
import numpy as np
from keras import ops

from vae_keras.models._grid_prior import GridPrior
from vae_keras.models.code_prior import CodePrior
from vae_keras.models.transformer_prior import TransformerPrior
from vae_keras.validation import check_positive_int

# `VQVAE(prior=NAME)`: each builds a prior for (grid_shape, num_embeddings, embedding_dim,
# num_classes); the prior object carries its behaviour from there.
PRIORS = {
    "pixelcnn": lambda *args: CodePrior(*args),
    "transformer": TransformerPrior.for_codes,
}


def get_prior(identifier, grid, quantizer, num_classes):
    """The prior of `VQVAE(prior=identifier)`: None or a name of `PRIORS`, or a prior object."""
    if identifier is None:
        identifier = "pixelcnn"
    if isinstance(identifier, str):
        if identifier not in PRIORS:
            raise ValueError(
                f"`prior` must be one of {tuple(PRIORS)}, a prior object or None. "
                f"Received: prior={identifier!r}"
            )
        return PRIORS[identifier](
            tuple(grid[:2]), quantizer.num_embeddings, quantizer.embedding_dim, num_classes
        )
    return identifier


def check_prior(prior, grid, quantizer, num_classes):
    """Checks that `prior` is a grid prior of this grid, codebook and condition."""
    if not isinstance(prior, GridPrior):
        raise ValueError(
            "`prior` must be 'pixelcnn', 'transformer', a grid prior object (`CodePrior`, "
            f"`TransformerPrior`) or None. Received: prior={prior!r}"
        )
    wanted = (tuple(grid[:2]), quantizer.num_embeddings, quantizer.embedding_dim, num_classes)
    found = (tuple(prior.grid_shape), prior.num_embeddings, prior.embedding_dim, prior.num_classes)
    if wanted != found:
        raise ValueError(
            "The prior does not fit this model: (grid_shape, num_embeddings, embedding_dim, "
            f"num_classes) is {found} for the prior and {wanted} for the model. Build it with "
            f"{type(prior).__name__}({wanted[0]}, {wanted[1]}, {wanted[2]}, "
            f"num_classes={wanted[3]}), or pass prior=None."
        )


class PriorMethods:
    """The prior's part of `VQVAE` (a mixin: it reads `self.prior`, `self.quantizer`,
    `self.grid_shape` and the model's inference helpers). What a condition is (class
    labels, captions) is the prior's business: `self.prior.condition(n, labels, captions)`."""

    # === The prior ===

    def _prior_inputs(self, indices, labels=None, captions=None):
        """`indices`, or `(indices, condition)` when the prior is conditioned."""
        condition = self.prior.condition(len(indices), labels=labels, captions=captions)
        return indices if condition is None else (indices, condition)

    def fit_prior(
        self,
        x,
        labels=None,
        captions=None,
        epochs: int = 10,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        validation_data=None,
        verbose="auto",
        **kwargs,
    ):
        """Trains the prior on the code grids of images `x` (the model's encoder).

        `labels` (one class id per image) are required for a class-conditional
        prior (`num_classes`); `captions` (one string per image, or one for
        all) for a prior that reads them (`prior="transformer"`).
        `validation_data` is `x_val` or `(x_val, labels_val)` (`(x_val,
        captions_val)` for a caption prior). Returns the `History`: `loss` (and `val_loss`) is the
        prior's NLL of a grid in nats per image.
        """
        epochs = check_positive_int(epochs, "epochs")
        indices = self.encode_indices(x)
        inputs = self._prior_inputs(indices, labels, captions)
        if validation_data is not None:
            vx, vy = (
                tuple(validation_data) + (None,)
                if isinstance(validation_data, (tuple, list))
                else (validation_data, None)
            )[:2]
            v_indices = self.encode_indices(vx)
            condition = {"captions" if self.prior.takes_captions else "labels": vy}
            validation_data = (self._prior_inputs(v_indices, **condition), v_indices)
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

    def prior_nll(
        self, x=None, labels=None, indices=None, batch_size: int = 256, captions=None
    ) -> np.ndarray:
        """`-log p(indices)` per example in nats, of `x`'s codes (or of `indices`)."""
        self._check_prior_ready()
        indices = self.encode_indices(x) if indices is None else self.check_indices(indices)
        inputs = self._prior_inputs(indices, labels, captions)
        arrays = list(inputs) if isinstance(inputs, tuple) else [indices]
        return self._batched(
            lambda ib, lb=None: ops.convert_to_numpy(self.prior.nll(ib, lb)), arrays, batch_size
        )

    def nll_bound(self, x, labels=None, batch_size: int = 256, captions=None) -> np.ndarray:
        """Upper bound on `-log p(x)` per example, in nats: reconstruction NLL + prior NLL."""
        x = self.check_inputs(x)
        self._check_prior_ready()
        reconstruction = self._batched(
            lambda xb: ops.convert_to_numpy(self.compute_losses_per_example(xb)), [x], batch_size
        )
        return reconstruction + self.prior_nll(x, labels, batch_size=batch_size, captions=captions)

    def compute_losses_per_example(self, x):
        """`-log p(x | z_q)` per example (a tensor)."""
        outputs = self.decoder(self.quantizer.quantize_vectors(self.encoder(x))["quantized"])
        return self.reconstruction_nll(x, outputs)

    def sample_indices(
        self,
        num_samples: int,
        labels=None,
        seed: int | None = None,
        temperature=1.0,
        *,
        captions=None,
        sampler: str = "cached",
        top_k: int | None = None,
    ):
        """Draws index grids `(n, height, width)` from the prior (see `sample`)."""
        num_samples = check_positive_int(num_samples, "num_samples")
        self._check_prior_ready()
        if seed is None:
            draw = keras.random.randint((), 0, 2**31 - 1, seed=self.prior_seed_generator)
            seed = int(ops.convert_to_numpy(draw))
        condition = self.prior.condition(num_samples, labels=labels, captions=captions)
        return self.prior.sample(
            num_samples, condition, seed=seed, temperature=temperature, sampler=sampler, top_k=top_k
        )

    def sample(
        self,
        num_samples: int,
        labels=None,
        captions=None,
        seed: int | None = None,
        temperature: float = 1.0,
        sampler: str = "cached",
        top_k: int | None = None,
        batch_size: int = 256,
    ):
        """Draws code grids from the prior (sequentially) and decodes them, as NumPy.

        `labels`: class ids (one, or one per sample) for a class-conditional prior;
        `captions`: one string (for all) or one per sample, for a prior that reads
        them. `temperature` divides the logits, `top_k` keeps the k likeliest codes.
        `sampler`: `"cached"` (the default; one position's work per code) or `"full"`
        (reruns the prior's network): the same draws for a seed.
        """
        indices = self.sample_indices(
            num_samples,
            labels,
            seed,
            temperature,
            captions=captions,
            sampler=sampler,
            top_k=top_k,
        )
        return self.decode_indices(indices, batch_size=batch_size)

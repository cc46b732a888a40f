"""`VQVAE2`'s two priors: fitting them on the codes, their NLL, the log p(x) bound and
top-down sampling.

    p(top, bottom) = p(top) p(bottom | top)

`top_prior` is a `CodePrior` over the top grid (unconditional), `bottom_prior` a
`ConditionedCodePrior` over the bottom grid given the whole top grid. Sampling
draws the top grid position by position, then the bottom grid given it.
"""

import keras
import numpy as np
from keras import ops

from vae_keras.validation import check_positive_int


def _check_temperature(temperature):
    try:
        value = float(temperature)
    except (TypeError, ValueError):
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ValueError(
            f"`temperature` must be a finite number > 0 (1.0 samples the prior as trained). "
            f"Received: temperature={temperature!r}"
        )
    return value


def _fit_one(prior, inputs, targets, validation, learning_rate, **kwargs):
    prior.trainable = True
    try:
        prior.compile(optimizer=keras.optimizers.Adam(learning_rate))
        return prior.fit(inputs, targets, validation_data=validation, **kwargs)
    finally:
        prior.trainable = False


class TwoLevelPriorMethods:
    """The priors' part of `VQVAE2` (a mixin: it reads `top_prior`, `bottom_prior`, the
    two quantizers and the model's inference helpers)."""

    def fit_prior(
        self,
        x,
        epochs: int = 10,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        validation_data=None,
        verbose="auto",
        **kwargs,
    ) -> dict:
        """Trains both priors on the code grids of images `x` (the model's encoders):
        the top prior on the top grids, the bottom prior on the bottom grids given the top.

        `validation_data` is images `x_val`. Returns `{"top": History, "bottom": History}`:
        each `loss` (and `val_loss`) is that prior's NLL of a grid in nats per image.
        `initial_epoch` (a resumed fitting) counts the top prior's epochs, then the
        bottom prior's: from 0 to `2 * epochs`.
        """
        epochs = check_positive_int(epochs, "epochs")
        initial = kwargs.pop("initial_epoch", 0)
        if (
            isinstance(initial, bool)
            or not isinstance(initial, int)
            or not 0 <= initial <= 2 * epochs
        ):
            raise ValueError(
                f"`initial_epoch` counts the top prior's {epochs} epochs, then the bottom "
                f"prior's {epochs}: an integer in [0, {2 * epochs}]. Received: "
                f"initial_epoch={initial!r}. Pass the epochs already fitted (0 to start)."
            )
        top, bottom = self.encode_indices(x)
        top_val = bottom_val = None
        if validation_data is not None:
            v_top, v_bottom = self.encode_indices(validation_data)
            top_val, bottom_val = (v_top, v_top), ((v_bottom, v_top), v_bottom)
        options = {"epochs": epochs, "batch_size": batch_size, "verbose": verbose, **kwargs}
        histories = {
            "top": _fit_one(
                self.top_prior,
                top,
                top,
                top_val,
                learning_rate,
                initial_epoch=min(initial, epochs),
                **options,
            ),
            "bottom": _fit_one(
                self.bottom_prior,
                (bottom, top),
                bottom,
                bottom_val,
                learning_rate,
                initial_epoch=max(0, initial - epochs),
                **options,
            ),
        }
        self.top_prior.remember_codebook(self.top_quantizer.embeddings)
        self.bottom_prior.remember_codebook(self.bottom_quantizer.embeddings)
        return histories

    def prior_is_fitted(self) -> bool:
        """Whether `fit_prior` has trained both priors over codes (`sample` needs them)."""
        return self.top_prior.is_fitted() and self.bottom_prior.is_fitted()

    def _check_prior_ready(self):
        for level, prior, quantizer in (
            ("top", self.top_prior, self.top_quantizer),
            ("bottom", self.bottom_prior, self.bottom_quantizer),
        ):
            if not prior.is_fitted():
                raise ValueError(
                    f"The {level} prior over codes has not been trained yet. Call "
                    "`model.fit_prior(x_train)` (after `fit`) before `sample`, `prior_nll` or "
                    "`nll_bound`."
                )
            if not prior.matches_codebook(quantizer.embeddings):
                raise ValueError(
                    f"The {level} prior was fitted on other codes than this model's: the "
                    "codebook changed since `fit_prior` (more training). Call "
                    "`model.fit_prior(x_train)` again."
                )

    def prior_nll(
        self, x=None, indices=None, batch_size: int = 256, by_level: bool = False
    ) -> np.ndarray:
        """`-log p(top) - log p(bottom | top)` per example in nats, of `x`'s codes (or of
        `indices` = `(top, bottom)`); with `by_level=True`, the pair `(top, bottom)` of terms."""
        self._check_prior_ready()
        if (x is None) == (indices is None):
            raise ValueError("Pass either images `x` or `indices=(top, bottom)`, not both.")
        top, bottom = self.encode_indices(x) if indices is None else self.check_indices(*indices)

        def terms(tb, bb):
            top_nll = ops.convert_to_numpy(self.top_prior.nll(tb))
            return top_nll, ops.convert_to_numpy(self.bottom_prior.nll(bb, tb))

        top_nll, bottom_nll = self._batched(terms, [top, bottom], batch_size)
        return (top_nll, bottom_nll) if by_level else top_nll + bottom_nll

    def nll_bound(self, x, batch_size: int = 256) -> np.ndarray:
        """Upper bound on `-log p(x)` per example, in nats: reconstruction NLL + the top
        prior's NLL of the top codes + the bottom prior's NLL of the bottom codes given them."""
        x = self.check_inputs(x)
        self._check_prior_ready()
        reconstruction = self._batched(
            lambda xb: ops.convert_to_numpy(self.compute_losses_per_example(xb)), [x], batch_size
        )
        return reconstruction + self.prior_nll(x, batch_size=batch_size)

    def sample_indices(self, num_samples: int, seed: int | None = None, temperature=1.0):
        """Draws `(top, bottom)` index grids from the priors, top first (int32 NumPy)."""
        num_samples = check_positive_int(num_samples, "num_samples")
        temperature = _check_temperature(temperature)
        self._check_prior_ready()
        if seed is None:
            draw = keras.random.randint((), 0, 2**31 - 2, seed=self.prior_seed_generator)
            seed = int(ops.convert_to_numpy(draw))
        top = self.top_prior.sample(num_samples, None, seed=seed, temperature=temperature)
        bottom = self.bottom_prior.sample(num_samples, top, seed=seed + 1, temperature=temperature)
        return top, bottom

    def sample(
        self, num_samples: int, seed: int | None = None, temperature=1.0, batch_size: int = 256
    ):
        """Draws code grids top-down from the priors and decodes them, as NumPy.

        `temperature` divides both priors' logits (below 1: more typical samples). With
        `seed` the same call returns the same samples.
        """
        return self.decode_indices(
            *self.sample_indices(num_samples, seed, temperature), batch_size=batch_size
        )

"""Annealing of a `GumbelQuantizer`'s relaxation temperature (DALL-E: 1 to 1/16)."""

import keras
import numpy as np

from vae_keras.callbacks._common import _check_count, _is_number
from vae_keras.gumbel_quantizer import GumbelQuantizer

UPDATE_FREQS = ("batch", "epoch")


class GumbelTemperatureSchedule(keras.callbacks.Callback):
    """Exponential annealing of a `GumbelQuantizer`'s `temperature`.

    With `t` the training step (batch) counted from 0 and `T` the anneal
    length in steps:

        temperature_t = start * (end / start) ** min(1, t / T)

    so it falls geometrically from `start` to `end` and stays there (DALL-E
    anneals from 1 to 1/16). The value is assigned to the quantizer's
    temperature variable before each batch (`update_freq="batch"`) or each
    epoch (`"epoch"`, where `t` counts epochs and `T = epochs`), and logged
    as `temperature` (in `History` too). Steps count from `initial_epoch`,
    so a resumed `fit` continues the schedule; without a known
    `steps_per_epoch` it updates once per epoch.

    Args:
        start: Temperature at step 0 (> 0).
        end: Final temperature (> 0).
        steps, epochs: Length of the anneal (give one).
        quantizer: The `GumbelQuantizer` to anneal (default: the model's
            `quantizer`, as `VQVAE` has).
        update_freq: `"batch"` or `"epoch"`.

    Example:

    >>> schedule = GumbelTemperatureSchedule(start=1.0, end=1 / 16, steps=1000)
    >>> schedule.value(0), schedule.value(500), schedule.value(5000)
    (1.0, 0.25, 0.0625)
    """

    def __init__(
        self,
        start: float = 1.0,
        end: float = 1.0 / 16,
        steps: int | None = None,
        epochs: int | None = None,
        quantizer: GumbelQuantizer | None = None,
        update_freq: str = "batch",
    ):
        super().__init__()
        for name, value in (("start", start), ("end", end)):
            if not _is_number(value) or not np.isfinite(value) or value <= 0:
                raise ValueError(
                    f"`{name}` must be a finite temperature > 0. Received: {name}={value!r}. "
                    "DALL-E anneals from start=1.0 to end=1/16."
                )
        if (steps is None) == (epochs is None):
            raise ValueError(
                "GumbelTemperatureSchedule needs exactly one of `steps` or `epochs`. "
                f"Received: steps={steps!r}, epochs={epochs!r}"
            )
        if update_freq not in UPDATE_FREQS:
            raise ValueError(
                f"`update_freq` must be one of {UPDATE_FREQS}. Received: update_freq={update_freq!r}"
            )
        if quantizer is not None:
            _check_quantizer(quantizer, "quantizer")
        self.start, self.end = float(start), float(end)
        self.steps = _check_count(steps, "steps", 1, allow_none=True)
        self.epochs = _check_count(epochs, "epochs", 1, allow_none=True)
        self.quantizer = quantizer
        self.update_freq = update_freq
        self.values = []  # (step, temperature) each time it is set
        self.current = None
        # Before `fit` (and for the docstring): lengths in steps when given in steps.
        self._length = float(self.steps or self.epochs)

    def value(self, step: int) -> float:
        """The temperature at step `step` (batches, or epochs with per-epoch updates)."""
        progress = min(1.0, step / self._length)
        return self.start * (self.end / self.start) ** progress

    def on_train_begin(self, logs=None):
        if self.quantizer is None:
            self.quantizer = _check_quantizer(getattr(self.model, "quantizer", None), "model")
        steps = (self.params or {}).get("steps")
        self._steps_per_epoch = int(steps) if steps else None
        self._per_batch = self.update_freq == "batch" and self._steps_per_epoch is not None
        if self._per_batch:
            self._length = float(self.steps or self.epochs * self._steps_per_epoch)
        elif self.epochs is not None:
            self._length = float(self.epochs)
        elif self._steps_per_epoch is not None:
            self._length = max(1.0, self.steps / self._steps_per_epoch)
        else:
            raise ValueError(
                f"GumbelTemperatureSchedule got `steps={self.steps}`, but this fit does not know "
                "its steps per epoch, so the schedule updates once per epoch. Pass `epochs`."
            )
        self._epoch_start = 0

    def _set(self, step):
        temperature = self.value(step)
        if temperature != self.current:
            # During a JAX `fit` the live variable values sit in the trainer's state: sync them
            # back first, so the next step re-reads the variables, this one included.
            if keras.backend.backend() == "jax":
                self.model.jax_state_sync()
            self.quantizer.temperature.assign(temperature)
        self.current = temperature
        self.values.append((step, temperature))

    def on_epoch_begin(self, epoch, logs=None):
        if self._per_batch:
            self._epoch_start = epoch * self._steps_per_epoch
        else:
            self._set(epoch)

    def on_train_batch_begin(self, batch, logs=None):
        if self._per_batch:
            self._set(self._epoch_start + batch)

    def on_train_batch_end(self, batch, logs=None):
        if logs is not None and self.current is not None:
            logs["temperature"] = self.current

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.current is not None:
            logs["temperature"] = self.current


def _check_quantizer(quantizer, where):
    if not isinstance(quantizer, GumbelQuantizer):
        found = type(quantizer).__name__ if where == "model" else repr(quantizer)
        raise ValueError(
            "GumbelTemperatureSchedule anneals a `GumbelQuantizer`; the "
            + ("model's `quantizer` is a " if where == "model" else "`quantizer` given is ")
            + f"{found}. Pass quantizer=... or use it with a VQVAE built on a GumbelQuantizer."
        )
    return quantizer

"""KL warm-up and cyclical annealing of a model's `beta`."""

import keras
import numpy as np

from vae_keras.callbacks._common import _check_count, _is_number
from vae_keras.callbacks._schedule import StepSchedule
from vae_keras.models.capabilities import require

SCHEDULES = ("linear", "cyclical")
UPDATE_FREQS = ("batch", "epoch")


class BetaSchedule(StepSchedule):
    """KL warm-up and cyclical annealing of the model's `beta`.

    With `t` the training step (batch) counted from 0, `T` the ramp length
    in steps, and `target` the final beta (default: the model's `beta` when
    training starts):

    - `"linear"` (warm-up, Bowman et al. 2016):
      `beta_t = start + (target - start) * min(1, t / T)`,
      `T = warmup_steps` or `warmup_epochs * steps_per_epoch`.
    - `"cyclical"` (Fu et al. 2019): `num_cycles` cycles of length `P`
      (`cycle_steps`, `cycle_epochs * steps_per_epoch`, or the whole run
      divided by `num_cycles`); within a cycle, beta rises linearly for the
      first `ratio * P` steps, then stays at `target`:
      `beta_t = start + (target - start) * min(1, (t mod P) / (ratio * P))`;
      after the last cycle it stays at `target`.

    The value is set with `model.beta = value` before each batch
    (`update_freq="batch"`) or each epoch (`"epoch"`, where `t` counts
    epochs and `*_epochs` lengths are in epochs), and logged as `beta`
    (in `History` too). Steps are counted from `initial_epoch`, so a resumed
    `fit` continues the schedule. Without a known `steps_per_epoch` the
    update falls back to once per epoch.

    Args:
        schedule: `"linear"` or `"cyclical"`.
        warmup_epochs, warmup_steps: Length of the linear ramp (give one).
        num_cycles: Cycles of the cyclical schedule.
        ratio: Fraction of each cycle spent increasing, in (0, 1].
        cycle_epochs, cycle_steps: Cycle length (default: run / num_cycles).
        target: Final beta (default: the model's beta at train begin).
        start: Beta at the start of a ramp.
        update_freq: `"batch"` or `"epoch"`.

    Example:

    >>> warmup = BetaSchedule("linear", warmup_epochs=10)
    >>> annealing = BetaSchedule("cyclical", num_cycles=4, ratio=0.5)
    """

    log_name = "beta"

    def __init__(
        self,
        schedule: str = "linear",
        warmup_epochs: int | None = None,
        warmup_steps: int | None = None,
        num_cycles: int = 4,
        ratio: float = 0.5,
        cycle_epochs: int | None = None,
        cycle_steps: int | None = None,
        target: float | None = None,
        start: float = 0.0,
        update_freq: str = "batch",
    ):
        super().__init__()
        if schedule not in SCHEDULES:
            raise ValueError(
                f"`schedule` must be one of {SCHEDULES}. Received: schedule={schedule!r}"
            )
        if update_freq not in UPDATE_FREQS:
            raise ValueError(
                f"`update_freq` must be one of {UPDATE_FREQS}. Received: update_freq={update_freq!r}"
            )
        self.warmup_epochs = _check_count(warmup_epochs, "warmup_epochs", 1, allow_none=True)
        self.warmup_steps = _check_count(warmup_steps, "warmup_steps", 1, allow_none=True)
        self.cycle_epochs = _check_count(cycle_epochs, "cycle_epochs", 1, allow_none=True)
        self.cycle_steps = _check_count(cycle_steps, "cycle_steps", 1, allow_none=True)
        self.num_cycles = _check_count(num_cycles, "num_cycles")
        if schedule == "linear" and (warmup_epochs is None) == (warmup_steps is None):
            raise ValueError(
                "The linear schedule needs exactly one of `warmup_epochs` or `warmup_steps`. "
                f"Received: warmup_epochs={warmup_epochs!r}, warmup_steps={warmup_steps!r}"
            )
        if cycle_epochs is not None and cycle_steps is not None:
            raise ValueError(
                "Give at most one of `cycle_epochs` and `cycle_steps`. "
                f"Received: cycle_epochs={cycle_epochs!r}, cycle_steps={cycle_steps!r}"
            )
        if not _is_number(ratio) or not 0.0 < ratio <= 1.0:
            raise ValueError(f"`ratio` must be in (0, 1]. Received: ratio={ratio!r}")
        for name, value in (("target", target), ("start", start)):
            if value is not None and (not _is_number(value) or not np.isfinite(value) or value < 0):
                raise ValueError(
                    f"`{name}` must be a finite number >= 0. Received: {name}={value!r}"
                )
        self.schedule, self.ratio, self.update_freq = schedule, float(ratio), update_freq
        self.target = None if target is None else float(target)
        self.start = float(start)
        self.values = []  # (step, beta) each time beta is set
        self.current = None

    def on_train_begin(self, logs=None):
        require(self.model, "kl_weight", "BetaSchedule")
        if self.target is None:
            self.target = float(keras.ops.convert_to_numpy(self.model.beta))
        self._start_stepping()
        self._length = self._ramp_length((self.params or {}).get("epochs"))

    def _units(self, epochs, steps, names):
        """A length given in epochs or steps, in this run's update units."""
        spe = self._steps_per_epoch
        if self._per_batch:
            return float(steps if steps is not None else epochs * spe)
        if epochs is not None:
            return float(epochs)
        if spe is None:
            raise ValueError(
                f"BetaSchedule got `{names[1]}={steps}`, but this fit does not know its steps "
                f"per epoch, so the schedule updates once per epoch. Pass `{names[0]}` instead."
            )
        return max(1.0, steps / spe)

    def _ramp_length(self, epochs):
        if self.schedule == "linear":
            return self._units(
                self.warmup_epochs, self.warmup_steps, ("warmup_epochs", "warmup_steps")
            )
        if self.cycle_epochs is not None or self.cycle_steps is not None:
            return self._units(self.cycle_epochs, self.cycle_steps, ("cycle_epochs", "cycle_steps"))
        if not epochs:
            raise ValueError(
                "BetaSchedule('cyclical') needs the run length: pass `cycle_epochs` or "
                "`cycle_steps`, or call fit with `epochs`."
            )
        return self._units(epochs, None, ("epochs", None)) / self.num_cycles

    def value(self, step: int) -> float:
        """Beta at training step `step` (batches, or epochs with per-epoch updates)."""
        if self.schedule == "linear":
            progress = min(1.0, step / self._length)
        else:
            cycle, within = divmod(step, self._length)
            progress = (
                1.0 if cycle >= self.num_cycles else min(1.0, within / (self.ratio * self._length))
            )
        return self.start + (self.target - self.start) * progress

    def assign(self, beta):
        self.model.beta = beta  # the setter syncs JAX state first

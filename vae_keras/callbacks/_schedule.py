"""The stepping shared by the schedule callbacks (β warm-up, Gumbel temperature): one value
per batch when `fit` knows its steps per epoch and `update_freq="batch"`, else per epoch,
assigned before the step and logged under the schedule's name."""

import keras


class StepSchedule(keras.callbacks.Callback):
    """Calls `self.assign(step, value)` with `self.value(step)` before each batch or epoch.

    Subclasses set `log_name`, `update_freq` and define `value(step)` and `assign(value)`;
    `current` is the last value and `values` every `(step, value)` set.
    """

    log_name = "value"

    def _start_stepping(self):
        """Call in `on_train_begin`: per batch or per epoch, from this fit's `params`."""
        steps = (self.params or {}).get("steps")
        self._steps_per_epoch = int(steps) if steps else None
        self._per_batch = self.update_freq == "batch" and self._steps_per_epoch is not None
        self._epoch_start = 0
        self._last_set = None

    def _set(self, step):
        value = self.value(step)
        if value != self._last_set:
            self.assign(value)
            self._last_set = value
        self.current = value
        self.values.append((step, value))

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
            logs[self.log_name] = self.current

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.current is not None:
            logs[self.log_name] = self.current

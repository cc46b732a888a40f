"""Stop a run at the first non-finite loss and keep the last good weights."""

import math

import keras


class NonFiniteLossError(RuntimeError):
    """Raised at the end of `fit` when `NaNGuard` stopped training."""


class NaNGuard(keras.callbacks.Callback):
    """Stops training at the first NaN or inf loss and restores the last good weights.

    The losses are checked after every batch. On the first non-finite value
    training stops, the model's weights are reset to those at the end of
    the last epoch whose losses were finite (or the initial ones), and — with
    `raise_error` — `fit` ends with a `NonFiniteLossError` that names the
    epoch and batch, so a script cannot carry on with a broken model.

    Args:
        monitor: Names of the logged losses to check.
        raise_error: Raise `NonFiniteLossError` when training ends after a
            stop (else only set `tripped` and restore the weights).

    Example:

    >>> guard = NaNGuard()
    >>> # vae.fit(x, epochs=10, callbacks=[guard])  # raises NonFiniteLossError on NaN
    """

    def __init__(
        self, monitor=("loss", "reconstruction_loss", "kl_loss"), raise_error: bool = True
    ):
        super().__init__()
        if isinstance(monitor, str):
            monitor = (monitor,)
        self.monitor = tuple(monitor)
        if not self.monitor:
            raise ValueError(
                f"`monitor` must name at least one logged loss. Received: monitor={monitor!r}"
            )
        self.raise_error = raise_error
        self.tripped = None  # (epoch, batch, name, value), 1-based as the progress bar counts
        self.good_epoch = 0

    def on_train_begin(self, logs=None):
        self.tripped = None
        self._good_weights = self.model.get_weights()
        self._epochs = self.params.get("epochs")
        self._steps = self.params.get("steps")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        for name in self.monitor:
            if logs and name in logs:
                value = float(logs[name])
                if not math.isfinite(value):
                    self.tripped = (self._epoch + 1, batch + 1, name, value)
                    self.model.stop_training = True
                    return

    def on_epoch_end(self, epoch, logs=None):
        if self.tripped is None:
            self._good_weights = self.model.get_weights()
            self.good_epoch = epoch + 1

    def on_train_end(self, logs=None):
        if self.tripped is None:
            return
        self.model.set_weights(self._good_weights)
        if self.raise_error:
            raise NonFiniteLossError(self.message())

    def message(self) -> str:
        epoch, batch, name, value = self.tripped
        of_epochs = f"/{self._epochs}" if self._epochs else ""
        of_steps = f"/{self._steps}" if self._steps else ""
        restored = f"after epoch {self.good_epoch}" if self.good_epoch else "before training"
        return (
            f"{name} became {value} in epoch {epoch}{of_epochs} at batch {batch}{of_steps}; training "
            f"stopped and the weights were restored to those {restored}. Try a lower learning rate, "
            "a KL warm-up (BetaSchedule), or check the data."
        )

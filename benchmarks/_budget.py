"""A wall-clock training budget for `fit`, shared by the equal-time benchmarks."""

import time

import keras


class TimeBudget(keras.callbacks.Callback):
    """Stops `fit` once `seconds` of training have passed (checked after each batch).

    With `after_first_batch=True` the clock starts when the first batch ends, so its
    tracing and compilation are not counted. With `max_steps` it also stops after that
    many steps (a budget in steps, which the machine's load does not change).
    """

    def __init__(self, seconds, after_first_batch=False, max_steps=None):
        super().__init__()
        self.seconds, self.after_first_batch = seconds, after_first_batch
        self.max_steps = max_steps
        self.start, self.steps = None, 0

    def on_train_begin(self, logs=None):
        self.start, self.steps = (None if self.after_first_batch else time.time()), 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.max_steps is not None and self.steps >= self.max_steps:
            self.model.stop_training = True
        if self.start is None:
            self.start = time.time()
        elif time.time() - self.start > self.seconds:
            self.model.stop_training = True

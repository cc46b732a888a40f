"""A wall-clock training budget for `fit`, shared by the equal-time benchmarks."""

import time

import keras


class TimeBudget(keras.callbacks.Callback):
    """Stops `fit` once `seconds` of training have passed (checked after each batch)."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds, self.start, self.steps = seconds, None, 0

    def on_train_begin(self, logs=None):
        self.start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if time.time() - self.start > self.seconds:
            self.model.stop_training = True

"""Binarized MNIST the way likelihood papers use it.

- Training: *dynamic* binarization, a fresh Bernoulli draw of every pixel
  each time a batch is served (`x_bin ~ Bernoulli(x)`), which acts as data
  augmentation and keeps the Bernoulli likelihood a proper likelihood.
- Evaluation: one *fixed-seed* binarization of the test set (`binarize`), so
  every model is scored on the same binary images.
"""

import math

import keras
import numpy as np

from vae_keras.validation import check_data, check_positive_int


def binarize(x, seed: int = 0) -> np.ndarray:
    """One Bernoulli draw per pixel with probability `x` (values in [0, 1]).

    Example:

    >>> b = binarize(np.full((2, 3), 0.5), seed=0)
    >>> sorted(set(b.ravel().tolist())) <= [0.0, 1.0]
    True
    """
    x = check_data(x, np.shape(x)[1:], "x", unit_interval=True)
    return (np.random.default_rng(seed).random(x.shape, dtype="float32") < x).astype("float32")


class DynamicBinarization(keras.utils.PyDataset):
    """Batches of freshly binarized images for `model.fit`.

    Draws are seeded by `(seed, epoch, batch index)`: every epoch sees new
    binary images, and a rerun with the same seed sees the same ones.

    Args:
        x: Images in [0, 1], `(N, ...)`.
        batch_size: Images per batch.
        seed: Seed of the shuffling and the Bernoulli draws.
        shuffle: Reshuffle the order every epoch.

    Example:

    >>> data = DynamicBinarization(np.full((10, 4), 0.5), batch_size=4, seed=0)
    >>> len(data), data[0].shape
    (3, (4, 4))
    """

    def __init__(self, x, batch_size: int = 128, seed: int = 0, shuffle: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.x = check_data(x, np.shape(x)[1:], "x", unit_interval=True)
        batch_size = check_positive_int(batch_size, "batch_size")
        self.batch_size, self.seed, self.shuffle = batch_size, seed, shuffle
        self.epoch = 0
        self._order = self._permutation()

    def _permutation(self):
        if not self.shuffle:
            return np.arange(len(self.x))
        return np.random.default_rng([self.seed, self.epoch, 1]).permutation(len(self.x))

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index):
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        batch = self.x[rows]
        rng = np.random.default_rng([self.seed, self.epoch, 0, index])
        return (rng.random(batch.shape, dtype="float32") < batch).astype("float32")

    def on_epoch_end(self):
        self.epoch += 1
        self._order = self._permutation()

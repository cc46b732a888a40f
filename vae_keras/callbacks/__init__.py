"""Callbacks for any `model.fit` of a vae_keras model, on every backend.

- `SampleGrid`: decodes one fixed batch of prior samples every few epochs,
  so the same codes can be watched improving (PNG per epoch, optional GIF
  and TensorBoard image).
- `ReconstructionGrid`: fixed images above their reconstructions per epoch.
- `BetaSchedule`: KL warm-up (linear) and cyclical annealing of `beta`.
- `GumbelTemperatureSchedule`: exponential annealing of a `GumbelQuantizer`'s
  temperature (DALL-E: 1 to 1/16).
- `NaNGuard`: stops training at the first non-finite loss, naming the
  epoch and batch, and restores the last good weights.

They use NumPy and the models' NumPy-in/NumPy-out methods only; files are
written atomically (temp file, then rename). Epoch numbers in file names are
1-based: `samples_epoch_001.png` is written after the first epoch.
"""

from vae_keras.callbacks.beta import SCHEDULES, UPDATE_FREQS, BetaSchedule
from vae_keras.callbacks.grids import ReconstructionGrid, SampleGrid
from vae_keras.callbacks.guards import NaNGuard, NonFiniteLossError
from vae_keras.callbacks.temperature import GumbelTemperatureSchedule

__all__ = [
    "SCHEDULES",
    "UPDATE_FREQS",
    "BetaSchedule",
    "GumbelTemperatureSchedule",
    "NaNGuard",
    "NonFiniteLossError",
    "ReconstructionGrid",
    "SampleGrid",
]

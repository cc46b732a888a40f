"""`vae_keras.run_data` is `vae_keras.app.run_data` (the application lives in `vae_keras/app/`)."""

import sys

from vae_keras.app import run_data as _module

sys.modules[__name__] = _module

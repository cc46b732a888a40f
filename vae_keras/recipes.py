"""`vae_keras.recipes` is `vae_keras.app.recipes` (the application lives in `vae_keras/app/`)."""

import sys

from vae_keras.app import recipes as _module

sys.modules[__name__] = _module

"""`vae_keras.runs` is `vae_keras.app.runs` (the application lives in `vae_keras/app/`)."""

import sys

from vae_keras.app import runs as _module

sys.modules[__name__] = _module

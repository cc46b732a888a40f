"""`vae_keras.report` is `vae_keras.app.report` (the application lives in `vae_keras/app/`)."""

import sys

from vae_keras.app import report as _module

sys.modules[__name__] = _module

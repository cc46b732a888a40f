import sys

from vae_keras.cli import main

sys.exit(main())

"""The `vae-keras` application, in one place: run folders and their stage machine and lock
(`runs`), the data a run trains and scores on (`run_data`), the command line's recipes and
defaults (`recipes`) and the HTML report (`report`). The command line (`vae_keras.cli`) and
the latent explorer (`vae_keras.explorer`) sit beside it and use it.

The library (`import vae_keras`: models, networks, likelihoods, evaluation, export, saving,
datasets, plotting, callbacks, presets) never imports this package; the older top-level names
`vae_keras.runs`, `vae_keras.run_data`, `vae_keras.recipes` and `vae_keras.report` are these
modules themselves.
"""

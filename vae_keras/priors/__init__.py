"""Priors `p(z)` over continuous latents: one small object per family.

A latent model is a combination of networks, a likelihood and a prior, not a
branch in a shared class: `VAE(..., prior="standard_normal" | "vampprior" |
"mixture")` picks one by name, and any `Prior` instance can be passed instead
(e.g. `VampPrior(num_components=50)`). Each one is a Keras layer (so the model
tracks and saves the weights it learns) and knows

- `attach(latent_dim, encoder=None, input_shape=None)`: called once by the
  model that owns it (builds the weights; VampPrior keeps the encoder),
- `log_prob(z)`: `log p(z)` per example, in nats,
- `sample(num_samples, seed)`: draws from `p(z)`,
- `kl(z_mean, z_log_var, z)`: `KL(q(z|x) || p(z))` per example: the closed form
  when `closed_form_kl`, else the single-sample estimate `log q(z|x) - log p(z)`,
- `factorises`: whether `p(z) = prod_d p(z_d)` (β-TCVAE and free bits need it),
- `mixture_parameters()`: every prior here is a mixture of diagonal Gaussians;
  its `(log_weights, means, log_vars)` as NumPy (what a SavedModel draws from),
- `adapt(x)`: sees the training data before `fit` (VampPrior's pseudo-inputs
  start as the first `num_components` examples).
"""

import keras

from vae_keras.priors.base import Prior, StandardNormal
from vae_keras.priors.mixture import MixtureOfGaussians
from vae_keras.priors.vampprior import VampPrior

NAMES = ("standard_normal", "vampprior", "mixture")
ALL_OBJECTS_DICT = {
    "standard_normal": StandardNormal,
    "vampprior": VampPrior,
    "mixture": MixtureOfGaussians,
}


def get(identifier=None, **kwargs) -> Prior:
    """A `Prior` from None (`StandardNormal()`), a name in `NAMES` (with `kwargs` for its
    constructor), a config dict (as `serialize` writes it) or an instance, as
    `keras.losses.get`.

    >>> get(None)
    StandardNormal()
    >>> get("mixture", num_components=3)
    MixtureOfGaussians(num_components=3, seed=None)
    >>> get(serialize(VampPrior(num_components=7)))
    VampPrior(num_components=7)
    """
    if identifier is None:
        return StandardNormal(**kwargs)
    if isinstance(identifier, Prior):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if not isinstance(identifier, str) or identifier not in ALL_OBJECTS_DICT:
        raise ValueError(
            f"Unknown prior {identifier!r}. Use one of {NAMES}, a config dict or a "
            f"`vae_keras.priors.Prior` instance. Received: prior={identifier!r}"
        )
    return ALL_OBJECTS_DICT[identifier](**kwargs)


def serialize(prior: Prior) -> dict:
    """The config dict of `prior` (what a model's `get_config` stores)."""
    return keras.saving.serialize_keras_object(prior)


def deserialize(config: dict) -> Prior:
    """A `Prior` from `serialize`'s dict (or a plain `{"class_name", "config"}`)."""
    if isinstance(config, dict) and config.get("class_name") in ALL_OBJECTS_DICT:
        config = {**config, "class_name": ALL_OBJECTS_DICT[config["class_name"]].__name__}
    custom = {cls.__name__: cls for cls in ALL_OBJECTS_DICT.values()}
    prior = keras.saving.deserialize_keras_object(config, custom_objects=custom)
    if not isinstance(prior, Prior):
        raise ValueError(f"Expected the config of a vae_keras prior. Received: config={config!r}")
    return prior


__all__ = [
    "ALL_OBJECTS_DICT",
    "NAMES",
    "MixtureOfGaussians",
    "Prior",
    "StandardNormal",
    "VampPrior",
    "deserialize",
    "get",
    "serialize",
]

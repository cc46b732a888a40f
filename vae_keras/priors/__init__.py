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

from vae_keras._registry import Registry
from vae_keras.priors.base import Prior, StandardNormal
from vae_keras.priors.mixture import MixtureOfGaussians
from vae_keras.priors.vampprior import VampPrior

NAMES = ("standard_normal", "vampprior", "mixture")
ALL_OBJECTS_DICT = {
    "standard_normal": StandardNormal,
    "vampprior": VampPrior,
    "mixture": MixtureOfGaussians,
}
_REGISTRY = Registry("prior", Prior, ALL_OBJECTS_DICT, StandardNormal)


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
    return _REGISTRY.get(identifier, **kwargs)


def serialize(prior: Prior) -> dict:
    """The config dict of `prior` (what a model's `get_config` stores)."""
    return _REGISTRY.serialize(prior)


def deserialize(config: dict) -> Prior:
    """A `Prior` from `serialize`'s dict (or a plain `{"class_name", "config"}`)."""
    return _REGISTRY.deserialize(config)

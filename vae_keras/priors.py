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

import math

import keras
import numpy as np
from keras import ops

from vae_keras import losses
from vae_keras.layers import bound_log_var


def _float32(tensor):
    return ops.cast(ops.convert_to_tensor(tensor), "float32")


class Prior(keras.layers.Layer):
    """Base class: a density `p(z)` over codes shaped `(latent_dim,)`."""

    factorises = False
    closed_form_kl = False

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")  # full precision under a mixed policy too
        super().__init__(**kwargs)
        self.latent_dim = None
        self.built = True

    def attach(self, latent_dim: int, encoder=None, input_shape=None):
        """Called once by the owning model: the code size, and the model's encoder
        `x -> (z_mean, z_log_var)` (a tensor function) and its input shape."""
        self.latent_dim = int(latent_dim)

    # === The density ===

    def components(self):
        """`(log_weights (K,), means (K, D), log_vars (K, D))` as tensors."""
        raise NotImplementedError

    def log_prob(self, z):
        """`log p(z)` per example (rows of `z`), in nats."""
        log_weights, means, log_vars = self.components()
        z = ops.expand_dims(_float32(z), 1)  # (batch, 1, D) against (K, D)
        per_component = ops.sum(losses.gaussian_log_density(z, means, log_vars), axis=-1)
        return ops.logsumexp(per_component + log_weights, axis=-1)

    def sample(self, num_samples: int, seed=None):
        """`num_samples` draws, shaped `(num_samples, latent_dim)` (a tensor); `seed` is an
        integer or a `keras.random.SeedGenerator`."""
        if isinstance(seed, int):
            seed = keras.random.SeedGenerator(seed)  # two draws below: one stream
        eps = keras.random.normal((num_samples, self.latent_dim), seed=seed)
        return self.from_noise(eps, seed)

    def from_noise(self, eps, seed=None):
        """Draws from `p(z)` given standard normal noise `eps` `(n, latent_dim)` (a mixture
        also draws its components with `seed`): how a proposal mixes in the prior."""
        log_weights, means, log_vars = self.components()
        picks = keras.random.categorical(ops.expand_dims(log_weights, 0), eps.shape[0], seed=seed)
        picks = ops.reshape(picks, (-1,))
        mean, log_var = ops.take(means, picks, axis=0), ops.take(log_vars, picks, axis=0)
        return mean + ops.exp(0.5 * log_var) * eps

    def mixture_parameters(self):
        """`(log_weights, means, log_vars)` of the mixture, as float32 NumPy."""
        return tuple(np.asarray(ops.convert_to_numpy(t), "float32") for t in self.components())

    def quantiles(self, q, dim: int):
        """Quantiles `q` of the marginal of latent dimension `dim` (NumPy float64): the
        mixture's CDF `sum_k w_k Phi((v - mu_k) / sigma_k)` inverted by bisection."""
        from scipy.stats import norm

        log_weights, means, log_vars = (np.asarray(t, "float64") for t in self.mixture_parameters())
        weights, mu, sigma = np.exp(log_weights), means[:, dim], np.exp(0.5 * log_vars[:, dim])
        q = np.asarray(q, "float64")
        low = np.full(q.shape, (mu - 40 * sigma).min())
        high = np.full(q.shape, (mu + 40 * sigma).max())
        for _ in range(200):  # float64 bisection: 2^-200 of the bracket
            mid = 0.5 * (low + high)
            below = (weights * norm.cdf((mid[..., None] - mu) / sigma)).sum(-1) < q
            low, high = np.where(below, mid, low), np.where(below, high, mid)
        return 0.5 * (low + high)

    # === KL to a diagonal Gaussian posterior ===

    def sampled_kl(self, z_mean, z_log_var, z):
        """The single-sample estimate `log q(z|x) - log p(z)` per example."""
        z_mean, z_log_var, z = (_float32(t) for t in (z_mean, z_log_var, z))
        return losses.gaussian_log_prob(z, z_mean, z_log_var) - self.log_prob(z)

    def kl(self, z_mean, z_log_var, z):
        """`KL(q(z|x) || p(z))` per example: exact when `closed_form_kl`, else sampled at `z`."""
        return self.sampled_kl(z_mean, z_log_var, z)

    def kl_per_dimension(self, z_mean, z_log_var):
        """The closed-form KL per latent dimension (a factorising prior only)."""
        raise ValueError(
            f"{type(self).__name__} does not factorise over latent dimensions, so it has no "
            "KL per dimension; use free_bits=0 or prior='standard_normal'."
        )

    # === Data ===

    def adapt(self, x):
        """Sees the training data before `fit` (a no-op unless the prior starts from data)."""

    def get_config(self):
        config = super().get_config()
        for key in ("trainable", "dtype"):
            config.pop(key, None)
        return config

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k not in ("name",))
        return f"{type(self).__name__}({args})"


@keras.saving.register_keras_serializable(package="vae_keras")
class StandardNormal(Prior):
    """`N(0, I)`: the default, with the closed-form KL of Kingma & Welling.

    >>> import numpy as np
    >>> prior = StandardNormal()
    >>> prior.attach(2)
    >>> round(float(prior.log_prob(np.zeros((1, 2), "float32"))[0]), 4)
    -1.8379
    >>> tuple(prior.sample(3, seed=0).shape)
    (3, 2)
    """

    factorises = True
    closed_form_kl = True

    def components(self):
        d = self.latent_dim
        return ops.zeros((1,)), ops.zeros((1, d)), ops.zeros((1, d))

    def log_prob(self, z):
        return losses.standard_normal_log_prob(z)

    def sample(self, num_samples, seed=None):
        return keras.random.normal((num_samples, self.latent_dim), seed=seed)

    def from_noise(self, eps, seed=None):
        return eps

    def quantiles(self, q, dim):
        from scipy.stats import norm

        return norm.ppf(np.asarray(q, "float64"))

    def kl(self, z_mean, z_log_var, z=None):
        return losses.kl_divergence(z_mean, z_log_var)

    def kl_per_dimension(self, z_mean, z_log_var):
        return losses.kl_divergence_per_dimension(z_mean, z_log_var)


def _check_components(num_components):
    if isinstance(num_components, bool) or not isinstance(num_components, (int, np.integer)):
        raise ValueError(
            "`num_components` must be a positive integer. "
            f"Received: num_components={num_components!r}"
        )
    if num_components < 1:
        raise ValueError(
            f"`num_components` must be >= 1. Received: num_components={num_components!r}"
        )
    return int(num_components)


@keras.saving.register_keras_serializable(package="vae_keras")
class MixtureOfGaussians(Prior):
    """A learned mixture of `num_components` diagonal Gaussians (means, log-variances and
    mixing logits are trained with the model). With one component the KL is closed-form.

    Args:
        num_components: Number of Gaussians `K`.
        seed: Seed of the initial means (`N(0, I)` draws); log-variances start at 0
            and the weights equal.

    >>> import numpy as np
    >>> prior = MixtureOfGaussians(num_components=3, seed=0)
    >>> prior.attach(2)
    >>> [tuple(t.shape) for t in prior.mixture_parameters()]
    [(3,), (3, 2), (3, 2)]
    >>> tuple(prior.log_prob(np.zeros((4, 2), "float32")).shape)
    (4,)
    """

    def __init__(self, num_components: int = 10, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.num_components = _check_components(num_components)
        self.seed = seed

    @property
    def factorises(self):
        return self.num_components == 1

    @property
    def closed_form_kl(self):
        return self.num_components == 1

    def attach(self, latent_dim, encoder=None, input_shape=None):
        super().attach(latent_dim)
        shape = (self.num_components, self.latent_dim)
        init = keras.initializers.RandomNormal(stddev=1.0, seed=self.seed)
        self.means = self.add_weight(shape=shape, initializer=init, name="means")
        self.log_vars = self.add_weight(shape=shape, initializer="zeros", name="log_vars")
        self.logits = self.add_weight(
            shape=(self.num_components,), initializer="zeros", name="logits"
        )

    def components(self):
        log_weights = ops.log_softmax(ops.cast(self.logits, "float32"))
        return log_weights, ops.cast(self.means, "float32"), bound_log_var(self.log_vars)

    def kl(self, z_mean, z_log_var, z):
        if self.num_components > 1:
            return self.sampled_kl(z_mean, z_log_var, z)
        _, means, log_vars = self.components()
        return losses.gaussian_kl(_float32(z_mean), _float32(z_log_var), means, log_vars)

    def kl_per_dimension(self, z_mean, z_log_var):
        if self.num_components > 1:
            return super().kl_per_dimension(z_mean, z_log_var)
        _, means, log_vars = self.components()
        z_mean, z_log_var = _float32(z_mean), _float32(z_log_var)
        return 0.5 * (
            log_vars
            - z_log_var
            + (ops.exp(z_log_var) + ops.square(z_mean - means)) * ops.exp(-log_vars)
            - 1.0
        )

    def get_config(self):
        return {**super().get_config(), "num_components": self.num_components, "seed": self.seed}


@keras.saving.register_keras_serializable(package="vae_keras")
class VampPrior(Prior):
    """The VampPrior (Tomczak & Welling, 2018): the equal-weight mixture of the model's own
    posteriors `q(z | u_k)` at `num_components` learned pseudo-inputs `u_k`.

    `pseudo_inputs` are shaped like the data (what the encoder receives) and learned with
    the model; they start as the first `num_components` examples `fit` sees (`adapt`,
    called by the model's `fit` before its first step, on every backend: a NumPy array,
    a `tf.data.Dataset` or a `keras.utils.PyDataset`; a plain generator cannot be read
    ahead, so call `model.prior.adapt(x)` first), cycled when there are fewer examples.
    Until then they are uniform noise in [0, 1]. A non-trainable flag, saved with the
    model, keeps a loaded model's pseudo-inputs. Not for a conditional encoder (it reads
    labels too).

    Args:
        num_components: Number of pseudo-inputs `K` (500 in the paper).

    >>> from vae_keras import VAE, networks
    >>> vae = VAE(networks.dense_encoder((4, 4, 1), 2, hidden_units=(8,)),
    ...           networks.dense_decoder(2, (4, 4, 1), hidden_units=(8,)),
    ...           prior=VampPrior(num_components=5))
    >>> tuple(vae.prior.pseudo_inputs.shape)
    (5, 4, 4, 1)
    """

    def __init__(self, num_components: int = 500, **kwargs):
        super().__init__(**kwargs)
        self.num_components = _check_components(num_components)
        self._encode = None

    def attach(self, latent_dim, encoder=None, input_shape=None):
        if encoder is None or input_shape is None:
            raise ValueError(
                "VampPrior mixes the model's posteriors q(z|x) at learned inputs, so it needs "
                "an encoder of x alone; this model's encoder reads more (e.g. labels). Use "
                "prior='standard_normal' or prior='mixture'."
            )
        input_shape = tuple(input_shape)
        if any(d is None for d in input_shape):
            raise ValueError(
                f"VampPrior needs a fixed input shape for its pseudo-inputs. Received: "
                f"input_shape={input_shape}; build the encoder for a fixed image size."
            )
        super().attach(latent_dim)
        self._encode = encoder
        self.pseudo_inputs = self.add_weight(
            shape=(self.num_components,) + input_shape,
            initializer=keras.initializers.RandomUniform(0.0, 1.0, seed=0),
            name="pseudo_inputs",
        )
        self.initialized = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="initialized"
        )

    def components(self):
        means, log_vars = self._encode(self.pseudo_inputs)
        log_weights = ops.full((self.num_components,), -math.log(self.num_components))
        return log_weights, ops.cast(means, "float32"), ops.cast(log_vars, "float32")

    def adapt(self, x):
        """Sets the pseudo-inputs to the first `num_components` examples of `x`, once."""
        if float(ops.convert_to_numpy(self.initialized)) > 0:
            return
        first = _first_examples(x, self.num_components)
        if first is None:
            return
        reps = -(-self.num_components // len(first))
        first = np.concatenate([first] * reps)[: self.num_components]
        self.pseudo_inputs.assign(first.astype("float32"))
        self.initialized.assign(1.0)

    def get_config(self):
        return {**super().get_config(), "num_components": self.num_components}


def _first_examples(x, count):
    """Up to `count` leading examples of training data as NumPy, or None (unreadable)."""
    if isinstance(x, (tuple, list)) and x and not isinstance(x[0], (int, float)):
        x = x[0]
    if isinstance(x, np.ndarray):
        return x[:count] if len(x) else None
    parts, seen = [], 0
    if isinstance(x, keras.utils.PyDataset):
        batches = (x[i] for i in range(x.num_batches or 0))
    elif type(x).__module__.startswith("tensorflow") and hasattr(x, "take"):
        batches = iter(x)
    else:
        return None
    for batch in batches:
        bx = keras.utils.unpack_x_y_sample_weight(batch)[0]
        parts.append(np.asarray(bx))
        seen += len(parts[-1])
        if seen >= count:
            break
    return np.concatenate(parts)[:count] if parts else None


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

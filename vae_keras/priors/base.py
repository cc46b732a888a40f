"""The base class of the priors, and `N(0, I)` (see `vae_keras.priors`)."""

import keras
import numpy as np
from keras import ops

from vae_keras import losses


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

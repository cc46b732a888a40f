"""A learned mixture of diagonal Gaussians (see `vae_keras.priors`)."""

import keras
from keras import ops

from vae_keras import losses
from vae_keras.layers import bound_log_var
from vae_keras.priors.base import Prior, _check_components, _float32


@keras.saving.register_keras_serializable(package="vae_keras")
class MixtureOfGaussians(Prior):
    """A learned mixture of `num_components` diagonal Gaussians (means, log-variances and
    mixing logits are trained with the model). With one component the KL is closed-form.

    Args:
        num_components: Number of Gaussians `K`.
        seed: Seed of the initial means (`N(0, I)` draws); log-variances start at 0
            and the weights equal.

    >>> import numpy as np
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
        return losses.gaussian_kl_terms(z_mean, z_log_var, means, log_vars)

    def get_config(self):
        return {**super().get_config(), "num_components": self.num_components, "seed": self.seed}

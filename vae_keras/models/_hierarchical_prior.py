"""The prior of a hierarchy's top latent group: `HierarchicalVAE(..., prior=...)`.

By default the top group `z_0` has the hierarchy's own learned Gaussian prior
`N(mu, e^lv)`, computed by its top-down head from the learned top state
(`LearnedTopGaussian`, weightless: the weights are the model's). Any
`vae_keras.priors.Prior` may replace it: the top group flattened is its
`(latent_dim,)` code, so a `MixtureOfGaussians` is a mixture over it and a
`VampPrior` mixes the top group's posteriors at its pseudo-inputs (through the
bottom-up path, `encode_tensors`). The lower groups keep their conditional
priors `p(z_l | z_<l)`.

`TopGroupPrior` is the model's side of the seam (a mixin): every place where
the top group meets its prior (training KL, importance weights, sampling, the
SavedModel, fixed-noise pictures) goes through `model.prior`, never a switch
on its kind.
"""

from keras import ops

from vae_keras import losses, priors
from vae_keras.priors.base import Prior, _float32


class LearnedTopGaussian(Prior):
    """The hierarchy's default top prior `N(mu, e^lv)` (flattened), read from the model.

    `head()` returns the top group's prior `(mean, log_var)`; the weights behind it
    belong to the model, so this object has none and the model saves `prior=None`.

    >>> import numpy as np
    >>> prior = LearnedTopGaussian(lambda: (np.ones((1, 2)), np.zeros((1, 2))))
    >>> prior.attach(2)
    >>> round(float(prior.kl(np.ones((1, 2), "float32"), np.zeros((1, 2), "float32"))[0]), 4)
    0.0
    """

    factorises = True
    closed_form_kl = True

    def __init__(self, head, **kwargs):
        super().__init__(**kwargs)
        self._head = head

    def components(self):
        mean, log_var = (ops.reshape(_float32(t), (1, -1)) for t in self._head())
        return ops.zeros((1,)), mean, log_var

    def log_prob(self, z):
        _, mean, log_var = self.components()
        return losses.gaussian_log_prob(_float32(z), mean, log_var)

    def from_noise(self, eps, seed=None):
        _, mean, log_var = self.components()
        return mean + ops.exp(0.5 * log_var) * eps

    def kl(self, z_mean, z_log_var, z=None):
        _, mean, log_var = self.components()
        return losses.gaussian_kl(_float32(z_mean), _float32(z_log_var), mean, log_var)

    def kl_per_dimension(self, z_mean, z_log_var):
        _, mean, log_var = self.components()
        z_mean, z_log_var = _float32(z_mean), _float32(z_log_var)
        return losses.gaussian_kl_terms(z_mean, z_log_var, mean, log_var)

    def __repr__(self):
        return "LearnedTopGaussian()"


class TopGroupPrior:
    """Mixin of `HierarchicalVAE`: `model.prior` over the top group, flattened.

    The model provides `encode_tensors`, `input_shape_`, `latent_dim`, `group_shapes`
    and `_top_head()` (the top group's own prior `(mean, log_var)`)."""

    def _init_top_prior(self, prior):
        self._default_prior = prior is None
        if prior is None:
            self.prior = LearnedTopGaussian(self._top_head, name="learned_top_gaussian")
            self.prior.attach(self.latent_dim)
            return
        self.prior = priors.get(prior)
        self.prior.attach(
            self.latent_dim, encoder=self.encode_tensors, input_shape=self.input_shape_
        )

    def _prior_config(self):
        return None if self._default_prior else priors.serialize(self.prior)

    # === The top group's terms (tensors shaped like the group, batch first) ===

    def _flat(self, t):
        return ops.reshape(t, (ops.shape(t)[0], -1))

    def _grouped(self, t):
        return ops.reshape(t, (-1,) + tuple(self.group_shapes[0]))

    def _top_kl(self, posterior, z):
        """`KL(q(z_0 | x) || p(z_0))` per example: closed form where the prior has one, else
        the single-sample estimate at `z`."""
        return self.prior.kl(*(self._flat(t) for t in posterior), self._flat(z))

    def _top_log_prob(self, z):
        return self.prior.log_prob(self._flat(z))

    def _top_from_noise(self, eps, seed=None):
        """Top codes from the prior given standard normal noise shaped like the group."""
        return self._grouped(self.prior.from_noise(self._flat(eps), seed))

    def _top_variance_bound(self):
        """Per dimension, the largest log-variance of the prior's components (the proposal's
        bound on the top posterior's: for one Gaussian its own, as the lower groups')."""
        _, _, log_vars = self.prior.components()
        return self._grouped(ops.max(log_vars, axis=0, keepdims=True))

    # === What other parts of the package read ===

    def prior_codes(self, eps, seed=None):
        """Top-group codes from `model.prior` given standard normal noise `eps` `(n,
        latent_dim)` (NumPy in and out): what fixed-noise pictures decode."""
        import numpy as np

        z = self.prior.from_noise(ops.convert_to_tensor(np.asarray(eps, "float32")), seed)
        return np.asarray(ops.convert_to_numpy(z), "float32")

    def prior_quantiles(self, q, dim):
        """Quantiles `q` of the top prior's marginal along flattened dimension `dim`."""
        return self.prior.quantiles(q, dim)

    def fit(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.fit`; first shows the data to the prior (`prior.adapt`: a VampPrior's
        pseudo-inputs start as the first examples)."""
        if x is not None:
            self.prior.adapt(x)
        return super().fit(x, y, *args, **kwargs)

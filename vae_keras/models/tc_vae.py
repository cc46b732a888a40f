"""β-TCVAE (Chen, Li, Grosse & Duvenaud, 2018, "Isolating Sources of
Disentanglement in Variational Autoencoders")."""

import keras
import numpy as np
from keras import ops

from vae_keras import losses
from vae_keras.models.vae import VAE
from vae_keras.validation import check_non_negative, check_positive_int


def _log_density_matrix(z, z_mean, z_log_var):
    """`log q(z_i[d] | x_j)` for every pair of batch rows: `(batch, batch, latent)`."""
    z = ops.expand_dims(z, 1)
    mean, log_var = ops.expand_dims(z_mean, 0), ops.expand_dims(z_log_var, 0)
    return losses.gaussian_log_density(z, mean, log_var)


def decompose_kl(z, z_mean, z_log_var, dataset_size, log_prior=losses.standard_normal_log_prob):
    """The three terms of the aggregate KL, by minibatch-weighted sampling.

    With `log q(z) ~ logsumexp_j log q(z | x_j) - log(N * M)` over the `M`
    examples of the batch (`N` = `dataset_size`), and the same per dimension:

        mutual_information = E[log q(z | x) - log q(z)]
        total_correlation  = E[log q(z) - sum_d log q(z_d)]
        dimension_wise_kl  = E[sum_d log q(z_d) - log p(z)]

    (sums to `E[log q(z | x) - log p(z)]`, the one-sample KL). Returns the
    three batch means. `log_prior(z)` is `log p(z)` per example (a factorising prior).
    """
    matrix = _log_density_matrix(z, z_mean, z_log_var)
    batch = ops.cast(ops.shape(z)[0], "float32")
    log_norm = ops.log(batch * ops.cast(dataset_size, "float32"))
    log_q_given_x = ops.sum(ops.diagonal(matrix, axis1=0, axis2=1), axis=0)
    log_q = ops.logsumexp(ops.sum(matrix, axis=2), axis=1) - log_norm
    log_q_product = ops.sum(ops.logsumexp(matrix, axis=1) - log_norm, axis=1)
    log_p = log_prior(z)
    return (
        ops.mean(log_q_given_x - log_q),
        ops.mean(log_q - log_q_product),
        ops.mean(log_q_product - log_p),
    )


@keras.saving.register_keras_serializable(package="vae_keras")
class BetaTCVAE(VAE):
    """A `VAE` whose KL term is split into mutual information, total
    correlation and dimension-wise KL, with the total correlation weighted.

        loss = reconstruction_weight * reconstruction_loss
               + alpha * mutual_information + beta * total_correlation
               + gamma * dimension_wise_kl

    The total correlation `KL(q(z) || prod_d q(z_d))` measures dependence
    between the latent dimensions of the aggregate posterior; penalising it
    (not the whole KL, as β-VAE does) pushes dimensions apart without
    starving the code of information about `x`. `q(z)` is estimated by
    minibatch-weighted sampling (the paper's estimator), which needs the
    training set size `dataset_size` (inferred by `fit` from an array).
    With `alpha = beta = gamma = 1` the objective is the VAE's in
    expectation.

    `fit`/`evaluate` report `loss`, `reconstruction_loss`, `kl_loss` (the
    closed-form KL, as `VAE`) and the three estimated terms
    `mutual_information`, `total_correlation`, `dimension_wise_kl`. `beta`
    (the total-correlation weight) is a variable a callback may change.

    Args:
        encoder, decoder: As for `VAE`.
        beta: Weight of the total correlation (the paper's β; 6 is its
            dSprites setting).
        alpha: Weight of the index-code mutual information.
        gamma: Weight of the dimension-wise KL.
        dataset_size: Number of training examples `N`; `None` lets `fit`
            take it from the length of an array `x`.
        **kwargs: Other `VAE` arguments (`likelihood`, `seed`, ...).

    Example:

    >>> import numpy as np
    >>> from vae_keras import networks
    >>> from vae_keras.models import BetaTCVAE
    >>> model = BetaTCVAE(networks.dense_encoder((8, 8, 1), 2, hidden_units=(16,)),
    ...                   networks.dense_decoder(2, (8, 8, 1), hidden_units=(16,)),
    ...                   beta=6.0, seed=0)
    >>> model.compile(optimizer="adam")
    >>> x = np.random.default_rng(0).uniform(size=(32, 8, 8, 1)).astype("float32")
    >>> sorted(model.fit(x, epochs=1, batch_size=16, verbose=0).history)[:3]
    ['dimension_wise_kl', 'kl_loss', 'loss']
    >>> model.dataset_size
    32
    """

    loss_names = VAE.loss_names + ("mutual_information", "total_correlation", "dimension_wise_kl")
    # Its objective is not the ELBO, so no importance-weighted twin bounds the same thing.
    capabilities = VAE.capabilities.replace(importance_weighted=None)

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        beta: float = 6.0,
        alpha: float = 1.0,
        gamma: float = 1.0,
        dataset_size: int | None = None,
        **kwargs,
    ):
        if kwargs.get("free_bits"):
            raise ValueError(
                "Free bits clamp the closed-form KL, which β-TCVAE replaces by its "
                f"decomposition. Received: free_bits={kwargs['free_bits']!r}; use "
                "VAE(free_bits=...)."
            )
        alpha = check_non_negative(alpha, "alpha")
        gamma = check_non_negative(gamma, "gamma")
        if dataset_size is not None:
            dataset_size = check_positive_int(dataset_size, "dataset_size")
        super().__init__(encoder, decoder, beta=beta, **kwargs)
        if not self.prior.factorises:
            raise ValueError(
                f"β-TCVAE's dimension-wise KL needs a prior that factorises over latent "
                f"dimensions. Received: prior={self.prior!r}; use prior='standard_normal'."
            )
        self.alpha = alpha
        self.gamma = gamma
        self._dataset_size = keras.Variable(
            float(dataset_size or 1), trainable=False, dtype="float32", name="dataset_size"
        )
        self._dataset_size_known = dataset_size is not None

    @property
    def dataset_size(self):
        """`N` of the minibatch-weighted sampling estimator (None until known)."""
        if not self._dataset_size_known:
            return None
        return int(round(float(ops.convert_to_numpy(self._dataset_size))))

    @dataset_size.setter
    def dataset_size(self, value):
        self._assign_weight(self._dataset_size, check_positive_int(value, "dataset_size"))
        self._dataset_size_known = True

    def fit(self, x=None, y=None, *args, **kwargs):
        """`VAE.fit`; sets `dataset_size` from `len(x)` when it is unknown."""
        if not self._dataset_size_known:
            if not isinstance(x, np.ndarray):
                raise ValueError(
                    "BetaTCVAE needs the training set size for its minibatch-weighted "
                    f"estimate of q(z); it cannot be read from x of type {type(x).__name__}. "
                    "Pass `dataset_size=N` to the constructor or set `model.dataset_size = N`."
                )
            self.dataset_size = len(x)
        return super().fit(x, y, *args, **kwargs)

    def regularizer(self, elbo, training=False):
        """The KL's decomposition, weighted: `alpha * MI + beta * TC + gamma * dim-wise KL`."""
        mi, tc, dim_kl = decompose_kl(
            elbo.z, elbo.z_mean, elbo.z_log_var, self._dataset_size, self.prior.log_prob
        )
        penalty = self.alpha * mi + self._beta * tc + self.gamma * dim_kl
        return penalty, {
            "mutual_information": mi,
            "total_correlation": tc,
            "dimension_wise_kl": dim_kl,
        }

    def get_config(self):
        config = super().get_config()
        config.pop("free_bits", None)
        return {
            **config,
            "alpha": self.alpha,
            "gamma": self.gamma,
            "dataset_size": self.dataset_size,
        }

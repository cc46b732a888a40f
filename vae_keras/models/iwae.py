"""The importance-weighted autoencoder (Burda, Grosse & Salakhutdinov, 2015)."""

import math

import keras
from keras import ops

from vae_keras import losses
from vae_keras.models.capabilities import capabilities, require
from vae_keras.models.vae import VAE
from vae_keras.validation import check_positive_int


@keras.saving.register_keras_serializable(package="vae_keras")
class IWAE(VAE):
    """A `VAE` trained on the importance-weighted bound with `num_samples` samples.

    For each example, `k = num_samples` codes `z_i ~ q(z | x)` give the
    log-weights `log w_i = log p(x | z_i) + log p(z_i) - log q(z_i | x)`, and

        loss = -mean over the batch of log(1/k * sum_i w_i)

    (a log-mean-exp, computed stably). This bound on `log p(x)` is never
    looser than the ELBO and tightens as `k` grows; with `k = 1` it is the
    ELBO with a one-sample (instead of closed-form) KL. The `k` samples are
    vectorised: the batch of codes is repeated `k` times and decoded in one
    call, so a step costs about `k` decoder passes.

    Metrics, with the same names as `VAE` (so callbacks and plots work):
    - `loss`: the negative IWAE bound above, in nats per example.
    - `reconstruction_loss`: `-log p(x | z_i)` averaged over the `k`
      samples and the batch (the VAE's one-sample term, averaged).
    - `kl_loss`: `KL(q(z | x) || p(z))` to `model.prior` (closed-form for the
      default `N(0, I)`, else at the first sample), a diagnostic.
    So `loss <= reconstruction_loss + kl_loss` in expectation, and the gap
    is what the extra samples buy.

    `beta` and `reconstruction_weight` still apply, inside each weight:
    `log w_i = reconstruction_weight * log p(x | z_i) + beta * (log p(z_i)
    - log q(z_i | x))`; with both at 1 (the default) the bound is the IWAE
    bound, and a `BetaSchedule` warm-up works as for the VAE. Free bits are
    defined for the ELBO only and are rejected here.

    Args:
        encoder, decoder: As for `VAE`.
        num_samples: Importance samples per example (`k`, >= 1).
        **kwargs: Other `VAE` arguments (`beta`, `likelihood`, `seed`,
            `corruption`, ...).

    Example:

    >>> import numpy as np
    >>> from vae_keras import networks
    >>> from vae_keras.models import IWAE
    >>> iwae = IWAE(networks.dense_encoder((8, 8, 1), 2, hidden_units=(16,)),
    ...             networks.dense_decoder(2, (8, 8, 1), hidden_units=(16,)),
    ...             num_samples=5, seed=0)
    >>> iwae.compile(optimizer="adam")
    >>> x = np.random.default_rng(0).uniform(size=(32, 8, 8, 1)).astype("float32")
    >>> sorted(iwae.fit(x, epochs=1, batch_size=16, verbose=0).history)
    ['kl_loss', 'loss', 'reconstruction_loss']
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, num_samples: int = 5, **kwargs):
        num_samples = check_positive_int(num_samples, "num_samples")
        if kwargs.get("free_bits"):
            raise ValueError(
                "Free bits clamp the ELBO's KL term, which the IWAE bound does not have. "
                f"Received: free_bits={kwargs['free_bits']!r}; use VAE(free_bits=...)."
            )
        super().__init__(encoder, decoder, **kwargs)
        self.num_samples = num_samples

    def _weights_and_codes(self, x, y=None, training=False):
        """`log_weights`' four values and the codes, `(num_samples * batch, latent)`."""
        target, condition, z_mean, z_log_var = self.encode_pass(x, y, training=training)
        k = self.num_samples
        # Sample-major repetition: row i * batch + b is sample i of example b.
        mean_k = ops.tile(z_mean, (k, 1))
        log_var_k = ops.tile(z_log_var, (k, 1))
        z = self.sampler([mean_k, log_var_k])
        log_px = self.log_prob_given_codes(target, z, condition, training=training, num_samples=k)
        log_prior_ratio = self.prior.log_prob(z) - losses.diagonal_normal_log_prob(
            z, mean_k, log_var_k
        )
        log_w = self._reconstruction_weight * log_px + self._beta * log_prior_ratio
        log_w, log_px = ops.reshape(log_w, (k, -1)), ops.reshape(log_px, (k, -1))
        return log_w, log_px, z_mean, z_log_var, z

    def log_weights(self, x, y=None, training=False):
        """Returns `(log_w, log_px, z_mean, z_log_var)`; `log_w` and `log_px`
        (the log-likelihood terms) are shaped `(num_samples, batch)`."""
        return self._weights_and_codes(x, y, training=training)[:4]

    def compute_losses(self, x, y=None, training=False):
        """The negative IWAE bound, and the VAE's two terms for comparison."""
        log_w, log_px, z_mean, z_log_var, z = self._weights_and_codes(x, y, training=training)
        bound = ops.logsumexp(log_w, axis=0) - math.log(self.num_samples)
        results = {
            "loss": -ops.mean(bound),
            "reconstruction_loss": -ops.mean(log_px),
            # KL to the prior: closed-form, or sampled at each example's first code.
            "kl_loss": ops.mean(self.prior.kl(z_mean, z_log_var, z[: ops.shape(z_mean)[0]])),
        }
        return self.with_bits_per_dim(results, results["loss"])  # of the IWAE bound

    @classmethod
    def from_model(cls, model, num_samples: int, seed: int | None = None):
        """`model`'s own networks (shared, not copied) on the `num_samples`-sample bound.

        IWAE fine-tuning: train on the ELBO, then train this twin at a low learning rate;
        `model` changes with it. The twin keeps the model's likelihood, prior and seed
        (or `seed`); `beta` and free bits are the ELBO's and do not carry over.
        `importance_weighted(model, k)` picks the twin class the model declares.
        """
        twin = capabilities(model).importance_weighted
        if twin != keras.saving.get_registered_name(cls):
            raise ValueError(
                f"{cls.__name__}.from_model takes a model whose importance-weighted twin is "
                f"{cls.__name__}; {type(model).__name__}'s is {str(twin).split('>')[-1]}. Use "
                "`vae_keras.models.iwae.importance_weighted(model, num_samples)`."
            )
        config = {**model._reconstruction_config(), "seed": model.seed if seed is None else seed}
        return cls(**cls._networks_of(model), num_samples=num_samples, prior=model.prior, **config)

    @staticmethod
    def _networks_of(model) -> dict:
        return {"encoder": model.encoder, "decoder": model.decoder}

    def get_config(self):
        return {**super().get_config(), "num_samples": self.num_samples}


def importance_weighted(model, num_samples: int, seed: int | None = None) -> IWAE:
    """The twin of `model` trained on the `num_samples`-sample importance-weighted bound,
    around the model's own networks: `IWAE` for a `VAE`, `PixelIWAE` for a `PixelVAE`
    (the class the model declares as `capabilities(model).importance_weighted`).

    Example:

    >>> from vae_keras import VAE, networks
    >>> from vae_keras.models.iwae import importance_weighted
    >>> vae = VAE(networks.dense_encoder((8, 8, 1), 2, hidden_units=(16,)),
    ...           networks.dense_decoder(2, (8, 8, 1), hidden_units=(16,)), seed=0)
    >>> twin = importance_weighted(vae, 5)
    >>> type(twin).__name__, twin.num_samples, twin.encoder is vae.encoder
    ('IWAE', 5, True)
    """
    twin = require(model, "importance_weighted", "IWAE fine-tuning").importance_weighted
    return keras.saving.get_registered_object(twin).from_model(model, num_samples, seed)

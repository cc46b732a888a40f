"""Likelihood evaluation in nats: ELBO, importance-weighted log p(x), active units.

The estimator of Burda et al. (2015): with `z_1..z_k ~ q(z | x)`,

    log p(x) >= log (1/k) sum_i p(x | z_i) p(z_i) / q(z_i | x)

a lower bound that tightens as `k` grows (k = 1 is the ELBO with a sampled
KL; papers report k = 5000). Everything is per example, vectorised over
samples and batched over examples, with `keras.ops` on any backend.

For the VAE family the samples come from a defensive proposal (Hesterberg,
1995; see `_SingleCodeScorer`): the posterior with its variance bounded by
the prior's, mixed half and half with the prior N(0, I). On the data a model
knows the estimate matches the plain IWAE bound closely; on images it has not
seen, where an encoder may put its log-variance at the clip (+20) and every
posterior draw lands at |z| in the thousands, the weights stay within log 2
of `p(x | z)` and the estimate cannot fall to minus millions of nats.
"""

import math

import keras
import numpy as np
from keras import ops

from vae_keras import likelihoods, losses
from vae_keras._graph import graph_function, pure_function
from vae_keras.layers import bound_log_var
from vae_keras.models.capabilities import capabilities, require
from vae_keras.validation import check_positive_int


class SingleCodeScorer:
    """The scoring interface (`LatentModel.scorer`) of the VAE family: one Gaussian code
    z ~ q(z | x), the model's prior `model.prior` (N(0, I) by default), the decoder's
    `log_prob_given_codes`.

    `HierarchicalVAE` scores its own draws: its `scorer()` is the model."""

    def __init__(self, model):
        require(model, "posterior", "Likelihood evaluation")
        self.model = model
        self.log_prob_given_codes = pure_function(model.log_prob_given_codes)
        self.evaluation_rows = model.evaluation_rows
        self.evaluate_as_graph = model.evaluate_as_graph

    def check_inputs(self, x):
        return self.model.check_inputs(x)

    def posterior_context(self, x):
        """The encoder's pass, which every importance sample of a batch shares."""
        z_mean, z_log_var = self.model.encode_tensors(x)
        return z_mean, bound_log_var(z_log_var)  # as the sampler and the KL bound it

    def _draws(self, x, posterior, num_samples, seed):
        """`num_samples` draws z ~ q(z|x) per example, flattened to
        `(num_samples * batch, latent)` sample-major, and log p(x|z) for them."""
        z_mean, z_log_var = posterior
        batch, latent = z_mean.shape[0], z_mean.shape[1]
        eps = keras.random.normal((num_samples, batch, latent), seed=seed)
        z = ops.reshape(
            z_mean[None] + ops.exp(0.5 * z_log_var)[None] * eps, (num_samples * batch, latent)
        )
        return z, self.log_prob_given_codes(x, z)

    # The defensive proposal of `log_importance_weights`: the share of the draws taken
    # from the prior, and the bound on the posterior's log-variance (the prior's, 0).
    # A tenth keeps every weight within log 10 of p(x|z) and costs 0.02 nats at k = 1000 on
    # ordinary MNIST test images (a half: log 2 and 0.13 nats).
    prior_fraction = 0.1
    max_proposal_log_var = 0.0

    def log_importance_weights(self, x, posterior, num_samples, seed):
        """log p(x|z) + log p(z) - log r(z|x): shape `(num_samples, batch)`.

        `r` is a defensive proposal: `r = (1 - a) q~ + a p` with `p = model.prior`,
        `q~ = N(z_mean, min(var, 1))` (the posterior, no wider than the prior)
        and `a = m / num_samples`, the draws taken stratified: the first
        `num_samples - m` from `q~`, the last `m = floor(prior_fraction *
        num_samples)` from `p`. The mean of the `num_samples` weights is then an
        unbiased estimate of `p(x)` (the balance heuristic of multiple
        importance sampling: each draw weighted by the mixture of the two), so
        its log is still a lower bound on `log p(x)` in expectation, and every
        weight is at most `p(x | z) / a`: far from the data, where the encoder's
        posterior is wild, the prior's draws carry the estimate. With one draw
        (`m = 0`) it is the posterior-only estimate with the bounded variance.
        """
        z_mean, z_log_var = posterior
        batch, latent = z_mean.shape[0], z_mean.shape[1]
        from_prior = int(self.prior_fraction * num_samples)
        a = from_prior / num_samples
        log_var = ops.minimum(z_log_var, self.max_proposal_log_var)
        eps = keras.random.normal((num_samples, batch, latent), seed=seed)
        picks_prior = ops.reshape(ops.arange(num_samples) >= num_samples - from_prior, (-1, 1, 1))
        prior = self.model.prior
        # The prior's draws from the same noise (N(0, I): the noise itself).
        prior_draws = ops.reshape(
            prior.from_noise(ops.reshape(eps, (-1, latent)), seed), ops.shape(eps)
        )
        z = ops.where(picks_prior, prior_draws, z_mean[None] + ops.exp(0.5 * log_var)[None] * eps)
        z = ops.reshape(z, (num_samples * batch, latent))
        log_px_z = self.log_prob_given_codes(x, z)
        log_pz = prior.log_prob(z)
        log_qz = losses.diagonal_normal_log_prob(
            z,
            ops.reshape(ops.repeat(z_mean[None], num_samples, axis=0), (-1, latent)),
            ops.reshape(ops.repeat(log_var[None], num_samples, axis=0), (-1, latent)),
        )
        if from_prior:
            log_qz = ops.logaddexp(math.log1p(-a) + log_qz, math.log(a) + log_pz)
        return ops.reshape(log_px_z + log_pz - log_qz, (num_samples, -1))

    def elbo_draws(self, x, posterior, num_samples, seed):
        """log p(x|z) - KL(q(z|x) || p(z)): shape `(num_samples, batch)`; the KL exact when
        the prior has a closed form, else `log q(z|x) - log p(z)` at each draw."""
        z, log_px_z = self._draws(x, posterior, num_samples, seed)
        tile = lambda t: ops.tile(t, (num_samples, 1))  # noqa: E731  (sample-major rows)
        kl = self.model.prior.kl(tile(posterior[0]), tile(posterior[1]), z)
        return ops.reshape(log_px_z - kl, (num_samples, -1))


_SingleCodeScorer = SingleCodeScorer  # the former private name


def _scorer(model):
    """The model's importance-scoring interface (`model.scorer()`), or the capability error."""
    require(model, "posterior", "Likelihood evaluation")
    return model.scorer()


# Decoder rows per call for MNIST-sized (784-value) images; larger images get proportionally
# fewer, so the decoder's activations stay within a few GB (a 32x32 colour residual decoder at
# 20,000 rows took 22 GB).
MAX_ROWS_784 = 20000


def default_max_rows(shape) -> int:
    """Decoder rows evaluated at once for images of `shape`: `20000 * 784 / size`, >= 100."""
    size = max(1, int(np.prod(shape)))
    return max(100, MAX_ROWS_784 * 784 // size)


def _batches(scorer, x, batch_size, num_samples, max_rows, seed, verbose, score):
    """Runs `score(x_batch, context, chunk, seed_generator) -> (chunk, batch)` over x,
    `context` being `scorer.posterior_context(x_batch)`, shared by the batch's chunks."""
    x = scorer.check_inputs(x)
    num_samples = check_positive_int(num_samples, "num_samples")
    batch_size = check_positive_int(batch_size, "batch_size")
    seed_generator = keras.random.SeedGenerator(seed)
    if max_rows is None:  # a model with large activations per code names its own budget
        max_rows = scorer.evaluation_rows or default_max_rows(x.shape[1:])
    chunk = max(1, min(num_samples, max_rows // batch_size))
    progress = keras.utils.Progbar(len(x), unit_name="example") if verbose else None
    if scorer.evaluate_as_graph:  # models whose passes are many small ops
        score = graph_function(score)
    results = []
    for start in range(0, len(x), batch_size):
        xb = ops.convert_to_tensor(x[start : start + batch_size])
        context = scorer.posterior_context(xb)
        parts, done = [], 0
        while done < num_samples:
            k = min(chunk, num_samples - done)
            parts.append(
                ops.convert_to_numpy(score(xb, context, k, seed_generator)).astype("float64")
            )
            done += k
        results.append(np.concatenate(parts, axis=0))
        if progress is not None:
            progress.add(len(xb))
    return np.concatenate(results, axis=1)  # (num_samples, N)


def log_likelihood(
    model,
    x,
    num_samples: int = 1000,
    batch_size: int = 100,
    seed: int | None = 0,
    max_rows: int | None = None,
    verbose: bool = True,
) -> np.ndarray:
    """Importance-weighted estimate of log p(x) per example, in nats (IWAE bound).

    Args:
        model: A trained `VAE`.
        x: Data shaped like the model's inputs.
        num_samples: Importance samples `k` per example (papers: 5000).
        batch_size: Examples encoded at once.
        seed: Seed of the importance samples (reproducible estimates).
        max_rows: Most decoder rows evaluated at once (`batch * samples`; default
            `default_max_rows`: 20,000 MNIST-sized images, fewer of larger ones);
            bounds memory, the samples are processed in chunks.
        verbose: Show a progress bar.

    Returns:
        float64 NumPy array of shape `(N,)`: `log p(x)` estimates. The mean
        negative value is the test NLL that papers report.

    The draws come from a defensive proposal (the module's docstring): from
    two samples on, half of each chunk of draws is taken from the prior, so
    an image far from the training data cannot drive the estimate to minus
    millions of nats; on data the model knows it is within noise of the
    plain IWAE estimate with about `num_samples / 2` draws.

    Example:

    >>> nll = -log_likelihood(vae, x_test, num_samples=1000).mean()  # doctest: +SKIP
    """

    scorer = _scorer(model)
    log_w = _batches(
        scorer, x, batch_size, num_samples, max_rows, seed, verbose, scorer.log_importance_weights
    )
    top = log_w.max(axis=0)
    return top + np.log(np.exp(log_w - top).mean(axis=0))


def elbo(
    model,
    x,
    num_samples: int = 1,
    batch_size: int = 256,
    seed: int | None = 0,
    verbose: bool = False,
) -> np.ndarray:
    """Evidence lower bound per example, in nats: `E_q[log p(x|z)] - KL(q(z|x) || p(z))`.

    The reconstruction expectation uses `num_samples` draws from q, the KL
    term is exact. `-elbo(...).mean()` equals the `loss` that `evaluate`
    reports for beta = reconstruction_weight = 1 (up to sampling noise).
    """

    scorer = _scorer(model)
    draws = _batches(scorer, x, batch_size, num_samples, None, seed, verbose, scorer.elbo_draws)
    return draws.mean(axis=0)


def active_units(model, x, threshold: float = 0.01, batch_size: int = 256):
    """Burda et al.'s active units: dimensions with `Cov_x(E_q[z]) > threshold`.

    Returns:
        `(count, variances)`: the number of active latent dimensions and the
        per-dimension variance of `z_mean` over the data. A hierarchy counts
        every group's dimensions (see `active_units_per_group`).
    """
    if capabilities(model).latent_groups:
        counts, variances = active_units_per_group(model, x, threshold, batch_size)
        return sum(counts), np.concatenate(variances)
    z_mean, _ = model.encode(x, batch_size=batch_size)
    variances = z_mean.astype("float64").var(axis=0)
    return int((variances > threshold).sum()), variances


def active_units_per_group(model, x, threshold: float = 0.01, batch_size: int = 256):
    """Active units of each latent group of a `HierarchicalVAE`, top group first.

    A group's posterior mean is taken with the groups above it at their
    posterior means (`model.encode(x, groups="all")`).

    Returns:
        `(counts, variances)`: a list of counts and a list of flattened
        per-dimension variances, one per group.
    """
    groups = model.encode(x, batch_size=batch_size, groups="all")
    variances = [m.reshape(len(m), -1).astype("float64").var(axis=0) for m, _ in groups]
    return [int((v > threshold).sum()) for v in variances], variances


def bits_per_dim(nll_nats: float, num_dims: int) -> float:
    """Converts a negative log-likelihood in nats per example to bits per dimension.

    >>> round(bits_per_dim(784 * math.log(2.0), 784), 6)
    1.0
    """
    return float(nll_nats) / (num_dims * math.log(2.0))


DEQUANTIZATION_BITS = math.log2(256)  # a density on [0, 1] scored on bins of width 1/256


def dequantize(x, seed: int | None = 0) -> np.ndarray:
    """Uniform dequantisation of 8-bit data: `k / 255 -> (k + u) / 256`, `u ~ U[0, 1)`.

    Spreads each 8-bit value `k` over its own bin `[k / 256, (k + 1) / 256)`,
    so that a density `p` on [0, 1] bounds the probability of the bin:
    `log2 P(k) >= E_u[log2 p((k + u) / 256)] - 8` per dimension (Theis et
    al., 2016). Raises if `x` is not on the grid `k / 255`.

    >>> x = dequantize(np.array([0.0, 1.0]), seed=0)
    >>> bool(0 <= x[0] < 1 / 256 and 255 / 256 <= x[1] < 1)
    True
    """
    x = np.asarray(x, dtype="float64")
    k = np.round(x * 255.0)
    off = likelihoods.off_8bit_grid(x)
    if off.any() or x.min() < 0.0 or x.max() > 1.0:
        raise ValueError(
            "Bits per dimension on the 0-255 scale need 8-bit data (values k/255 in [0, 1]); "
            f"{off.mean():.1%} of the values are off that grid (range [{x.min():.4g}, "
            f"{x.max():.4g}]). Quantise with np.round(x * 255) / 255 first."
        )
    u = np.random.default_rng(seed).random(x.shape)
    out = ((k + u) / 256.0).astype("float32")
    # float32 rounding may land on the next bin's edge; stay inside [k, k + 1) / 256.
    upper = np.nextafter(((k + 1) / 256.0).astype("float32"), np.float32(0))
    return np.minimum(out, upper)


def on_8bit_grid(x) -> bool:
    """Whether every value is `k / 255` in [0, 1] (data a 0-255 bits/dim applies to)."""
    x = np.asarray(x)
    if x.size == 0 or x.min() < 0 or x.max() > 1:
        return False
    return not likelihoods.off_8bit_grid(x).any()


def scoring_plan(likelihood, x, seed: int | None = 0):
    """How `x` is scored under `likelihood` for a figure in bits/dim: `(data to score,
    bits/dim to add, scale)`, the one place this choice is made.

    - a binary likelihood (Bernoulli): `x` as is, no 8-bit scale (`scale` None);
    - a discrete one: the 8-bit values themselves, `"0-255 (discrete likelihood)"`;
    - a density on 8-bit data: uniformly dequantised data (`dequantize`) and `+8`,
      `"0-255 (uniform dequantisation, +8)"`; on other data, `"density on [0, 1]"`.
    """
    if likelihood.binary:
        return x, 0.0, None
    if likelihood.discrete:
        return x, 0.0, "0-255 (discrete likelihood)"
    if on_8bit_grid(x):
        return dequantize(x, seed), DEQUANTIZATION_BITS, "0-255 (uniform dequantisation, +8)"
    return x, 0.0, "density on [0, 1]"


def bits_per_dim_8bit(
    model,
    x,
    num_samples: int = 1000,
    batch_size: int = 100,
    seed: int | None = 0,
    verbose: bool = True,
) -> np.ndarray:
    """Per-example bits per dimension of 8-bit data on the 0-255 scale (lower is better).

    `-log2 P(x) / D` with `D = height * width * channels`, from the IWAE
    estimate of `log p(x)` (`log_likelihood`), the unit of the natural-image
    literature and of lossless codecs (PNG's file size in bits over `D`):

    - a discrete likelihood (`"discretized_logistic"`) gives the probability
      mass of the 8-bit values directly: `-log p(x) / (D ln 2)`;
    - a density (`"gaussian"`, fixed or learned variance) is scored on
      uniformly dequantised data `(k + u) / 256` (`dequantize`, seeded), then
      the change of scale to bins of width 1/256 adds `log2 256 = 8` bits per
      dimension: `-log p(x_deq) / (D ln 2) + 8`. This is an upper bound on
      the bits of the 8-bit values (Theis et al., 2016). The model was
      trained on `k / 255`; the dequantised data lie within 1/255 of it.

    A Bernoulli likelihood models binary pixels and has no 8-bit figure:
    use `log_likelihood` and `bits_per_dim` for binarized data. A model
    without a posterior but with a bound (`VQVAE` after `fit_prior`: the
    capability `nll_bound`) is scored by `-log p(x) <= model.nll_bound(x)`
    (`num_samples` unused), an upper bound on the bits.

    Example:

    >>> bpd = bits_per_dim_8bit(vae, x_test, num_samples=100)  # doctest: +SKIP
    >>> float(bpd.mean())  # doctest: +SKIP
    3.91
    """
    declared = require(model, "likelihood", "Bits per dimension of 8-bit data")
    if not declared.nll_bound:
        require(model, "posterior", "Bits per dimension of 8-bit data")
    likelihood = model.likelihood_object
    if likelihood.binary:
        name = likelihood.name
        raise ValueError(
            f"Bits per dimension of 8-bit data need a discrete 8-bit likelihood or a density; "
            f"this model's likelihood is {name!r} (binary pixels). Train with "
            "likelihood='discretized_logistic' (or 'gaussian'), or report "
            "bits_per_dim(-log_likelihood(model, x).mean(), D) for binarized data."
        )
    x = np.asarray(x, dtype="float32")
    dims = math.prod(x.shape[1:])
    extra_bits = 0.0
    if not likelihood.discrete:
        x, extra_bits = dequantize(x, seed), DEQUANTIZATION_BITS
    if declared.posterior:
        log_px = log_likelihood(
            model, x, num_samples=num_samples, batch_size=batch_size, seed=seed, verbose=verbose
        )
    else:  # no posterior to sample (VQ-VAE): the bound -log p(x) <= nll_bound(x)
        log_px = -model.nll_bound(x, batch_size=batch_size)
    return -log_px / (dims * math.log(2.0)) + extra_bits

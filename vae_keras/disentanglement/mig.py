"""The Mutual Information Gap (Chen, Li, Grosse & Duvenaud, 2018, "Isolating
Sources of Disentanglement in Variational Autoencoders")."""

import numpy as np

from vae_keras.disentanglement._common import mutual_information_matrix


def mutual_information_gap(codes, factors, num_bins: int = 20, return_per_factor: bool = False):
    """MIG: for each factor `v_k`, the gap between the two latent dimensions
    that share the most information with it, over the factor's entropy,
    averaged over factors:

        MIG = 1/K sum_k (I(z_a; v_k) - I(z_b; v_k)) / H(v_k)

    with `z_a`, `z_b` the dimensions of largest and second-largest mutual
    information. 1 when each factor lives in exactly one dimension, 0 when
    no dimension tells more about a factor than another (also when a factor
    is copied into two dimensions: a duplicated factor has no gap).

    As disentanglement_lib's `discrete_mig` (the reference): codes are
    discretised into `num_bins` equal-width histogram bins per dimension and
    the mutual information is the empirical one of the discrete variables.
    Integer factors (e.g. `shape`, `color`) are used as they are; continuous
    ones are binned the same way as the codes.

    Args:
        codes: `(num_examples, num_latents)` latent codes, e.g. the `z_mean`
            of `model.encode(x)` (the `(z_mean, z_log_var)` pair is accepted).
        factors: the ground-truth factors of the same examples: a structured
            array (`datasets.shapes.shapes_factors`), a dict of columns or an
            array `(num_examples, num_factors)`.
        num_bins: histogram bins per code dimension and continuous factor.
        return_per_factor: also return `{factor name: gap}`.

    Returns:
        MIG, a float in [0, 1] (and the per-factor dict).

    Example:

    >>> rng = np.random.default_rng(0)
    >>> v = rng.integers(0, 10, size=(2000, 3))
    >>> round(mutual_information_gap(v + 0.01 * rng.normal(size=v.shape), v), 2)
    0.99
    >>> round(mutual_information_gap(rng.normal(size=(2000, 3)), v), 2)
    0.0
    """
    if isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 2:
        raise ValueError(f"`num_bins` must be an integer >= 2. Received: num_bins={num_bins!r}")
    m, names = mutual_information_matrix(codes, factors, num_bins)
    if m.shape[0] < 2:
        gaps = m[0]
    else:
        top = np.sort(m, axis=0)[::-1]
        gaps = top[0] - top[1]
    score = float(np.mean(gaps))
    if return_per_factor:
        return score, dict(zip(names, map(float, gaps), strict=True))
    return score

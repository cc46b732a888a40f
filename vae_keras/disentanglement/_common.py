"""What the metrics share: checked `(codes, factors)` arrays, discretisation,
discrete mutual information, and the factor each latent dimension best explains."""

import numpy as np


def as_factor_matrix(factors, name: str = "factors"):
    """Ground-truth factors as `(matrix, names, discrete)`.

    Args:
        factors: a structured array (e.g. `datasets.shapes.shapes_factors`, one
            field per factor), a dict of equal-length columns, or an array
            `(num_examples, num_factors)`; a 1-D array is one factor.
        name: the argument's name, for error messages.

    Returns:
        `matrix`: float64 `(num_examples, num_factors)`; `names`: a tuple of
        factor names (`"factor_0"`, ... for plain arrays); `discrete`: a bool
        array, True for integer-valued factors (structured integer fields,
        integer arrays).
    """
    if isinstance(factors, dict):
        names = tuple(factors)
        columns = [np.asarray(factors[n]) for n in names]
    elif isinstance(factors, np.ndarray) and factors.dtype.names:
        names = tuple(factors.dtype.names)
        columns = [np.asarray(factors[n]) for n in names]
    else:
        array = np.asarray(factors)
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2 or not array.size:
            raise ValueError(
                f"`{name}` must be shaped (num_examples, num_factors), a structured array or "
                f"a dict of columns. Received: {name} of shape {array.shape}."
            )
        names = tuple(f"factor_{j}" for j in range(array.shape[1]))
        columns = list(array.T)
    if not columns or len({len(c) for c in columns}) != 1:
        raise ValueError(
            f"`{name}` needs at least one factor, all of one length. Received column lengths "
            f"{[len(c) for c in columns]}."
        )
    discrete = np.array([np.issubdtype(c.dtype, np.integer) for c in columns])
    matrix = np.stack([c.astype(np.float64) for c in columns], axis=1)
    if not np.all(np.isfinite(matrix)):
        raise ValueError(
            f"`{name}` holds NaN or inf values. Received: {name} with non-finite rows."
        )
    return matrix, names, discrete


def as_codes(codes, num_examples: int | None = None, name: str = "codes"):
    """Latent codes as float64 `(num_examples, num_latents)`, checked."""
    if isinstance(codes, (tuple, list)) and len(codes) == 2 and np.ndim(codes[0]) == 2:
        codes = codes[0]  # `model.encode(x)` returns (z_mean, z_log_var): use the means
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or not codes.size:
        raise ValueError(
            f"`{name}` must be shaped (num_examples, num_latents), e.g. the `z_mean` of "
            f"`model.encode(x)`. Received: {name} of shape {codes.shape}."
        )
    if not np.all(np.isfinite(codes)):
        raise ValueError(f"`{name}` holds NaN or inf values; encode finite inputs.")
    if num_examples is not None and len(codes) != num_examples:
        raise ValueError(
            f"`{name}` has {len(codes)} rows but the factors have {num_examples}: pass one "
            "code per example, in the same order."
        )
    return codes


def histogram_discretize(values, num_bins: int = 20):
    """Each column into `num_bins` equal-width bins (disentanglement_lib's
    `_histogram_discretize`); returns int64 bin indices of the same shape."""
    values = np.asarray(values, dtype=np.float64)
    out = np.zeros(values.shape, np.int64)
    for j in range(values.shape[1]):
        edges = np.histogram(values[:, j], num_bins)[1][:-1]
        out[:, j] = np.digitize(values[:, j], edges)
    return out


def discretize_factors(matrix, discrete, num_bins: int = 20):
    """Integer factors as they are, continuous ones into `num_bins` bins."""
    out = histogram_discretize(matrix, num_bins)
    out[:, discrete] = matrix[:, discrete].astype(np.int64)
    return out


def entropy(labels) -> float:
    """Entropy in nats of a discrete variable, from its empirical frequencies."""
    _, counts = np.unique(labels, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def mutual_info(a, b) -> float:
    """Mutual information in nats of two discrete variables (empirical)."""
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1.0)
    joint /= joint.sum()
    outer = joint.sum(1, keepdims=True) @ joint.sum(0, keepdims=True)
    nonzero = joint > 0
    return float(max(0.0, (joint[nonzero] * np.log(joint[nonzero] / outer[nonzero])).sum()))


def mutual_information_matrix(codes, factors, num_bins: int = 20):
    """Normalised mutual information `I(z_i; v_k) / H(v_k)` of each latent
    dimension `i` (rows) and factor `k` (columns), both discretised into
    `num_bins` histogram bins (integer factors kept as they are).

    Returns:
        `(matrix, factor_names)`: float64 `(num_latents, num_factors)` in [0, 1].

    Example:

    >>> rng = np.random.default_rng(0)
    >>> v = rng.uniform(size=(500, 2))
    >>> m, names = mutual_information_matrix(v[:, ::-1], v)
    >>> names, m.argmax(axis=0).tolist()
    (('factor_0', 'factor_1'), [1, 0])
    """
    matrix, names, discrete = as_factor_matrix(factors)
    codes = as_codes(codes, len(matrix))
    z = histogram_discretize(codes, num_bins)
    v = discretize_factors(matrix, discrete, num_bins)
    m = np.zeros((z.shape[1], v.shape[1]))
    for k in range(v.shape[1]):
        h = entropy(v[:, k])
        for i in range(z.shape[1]):
            m[i, k] = mutual_info(z[:, i], v[:, k]) / h if h > 0 else 0.0
    return m, names


def best_factors(codes, factors, num_bins: int = 20):
    """The factor each latent dimension best explains, by normalised mutual
    information: a list of `(factor_name, nmi)` per dimension. Labels
    traversal rows (`plotting` figures of `examples/disentanglement.py`)."""
    m, names = mutual_information_matrix(codes, factors, num_bins)
    return [(names[int(row.argmax())], float(row.max())) for row in m]


def split_factors(factors, stop: int):
    """`(factors[:stop], factors[stop:])` for any accepted form (dtypes kept)."""
    if isinstance(factors, dict):
        return (
            {n: np.asarray(c)[:stop] for n, c in factors.items()},
            {n: np.asarray(c)[stop:] for n, c in factors.items()},
        )
    factors = np.asarray(factors)
    return factors[:stop], factors[stop:]


def check_fraction(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ValueError(f"`{name}` must lie in (0, 1). Received: {name}={value!r}")
    return float(value)

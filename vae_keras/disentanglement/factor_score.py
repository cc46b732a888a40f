"""The FactorVAE score (Kim & Mnih, 2018, "Disentangling by Factorising"):
a metric that intervenes on the data, so it takes a factor sampler and a
representation instead of fixed codes."""

import numpy as np

from vae_keras.disentanglement._common import as_codes, as_factor_matrix
from vae_keras.models.capabilities import capabilities
from vae_keras.validation import check_positive_int


class ShapesSampler:
    """Samples factors of the procedural `shapes` data and renders them.

    The factor sampler of `factor_vae_score` for `datasets.load("shapes")`:
    `sample_factors(num, rng)` returns a structured factor array (the form of
    `datasets.shapes_factors`) and `observe(factors)` renders the images.

    Args:
        image_size: `N` or `(height, width)` of the rendered images.

    Example:

    >>> sampler = ShapesSampler(8)
    >>> f = sampler.sample_factors(3, np.random.default_rng(0))
    >>> sampler.observe(f).shape
    (3, 8, 8, 3)
    """

    def __init__(self, image_size=32):
        self.image_size = image_size

    def sample_factors(self, num, rng):
        from vae_keras.datasets.shapes import shapes_factors

        return shapes_factors("train", num, seed=int(rng.integers(2**31)))

    def observe(self, factors):
        from vae_keras.datasets.shapes import render_shapes

        return render_shapes(factors, self.image_size)


def _representation(representation):
    if capabilities(representation).encode:  # a model: its deterministic codes
        return lambda x: representation.encode(x)[0]
    if not callable(representation):
        raise ValueError(
            "`representation` must be a model with `encode` or a function from "
            f"observations to codes. Received: {representation!r}"
        )
    return representation


def _fix_factor(factors, k):
    """Sets factor `k` of every row to the value of row 0 (in place)."""
    if isinstance(factors, dict):
        name = list(factors)[k]
        column = np.asarray(factors[name])
        factors[name] = np.full_like(column, column[0])
    elif isinstance(factors, np.ndarray) and factors.dtype.names:
        name = factors.dtype.names[k]
        factors[name] = factors[name][0]
    else:
        factors[:, k] = factors[0, k]
    return factors


def _votes(encode, sampler, num_points, batch_size, rng, scale, active, num_factors):
    """Majority-vote counts `(num_factors, num_latents)`: per point, a random
    factor is fixed over a batch, and the active code of least normalised
    variance votes for it."""
    votes = np.zeros((num_factors, len(scale)), np.int64)
    chunk = max(1, 2048 // batch_size)  # several points per encoder call
    active_index = np.flatnonzero(active)
    for start in range(0, num_points, chunk):
        count = min(chunk, num_points - start)
        fixed = rng.integers(num_factors, size=count)
        parts = []
        for k in fixed:
            factors = _fix_factor(sampler.sample_factors(batch_size, rng), int(k))
            parts.append(sampler.observe(factors))
        codes = as_codes(encode(np.concatenate(parts)))
        codes = codes.reshape(count, batch_size, -1) / scale
        variances = codes[:, :, active].var(axis=1, ddof=1)
        for k, best in zip(fixed, active_index[variances.argmin(axis=1)], strict=True):
            votes[k, best] += 1
    return votes


def factor_vae_score(
    representation,
    sampler,
    batch_size: int = 64,
    num_train: int = 800,
    num_eval: int = 400,
    num_variance_estimate: int = 5000,
    prune_threshold: float = 0.05,
    seed: int = 0,
) -> dict:
    """The FactorVAE score: the accuracy of a majority-vote classifier that
    names the fixed factor from the code dimension of least variance.

    Each point fixes one factor (chosen at random) across `batch_size`
    sampled examples, encodes them, divides each code dimension by its
    global standard deviation, and takes the dimension with the smallest
    variance within the batch; a classifier maps each dimension to the
    factor it most often votes for (trained on `num_train` points), and the
    score is its accuracy on `num_eval` fresh points. Dimensions whose
    global standard deviation is below `prune_threshold` (collapsed to the
    prior mean) are ignored. 1 when each factor has a dimension of its own;
    `1 / num_factors` or less when none does. The settings of
    disentanglement_lib (the reference) are `batch_size=64`,
    `num_train=10000`, `num_eval=5000`, `num_variance_estimate=10000`,
    threshold 0.05; the defaults here are smaller, for a CPU.

    Args:
        representation: a model with `encode` (its `z_mean` is used) or a
            function from observations to codes `(num, num_latents)`.
        sampler: an object with `sample_factors(num, rng)` (factors as a
            structured array, dict of columns or `(num, num_factors)` array)
            and `observe(factors)` (the observations), e.g. `ShapesSampler`.
        batch_size: examples per point, sharing the fixed factor.
        num_train, num_eval: points to fit and to score the classifier.
        num_variance_estimate: examples for the global standard deviations.
        prune_threshold: minimum global standard deviation of an active code.
        seed: seed of the sampling.

    Returns:
        A dict: `score` (the evaluation accuracy), `train_accuracy`,
        `eval_accuracy`, `num_active_dims`.
    """
    for name, value in (
        ("batch_size", batch_size),
        ("num_train", num_train),
        ("num_eval", num_eval),
        ("num_variance_estimate", num_variance_estimate),
    ):
        check_positive_int(value, name)
    if batch_size < 2 or num_variance_estimate < 2:
        raise ValueError(
            "`batch_size` and `num_variance_estimate` must be at least 2 (a variance). "
            f"Received: batch_size={batch_size}, num_variance_estimate={num_variance_estimate}."
        )
    for method in ("sample_factors", "observe"):
        if not callable(getattr(sampler, method, None)):
            raise ValueError(
                f"`sampler` must have `sample_factors(num, rng)` and `observe(factors)` "
                f"(e.g. `ShapesSampler(image_size)`). Received: {sampler!r}, without `{method}`."
            )
    encode = _representation(representation)
    rng = np.random.default_rng(seed)
    factors = sampler.sample_factors(num_variance_estimate, rng)
    num_factors = as_factor_matrix(factors)[0].shape[1]
    codes = as_codes(encode(sampler.observe(factors)), num_variance_estimate)
    scale = codes.std(axis=0, ddof=1)
    active = scale >= prune_threshold
    if not active.any():
        return {"score": 0.0, "train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}
    scale = np.where(active, scale, 1.0)
    args = (encode, sampler)
    rest = (batch_size, rng, scale, active, num_factors)
    train = _votes(*args, num_train, *rest)
    classifier = train.argmax(axis=0)  # dimension -> factor
    columns = np.arange(train.shape[1])
    evaluation = _votes(*args, num_eval, *rest)
    train_accuracy = float(train[classifier, columns].sum() / train.sum())
    eval_accuracy = float(evaluation[classifier, columns].sum() / evaluation.sum())
    return {
        "score": eval_accuracy,
        "train_accuracy": train_accuracy,
        "eval_accuracy": eval_accuracy,
        "num_active_dims": int(active.sum()),
    }

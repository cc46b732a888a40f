"""DCI: disentanglement, completeness and informativeness (Eastwood &
Williams, 2018, "A Framework for the Quantitative Evaluation of Disentangled
Representations")."""

import numpy as np

from vae_keras.disentanglement._common import as_codes, as_factor_matrix, check_fraction

REGRESSORS = ("gradient_boosting", "lasso")


def _normalized_entropy(p, axis):
    """Entropy of the distributions along `axis`, in base `p.shape[axis]`."""
    p = p + 1e-11
    p = p / p.sum(axis=axis, keepdims=True)
    return -(p * np.log(p)).sum(axis=axis) / np.log(p.shape[axis])


def disentanglement_score(importance):
    """D from an importance matrix `(num_latents, num_factors)`: each code's
    `1 - H(factors it predicts)` weighted by its share of the importance."""
    importance = np.abs(np.asarray(importance, np.float64))
    if importance.shape[1] < 2:
        per_code = np.ones(importance.shape[0])
    else:
        per_code = 1.0 - _normalized_entropy(importance, axis=1)
    weights = importance if importance.sum() else np.ones_like(importance)
    return float(np.sum(per_code * weights.sum(1) / weights.sum()))


def completeness_score(importance):
    """C from an importance matrix: each factor's `1 - H(codes that predict
    it)` weighted by its share of the importance."""
    importance = np.abs(np.asarray(importance, np.float64))
    if importance.shape[0] < 2:
        per_factor = np.ones(importance.shape[1])
    else:
        per_factor = 1.0 - _normalized_entropy(importance, axis=0)
    weights = importance if importance.sum() else np.ones_like(importance)
    return float(np.sum(per_factor * weights.sum(0) / weights.sum()))


def _predictor(discrete, regressor, seed):
    from sklearn import ensemble, linear_model

    if regressor == "lasso":
        if discrete:
            return linear_model.LogisticRegression(penalty="l1", C=1.0, solver="saga", max_iter=500)
        return linear_model.Lasso(alpha=0.01)
    if discrete:
        return ensemble.GradientBoostingClassifier(random_state=seed)
    return ensemble.GradientBoostingRegressor(random_state=seed)


def _importances(model, regressor):
    if regressor == "gradient_boosting":
        return np.abs(model.feature_importances_)
    return np.abs(np.atleast_2d(model.coef_)).sum(axis=0)


def dci(
    codes,
    factors,
    test_codes=None,
    test_factors=None,
    regressor: str = "gradient_boosting",
    test_fraction: float = 0.2,
    seed: int = 0,
) -> dict:
    """DCI disentanglement, completeness and informativeness.

    One predictor per factor maps the codes to the factor (a classifier for
    integer factors, a regressor for continuous ones); its feature
    importances form the matrix `R[i, k]` (code `i`, factor `k`).
    Disentanglement is how much each code concentrates on one factor
    (`1 - entropy` of its row, base K), weighted by the code's importance;
    completeness is how much each factor is captured by one code (`1 -
    entropy` of its column, base L). Informativeness is the predictors'
    mean score on held-out examples: accuracy for integer factors, R^2
    (clipped at 0) for continuous ones; higher is better.

    As disentanglement_lib (the reference) with `regressor="gradient_boosting"`
    (scikit-learn's gradient boosting, default settings, importances from
    the trees). `"lasso"` uses L1-penalised linear models on standardised
    codes (the paper's LASSO), importances `|coefficients|`.

    Args:
        codes: `(num_examples, num_latents)` codes (e.g. `z_mean`).
        factors: their ground-truth factors (structured array, dict or array).
        test_codes, test_factors: held-out examples for informativeness;
            when omitted the last `test_fraction` of the examples is held out.
        regressor: `"gradient_boosting"` or `"lasso"`.
        test_fraction: share held out when no test set is given.
        seed: seed of the gradient-boosting predictors.

    Returns:
        A dict: `disentanglement`, `completeness`, `informativeness`
        (floats in [0, 1]) and `importance_matrix` (`(num_latents, num_factors)`).

    Example:

    >>> rng = np.random.default_rng(0)
    >>> v = rng.uniform(size=(300, 2))
    >>> scores = dci(v + 0.01 * rng.normal(size=v.shape), v)
    >>> scores["disentanglement"] > 0.9, scores["completeness"] > 0.9
    (True, True)
    """
    if regressor not in REGRESSORS:
        raise ValueError(
            f"`regressor` must be one of {REGRESSORS}. Received: regressor={regressor!r}"
        )
    matrix, names, discrete = as_factor_matrix(factors)
    codes = as_codes(codes, len(matrix))
    if (test_codes is None) != (test_factors is None):
        raise ValueError("Pass both `test_codes` and `test_factors`, or neither.")
    if test_codes is None:
        split = int(round(len(codes) * (1 - check_fraction(test_fraction, "test_fraction"))))
        codes, test_codes = codes[:split], codes[split:]
        matrix, test_matrix = matrix[:split], matrix[split:]
    else:
        test_matrix, test_names, _ = as_factor_matrix(test_factors, "test_factors")
        if test_names != names:
            raise ValueError(
                f"`test_factors` has factors {test_names}, `factors` has {names}: use the same."
            )
        test_codes = as_codes(test_codes, len(test_matrix), "test_codes")
    if regressor == "lasso":  # standardised codes: coefficients comparable across codes
        mean, std = codes.mean(0), codes.std(0) + 1e-8
        codes, test_codes = (codes - mean) / std, (test_codes - mean) / std
    importance = np.zeros((codes.shape[1], matrix.shape[1]))
    scores = []
    for k in range(matrix.shape[1]):
        model = _predictor(discrete[k], regressor, seed)
        model.fit(codes, matrix[:, k])
        importance[:, k] = _importances(model, regressor)
        score = model.score(test_codes, test_matrix[:, k])  # accuracy, or R^2
        scores.append(max(0.0, float(score)))
    return {
        "disentanglement": disentanglement_score(importance),
        "completeness": completeness_score(importance),
        "informativeness": float(np.mean(scores)),
        "importance_matrix": importance,
    }

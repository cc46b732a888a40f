"""The Separated Attribute Predictability score (Kumar, Sattigeri &
Balakrishnan, 2018, "Variational Inference of Disentangled Latent Concepts
from Unlabeled Observations")."""

import numpy as np

from vae_keras.disentanglement._common import (
    as_codes,
    as_factor_matrix,
    check_fraction,
    split_factors,
)


def sap_score_matrix(codes, factors, test_codes, test_factors):
    """`S[i, k]`: how well code `i` alone predicts factor `k`. Continuous
    factors: the squared correlation (R^2 of a linear fit); integer factors:
    held-out accuracy of a linear SVM on that one code (disentanglement_lib)."""
    from sklearn import svm

    matrix, _, discrete = as_factor_matrix(factors)
    test_matrix, _, _ = as_factor_matrix(test_factors, "test_factors")
    scores = np.zeros((codes.shape[1], matrix.shape[1]))
    for i in range(codes.shape[1]):
        for k in range(matrix.shape[1]):
            if discrete[k]:
                classifier = svm.LinearSVC(C=0.01, class_weight="balanced")
                classifier.fit(codes[:, i : i + 1], matrix[:, k])
                prediction = classifier.predict(test_codes[:, i : i + 1])
                scores[i, k] = np.mean(prediction == test_matrix[:, k])
            else:
                cov = np.cov(codes[:, i], matrix[:, k], ddof=1)
                if cov[0, 0] > 1e-12 and cov[1, 1] > 0:
                    scores[i, k] = cov[0, 1] ** 2 / (cov[0, 0] * cov[1, 1])
    return scores


def sap_score(codes, factors, test_codes=None, test_factors=None, test_fraction: float = 0.2):
    """SAP: for each factor, the gap between the two codes that predict it
    best on their own (score matrix of `sap_score_matrix`), averaged over
    factors. Near 1 when each factor is read off one code, near 0 when no
    single code predicts a factor better than another (also when a factor
    is duplicated in two codes).

    Args:
        codes: `(num_examples, num_latents)` codes (e.g. `z_mean`).
        factors: their ground-truth factors (structured array, dict or array).
        test_codes, test_factors: held-out examples for the integer factors'
            classifiers; when omitted the last `test_fraction` is held out.
        test_fraction: share held out when no test set is given.

    Returns:
        SAP, a float in [0, 1].

    Example:

    >>> rng = np.random.default_rng(0)
    >>> v = rng.uniform(size=(1000, 3))
    >>> round(sap_score(v, v), 2), round(sap_score(np.hstack([v, v]), v), 2)
    (0.99, 0.0)
    """
    matrix, _, _ = as_factor_matrix(factors)
    codes = as_codes(codes, len(matrix))
    if (test_codes is None) != (test_factors is None):
        raise ValueError("Pass both `test_codes` and `test_factors`, or neither.")
    if test_codes is None:
        split = int(round(len(codes) * (1 - check_fraction(test_fraction, "test_fraction"))))
        factors, test_factors = split_factors(factors, split)
        codes, test_codes = codes[:split], codes[split:]
    else:
        test_codes = as_codes(test_codes, len(as_factor_matrix(test_factors)[0]), "test_codes")
    scores = sap_score_matrix(codes, factors, test_codes, test_factors)
    if scores.shape[0] < 2:
        return float(np.mean(scores[0]))
    top = np.sort(scores, axis=0)
    return float(np.mean(top[-1] - top[-2]))

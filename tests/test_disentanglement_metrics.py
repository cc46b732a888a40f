"""Oracle tests of the disentanglement metrics: known codes, known scores.

Where disentanglement_lib (the reference) tests a defined synthetic case, the
same case and bounds are used here (its `IdentityObservationsData`: ten
factors drawn uniformly from {1, ..., 10}, observed as they are).
"""

import math

import numpy as np
import pytest

from vae_keras import disentanglement as dis


def identity_factors(num=3000, seed=0, num_factors=10):
    """disentanglement_lib's IdentityObservationsData: integers 1..10."""
    return np.random.default_rng(seed).integers(1, 11, size=(num, num_factors))


def continuous_factors(num=2000, seed=0, k=4):
    return np.random.default_rng(seed).uniform(size=(num, k))


def rotated(v, seed=1):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(v.shape[1],) * 2))
    return (v - v.mean(0)) @ q


def shuffled(codes, seed=2):
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(c) for c in codes.T], axis=1)


class IdentitySampler:
    """The FactorVAE score's sampler for IdentityObservationsData."""

    def __init__(self, num_factors=10):
        self.num_factors = num_factors

    def sample_factors(self, num, rng):
        return rng.integers(1, 11, size=(num, self.num_factors))

    def observe(self, factors):
        return np.asarray(factors, np.float64)


# === MIG ===


def test_mig_matches_disentanglement_lib_identity_cases():
    v = identity_factors()
    # disentanglement_lib/evaluation/metrics/mig_test.py: the same three cases and bounds.
    assert 0.9 <= dis.mutual_information_gap(v, v) <= 1.0
    assert 0.0 <= dis.mutual_information_gap(np.zeros_like(v), v) <= 0.2
    assert 0.0 <= dis.mutual_information_gap(np.hstack([v, v]), v) <= 0.1


def test_mig_oracles_on_continuous_factors():
    v = continuous_factors()
    near = v + 1e-3 * np.random.default_rng(3).normal(size=v.shape)
    score, per_factor = dis.mutual_information_gap(near, v, return_per_factor=True)
    assert score > 0.85 and set(per_factor) == {f"factor_{k}" for k in range(4)}
    assert dis.mutual_information_gap(rotated(v), v) < 0.3  # mixed codes: low
    assert dis.mutual_information_gap(shuffled(near), v) < 0.05  # no information: ~0


def test_duplicated_factor_lowers_mig_by_its_gap():
    v = continuous_factors()
    near = v + 1e-3 * np.random.default_rng(3).normal(size=v.shape)
    _, gaps = dis.mutual_information_gap(near, v, return_per_factor=True)
    codes = np.hstack([near, near[:, :1]])  # factor 0 now lives in two codes
    _, dup_gaps = dis.mutual_information_gap(codes, v, return_per_factor=True)
    assert dup_gaps["factor_0"] < 0.02 < gaps["factor_0"] - 0.8
    for k in (1, 2, 3):  # the other factors keep their gap
        assert dup_gaps[f"factor_{k}"] == pytest.approx(gaps[f"factor_{k}"])


def test_mutual_information_matrix_and_best_factors_name_the_factor():
    from vae_keras.datasets import shapes_factors

    f = shapes_factors("train", 1000)
    codes = np.stack([f["x"], f["color"] + 0.01, f["y"]], axis=1)
    m, names = dis.mutual_information_matrix(codes, f)
    assert names == ("shape", "color", "scale", "rotation", "x", "y") and m.shape == (3, 6)
    assert [name for name, _ in dis.best_factors(codes, f)] == ["x", "color", "y"]
    assert m.max() <= 1.0 + 1e-9 and m.min() >= 0.0


# === DCI ===


def test_dci_scores_from_importance_matrices_match_disentanglement_lib():
    # disentanglement_lib/evaluation/metrics/dci_test.py, the exact values.
    diagonal = np.diag(5.0 * np.ones(5))
    assert dis.disentanglement_score(diagonal) == pytest.approx(1.0)
    assert dis.completeness_score(diagonal) == pytest.approx(1.0)
    empty_code = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    assert dis.disentanglement_score(empty_code) == pytest.approx(1.0)
    assert dis.completeness_score(empty_code) == pytest.approx(1.0)
    zero = np.zeros((10, 10))
    assert dis.disentanglement_score(zero) == pytest.approx(0.0, abs=1e-7)
    assert dis.completeness_score(zero) == pytest.approx(0.0, abs=1e-7)
    redundant = np.vstack([diagonal, diagonal])
    assert dis.disentanglement_score(redundant) == pytest.approx(1.0)
    assert dis.completeness_score(redundant) == pytest.approx(1 - math.log(2) / math.log(10))
    assert dis.disentanglement_score(diagonal[:2]) == pytest.approx(1.0)
    assert dis.completeness_score(diagonal[:2]) == pytest.approx(1.0)
    two_factors = np.hstack([diagonal, diagonal])
    assert dis.disentanglement_score(two_factors) == pytest.approx(1 - math.log(2) / math.log(10))
    assert dis.completeness_score(two_factors) == pytest.approx(1.0)


def test_dci_oracles_with_gradient_boosting():
    v = continuous_factors(600)
    near = v + 1e-3 * np.random.default_rng(3).normal(size=v.shape)
    good = dis.dci(near, v)
    assert good["disentanglement"] > 0.95 and good["completeness"] > 0.95
    assert good["informativeness"] > 0.95 and good["importance_matrix"].shape == (4, 4)
    mixed = dis.dci(rotated(v), v)
    assert mixed["disentanglement"] < 0.7 and mixed["completeness"] < 0.7
    assert mixed["informativeness"] > 0.8  # the information is there, spread out
    noise = dis.dci(shuffled(near), v)
    assert noise["disentanglement"] < 0.2 and noise["informativeness"] < 0.1
    duplicated = dis.dci(np.hstack([near, near]), v)  # as disentanglement_lib's test
    target = 1 - math.log(2) / math.log(8)
    assert duplicated["disentanglement"] > 0.9
    assert target - 0.1 < duplicated["completeness"] < target + 0.1


def test_dci_discrete_factors_use_classifiers_and_a_given_test_set():
    v = identity_factors(500, num_factors=3)
    test = identity_factors(200, seed=5, num_factors=3)
    scores = dis.dci(v, v, test, test)
    assert scores["disentanglement"] > 0.9 and scores["informativeness"] > 0.99


def test_dci_lasso_separates_aligned_from_rotated_codes():
    v = continuous_factors(600)
    good = dis.dci(v, v, regressor="lasso")
    mixed = dis.dci(rotated(v), v, regressor="lasso")
    assert good["disentanglement"] > 0.95 > 0.5 > mixed["disentanglement"]


# === SAP ===


def test_sap_matches_disentanglement_lib_identity_cases():
    v = identity_factors(3000)
    as_continuous = v.astype(np.float64)  # its tests use continuous_factors=True
    assert 0.9 <= dis.sap_score(as_continuous, as_continuous) <= 1.0
    assert 0.0 <= dis.sap_score(np.zeros_like(as_continuous), as_continuous) <= 0.2
    assert 0.0 <= dis.sap_score(np.hstack([as_continuous] * 2), as_continuous) <= 0.2


def test_sap_rotation_and_shuffle_score_low():
    v = continuous_factors()
    assert dis.sap_score(rotated(v), v) < 0.6
    assert dis.sap_score(shuffled(v), v) < 0.02


def test_sap_discrete_factors_use_held_out_accuracy():
    # Binary factors: a linear SVM on the right code is exact, on another at chance.
    v = np.random.default_rng(0).integers(0, 2, size=(1000, 3))
    assert dis.sap_score(v + 0.01, v) > 0.45  # accuracy 1 minus chance 0.5
    assert dis.sap_score(shuffled(v), v) < 0.1
    # Ten values: one linear SVM per class on one code reads only some of them.
    v = identity_factors(1000, num_factors=3)
    assert dis.sap_score(v + 0.01, v) > dis.sap_score(shuffled(v), v) + 0.2


# === FactorVAE score ===


def test_factor_vae_score_matches_disentanglement_lib_identity_cases():
    sampler = IdentitySampler()
    kwargs = {"batch_size": 5, "num_train": 300, "num_eval": 200, "num_variance_estimate": 500}
    good = dis.factor_vae_score(lambda x: x, sampler, **kwargs)
    assert 0.9 <= good["train_accuracy"] <= 1.0 and 0.9 <= good["eval_accuracy"] <= 1.0
    assert good["num_active_dims"] == 10 and good["score"] == good["eval_accuracy"]
    bad = dis.factor_vae_score(np.zeros_like, sampler, **kwargs)
    assert bad["score"] <= 0.2 and bad["num_active_dims"] == 0


def test_factor_vae_score_is_low_for_rotated_codes():
    # A rotation keeps a majority vote right only for factors whose most aligned
    # code is theirs alone: with ten factors most collide (0.2-0.45 here).
    sampler = IdentitySampler(10)
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(10, 10)))
    kwargs = {"batch_size": 16, "num_train": 300, "num_eval": 200, "num_variance_estimate": 500}
    good = dis.factor_vae_score(lambda x: x, sampler, **kwargs)["score"]
    mixed = dis.factor_vae_score(lambda x: x @ q, sampler, **kwargs)["score"]
    assert good > 0.95 and mixed < 0.5


def test_factor_vae_score_on_shapes_with_a_model_like_representation():
    class Oracle:  # a "model" whose encode returns (z_mean, z_log_var) from the factors
        def encode(self, x):
            return x.reshape(len(x), -1)[:, :2] * 0, None

    # Collapsed codes: every dimension pruned, score 0.
    scores = dis.factor_vae_score(
        Oracle(),
        dis.ShapesSampler(8),
        batch_size=4,
        num_train=5,
        num_eval=5,
        num_variance_estimate=20,
    )
    assert scores == {
        "score": 0.0,
        "train_accuracy": 0.0,
        "eval_accuracy": 0.0,
        "num_active_dims": 0,
    }


# === Argument checks ===


def test_metrics_name_bad_arguments():
    v = continuous_factors(50)
    with pytest.raises(ValueError, match="rows but the factors have"):
        dis.mutual_information_gap(v[:10], v)
    with pytest.raises(ValueError, match="num_bins"):
        dis.mutual_information_gap(v, v, num_bins=1)
    with pytest.raises(ValueError, match="regressor"):
        dis.dci(v, v, regressor="forest")
    with pytest.raises(ValueError, match="test_fraction"):
        dis.sap_score(v, v, test_fraction=1.5)
    with pytest.raises(ValueError, match="sample_factors"):
        dis.factor_vae_score(lambda x: x, object())
    with pytest.raises(ValueError, match="NaN"):
        dis.mutual_information_gap(np.full_like(v, np.nan), v)


def test_factor_vae_score_fixes_factors_in_every_sampler_form():
    class DictSampler(IdentitySampler):
        def sample_factors(self, num, rng):
            v = super().sample_factors(num, rng)
            return {f"f{k}": list(v[:, k]) for k in range(v.shape[1])}

        def observe(self, factors):
            return np.stack([np.asarray(c, np.float64) for c in factors.values()], axis=1)

    kwargs = {"batch_size": 8, "num_train": 100, "num_eval": 100, "num_variance_estimate": 200}
    assert dis.factor_vae_score(lambda x: x, DictSampler(4), **kwargs)["score"] > 0.95

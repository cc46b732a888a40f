"""Disentanglement, measured: metrics against ground-truth factors, and the
objectives that aim at it.

Metrics (NumPy and scikit-learn; disentanglement_lib's estimators are the
reference implementation):
- `mutual_information_gap` (MIG; Chen et al., 2018),
- `dci` (disentanglement, completeness, informativeness; Eastwood &
  Williams, 2018),
- `factor_vae_score` (Kim & Mnih, 2018; intervenes on the data through a
  factor sampler such as `ShapesSampler`),
- `sap_score` (SAP; Kumar et al., 2018).
Each takes latent codes (e.g. the `z_mean` of `model.encode(x)`) and the
ground-truth factors of the same examples (`datasets.shapes_factors`), or a
model and a factor sampler where the metric needs interventions.

Objectives: `BetaTCVAE` (Chen et al., 2018) and `FactorVAE` (Kim & Mnih,
2018), also in `vae_keras.models`; β-VAE is `VAE(beta=...)`.
"""

from vae_keras.disentanglement._common import (
    best_factors,
    histogram_discretize,
    mutual_information_matrix,
)
from vae_keras.disentanglement.dci import completeness_score, dci, disentanglement_score
from vae_keras.disentanglement.factor_score import ShapesSampler, factor_vae_score
from vae_keras.disentanglement.mig import mutual_information_gap
from vae_keras.disentanglement.sap import sap_score, sap_score_matrix
from vae_keras.models.factor_vae import FactorVAE
from vae_keras.models.tc_vae import BetaTCVAE

mig = mutual_information_gap  # the paper's name

__all__ = [
    "BetaTCVAE",
    "FactorVAE",
    "ShapesSampler",
    "best_factors",
    "completeness_score",
    "dci",
    "disentanglement_score",
    "factor_vae_score",
    "histogram_discretize",
    "mig",
    "mutual_information_gap",
    "mutual_information_matrix",
    "sap_score",
    "sap_score_matrix",
]

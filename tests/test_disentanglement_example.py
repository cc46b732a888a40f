"""`examples/disentanglement.py --quick`: one command, a table, figures, resumable results."""

import importlib.util
import json
from pathlib import Path

import keras
import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "disentanglement.py"


def load_example():
    spec = importlib.util.spec_from_file_location("disentanglement_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.backend
def test_quick_run_writes_table_figure_model_and_resumes(tmp_path, capsys):
    example = load_example()
    argv = ["--quick", "--configs", "beta-TCVAE b=6", "--out", str(tmp_path)]
    example.main(argv)
    printed = capsys.readouterr().out
    assert "| beta-TCVAE b=6 | 1 |" in printed and "| objective | seeds | MIG |" in printed
    results = json.loads((tmp_path / "results.json").read_text())
    assert list(results) == ["beta-TCVAE b=6/0"]
    run = results["beta-TCVAE b=6/0"]
    for metric in ("mig", "dci_d", "dci_c", "dci_i", "factor_vae", "sap"):
        assert 0.0 <= run[metric] <= 1.0, metric
    assert np.isfinite(run["reconstruction"]) and run["reconstruction"] > 0
    factors = {"shape", "color", "scale", "rotation", "x", "y"}
    assert len(run["best_factors"]) == 4 and {f for f, _ in run["best_factors"]} <= factors
    assert (tmp_path / "traversal_beta-TCVAE_b6.png").stat().st_size > 1000
    model = keras.models.load_model(tmp_path / "model_beta-TCVAE_b6.keras")
    assert model.latent_dim == 4 and model.dataset_size == 256
    # A second run finds the result and trains nothing: the file is unchanged.
    before = (tmp_path / "results.json").read_text()
    example.main(argv)
    assert (tmp_path / "results.json").read_text() == before
    assert "| beta-TCVAE b=6 | 1 |" in capsys.readouterr().out


def test_table_reports_mean_and_spread_over_seeds():
    example = load_example()
    runs = {f"beta-VAE b=1/{s}": dict.fromkeys(example.METRICS, 0.1 * (s + 1)) for s in range(3)}
    text = example.table(runs, ["beta-VAE b=1", "FactorVAE g=10"])
    row = [line for line in text.splitlines() if line.startswith("| beta-VAE b=1")][0]
    assert "| 3 | 0.200 ± 0.082 |" in row and "FactorVAE g=10" not in text


def test_traversal_rows_take_the_factor_labels():
    from vae_keras import VAE, networks, plotting

    model = VAE(
        networks.dense_encoder((8, 8, 1), 2, hidden_units=(8,)),
        networks.dense_decoder(2, (8, 8, 1), hidden_units=(8,)),
    )
    labels = ["z[1] x (0.71)", "z[0] shape (0.40)"]
    fig = plotting.latent_traversals(model, dims=[1, 0], labels=labels)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == labels
    with pytest.raises(ValueError, match="one label per row"):
        plotting.latent_traversals(model, dims=[1, 0], labels=["x"])

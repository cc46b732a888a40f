"""benchmarks/bits_per_dim.py: a model that diverges is scored and saved with its restored weights."""

import importlib.util
import json
import math
from pathlib import Path

import numpy as np

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "bits_per_dim.py"


def _benchmark_module():
    spec = importlib.util.spec_from_file_location("bits_per_dim_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_diverged_model_is_scored_and_saved_with_its_restored_weights(
    tmp_path, monkeypatch, capsys
):
    bench = _benchmark_module()
    budget_step = bench.TimeBudget.on_train_batch_end

    def poison_after_two_steps(self, batch, logs=None):  # the next loss is NaN
        budget_step(self, batch, logs)
        if self.steps == 2:
            variable = self.model.trainable_variables[0]
            variable.assign(np.full(variable.shape, np.nan, "float32"))

    monkeypatch.setattr(bench.TimeBudget, "on_train_batch_end", poison_after_two_steps)
    argv = ["--dataset", "shapes", "--image-size", "8", "--num-train", "64", "--num-test", "8"]
    argv += ["--models", "logistic", "--minutes", "1", "--latent-dim", "2", "--batch-size", "8"]
    argv += ["--num-samples", "2", "--save-dir", str(tmp_path), "--json", str(tmp_path / "r.json")]
    rows = bench.main(argv)  # raised NonFiniteLossError out of main before
    assert len(rows) == 1
    row = rows[0]
    assert "restored" in row["diverged"] and math.isfinite(row["bits_per_dim"])
    assert (tmp_path / "shapes-logistic.keras").is_file()
    assert json.loads((tmp_path / "r.json").read_text())["diverged"] == row["diverged"]
    printed = capsys.readouterr().out
    assert "Scoring and saving the restored model" in printed and "(diverged, restored)" in printed

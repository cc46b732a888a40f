"""Files written by earlier versions keep working: the shipped presets as they are, and one run
folder per `--architecture` written by main at a4f9d4b (tests/fixtures/, recorded by
`tests/fixtures/make_file_fixtures.py`), load in safe mode and give the recorded outputs."""

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(FIXTURES))

from make_file_fixtures import ARCHITECTURES, probe_inputs  # noqa: E402
from probe import deterministic_outputs  # noqa: E402

from vae_keras import presets, saving  # noqa: E402

EXPECTED = np.load(FIXTURES / "expected_outputs.npz")


def _check(name, model):
    x, y = probe_inputs(name)
    outputs = deterministic_outputs(model, x, y)
    recorded = sorted(k.split("/", 1)[1] for k in EXPECTED.files if k.startswith(f"{name}/"))
    assert sorted(outputs) == recorded
    for key, value in outputs.items():
        np.testing.assert_allclose(
            np.asarray(value), EXPECTED[f"{name}/{key}"], rtol=1e-4, atol=1e-5, err_msg=key
        )


@pytest.mark.backend
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_run_folders_of_earlier_versions_load_and_agree(architecture):
    folder = FIXTURES / "runs" / architecture
    model = saving.load_model(folder / "model.keras")  # safe_mode=True
    _check(architecture, model)


@pytest.mark.backend
@pytest.mark.parametrize("name", presets.list())
def test_presets_are_byte_identical_load_and_agree(name):
    digest = hashlib.sha256(presets.path(name).read_bytes()).hexdigest()
    assert digest == presets.info(name)["sha256"]
    _check(name, presets.load(name))

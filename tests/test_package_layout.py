"""The library/app line: `import vae_keras` loads the library alone, the library never imports
the application (`vae-keras`: run folders, the report, the explorer, the command line), there
are no import circles, and every `vae_keras` name that README, examples/, benchmarks/ and docs/
import keeps importing without warnings."""

import ast
import importlib
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ("app", "cli", "explorer", "runs", "report", "run_data", "recipes")
IMPORT_MAP = ROOT.parent / "shared" / "tools" / "import_map.py"


def test_import_vae_keras_loads_no_application_module():
    code = (
        "import sys, vae_keras\n"
        f"app = {APP!r}\n"
        "print(sorted(m for m in sys.modules if m.startswith('vae_keras.') "
        "and m.split('.')[1] in app))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_application_modules_stay_reachable_from_the_package():
    import vae_keras
    from vae_keras import recipes, report, run_data, runs
    from vae_keras.app import recipes as app_recipes
    from vae_keras.app import report as app_report
    from vae_keras.app import run_data as app_run_data
    from vae_keras.app import runs as app_runs

    # The application lives in vae_keras/app/; the older names are those very modules.
    assert (runs, run_data, recipes, report) == (app_runs, app_run_data, app_recipes, app_report)
    assert vae_keras.report is app_report
    assert vae_keras.explorer.__name__ == "vae_keras.explorer"
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        _ = vae_keras.nonexistent


@pytest.mark.skipif(not IMPORT_MAP.is_file(), reason="../shared/tools/import_map.py not present")
def test_no_import_circle_and_no_library_import_of_the_app():
    result = subprocess.run(
        [sys.executable, str(IMPORT_MAP)], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 problem(s)" in result.stdout or "problem" not in result.stdout


def _documented_imports():
    """`(module, name)` pairs imported from vae_keras by README, examples/, benchmarks/, docs/."""
    found = set()
    for path in [
        *ROOT.glob("examples/*.py"),
        *ROOT.glob("benchmarks/*.py"),
        *ROOT.glob("docs/*.py"),
    ]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vae_keras"):
                found.update((node.module, alias.name) for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update(
                    (alias.name, None) for alias in node.names if alias.name.startswith("vae_keras")
                )
    for path in [ROOT / "README.md", *ROOT.glob("docs/*.md")]:
        text = path.read_text()
        for module, grouped, inline in re.findall(
            r"from (vae_keras[\w.]*) import (?:\(([^)]*)\)|([^\n#]*))", text
        ):
            for entry in (grouped or inline).split(","):
                words = entry.split()  # "name" or "name as alias"
                if words:
                    found.add((module, words[0]))
    return sorted(found, key=str)


def test_documented_names_import_without_warnings():
    pairs = _documented_imports()
    assert len(pairs) > 40  # the scan found the examples' and benchmarks' imports
    missing = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for module, name in pairs:
            try:
                imported = importlib.import_module(module)
                if name is not None and not hasattr(imported, name):
                    importlib.import_module(f"{module}.{name}")
            except ImportError as error:
                missing.append(f"{module}.{name}: {error}")
    assert missing == []

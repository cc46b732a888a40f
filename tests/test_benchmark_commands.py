"""BENCHMARKS.md names its commands, and they parse (benchmarks/check_commands.py).

Parsing only: each script's argument parser is built in-process and the documented
arguments go through `parse_args`; no benchmark runs.
"""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checker():
    spec = importlib.util.spec_from_file_location(
        "check_commands", ROOT / "benchmarks" / "check_commands.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def benchmarks_md():
    return (ROOT / "BENCHMARKS.md").read_text()


def test_every_documented_command_parses(checker, benchmarks_md):
    results = checker.check_commands(benchmarks_md)
    assert len(results) > 20  # the extraction found the document's commands
    problems = [f"line {c.line}: {c.text} -> {p}" for c, p in results if p]
    assert not problems, "\n".join(problems)


def test_every_table_names_a_command(checker, benchmarks_md):
    assert checker.tables_without_command(benchmarks_md) == []


def test_checker_catches_unknown_flags_and_missing_scripts(checker):
    markdown = "\n".join(
        [
            "```bash",
            'B="python benchmarks/train_speed.py --rounds 3"',
            "$B --no-such-flag 1",
            "KERAS_BACKEND=jax nice -n 5 python benchmarks/train_speed.py \\",
            "    --steps 10",
            "```",
            "",
            "Prose with `python benchmarks/not_a_script.py --x` and `train_speed.py --steps`",
            "and `vae-keras evaluate --model m.keras --no-such-option`.",
            "",
            "| a | b |",
            "| --- | --- |",
            "",
            "## A section whose table names no command",
            "| c |",
        ]
    )
    results = {c.text: p for c, p in checker.check_commands(markdown)}
    assert len(results) == 5, results
    assert (
        "unrecognized arguments: --no-such-flag"
        in results["python benchmarks/train_speed.py --rounds 3 --no-such-flag 1"]
    )
    assert (
        results["KERAS_BACKEND=jax nice -n 5 python benchmarks/train_speed.py  --steps 10"] is None
    )
    assert "no such script" in results["python benchmarks/not_a_script.py --x"]
    assert "expected one argument" in results["train_speed.py --steps"]
    assert "unrecognized" in results["vae-keras evaluate --model m.keras --no-such-option"]
    assert checker.tables_without_command(markdown) == [15]  # not the table at 11

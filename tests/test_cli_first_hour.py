"""The command line a newcomer meets first: a quiet start, help, version, a quick evaluate."""

import json
import os
import re
import subprocess
import sys

import pytest

from vae_keras import __version__
from vae_keras.cli import build_parser, main
from vae_keras.cli.parser import EVALUATE_NLL_IMAGES, EVALUATE_SAMPLES

BACKEND_LOG_LINE = re.compile(r"^[IWEF]\d{4} |cuda|oneDNN|absl::", re.IGNORECASE | re.MULTILINE)


def test_no_arguments_lists_the_commands(capsys):
    assert main([]) == 0
    listed = capsys.readouterr().out
    for command in ("train", "evaluate", "sample", "plot", "export", "presets"):
        assert re.search(rf"^\s+{command}\s", listed, re.MULTILINE), command


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"vae-keras {__version__} (keras 3.")


def test_every_train_option_shows_its_default(capsys):
    parser = build_parser()
    with pytest.raises(SystemExit):
        main(["train", "-h"])
    help_text = " ".join(capsys.readouterr().out.split())
    train = parser._subparsers._group_actions[0].choices["train"]
    for action in train._actions:
        unset = action.default is None or action.default is False  # 0 is a default to show
        if not unset and action.default != "==SUPPRESS==" and action.option_strings:
            assert f"(default: {action.default})" in help_text, action.option_strings
    assert "seed of the weights, batches and samples (default: 0)" in help_text
    assert "passes over the data (default: 20; digits: 150)" in help_text
    assert "images per step (default: 128; digits: 32)" in help_text


def test_help_states_each_default_once(capsys):
    with pytest.raises(SystemExit):
        main(["explore", "-h"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "address to listen on (default: 127.0.0.1, this machine only)" in help_text
    assert help_text.count("(default: 127.0.0.1)") == 0
    with pytest.raises(SystemExit):
        main(["evaluate", "-h"])
    assert "seed of the importance samples (default: 0)" in " ".join(
        capsys.readouterr().out.split()
    )


def test_digits_gets_enough_steps_unless_the_user_says_otherwise():
    from vae_keras.cli.training import _apply_dataset_defaults

    parser = build_parser()
    args = parser.parse_args(["train", "--dataset", "digits"])
    _apply_dataset_defaults(args)
    assert (args.epochs, args.batch_size) == (150, 32)
    args = parser.parse_args(["train", "--dataset", "digits", "--epochs", "3"])
    _apply_dataset_defaults(args)
    assert (args.epochs, args.batch_size) == (3, 32)
    args = parser.parse_args(["train"])
    _apply_dataset_defaults(args)
    assert (args.epochs, args.batch_size) == (20, 128)


def _run(args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",)}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "vae_keras", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_the_command_starts_without_backend_log_lines(tmp_path):
    out = tmp_path / "grid.png"
    run = _run(["sample", "--preset", "mnist_conv_z2", "--num-samples", "4", "--out", str(out)])
    assert run.returncode == 0, run.stderr
    assert not BACKEND_LOG_LINE.search(run.stderr), run.stderr
    assert run.stdout.strip() == f"wrote {out}"
    # The user can turn the log back on (where the backend prints any on this machine).
    plain = subprocess.run(
        [sys.executable, "-c", "import keras; keras.ops.ones(1)"],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"},
        check=False,
    )
    if BACKEND_LOG_LINE.search(plain.stderr):
        loud = _run(["--version"], {"VAE_KERAS_BACKEND_LOGS": "1"})
        assert BACKEND_LOG_LINE.search(loud.stderr), loud.stderr


def test_evaluate_defaults_to_a_quick_estimate_with_progress(tmp_path):
    out = tmp_path / "run"
    train = ["train", "--dataset", "digits", "--latent-dim", "2", "--epochs", "1"]
    assert main([*train, "--output", str(out)]) == 0
    run = _run(["evaluate", "--model", str(out / "model.keras")])  # stdout is a pipe here
    assert run.returncode == 0, run.stderr
    result = json.loads((out / "evaluation.json").read_text())
    num_test = result["num_examples"]
    assert result["nll_num_samples"] == EVALUATE_SAMPLES
    assert result["nll_num_images"] == min(num_test, EVALUATE_NLL_IMAGES)
    assert 0 < result["nll_standard_error"] < 5
    # The plan, then one progress line per piece, then the summary in words.
    assert f"k={EVALUATE_SAMPLES} on {result['nll_num_images']} test images" in run.stdout
    assert re.search(rf"{result['nll_num_images']}/{result['nll_num_images']} images", run.stdout)
    assert "NLL " in run.stdout and "± " in run.stdout and "active units" in run.stdout
    # The full-test-set figure stays available by flags.
    assert main(["evaluate", "--model", str(out / "model.keras"), "--nll-images", "0",
                 "--num-samples", "3"]) == 0  # fmt: skip
    full = json.loads((out / "evaluation.json").read_text())
    assert full["nll_num_images"] == num_test and full["nll_num_samples"] == 3


def _write_idx(folder, count=80, size=8, seed=0):
    """Tiny MNIST-format IDX files (8x8 images) for both splits."""
    import numpy as np

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for split, n in (("train", count), ("t10k", count // 4)):
        images = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
        header = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in images.shape)
        (folder / f"{split}-images-idx3-ubyte").write_bytes(header + images.tobytes())
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        header = bytes([0, 0, 8, 1]) + n.to_bytes(4, "big")
        (folder / f"{split}-labels-idx1-ubyte").write_bytes(header + labels.tobytes())


def test_a_run_finds_its_data_from_any_folder(tmp_path, monkeypatch, capsys):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    _write_idx(project / "data" / "mnist")
    elsewhere.mkdir()
    monkeypatch.delenv("VAE_KERAS_DATA_DIR", raising=False)
    monkeypatch.chdir(project)
    argv = ["train", "--dataset", "mnist", "--data-dir", "data/mnist", "--architecture", "dense"]
    argv += ["--latent-dim", "2", "--epochs", "1", "--batch-size", "16", "--output", "runs/r"]
    assert main(argv) == 0
    run = project / "runs" / "r"
    config = json.loads((run / "config.json").read_text())
    assert config["data_dir"] == str(project / "data" / "mnist")  # absolute, not as typed
    monkeypatch.chdir(elsewhere)
    evaluate = ["evaluate", "--model", str(run / "model.keras"), "--num-samples", "2"]
    assert main(evaluate) == 0
    assert json.loads((run / "evaluation.json").read_text())["num_examples"] == 20
    # A run of an older version recorded the folder as typed: found from the run's parents.
    config["data_dir"] = "data/mnist"
    (run / "config.json").write_text(json.dumps(config))
    (run / "evaluation.json").unlink()
    assert main(evaluate) == 0
    assert json.loads((run / "evaluation.json").read_text())["num_examples"] == 20
    # Nowhere to be found: one line naming config.json and the flag that overrides it.
    config["data_dir"] = "moved/mnist"
    (run / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    assert main(evaluate) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"'moved/mnist' recorded in {run / 'config.json'} does not exist" in err
    assert "Pass --data-dir" in err
    assert main([*evaluate, "--data-dir", str(project / "data" / "mnist")]) == 0
    # An interrupted run of an older version (data_dir as typed) resumes from where it was
    # trained: the same folder, not "other settings".
    from vae_keras import runs

    config["data_dir"] = "data/mnist"
    (run / "config.json").write_text(json.dumps(config))
    (run / "metrics.json").unlink()
    runs.save_model(runs.load_model(run / "model.keras"), run / runs.CHECKPOINT)
    monkeypatch.chdir(project)
    capsys.readouterr()
    argv[argv.index("--epochs") + 1] = "2"
    assert main(argv) == 0
    assert "Resuming runs/r after epoch 1 of 2" in capsys.readouterr().out


def test_evaluate_scores_the_runs_test_set_and_says_why_its_loss_differs(tmp_path, capsys):
    out = tmp_path / "run"
    train = ["train", "--dataset", "digits", "--architecture", "dense", "--latent-dim", "2"]
    train += ["--epochs", "1", "--limit", "64", "--binarize", "--seed", "3"]
    assert main([*train, "--output", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    model = str(out / "model.keras")
    assert main(["evaluate", "--model", model, "--num-samples", "2", "--nll-images", "8"]) == 0
    result = json.loads((out / "evaluation.json").read_text())
    # The same binarized test images as train scored (the run's seed 3, not --seed 0): the
    # KL, deterministic given the images, agrees.
    assert result["binarized"] and result["num_examples"] == metrics["num_test"]
    assert result["test_kl_loss"] == pytest.approx(metrics["test"]["kl_loss"], rel=1e-4)
    # Where the losses differ, one line under the test loss says why.
    metrics["test"]["loss"] = 123.456
    (out / "metrics.json").write_text(json.dumps(metrics))
    capsys.readouterr()
    assert main(["evaluate", "--model", model, "--num-samples", "2", "--nll-images", "8"]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  test loss"))
    assert lines[at + 1].strip() == (
        "(metrics.json: 123.46; the loss draws a random z per image, so each scoring differs "
        "a little)"
    )
    assert main(["evaluate", "--model", model, "--num-samples", "2", "--limit", "16"]) == 0
    assert "(metrics.json: 123.46; other test images than train scored)" in capsys.readouterr().out

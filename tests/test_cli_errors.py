"""Every command-line failure is one line naming the file or value and the fix
(exit 2), or an internal error (exit 1, traceback behind --debug)."""

import errno
import json
import types
import zipfile

import numpy as np
import pytest

from vae_keras import VAE, cli, networks, runs
from vae_keras.cli import main, viewing

SHAPE = (8, 8, 1)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    model = VAE(
        networks.dense_encoder(SHAPE, 2, hidden_units=(8,)),
        networks.dense_decoder(2, SHAPE, hidden_units=(8,)),
    )
    model.compile()
    runs.write_json(folder / "config.json", {"dataset": "digits"})
    return runs.save_model(model, folder / "model.keras")


def _error(capsys):
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


def test_sample_outputs(model_file, tmp_path, capsys, monkeypatch):
    assert main(["sample", "--model", str(model_file), "--out", str(tmp_path / "x.jpg")]) == 2
    assert "does not end in .png" in _error(capsys)
    assert main(["sample", "--model", str(model_file), "--num-samples", "100000000"]) == 2
    assert "more than 10000" in _error(capsys)
    monkeypatch.setattr(viewing, "MAX_SAMPLE_BYTES", 3 * 4 * 64)  # room for 3 images of 8x8x1
    assert main(["sample", "--model", str(model_file), "--num-samples", "4"]) == 2
    assert "at most 3 of them" in _error(capsys)
    monkeypatch.undo()
    # A folder gets the default name inside it; --npy keeps its folder too.
    args = ["sample", "--model", str(model_file), "--num-samples", "3"]
    assert main([*args, "--out", str(tmp_path), "--npy", str(tmp_path)]) == 0
    assert (tmp_path / "samples_seed0.png").read_bytes()[:4] == b"\x89PNG"
    assert np.load(tmp_path / "samples_seed0.npy").shape == (3, *SHAPE)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"PK\x03\x04 truncated", "not a readable .keras model file (corrupt or truncated"),
        (b"", "not a readable .keras model file"),
    ],
)
def test_corrupt_model_files(tmp_path, capsys, content, message):
    path = tmp_path / "model.keras"
    path.write_bytes(content)
    assert main(["export", "--model", str(path)]) == 2
    err = _error(capsys)
    assert message in err and str(path) in err


def test_a_weights_member_with_a_bad_crc_is_one_line_naming_the_file(model_file, tmp_path, capsys):
    data = bytearray(model_file.read_bytes())
    with zipfile.ZipFile(model_file) as archive:
        info = archive.getinfo("model.weights.h5")
    # Flip a byte inside the stored weights: the archive's directory stays readable.
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0xFF
    path = tmp_path / "model.keras"
    path.write_bytes(bytes(data))
    assert main(["sample", "--model", str(path)]) == 2
    err = _error(capsys)
    assert str(path) in err and "could not be loaded" in err and "internal error" not in err


def test_a_config_declaring_a_huge_layer_is_refused_before_loading(tmp_path, capsys):
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        config = {"registered_name": "vae_keras>VAE", "config": {"units": 10**12}}
        archive.writestr("config.json", json.dumps(config))
    assert main(["sample", "--model", str(path)]) == 2
    assert "units=1000000000000" in _error(capsys)
    with zipfile.ZipFile(path, "w") as archive:
        config = {"registered_name": "vae_keras>VAE", "batch_shape": [None, 10**5, 10**5, 3]}
        archive.writestr("config.json", json.dumps(config))
    assert main(["sample", "--model", str(path)]) == 2
    assert "declares a tensor of shape [None, 100000, 100000, 3]" in _error(capsys)


def test_corrupt_json_beside_the_model(model_file, capsys):
    config = model_file.with_name("config.json")
    saved = config.read_text()
    config.write_text('{"dataset": ')
    try:
        assert main(["evaluate", "--model", str(model_file), "--num-samples", "1"]) == 2
        err = _error(capsys)
        assert "is not valid JSON (corrupt or truncated" in err and "config.json" in err
    finally:
        config.write_text(saved)


@pytest.mark.parametrize(
    "code, fix",
    [
        (errno.ENOSPC, "the disk is full"),
        (errno.EROFS, "read-only"),
        (errno.EACCES, "no permission"),
    ],
)
def test_disk_faults(model_file, tmp_path, capsys, monkeypatch, code, fix):
    def fail(path, data):
        raise OSError(code, "simulated", str(path))

    monkeypatch.setattr(runs, "atomic_write_bytes", fail)
    out = tmp_path / "s.npy"
    args = ["sample", "--model", str(model_file), "--num-samples", "2", "--npy", str(out)]
    assert main([*args, "--out", str(tmp_path / "s.png")]) == 2
    err = _error(capsys)
    assert fix in err and str(out) in err


def test_out_of_memory_and_internal_errors(model_file, capsys, monkeypatch):
    def oom(args):
        raise MemoryError()

    monkeypatch.setitem(cli.COMMANDS, "export", oom)
    assert main(["export", "--model", str(model_file)]) == 2
    assert "out of memory" in _error(capsys)

    def bug(args):
        raise KeyError("something internal")

    monkeypatch.setitem(cli.COMMANDS, "export", bug)
    assert main(["export", "--model", str(model_file)]) == 1
    assert "internal error: KeyError" in _error(capsys)
    with pytest.raises(KeyError):
        main(["export", "--model", str(model_file), "--debug"])


def test_export_out_that_is_a_file(model_file, tmp_path, capsys):
    out = tmp_path / "file"
    out.write_text("")
    assert main(["export", "--model", str(model_file), "--out", str(out)]) == 2
    assert "is a file; pass a folder path" in _error(capsys)


def test_evaluate_out_that_is_a_folder_gets_the_default_name(model_file, tmp_path):
    argv = ["evaluate", "--model", str(model_file), "--num-samples", "1", "--limit", "8"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "evaluation.json").read_text())["num_examples"] == 8


TRAIN = ["train", "--dataset", "digits", "--architecture", "dense", "--latent-dim", "2"]
TRAIN += ["--epochs", "1", "--batch-size", "16", "--limit", "32"]


def test_train_on_corrupt_run_files_says_overwrite_and_overwrite_recovers(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.keras").write_bytes(b"PK\x03\x04 cut short")
    assert main([*TRAIN, "--output", str(out)]) == 2
    err = _error(capsys)
    assert "checkpoint.keras" in err and "--overwrite" in err
    (out / "state.json").write_text("{")
    assert main([*TRAIN, "--output", str(out)]) == 2
    assert "state.json' is not valid JSON" in _error(capsys)
    assert main([*TRAIN, "--output", str(out), "--overwrite"]) == 0
    assert runs.read_state(out)["stage"] == "done"


def test_train_output_that_is_a_file(tmp_path, capsys):
    out = tmp_path / "file"
    out.write_text("")
    assert main([*TRAIN, "--output", str(out)]) == 2
    err = _error(capsys)
    assert str(out) in err and "pass a folder path" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["sample", "--model", "m.keras", "--seed", "99999999999999999999"],
        ["sample", "--model", "m.keras", "--seed", "-1"],
        ["train", "--learning-rate", "inf"],
        ["train", "--beta", "nan"],
    ],
)
def test_out_of_range_numbers_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "must be" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, line",
    [
        (
            ["train", "--learning-rate", "abc"],
            "vae-keras train: error: argument --learning-rate: must be a finite number >= 0 "
            "(e.g. 0.001 or 1e-3), got 'abc' (options: `vae-keras train -h`)",
        ),
        (
            ["train", "--epochs", "abc"],
            "vae-keras train: error: argument --epochs: must be a whole number >= 1, got 'abc' "
            "(options: `vae-keras train -h`)",
        ),
        (
            ["train", "--epochs", "0"],
            "vae-keras train: error: argument --epochs: must be a whole number >= 1, got 0 "
            "(options: `vae-keras train -h`)",
        ),
        (
            ["evaluate", "--model", "m.keras", "--seed", "x"],
            "vae-keras evaluate: error: argument --seed: must be a whole number in "
            "[0, 2147483647], got 'x' (options: `vae-keras evaluate -h`)",
        ),
        (
            ["explore", "--preset", "p", "--port", "http"],
            "vae-keras explore: error: argument --port: must be a port number in [1, 65535], "
            "got 'http' (options: `vae-keras explore -h`)",
        ),
        (
            ["train", "--epoks", "3"],
            "vae-keras train: error: unrecognized arguments: --epoks 3 (options: "
            "`vae-keras train -h`)",
        ),
    ],
)
def test_flag_errors_are_one_line_naming_flag_value_and_fix(argv, line, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == line + "\n"  # no usage block before it


def test_help_still_prints_the_usage(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "-h"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    assert help_text.startswith("usage: vae-keras train") and "--learning-rate" in help_text


def test_other_io_errors_and_accelerator_out_of_memory(model_file, capsys, monkeypatch):
    def io_error(args):
        raise OSError("Unable to synchronously create file (file write failed)")

    monkeypatch.setitem(cli.COMMANDS, "export", io_error)
    assert main(["export", "--model", str(model_file)]) == 2
    assert "input/output error" in _error(capsys)

    def xla_oom(args):
        raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate")

    monkeypatch.setitem(cli.COMMANDS, "export", xla_oom)
    assert main(["export", "--model", str(model_file)]) == 2
    assert "out of memory" in _error(capsys)


def test_without_data_and_network_train_fails_fast_naming_the_fix(tmp_path, capsys, monkeypatch):
    import socket
    import time

    import tensorflow_datasets as tfds

    def unreachable(*args, **kwargs):
        raise OSError(101, "Network is unreachable")

    downloads = []
    monkeypatch.setattr(socket, "create_connection", unreachable)
    monkeypatch.setattr(tfds, "load", lambda *args, **kwargs: downloads.append(args))
    features = {
        "image": types.SimpleNamespace(shape=(28, 28, 1)),
        "label": types.SimpleNamespace(shape=()),
    }
    mnist = types.SimpleNamespace(
        is_prepared=lambda: False, info=types.SimpleNamespace(features=features)
    )
    monkeypatch.setattr(tfds, "builder", lambda *args, **kwargs: mnist)
    monkeypatch.delenv("VAE_KERAS_DATA_DIR", raising=False)
    start = time.monotonic()
    assert main(["train", "--output", str(tmp_path / "run")]) == 2
    assert time.monotonic() - start < 60
    assert downloads == []  # no download (and its minutes of retries) was started
    err = _error(capsys)
    assert "No mnist files here and no network to download them" in err
    assert "Pass --data-dir" in err and "$VAE_KERAS_DATA_DIR" in err
    # Online, the download goes ahead (here the fake one, which fails).
    monkeypatch.setattr(
        socket, "create_connection", lambda *a, **k: types.SimpleNamespace(close=int)
    )
    assert main(["train", "--output", str(tmp_path / "run")]) == 2
    assert downloads == [("mnist",)]

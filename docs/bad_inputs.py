"""Regenerates docs/BAD_INPUTS.md: each bad input tried and the message users see.

python docs/bad_inputs.py > docs/BAD_INPUTS.md
"""

import contextlib
import errno
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import keras
import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Document this checkout's code, also when another copy of vae_keras is installed.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vae_keras import (  # noqa: E402
    VAE,
    ConditionalVAE,
    Sampling,
    binarization,
    cli,
    datasets,
    evaluation,
    losses,
    networks,
    runs,
)
from vae_keras.callbacks import BetaSchedule, SampleGrid  # noqa: E402
from vae_keras.models import PixelVAE, conditional_decoder, conditional_encoder  # noqa: E402

SHAPE = (8, 8, 1)


def vae(**kwargs):
    return VAE(
        networks.dense_encoder(SHAPE, 2, hidden_units=(8,)),
        networks.dense_decoder(2, SHAPE, hidden_units=(8,)),
        **kwargs,
    )


def fit(x, **kwargs):
    model = vae(**kwargs)
    model.compile()
    model.fit(x, epochs=1, verbose=0)


def cvae():
    model = ConditionalVAE(
        conditional_encoder(SHAPE, 2, 3), conditional_decoder(2, SHAPE, 3), num_classes=3
    )
    model.compile()
    return model


CASES = [
    ("image without a channel axis", lambda: fit(np.zeros((4, 8, 8)))),
    ("flat vectors for an image model", lambda: fit(np.zeros((4, 64)))),
    ("wrong image size", lambda: fit(np.zeros((4, 9, 9, 1)))),
    ("NaN in the data", lambda: fit(np.full((4, 8, 8, 1), np.nan))),
    ("pixels in 0-255 for a Bernoulli decoder", lambda: fit(np.full((4, 8, 8, 1), 255.0))),
    ("empty data", lambda: fit(np.zeros((0, 8, 8, 1)))),
    ("text instead of numbers", lambda: fit(np.array([["a"] * 64] * 2).reshape(2, 8, 8, 1))),
    (
        "latent sizes that do not match",
        lambda: VAE(networks.dense_encoder(SHAPE, 2), networks.dense_decoder(3, SHAPE)),
    ),
    (
        "decoder shape unlike the encoder's",
        lambda: VAE(networks.dense_encoder(SHAPE, 2), networks.dense_decoder(2, (9, 9, 1))),
    ),
    (
        "PixelVAE decoder features unlike the PixelCNN's",
        lambda: PixelVAE(
            networks.dense_encoder(SHAPE, 2),
            networks.dense_decoder(2, (8, 8, 2)),
            networks.PixelCNN(SHAPE, feature_channels=4),
        ),
    ),
    ("even kernel for a causal convolution", lambda: networks.MaskedConv2D(8, 4)),
    ("unknown likelihood", lambda: vae(likelihood="poisson")),
    ("negative beta", lambda: vae(beta=-1)),
    ("a loss passed to compile", lambda: vae().compile(loss="mse")),
    ("conv encoder on flat vectors", lambda: networks.conv_encoder((784,), 2)),
    ("latent size 0", lambda: networks.dense_encoder(SHAPE, 0)),
    ("Sampling seed not an integer", lambda: Sampling(seed=1.5)),
    ("sample(0)", lambda: vae().sample(0)),
    (
        "conditional label out of range",
        lambda: cvae().fit((np.zeros((4, 8, 8, 1)), np.array([0, 1, 2, 7])), epochs=1, verbose=0),
    ),
    (
        "conditional labels passed as y",
        lambda: cvae().fit(np.zeros((4, 8, 8, 1)), np.array([0, 1, 2, 0]), epochs=1, verbose=0),
    ),
    ("unknown dataset", lambda: datasets.load("mnsit")),
    ("missing data folder", lambda: datasets.load("mnist", data_dir="/no/such/folder")),
    ("bad split", lambda: datasets.load("digits", split="validation")),
    ("binarizing 0-255 images", lambda: binarization.binarize(np.full((2, 4), 200.0))),
    (
        "likelihood of an AE",
        lambda: evaluation.log_likelihood(
            __import__("vae_keras").AE(
                networks.dense_encoder(SHAPE, 2), networks.dense_decoder(2, SHAPE)
            ),
            np.zeros((2, 8, 8, 1)),
        ),
    ),
    ("unknown beta schedule", lambda: BetaSchedule("exponential", warmup_epochs=3)),
    ("callback with no folder", lambda: SampleGrid(None)),
]

X = np.random.default_rng(0).uniform(size=(8, *SHAPE)).astype("float32")
TMP = Path(tempfile.mkdtemp(prefix="bad_inputs_"))


def trained_vae(**kwargs):
    model = vae(**kwargs)
    model.compile()
    return model


def later_batch_out_of_range():
    def batches():
        yield (X[:4],)
        yield (X[:4] * 3.0,)

    trained_vae().fit(batches(), steps_per_epoch=2, epochs=1, verbose=0)


class Batches(keras.utils.PyDataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        return (X[:4] if i == 0 else np.full((4, *SHAPE), np.nan, "float32"),)


def tf_data_later_batch():
    import tensorflow as tf

    data = np.concatenate([X[:4], X[:4] * 3.0])
    trained_vae().fit(tf.data.Dataset.from_tensor_slices(data).batch(4), epochs=1, verbose=0)


def conditional_later_label():
    def batches():
        yield ((X[:4], np.array([0, 1, 2, 0])),)
        yield ((X[:4], np.array([0, 1, 7, 0])),)

    cvae().fit(batches(), steps_per_epoch=2, epochs=1, verbose=0)


def sigmoid_activation_decoder():
    inputs = keras.Input((2,))
    out = keras.layers.Activation(keras.ops.sigmoid)(
        keras.layers.Reshape(SHAPE)(keras.layers.Dense(64)(inputs))
    )
    model = VAE(networks.dense_encoder(SHAPE, 2), keras.Model(inputs, out))
    direct = keras.ops.convert_to_numpy(model.decoder(np.zeros((1, 2))))
    same = np.allclose(model.decode(np.zeros((1, 2))), direct, atol=1e-6)
    return f"decode = the decoder's own probabilities (no second sigmoid): {same}"


def diverging_log_var():
    model = trained_vae()
    layer = model.encoder.get_layer("z_log_var")
    kernel, bias = layer.get_weights()
    layer.set_weights([np.zeros_like(kernel), np.full_like(bias, 100.0)])
    logs = model.evaluate(X, verbose=0, return_dict=True)
    return f"log-variance 100, clipped to 20: finite losses {logs['kl_loss']:.3g} nats KL"


def nan_learning_rate():
    model = trained_vae()
    model.optimizer.learning_rate = float("nan")
    model.fit(X, epochs=2, batch_size=4, verbose=0)


def concatenated_encoder(width):
    inputs = keras.Input(SHAPE)
    encoder = keras.Model(inputs, keras.layers.Dense(width)(keras.layers.Flatten()(inputs)))
    VAE(encoder, networks.dense_decoder(width // 2, SHAPE))
    return "split: first half z_mean, second half z_log_var"


def keras_export():
    trained_vae().export(TMP / "serving", verbose=False)
    return "SavedModel written"


def write_model_file(name, config=None, content=None):
    path = TMP / name
    if content is not None:
        path.write_bytes(content)
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("config.json", json.dumps(config))
    return path


def plain_keras_model():
    path = TMP / "plain.keras"
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(path)
    return path


def busy_run_folder():
    with runs.RunLock(TMP / "busy", command=["vae-keras", "train"]), runs.RunLock(TMP / "busy"):
        pass


CASES += [
    ("fit(None)", lambda: trained_vae().fit(None)),
    ("fit(batch_size=0)", lambda: trained_vae().fit(X, batch_size=0, verbose=0)),
    ("encode(batch_size=-1)", lambda: trained_vae().encode(X, batch_size=-1)),
    ("elbo(batch_size=0)", lambda: evaluation.elbo(trained_vae(), X, batch_size=0)),
    (
        "NumPy integers as counts",
        lambda: (
            f"accepted: encode(batch_size=np.int64(5)) -> "
            f"{trained_vae().encode(X, batch_size=np.int64(5))[0].shape}, "
            f"sample(np.int64(5)) -> {trained_vae().sample(np.int64(5)).shape}"
        ),
    ),
    ("sample_weight", lambda: trained_vae().fit(X, sample_weight=np.ones(8), verbose=0)),
    ("class_weight", lambda: trained_vae().fit(X, class_weight={0: 2.0}, verbose=0)),
    (
        "uint8 pixels 0-255, Gaussian likelihood",
        lambda: trained_vae(likelihood="gaussian").fit((X * 255).astype("uint8"), verbose=0),
    ),
    (
        "channels-first RGB",
        lambda: VAE(
            networks.dense_encoder((8, 8, 3), 2), networks.dense_decoder(2, (8, 8, 3))
        ).encode(np.zeros((2, 3, 8, 8))),
    ),
    ("generator: out-of-range pixels in batch 2", later_batch_out_of_range),
    ("PyDataset: NaN in batch 2", lambda: trained_vae().fit(Batches(), epochs=1, verbose=0)),
    ("tf.data: out-of-range pixels in batch 2", tf_data_later_batch),
    ("conditional generator: label 7 of 3 classes in batch 2", conditional_later_label),
    ("decoder ending in Activation(ops.sigmoid)", sigmoid_activation_decoder),
    ("encoder log-variance driven past 80", diverging_log_var),
    (
        "KL of log-variance 1000",
        lambda: f"finite: {float(losses.kl_divergence(np.zeros((1, 1)), [[1000.0]])[0]):.3g}",
    ),
    ("NaN loss during fit (default NaN guard)", nan_learning_rate),
    ("encoder with one [mean | log_var] output", lambda: concatenated_encoder(4)),
    ("encoder with one output of odd width", lambda: concatenated_encoder(3)),
    ("model.export(path) right after construction", keras_export),
    (
        "load a truncated .keras file",
        lambda: runs.load_model(write_model_file("t.keras", content=b"PK")),
    ),
    (
        "load a Keras model that is not a vae_keras one",
        lambda: runs.load_model(plain_keras_model()),
    ),
    (
        "load a config declaring a 10^12-unit layer",
        lambda: runs.load_model(
            write_model_file("huge.keras", {"registered_name": "vae_keras>VAE", "units": 10**12})
        ),
    ),
    ("corrupt JSON", lambda: runs.read_json(write_model_file("c.json", content=b'{"a": '))),
    ("second owner of a run folder", busy_run_folder),
]


# === Natural images: folders, 8-bit likelihoods, colour networks ===


def image_dir(name, files):
    """A folder under TMP holding `files` (name -> bytes)."""
    folder = TMP / name
    folder.mkdir(exist_ok=True)
    for file, content in files.items():
        (folder / file).write_bytes(content)
    return folder


def png_bytes(size=8, mode="RGB"):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, (size, size), 128).save(buffer, "PNG")
    return buffer.getvalue()


def folder_with_corrupt_file():
    files = {f"{i}.png": png_bytes() for i in range(3)}
    files["broken.png"] = png_bytes()[:40]
    ds = datasets.image_folder(image_dir("corrupt", files), 8, on_error="raise")
    return ds


def logistic_vae(shape=(8, 8, 3), channels=6):
    return VAE(
        networks.dense_encoder(shape, 2, hidden_units=(8,)),
        networks.dense_decoder(2, shape[:-1] + (channels,), hidden_units=(8,)),
        likelihood="discretized_logistic",
    )


def logistic_fit(x):
    model = logistic_vae()
    model.compile()
    model.fit(x, epochs=1, verbose=0)


GRID = (np.arange(4 * 8 * 8 * 3).reshape(4, 8, 8, 3) % 256 / 255).astype("float32")
CASES += [
    ("image folder that does not exist", lambda: datasets.image_folder("/no/such/photos", 32)),
    ("empty image folder", lambda: datasets.image_folder(image_dir("empty", {}), 32)),
    (
        "folder of non-images",
        lambda: datasets.image_folder(image_dir("text", {"a.txt": b"hello"}), 32),
    ),
    ("corrupt image file (on_error='raise')", folder_with_corrupt_file),
    (
        "corrupt image file (default on_error='skip')",
        lambda: (
            "skipped and counted: "
            + str(
                len(
                    datasets.image_folder(
                        image_dir("skip", {"a.png": png_bytes(), "b.png": png_bytes()[:40]}), 8
                    ).skipped_files
                )
            )
            + " file"
        ),
    ),
    (
        "mixed sizes and channel counts in one folder",
        lambda: (
            "accepted: "
            + str(
                next(
                    iter(
                        datasets.image_folder(
                            image_dir(
                                "mixed",
                                {"g.png": png_bytes(12, "L"), "a.png": png_bytes(8, "RGBA")},
                            ),
                            8,
                            shuffle=False,
                        )
                    )
                ).shape
            )
            + " (each image converted to RGB and resized)"
        ),
    ),
    ("image size 0", lambda: datasets.image_folder(image_dir("one", {"a.png": png_bytes()}), 0)),
    ("image too small for residual networks", lambda: networks.residual_encoder((2, 2, 3), 4)),
    ("discretized logistic on data off the 1/255 grid", lambda: logistic_fit(GRID * 0.999)),
    ("discretized logistic on 0-255 data", lambda: logistic_fit(GRID * 255)),
    ("discretized logistic with a 3-channel decoder", lambda: logistic_vae(channels=3)),
    (
        "bits/dim on the 0-255 scale of a Bernoulli model",
        lambda: evaluation.bits_per_dim_8bit(vae(), np.zeros((2, 8, 8, 1)), num_samples=2),
    ),
]


CLI_CASES = [
    ("CLI: unknown dataset", ["train", "--dataset", "mnsit"]),
    ("CLI: missing data folder", ["train", "--data-dir", "/no/such/folder"]),
    ("CLI: missing model file", ["evaluate", "--model", "/no/such/model.keras"]),
    ("CLI: non-positive epochs", ["train", "--epochs", "0"]),
    ("CLI: seed beyond 2^31", ["sample", "--model", "m.keras", "--seed", "99999999999999999999"]),
    ("CLI: infinite learning rate", ["train", "--learning-rate", "inf"]),
    ("CLI: --dataset folder without --data-dir", ["train", "--dataset", "folder"]),
    (
        "CLI: 8-bit likelihood on digits (0-16 levels)",
        ["train", "--dataset", "digits", "--likelihood", "discretized_logistic", "--limit", "32"],
    ),
    (
        "CLI: --architecture and --model-kind that disagree",
        ["train", "--architecture", "conv", "--model-kind", "vqvae"],
    ),
    (
        "CLI: --latent-dim with hierarchical",
        ["train", "--model-kind", "hierarchical", "--latent-dim", "8"],
    ),
    (
        "CLI: PixelVAE with a Gaussian likelihood",
        ["train", "--model-kind", "pixelvae", "--likelihood", "gaussian"],
    ),
]


def _stable(text):
    """Messages without this run's temporary folder, pid and time (a stable document)."""
    import re

    text = text.replace(str(TMP), "/tmp/bad_inputs")
    return re.sub(r"pid \d+ on \S+, since [\d-]+ \d\d:\d\d:\d\d", "pid N on HOST, since TIME", text)


def _model_folder():
    folder = TMP / "run"
    model = trained_vae()
    runs.save_model(model, folder / "model.keras")
    runs.write_json(folder / "config.json", {"dataset": "digits"})
    (TMP / "a_file").write_text("")
    return folder


def _simulated(code):
    def fail(path, data):
        raise OSError(code, os.strerror(code), str(path))

    return fail


def in_process_cli_cases(folder):
    model = str(folder / "model.keras")
    corrupt = write_model_file("corrupt.keras", content=b"PK\x03\x04 cut short")
    bad_config = TMP / "badconfig"
    bad_config.mkdir()
    runs.save_model(trained_vae(), bad_config / "model.keras")
    (bad_config / "config.json").write_text('{"dataset": ')
    npy = ["--num-samples", "2", "--out", str(TMP / "s.png"), "--npy", str(TMP / "s.npy")]
    return [
        ("CLI: corrupt model file", ["sample", "--model", str(corrupt)], None),
        (
            "CLI: model file not a vae_keras model",
            ["export", "--model", str(plain_keras_model())],
            None,
        ),
        (
            "CLI: corrupt config.json",
            ["evaluate", "--model", str(bad_config / "model.keras")],
            None,
        ),
        ("CLI: sample --out x.jpg", ["sample", "--model", model, "--out", "x.jpg"], None),
        (
            "CLI: sample --num-samples 100000000",
            ["sample", "--model", model, "--num-samples", "100000000"],
            None,
        ),
        (
            "CLI: export --out an existing file",
            ["export", "--model", model, "--out", str(TMP / "a_file")],
            None,
        ),
        (
            "CLI: disk full (simulated ENOSPC)",
            ["sample", "--model", model, *npy],
            _simulated(errno.ENOSPC),
        ),
        (
            "CLI: read-only disk (simulated EROFS)",
            ["sample", "--model", model, *npy],
            _simulated(errno.EROFS),
        ),
        (
            "CLI: train on a run folder another process trains",
            ["train", "--dataset", "digits", "--limit", "32", "--output", str(TMP / "owned")],
            "busy",
        ),
        (
            "CLI: sample --out DIR --npy DIR",
            [
                "sample",
                "--model",
                model,
                "--num-samples",
                "2",
                "--out",
                str(TMP),
                "--npy",
                str(TMP),
            ],
            None,
        ),
        (
            "CLI: out of memory (simulated MemoryError)",
            ["sample", "--model", model, "--num-samples", "2", "--out", str(TMP / "s.png")],
            "oom",
        ),
    ]


def run_in_process(argv, fault):
    saved, saved_sample = runs.atomic_write_bytes, cli.COMMANDS["sample"]
    if callable(fault):
        runs.atomic_write_bytes = fault
    elif fault == "oom":
        cli.COMMANDS["sample"] = lambda args: (_ for _ in ()).throw(MemoryError())
    err, out = io.StringIO(), io.StringIO()
    try:
        with contextlib.ExitStack() as stack:
            if fault == "busy":  # another process holds the folder (here: a second lock)
                stack.enter_context(runs.RunLock(TMP / "owned", command=["vae-keras", "train"]))
            stack.enter_context(contextlib.redirect_stderr(err))
            stack.enter_context(contextlib.redirect_stdout(out))
            code = cli.main(argv)
        if code == 0:
            return code, out.getvalue()
    finally:
        runs.atomic_write_bytes, cli.COMMANDS["sample"] = saved, saved_sample
    return code, err.getvalue()


def main():
    print("# Bad inputs and the messages users see\n")
    print("Generated by `python docs/bad_inputs.py` from the real code paths.\n")
    print("| input | error | message |")
    print("| --- | --- | --- |")
    for name, call in CASES:
        try:
            result = call()
        except Exception as error:  # noqa: BLE001 - the point is to show what users see
            message = _stable(str(error)).replace("|", "\\|").replace("\n", " ")
            print(f"| {name} | `{type(error).__name__}` | {message} |")
        else:
            shown = result if isinstance(result, str) else "(accepted)"
            print(f"| {name} | — | {shown.replace('|', '/')} |")
    for name, argv, fault in in_process_cli_cases(_model_folder()):
        code, err = run_in_process(argv, fault)
        last = _stable(err.strip().splitlines()[-1] if err.strip() else "")
        assert "Traceback" not in err, err
        print(f"| {name} | exit {code} | `{last.replace('|', '/')}` |")
    for name, argv in CLI_CASES:
        proc = subprocess.run(
            [sys.executable, "-m", "vae_keras", *argv],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
        print(f"| {name} | exit {proc.returncode} | `{last.replace('|', '/')}` |")
    print(
        "\nKills and concurrent commands are tried by `tests/test_run_faults.py`: a training run "
        "killed (SIGKILL, through the `VAE_KERAS_FAULT` hook) mid-epoch, between the checkpoint "
        "and `history.json`, while writing the model, during the final evaluation, the figures "
        "and the SavedModel export finishes when the same command is rerun (every epoch once, "
        "optimizer steps = epochs x steps), and a second `train` on a busy run folder is refused."
    )


if __name__ == "__main__":
    main()

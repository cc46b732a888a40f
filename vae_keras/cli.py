"""The `vae-keras` command: train, evaluate, sample, plot, export; presets to start from.

    vae-keras presets                                   # pretrained models, no training
    vae-keras sample --preset mnist_conv_z2
    vae-keras train --data-dir ../shared/datasets/mnist
    vae-keras evaluate --model runs/RUN/model.keras
    vae-keras sample --model runs/RUN/model.keras --num-samples 64
    vae-keras plot --model runs/RUN/model.keras
    vae-keras export --model runs/RUN/model.keras --out DIR
    vae-keras explore --model runs/RUN/model.keras

Errors in what the user passed (or in the files, disk or memory it needs) print
one line naming the file or value and the fix, and exit with status 2; an
internal error exits with status 1, its traceback shown with --debug. A run
folder is owned by one `train` at a time (run.lock) and every stage of a run
resumes when the same command is rerun (see `vae_keras.runs`).
"""

import argparse
import errno
import functools
import os
import sys
import time
from pathlib import Path

from vae_keras.explorer.command import add_arguments as explore_arguments
from vae_keras.recipes import ARCHITECTURES, LIKELIHOOD_CHOICES

# `vae-keras evaluate`: a quick default (about a minute for the default run on 2 CPU cores).
EVALUATE_SAMPLES, EVALUATE_NLL_IMAGES = 100, 2000

DEFAULTS = {
    "dataset": "mnist",
    "architecture": "auto",
    "latent_dim": 16,
    "epochs": 20,
    "batch_size": 128,
}
# Where the defaults above would train too few steps: scikit-learn's 1,797 8x8 digits make 12
# batches of 128 an epoch, and 20 epochs leave the KL near 1 nat and the samples blurs; 150
# epochs of batch 32 (~6,700 steps, a few minutes on 2 CPU cores) give samples that read as
# digits.
DATASET_DEFAULTS = {"digits": {"epochs": 150, "batch_size": 32}}


def _positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _non_negative_float(text):
    value = float(text)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def _seed(text):
    value = int(text)
    if not 0 <= value < 2**31:  # what every backend's random generators accept
        raise argparse.ArgumentTypeError(f"must be an integer in [0, {2**31 - 1}], got {text}")
    return value


class _HelpWithDefaults(argparse.RawDescriptionHelpFormatter):
    """`-h` shows every option's default (except the "not set" ones: None, False)."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (
            "%(default)" not in text
            and default not in (None, False, argparse.SUPPRESS)
            and action.option_strings
        ):
            text += " (default: %(default)s)"
        return text


def _version() -> str:
    import keras

    from vae_keras import __version__

    return f"vae-keras {__version__} (keras {keras.__version__}, {keras.backend.backend()} backend)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vae-keras",
        description=__doc__.split("\n")[0],
        epilog="Run `vae-keras COMMAND -h` for a command's options and their defaults. Quick "
        "look without training: `vae-keras presets`, then `vae-keras sample --preset NAME`.",
    )
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add = functools.partial(commands.add_parser, formatter_class=_HelpWithDefaults)

    train = add("train", help="train a VAE and write a run folder")
    train.add_argument(
        "--dataset",
        default=DEFAULTS["dataset"],
        help="mnist, fashion_mnist, digits, folder (your images in --data-dir), shapes, "
        "patches, or a TFDS image dataset",
    )
    train.add_argument(
        "--data-dir",
        help="folder with the dataset files, or your images for --dataset folder "
        "(default: $VAE_KERAS_DATA_DIR, else download)",
    )
    train.add_argument(
        "--image-size",
        type=_positive_int,
        help="resize images to N x N (default: the dataset's own; folder 64, shapes and "
        "patches 32)",
    )
    train.add_argument(
        "--architecture",
        choices=ARCHITECTURES,
        default=DEFAULTS["architecture"],
        help="auto: conv for MNIST-sized gray images, residual for colour or >= 32 px; "
        "pixelcnn: PixelVAE, an autoregressive PixelCNN decoder (binary data with "
        "--binarize, or 8-bit colour with the discretized logistic; sequential sampling); "
        "vqvae: VQ-VAE, a 7x7 grid of 128 codes of --latent-dim, then its PixelCNN prior; "
        "hierarchical: HierarchicalVAE (NVAE-style latent groups at two scales; "
        "--latent-dim is not used)",
    )
    train.add_argument(
        "--latent-dim",
        type=_positive_int,
        default=DEFAULTS["latent_dim"],
        help="size of z (2 gives the manifold figure)",
    )
    train.add_argument(
        "--epochs",
        type=_positive_int,
        help=f"passes over the data (default: {DEFAULTS['epochs']}; digits: "
        f"{DATASET_DEFAULTS['digits']['epochs']})",
    )
    train.add_argument(
        "--batch-size",
        type=_positive_int,
        help=f"images per step (default: {DEFAULTS['batch_size']}; digits: "
        f"{DATASET_DEFAULTS['digits']['batch_size']})",
    )
    train.add_argument(
        "--learning-rate", type=_non_negative_float, default=1e-3, help="Adam's step size"
    )
    train.add_argument(
        "--beta", type=_non_negative_float, default=1.0, help="weight of the KL term"
    )
    train.add_argument(
        "--likelihood",
        choices=LIKELIHOOD_CHOICES,
        default="auto",
        help="auto: bernoulli for mnist, fashion_mnist and digits; discretized_logistic "
        "(8-bit pixels, reports bits/dim on the 0-255 scale) for other images",
    )
    train.add_argument(
        "--binarize",
        action="store_true",
        help="dynamic binarization: a fresh Bernoulli draw of the pixels every batch "
        "(validation on a fixed-seed binarized test set)",
    )
    train.add_argument("--limit", type=_positive_int, help="use only the first N training images")
    train.add_argument(
        "--seed", type=_seed, default=0, help="seed of the weights, batches and samples"
    )
    train.add_argument(
        "--output",
        help="run folder (default: runs/DATASET-ARCH-zLATENT); rerunning an "
        "interrupted command resumes it from its last completed epoch",
    )
    train.add_argument(
        "--overwrite", action="store_true", help="replace a finished run in --output"
    )
    train.add_argument(
        "--distribute",
        choices=("mirrored", "multi_worker", "data_parallel"),
        help="data-parallel training: mirrored / multi_worker (TensorFlow), data_parallel "
        "(JAX); --batch-size is the global batch",
    )
    train.add_argument(
        "--mixed-precision",
        action="store_true",
        help="16-bit layers, float32 losses: float16 on a GPU, bfloat16 on a CPU",
    )

    evaluate = add("evaluate", help="test ELBO, NLL (nats, bits/dim), active units")
    _model_and_data_args(evaluate)
    evaluate.add_argument(
        "--num-samples",
        type=_positive_int,
        default=EVALUATE_SAMPLES,
        help="importance samples k per image for the NLL (papers: 1000 or 5000)",
    )
    evaluate.add_argument(
        "--nll-images",
        type=_non_negative_int,
        default=EVALUATE_NLL_IMAGES,
        help="test images the NLL is estimated on (0: all); the losses, ELBO and active "
        "units always use all. The default takes about a minute for the default run on 2 CPU "
        "cores; `--nll-images 0 --num-samples 1000` is the papers' full-test-set figure",
    )
    evaluate.add_argument(
        "--binarize",
        choices=("auto", "yes", "no"),
        default="auto",
        help="score a fixed-seed binarized test set (auto: as the run was trained)",
    )
    evaluate.add_argument("--seed", type=_seed, default=0, help="seed of the importance samples")
    evaluate.add_argument("--out", help="JSON file (default: evaluation.json beside the model)")

    plot = add("plot", help="redraw a run's figures and report.html for a saved model")
    _model_and_data_args(plot)
    plot.add_argument("--out", help="folder for the figures (default: figures/ beside the model)")
    plot.add_argument("--seed", type=_seed, default=0, help="seed of the sampled figures")

    export = add(
        "export", help="write a TensorFlow SavedModel (encode, decode, sample, reconstruct, serve)"
    )
    export.add_argument("--model", required=True, help="a model.keras written by `vae-keras train`")
    export.add_argument("--out", help="SavedModel folder (default: saved_model beside the model)")

    sample = add("sample", help="decode prior samples to a PNG grid")
    source = sample.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="a model.keras written by `vae-keras train`")
    source.add_argument(
        "--preset", help="a pretrained preset shipped with the package (`vae-keras presets`)"
    )
    sample.add_argument("--num-samples", type=_positive_int, default=64, help="images in the grid")
    sample.add_argument("--seed", type=_seed, default=0, help="seed of the prior draws")
    sample.add_argument("--out", help="PNG file (default: samples_seedN.png beside the model)")
    sample.add_argument("--npy", help="also save the samples as a .npy array here")
    add("presets", help="list the pretrained models shipped with the package")
    explore = add("explore", help="drag through the latent space in the browser (a local web page)")
    explore_arguments(explore)
    for command in commands.choices.values():
        command.add_argument(
            "--debug", action="store_true", help="show the traceback of an internal error"
        )
        command.add_argument(
            "--backend-logs",
            action="store_true",
            help="show TensorFlow/JAX start-up log lines (hidden by default; also "
            "VAE_KERAS_BACKEND_LOGS=1)",
        )
    return parser


def _model_and_data_args(parser):
    parser.add_argument("--model", required=True, help="a model.keras written by `vae-keras train`")
    parser.add_argument("--dataset", help="default: the dataset the run was trained on")
    parser.add_argument("--data-dir", help="default: the run's data dir, else $VAE_KERAS_DATA_DIR")
    parser.add_argument(
        "--batch-size", type=_positive_int, default=256, help="images per model call"
    )
    parser.add_argument("--limit", type=_positive_int, help="use only the first N test images")
    parser.add_argument("--image-size", type=_positive_int, help="default: the run's")


# Settings that define a run: a rerun with the same ones resumes it.
# (--learning-rate and --epochs may change: resuming with a lower learning rate is the way out of a
# diverged run.)
_RUN_SETTINGS = (
    "dataset",
    "data_dir",
    "image_size",
    "architecture",
    "latent_dim",
    "batch_size",
    "beta",
    "likelihood",
    "binarize",
    "limit",
    "seed",
    "mixed_precision",
    "distribute",
)


def _output_folder(args) -> Path:
    return Path(args.output or f"runs/{args.dataset}-{args.architecture}-z{args.latent_dim}")


def _run_folder(args, out, shape, backend, chief=True):
    """Reopens or starts the run folder (owned by this process); returns
    (resumable model, first epoch, history, state). Only the chief writes."""
    from vae_keras import runs

    config = {k: v for k, v in vars(args).items() if k not in ("func", "debug")}
    config.update(backend=backend, input_shape=list(shape))
    removed = runs.clean_leftovers(out) if chief else []
    if removed:
        print(f"Removed {len(removed)} temporary file(s) left in {out} by a killed run")
    if args.overwrite and chief:
        runs.clear_run(out)  # also a stale evaluation.json: it would describe the old model
    previous = runs.read_json(out / "config.json") if (out / "config.json").is_file() else None
    state = runs.read_state(out)
    finished = (out / "metrics.json").is_file() and (not state or runs.reached(state, "done"))
    if finished and not args.overwrite:
        raise ValueError(
            f"Run folder {out} already holds a finished run. Pass a new --output, "
            "or --overwrite to replace it."
        )
    if args.overwrite:
        previous, state = None, {}
    model, initial_epoch, history = runs.resume_state(out)
    if model is not None:
        changed = [k for k in _RUN_SETTINGS if previous and previous.get(k) != config.get(k)]
        if changed:
            raise ValueError(
                f"Run folder {out} holds an interrupted run with other settings "
                f"({', '.join(f'{k}: {previous.get(k)!r} -> {config.get(k)!r}' for k in changed)}). "
                "Rerun with the same settings to resume, or pass a new --output."
            )
        if initial_epoch > args.epochs:
            raise ValueError(
                f"Run folder {out} already completed {initial_epoch} epochs; --epochs "
                f"{args.epochs} is fewer. Rerun with --epochs {initial_epoch} to finish it, "
                "or pass --overwrite to start over."
            )
    if initial_epoch < args.epochs:
        state = {}  # (more) training to do: every later stage is redone
    elif not runs.reached(state, "model"):  # trained, killed before model.keras was written
        state = {
            "completed_epochs": initial_epoch,
            "history": history,
            "resumed_from_epoch": initial_epoch,
            "train_seconds": 0.0,
        }
    if chief:
        out.mkdir(parents=True, exist_ok=True)
        runs.write_json(out / "config.json", config)
    return model, initial_epoch, history, state


def _new_model(args, shape):
    from vae_keras import recipes

    return recipes.build_model(
        architecture=args.architecture,
        likelihood=args.likelihood,
        shape=shape,
        latent_dim=args.latent_dim,
        beta=args.beta,
        seed=args.seed,
        learning_rate=args.learning_rate,
        binarize=args.binarize,
    )


def _apply_dataset_defaults(args):
    """--epochs / --batch-size left unset -> the dataset's own default, else the global one."""
    own = DATASET_DEFAULTS.get(args.dataset.lower(), {})
    for key in ("epochs", "batch_size"):
        if getattr(args, key) is None:
            setattr(args, key, own.get(key, DEFAULTS[key]))


def _resolve_recipe(args, shape):
    """`auto` architecture and likelihood -> what the data call for (stored in config.json)."""
    from vae_keras import recipes

    if args.likelihood == "auto":
        args.likelihood = recipes.default_likelihood(args.dataset)
    args.architecture = recipes.resolve_architecture(args.architecture, shape)


def train(args) -> Path:
    import contextlib

    import keras

    from vae_keras import distribute, run_data, runs
    from vae_keras.callbacks import NaNGuard, NonFiniteLossError

    _apply_dataset_defaults(args)
    distribute.check_strategy(args.distribute)  # a wrong backend fails before any data loads
    if args.mixed_precision:
        from vae_keras.precision import configure_mixed_precision

        configure_mixed_precision(True)
    keras.utils.set_random_seed(args.seed)
    if args.architecture == "vqvae" and (args.dataset == run_data.FOLDER or args.distribute):
        raise ValueError(
            "--architecture vqvae trains its prior on the encoded training images in memory: "
            "use an in-memory dataset (mnist, fashion_mnist, digits, shapes, patches, TFDS) "
            "without --distribute."
        )
    if args.dataset == run_data.FOLDER and (args.distribute or args.binarize):
        raise ValueError(
            "--dataset folder streams images from disk; --distribute and --binarize need the "
            "in-memory datasets (mnist, fashion_mnist, digits, shapes, patches, TFDS)."
        )
    data = run_data.load_train_and_test(
        args.dataset,
        args.data_dir,
        image_size=args.image_size,
        batch_size=args.batch_size,
        limit=args.limit,
        seed=args.seed,
    )
    x_train, x_test, y_test, shape = data.train, data.x_test, data.y_test, data.shape
    _resolve_recipe(args, shape)
    out = _output_folder(args)
    with contextlib.ExitStack() as owner:
        with distribute.strategy_scope(args.distribute) as strategy:
            chief = distribute.is_chief(strategy)
            if not data.streamed:
                x_train, x_test = distribute.even_split(strategy, args.batch_size, x_train, x_test)
            y_test = None if y_test is None else y_test[: len(x_test)]
            model = _new_model(args, shape)  # validates the settings before touching the folder
            model.check_inputs(x_test if data.streamed else x_train)  # e.g. the 8-bit grid
            if chief:  # one process owns the folder from here on
                owner.enter_context(runs.RunLock(out))
            resumed, initial_epoch, history, state = _run_folder(
                args, out, shape, keras.backend.backend(), chief
            )
            if resumed is not None:
                model = resumed
                model.optimizer.learning_rate = args.learning_rate
                print(
                    f"Resuming {out} after epoch {initial_epoch} of {args.epochs}"
                    if initial_epoch < args.epochs
                    else f"Finishing {out}: trained; done so far: {state.get('stage', 'training')}"
                )
            print(
                f"Training a {args.architecture} VAE ({args.likelihood}, latent {args.latent_dim}) "
                f"on {data.num_train if data.streamed else len(x_train)} {args.dataset} images "
                f"{shape}{' (streamed)' if data.streamed else ''}, {args.epochs} epochs, backend "
                f"{keras.backend.backend()}; run folder {out}"
            )

            train_data = x_train
            fit_kwargs = {} if data.streamed else {"batch_size": args.batch_size}
            if args.binarize:
                from vae_keras.binarization import DynamicBinarization, binarize

                train_data, fit_kwargs = (
                    DynamicBinarization(x_train, args.batch_size, seed=args.seed),
                    {},
                )
                train_data.epoch = initial_epoch  # resumed runs continue the sequence of draws
                x_test = binarize(x_test, seed=args.seed)
            checkpoint = runs.RunCheckpoint(out, history)
            if initial_epoch < args.epochs:
                start = time.time()
                try:
                    model.fit(
                        train_data,
                        epochs=args.epochs,
                        initial_epoch=initial_epoch,
                        validation_data=(x_test,),
                        callbacks=[NaNGuard()] + ([checkpoint] if chief else []),
                        verbose=1 if sys.stdout.isatty() else 2,
                        **fit_kwargs,
                    )
                except NonFiniteLossError as error:
                    kept = out / runs.CHECKPOINT
                    raise NonFiniteLossError(
                        f"{error} The last good checkpoint is {kept}: rerun with a lower "
                        "--learning-rate to resume from it."
                        if kept.is_file()
                        else str(error)
                    ) from None
                state = {
                    "completed_epochs": args.epochs,
                    "history": checkpoint.history,
                    "resumed_from_epoch": initial_epoch,
                    "train_seconds": round(time.time() - start, 2),
                }
            if hasattr(model, "fit_prior") and not model.prior.is_fitted():  # VQVAE
                from vae_keras.binarization import binarize

                prior_x = binarize(x_train, seed=args.seed) if args.binarize else x_train
                model.fit_prior(prior_x, epochs=args.epochs, batch_size=args.batch_size, verbose=2)
            if chief and not runs.reached(state, "model"):
                _say(chief, f"saving {out / 'model.keras'} ...")
                # model.keras (with its optimizer) replaces the checkpoint.
                runs.save_model(model, out / "model.keras")
                runs.write_json(
                    out / runs.HISTORY,
                    {"completed_epochs": state["completed_epochs"], "history": state["history"]},
                )
                runs.write_state(out, state, "model")
                checkpoint.finish()
            if not runs.reached(state, "evaluated"):
                _say(chief, f"scoring the {len(x_test)} test images ...")
                # Every worker takes part in evaluation; the global batch divides evenly.
                hooks = [runs.FaultHook("evaluate")] if os.environ.get("VAE_KERAS_FAULT") else []
                test = model.evaluate(
                    x_test, batch_size=args.batch_size, verbose=0, return_dict=True, callbacks=hooks
                )
                state["test"] = {k: float(v) for k, v in test.items()}
                state["test"].update(_test_bits_per_dim(model, x_test, args.seed))
                if chief:
                    runs.write_state(out, state, "evaluated")
        if chief:
            num_train = data.num_train if data.streamed else len(x_train)
            _write_results(args, model, out, state, num_train, x_test, y_test)
    return out


# The run's own bits/dim estimate (0-255 scale): importance samples per image and images.
RUN_BPD_SAMPLES, RUN_BPD_IMAGES = 10, 1000


def _test_bits_per_dim(model, x_test, seed):
    """`{"bits_per_dim_8bit": ...}` for 8-bit data and a likelihood it applies to, else {}."""
    from vae_keras import evaluation, run_data

    likelihood = getattr(model, "likelihood_object", None)
    if likelihood is None or likelihood.name == "bernoulli" or not run_data.on_8bit_grid(x_test):
        return {}
    bpd = evaluation.bits_per_dim_8bit(
        model, x_test[:RUN_BPD_IMAGES], num_samples=RUN_BPD_SAMPLES, seed=seed, verbose=False
    )
    return {"bits_per_dim_8bit": float(bpd.mean())}


def _write_results(args, model, out, state, num_train, x_test, y_test):
    """The stages after evaluation; each is skipped when `state` records it."""
    import keras

    from vae_keras import plotting, report, runs

    if not runs.reached(state, "figures"):
        _say(True, "drawing figures (samples, reconstructions, latent space, history) ...")
        plotting.save_image_grid(model.sample(64, seed=args.seed), out / "samples.png", ncols=8)
        runs.fault_point("figures")
        # One layout for reconstructions everywhere: rows of x above rows of x̂, labelled.
        plotting.reconstruction_grid(
            x_test[:32], model.reconstruct(x_test[:32]), path=out / "reconstructions.png"
        )
        figures = report.write_run_figures(
            model,
            x_test,
            y_test,
            state["history"],
            out / "figures",
            max_points=3000,
            seed=args.seed,
        )
        # Relative to the run folder, which may move between attempts.
        state["figures"] = {k: str(Path(p).relative_to(out)) for k, p in figures.items()}
        runs.write_state(out, state, "figures")
    if not runs.reached(state, "exported"):
        if keras.backend.backend() in ("tensorflow", "jax") and not hasattr(model, "pixelcnn"):
            from vae_keras.export import export_saved_model

            _say(True, "exporting the TensorFlow SavedModel ...")
            export_saved_model(model, out / "saved_model")
        runs.write_state(out, state, "exported")
    test = state["test"]
    metrics = {
        "history": state["history"],
        "test": test,
        "epochs": args.epochs,
        "resumed_from_epoch": state["resumed_from_epoch"],
        "train_seconds": state["train_seconds"],
        "num_train": num_train,
        "num_test": len(x_test),
    }
    figures = {name: out / path for name, path in state["figures"].items()}
    report.write_report(out, metrics, figures, title=f"vae_keras run: {out.name}")
    runs.fault_point("report")
    runs.write_json(out / "metrics.json", metrics)  # its presence marks a finished run
    runs.write_state(out, state, "done")
    print(
        f"test loss {test['loss']:.2f} nats (reconstruction {test['reconstruction_loss']:.2f}, "
        + (f"KL {test['kl_loss']:.2f})" if "kl_loss" in test else f"VQ {test['vq_loss']:.2f})")
        + (
            f", {test['bits_per_dim_8bit']:.3f} bits/dim (0-255 scale)"
            if "bits_per_dim_8bit" in test
            else ""
        )
        + f"; wrote {out}"
    )


def _say(chief, message):
    """A line of progress for a stage that would otherwise be quiet (flushed: pipes see it)."""
    if chief:
        print(message, flush=True)


def _test_data(args, config, labels=False):
    from vae_keras import run_data

    dataset = args.dataset or config.get("dataset", DEFAULTS["dataset"])
    data_dir = args.data_dir or config.get("data_dir")
    x, y = run_data.load_test(
        dataset,
        data_dir,
        image_size=args.image_size or config.get("image_size"),
        limit=args.limit,
        seed=config.get("seed", 0),
        labels=True,
    )
    return (dataset, x, y) if labels else (dataset, x)


def evaluate(args) -> Path:
    import math

    from vae_keras import evaluation, run_data, runs
    from vae_keras.binarization import binarize

    out = (  # checked before the (long) evaluation
        _file_in(args.out, "evaluation.json", ".json")
        if args.out
        else Path(args.model).with_name("evaluation.json")
    )
    model = runs.load_model(args.model)
    config = runs.run_config(args.model)
    dataset, x = _test_data(args, config)
    binarized = args.binarize == "yes" or (
        args.binarize == "auto" and config.get("binarize", False)
    )
    if binarized:
        x = binarize(x, seed=args.seed)
    print(
        f"evaluating {args.model} on {len(x)} {dataset} test images: losses, ELBO, active "
        "units ...",
        flush=True,
    )
    start = time.time()
    losses = model.evaluate(x, batch_size=args.batch_size, verbose=0, return_dict=True)
    result = {
        "dataset": dataset,
        "num_examples": len(x),
        "binarized": binarized,
        **{f"test_{k}": float(v) for k, v in losses.items()},
    }
    if hasattr(model, "nll_bound"):  # VQVAE: reconstruction + prior NLL of the indices
        bound = model.nll_bound(x, batch_size=args.batch_size)
        result.update(nll_bound=float(bound.mean()), prior_nll=float(model.prior_nll(x).mean()))
    elif hasattr(model, "reconstruction_nll"):  # likelihood models (VAE family)
        elbo = evaluation.elbo(model, x, batch_size=args.batch_size, seed=args.seed)
        scored, extra_bits = x, 0.0
        likelihood = model.likelihood_object.name
        if likelihood == "gaussian" and run_data.on_8bit_grid(x):
            # A density on [0, 1]: scored on dequantised data, + 8 bits/dim for the 0-255 bins.
            scored = evaluation.dequantize(x, seed=args.seed)
            extra_bits = evaluation.DEQUANTIZATION_BITS
        if args.nll_images:
            scored = scored[: args.nll_images]
        log_px = _log_likelihood_with_progress(model, scored, args.num_samples, args.seed)
        dims = math.prod(x.shape[1:])
        if likelihood != "bernoulli":
            result["bits_per_dim_scale"] = (
                "0-255 (discrete likelihood)"
                if likelihood == "discretized_logistic"
                else ("0-255 (uniform dequantisation, +8)" if extra_bits else "density on [0, 1]")
            )
        active, variances = evaluation.active_units(model, x)
        result.update(
            elbo=float(elbo.mean()),
            nll=float(-log_px.mean()),
            nll_num_samples=args.num_samples,
            nll_num_images=len(log_px),
            nll_standard_error=(
                float(log_px.std(ddof=1) / math.sqrt(len(log_px))) if len(log_px) > 1 else 0.0
            ),
            bits_per_dim=evaluation.bits_per_dim(-log_px.mean(), dims) + extra_bits,
            active_units=active,
            latent_dim=int(len(variances)),
            latent_variances=[float(v) for v in variances],
        )
    result["seconds"] = round(time.time() - start, 2)
    runs.write_json(out, result)
    print(_evaluation_summary(result, len(x), dataset) + f"\nwrote {out}", flush=True)
    return out


def _evaluation_summary(result, num_images, dataset) -> str:
    lines = [f"{num_images} {dataset} test images:"]
    if "test_loss" in result:
        lines.append(f"  test loss        {result['test_loss']:.2f} nats per image")
    if "elbo" in result:
        lines.append(f"  ELBO             {result['elbo']:.2f} nats")
    if "nll" in result:
        lines.append(
            f"  NLL              {result['nll']:.2f} ± {result['nll_standard_error']:.2f} nats "
            f"(importance sampling, k={result['nll_num_samples']}, "
            f"{result['nll_num_images']} images; ± one standard error)"
        )
        lines.append(f"  bits/dim         {result['bits_per_dim']:.3f}")
        lines.append(f"  active units     {result['active_units']} of {result['latent_dim']}")
    if "nll_bound" in result:  # VQVAE: reconstruction + the prior's NLL of the codes
        lines.append(f"  log p(x) bound   {result['nll_bound']:.2f} nats (-log p(x) <= this)")
    lines.append(f"  time             {result['seconds']:.0f} s")
    return "\n".join(lines)


def _log_likelihood_with_progress(model, x, num_samples, seed):
    """`evaluation.log_likelihood` in about ten pieces, with a line of progress after each

    (plain lines, so a log file or a pipe sees them too) and the expected time after the first.
    """
    import numpy as np

    from vae_keras import evaluation

    n = len(x)
    print(
        f"NLL: importance sampling with k={num_samples} on {n} test images "
        f"({n * num_samples:,} decoder passes) ...",
        flush=True,
    )
    piece = max(100, -(-n // 10))
    start, parts = time.time(), []
    for begin in range(0, n, piece):
        parts.append(
            evaluation.log_likelihood(
                model, x[begin : begin + piece], num_samples, seed=seed + begin, verbose=False
            )
        )
        done, elapsed = begin + len(parts[-1]), time.time() - start
        left = elapsed / done * (n - done)
        print(
            f"  {done}/{n} images, {elapsed:.0f} s"
            + (f", about {left:.0f} s left" if left else ""),
            flush=True,
        )
    return np.concatenate(parts)


# The most images one `sample` call draws: a grid of 10,000 MNIST digits is
# already ~3,000 pixels a side, and an unbounded count exhausts memory.
MAX_SAMPLES = 10_000
MAX_SAMPLE_BYTES = 2**30


def _file_in(path, default_name, suffix):
    """`path` as a file name: a folder gets `default_name` inside it; the suffix is checked."""
    path = Path(path)
    if path.is_dir():
        return path / default_name
    if path.suffix.lower() != suffix:
        raise ValueError(
            f"{str(path)!r} does not end in {suffix}, but the file is written as {suffix[1:]}. "
            f"Pass a name ending in {suffix} (or a folder)."
        )
    return path


def sample(args) -> Path:
    import io
    import math

    import numpy as np

    from vae_keras import plotting, runs

    if args.num_samples > MAX_SAMPLES:
        raise ValueError(
            f"--num-samples {args.num_samples} is more than {MAX_SAMPLES}, the most one call "
            "draws. Run `vae-keras sample` several times with different --seed values."
        )
    name = f"samples_seed{args.seed}"
    out = _file_in(args.out, f"{name}.png", ".png") if args.out else None
    npy = _file_in(args.npy, f"{name}.npy", ".npy") if args.npy else None
    if args.preset:
        from vae_keras import presets

        model = presets.load(args.preset)
        # No run folder beside a preset: write into the working directory.
        default_out = Path(f"{args.preset}_{name}.png")
    else:
        model = runs.load_model(args.model)
        default_out = Path(args.model).with_name(f"{name}.png")
    size = 4 * math.prod(model.input_shape_)  # float32 bytes per image
    if args.num_samples * size > MAX_SAMPLE_BYTES:
        raise ValueError(
            f"--num-samples {args.num_samples} images of shape {model.input_shape_} take "
            f"{args.num_samples * size / 2**30:.1f} GiB; one call draws at most "
            f"{MAX_SAMPLE_BYTES // size} of them. Run `vae-keras sample` several times with "
            "different --seed values."
        )
    images = model.sample(args.num_samples, seed=args.seed)
    out = out or default_out
    plotting.save_image_grid(images, out)
    if npy:
        buffer = io.BytesIO()
        np.save(buffer, images)
        runs.atomic_write_bytes(npy, buffer.getvalue())
    print(f"wrote {out}" + (f" and {npy}" if npy else ""))
    return out


def plot(args) -> Path:
    from vae_keras import report, runs

    model = runs.load_model(args.model)
    config = runs.run_config(args.model)
    dataset, x, y = _test_data(args, config, labels=True)
    run = Path(args.model).parent
    history = (
        runs.read_json(run / runs.HISTORY)["history"] if (run / runs.HISTORY).is_file() else None
    )
    metrics = runs.read_json(run / "metrics.json") if (run / "metrics.json").is_file() else {}
    out = Path(args.out) if args.out else run / "figures"
    _say(True, f"drawing figures of {len(x)} {dataset} test images into {out} ...")
    figures = report.write_run_figures(model, x, y, history, out, max_points=3000, seed=args.seed)
    page = report.write_report(out.parent, metrics, figures, title=f"vae_keras run: {run.name}")
    print(f"wrote {len(figures)} figures to {out} and {page}")
    return out


def export(args) -> Path:
    from vae_keras import runs
    from vae_keras.export import ENDPOINTS, export_saved_model

    out = Path(args.out) if args.out else Path(args.model).with_name("saved_model")
    _say(True, f"exporting {args.model} to {out} (tracing the endpoints takes a while) ...")
    export_saved_model(runs.load_model(args.model), out)
    print(f"wrote {out} (endpoints: {', '.join(ENDPOINTS)})")
    return out


def explore(args):
    from vae_keras.explorer import command

    command.run(args)


def list_presets(args) -> None:
    from vae_keras import presets

    for name in presets.list():
        try:
            card = presets.info(name)
        except FileNotFoundError:
            print(f"{name}: (files missing: reinstall vae_keras)")
            continue
        metrics, recipe = card["metrics"], card["recipe"]
        scores = f"test loss {metrics['test_loss']:.2f} nats"
        if "test_nll" in metrics:
            scores += f", NLL {metrics['test_nll']:.2f} ± {metrics['test_nll_standard_error']:.2f}"
        print(
            f"{name}  ({card['class']}, {card['file_bytes'] / 2**20:.1f} MB)\n"
            f"    {card['description']}\n"
            f"    {recipe['epochs']} epochs on {card['data']['train_images']} {recipe['dataset']} "
            f"images; {scores}"
        )
    print("\nvae-keras sample --preset NAME   (or in Python: vae_keras.presets.load(NAME))")


COMMANDS = {
    "presets": list_presets,
    "train": train,
    "evaluate": evaluate,
    "sample": sample,
    "plot": plot,
    "export": export,
    "explore": explore,
}

# What to do about an operating-system error, by errno.
_OS_FIXES = {
    errno.EROFS: "the file system is read-only: pass a path on a writable one",
    errno.EACCES: "no permission: pass a path you may write (or read)",
    errno.EPERM: "no permission: pass a path you may write (or read)",
    errno.ENOSPC: "the disk is full: free space or pass a path on another disk",
    errno.EDQUOT: "the disk quota is exceeded: free space or pass a path on another disk",
    errno.EISDIR: "that is a folder: pass a file path",
    errno.ENOTDIR: "a part of that path is a file, not a folder: pass another path",
    errno.ENOENT: "no such file or folder: check the path",
    errno.ENAMETOOLONG: "the name is too long: pass a shorter path",
    errno.EEXIST: "a file is in the way: pass a folder path, or remove the file",
}


def _describe(error) -> tuple[int, str] | None:
    """(exit status, one-line message) for errors users can fix, else None."""
    from vae_keras.runs import RunInUseError

    out_of_memory = type(error).__name__ in ("ResourceExhaustedError", "OutOfMemoryError") or (
        "RESOURCE_EXHAUSTED" in str(error)  # JAX/XLA
    )
    if isinstance(error, MemoryError) or out_of_memory:
        return 2, (
            "out of memory. Lower --batch-size (or --num-samples), or use a machine with "
            "more memory."
        )
    if isinstance(error, OSError) and error.errno in _OS_FIXES:
        where = f" {error.filename!r}" if error.filename else ""
        return 2, f"cannot use{where} ({error.strerror}): {_OS_FIXES[error.errno]}."
    # Other I/O failures (e.g. from h5py): still the environment. (Our own FileNotFoundError
    # messages carry no errno and say the fix themselves.)
    ours = isinstance(error, FileNotFoundError) and error.errno is None
    if isinstance(error, OSError) and not ours:
        where = f" {error.filename!r}" if getattr(error, "filename", None) else ""
        return 2, (
            f"input/output error{where}: {' '.join(str(error).split()).rstrip('.')}. Check the "
            "path, the "
            "free disk space and the permissions."
        )
    if isinstance(
        error,
        (ValueError, FileNotFoundError, FileExistsError, ImportError, RunInUseError, RuntimeError),
    ):
        return 2, " ".join(str(error).split())  # one line
    return None


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # `vae-keras` alone: the list of commands
        parser.print_help()
        return 0
    try:
        COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print(f"vae-keras {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001  one line for users; --debug shows the traceback
        if getattr(args, "debug", False):
            raise
        described = _describe(error)
        if described is None:
            print(
                f"vae-keras {args.command}: internal error: {type(error).__name__}: "
                f"{' '.join(str(error).split())[:500]} (rerun with --debug for the traceback, "
                "and please report it)",
                file=sys.stderr,
            )
            return 1
        status, message = described
        print(f"vae-keras {args.command}: error: {message}", file=sys.stderr)
        return status
    return 0


if __name__ == "__main__":
    sys.exit(main())

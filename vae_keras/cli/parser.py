"""The `vae-keras` argument parser: the commands, their options and defaults."""

import argparse
import functools

from vae_keras.app.recipes import (
    ARCHITECTURES,
    LIKELIHOOD_CHOICES,
    MODEL_KINDS,
    NETWORKS,
    TRAIN_RECIPES,
)
from vae_keras.explorer.command import add_arguments as explore_arguments

DESCRIPTION = (
    "The `vae-keras` command: train, evaluate, sample, plot, export; presets to start from."
)

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


def _number(text, kind, expected):
    """`kind(text)`, or an argparse error saying what the flag expects (not a type's name)."""
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {expected}, got {text!r}") from None


def _positive_int(text):
    expected = "a whole number >= 1"
    value = _number(text, int, expected)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be {expected}, got {text}")
    return value


def _positive_ints(text):
    """`5,20` -> (5, 20): a comma-separated list of whole numbers >= 1."""
    expected = "whole numbers >= 1 separated by commas (e.g. 5,20)"
    values = tuple(_number(v, int, expected) for v in text.split(","))
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"must be {expected}, got {text}")
    return values


def _non_negative_float(text):
    expected = "a finite number >= 0 (e.g. 0.001 or 1e-3)"
    value = _number(text, float, expected)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be {expected}, got {text}")
    return value


def _non_negative_int(text):
    expected = "a whole number >= 0"
    value = _number(text, int, expected)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be {expected}, got {text}")
    return value


def _seed(text):
    expected = f"a whole number in [0, {2**31 - 1}]"  # what every backend's generators accept
    value = _number(text, int, expected)
    if not 0 <= value < 2**31:
        raise argparse.ArgumentTypeError(f"must be {expected}, got {text}")
    return value


class _Parser(argparse.ArgumentParser):
    """Flag errors print one line naming the flag, the bad value and the fix (exit 2), not
    the usage block first; `-h` still prints the full help."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (options: `{self.prog} -h`)\n")

    def parse_args(self, args=None, namespace=None):
        # argparse reports an unknown flag from the top parser; the command's names its -h.
        args, extras = self.parse_known_args(args, namespace)
        if extras:
            commands = [a for a in self._actions if isinstance(a, argparse._SubParsersAction)]
            command = getattr(args, "command", None)
            owner = commands[0].choices.get(command, self) if commands and command else self
            owner.error(f"unrecognized arguments: {' '.join(extras)}")
        return args


class _HelpWithDefaults(argparse.RawDescriptionHelpFormatter):
    """`-h` shows every option's default (except the "not set" ones: None, False) unless
    the help already says it."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        # Identity, not `in`: 0 == False, and a default of 0 is a default worth showing.
        unset = default is None or default is False or default is argparse.SUPPRESS
        if (
            "%(default)" not in text
            and "(default:" not in text
            and not unset
            and (action.option_strings)
        ):
            text += " (default: %(default)s)"
        return text


def _version() -> str:
    import keras

    from vae_keras import __version__

    return f"vae-keras {__version__} (keras {keras.__version__}, {keras.backend.backend()} backend)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="vae-keras",
        description=DESCRIPTION,
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
        help="the older spelling of --model-kind and --network, kept: conv, dense, residual "
        "are --model-kind vae --network NAME; pixelcnn, vqvae, hierarchical are --model-kind "
        "pixelvae, vqvae, hierarchical; auto leaves both to those flags",
    )
    train.add_argument(
        "--model-kind",
        choices=MODEL_KINDS,
        help="vae (default): encoder and decoder of --network; "
        "pixelvae: PixelVAE, an autoregressive PixelCNN decoder (binary data with "
        "--binarize, or 8-bit colour with the discretized logistic; sequential sampling); "
        "vqvae: VQ-VAE, a 7x7 grid of 128 codes of --latent-dim channels, then its PixelCNN "
        "prior; vqvae2: VQ-VAE-2, a 4x4 grid of 64 codes over a 7x7 grid of 128 (28 px), "
        "then a PixelCNN prior over each; hierarchical: HierarchicalVAE (NVAE-style latent "
        "groups at two scales; --latent-dim is refused). These build their own networks",
    )
    train.add_argument(
        "--network",
        choices=NETWORKS,
        help="network family of --model-kind vae: auto (default): conv for MNIST-sized gray "
        "images, residual for colour or >= 32 px, dense for flat vectors",
    )
    train.add_argument(
        "--latent-dim",
        type=_positive_int,
        help="size of z (2 gives the manifold figure); with vqvae and vqvae2, the size of each "
        "code vector (the channels of the grid of codes); hierarchical has its own latent groups "
        f"and refuses it (default: {DEFAULTS['latent_dim']})",
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
        "--prior",
        choices=("standard_normal", "vampprior", "mixture"),
        default=None,
        help="the prior p(z) (default standard_normal): vampprior (a mixture of the "
        "encoder's posteriors at learned pseudo-inputs) or mixture (learned Gaussians); "
        "vae, hierarchical (its top group; default: its own learned Gaussian) and "
        "conditional (not vampprior) take them",
    )
    train.add_argument(
        "--prior-components",
        type=_positive_int,
        default=None,
        help="components of --prior vampprior (default 500) or mixture (default 10)",
    )
    train.add_argument(
        "--captions",
        action="store_true",
        help="--dataset shapes only: train a VQ-VAE on captioned shapes with a transformer "
        "prior over its codes that reads the caption (text to image); then "
        '`vae-keras sample --model RUN/model.keras --prompt "a red square in the middle"`',
    )
    train.add_argument(
        "--hold-out",
        metavar="PAIRS",
        default=None,
        help="with --captions: colour:shape pairs left out of training, e.g. "
        "red:heart,green:triangle (the test split keeps them)",
    )
    train.add_argument(
        "--recipe",
        choices=tuple(TRAIN_RECIPES),
        default=None,
        help="a named recipe that sets the flags left unset; best-likelihood (with "
        "--binarize, on mnist): " + TRAIN_RECIPES["best-likelihood"].summary,
    )
    train.add_argument(
        "--finetune-iwae",
        type=_positive_ints,
        metavar="K[,K...]",
        default=None,
        help="after --epochs, fine-tune on the importance-weighted bound with K samples, one "
        "stage per K (vae and pixelcnn; a fresh Adam at --finetune-learning-rate each)",
    )
    train.add_argument(
        "--finetune-epochs",
        type=_positive_ints,
        metavar="E[,E...]",
        default=None,
        help="epochs of each --finetune-iwae stage: one value for all, or one per stage "
        "(default 3)",
    )
    train.add_argument(
        "--finetune-learning-rate",
        type=_non_negative_float,
        default=None,
        help="Adam's step size in the --finetune-iwae stages (default 1e-4)",
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
    sample.add_argument(
        "--prompt",
        help='a caption for a model trained with --captions, e.g. "a green ellipse at the '
        'bottom right" (size optional)',
    )
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

"""The command line's recipes: which networks and likelihood a dataset gets, and the model.

`vae-keras train` defaults to `--architecture auto --likelihood auto`:

- the gray benchmark sets (`mnist`, `fashion_mnist`, `digits`) keep the MNIST recipe: the
  classic conv pair and a Bernoulli likelihood;
- everything else (a folder of images, `shapes`, `patches`, a TFDS set) is 8-bit colour
  (or gray) photography: residual networks for 32 px and more
  (`networks.default_networks`) and the discretized logistic, so runs report bits per
  dimension on the 0-255 scale.

`--architecture pixelcnn` is the PixelVAE: on binary data the MNIST recipe of
`benchmarks/quality_mnist.py`; with the discretized logistic, the colour recipe of
`benchmarks/bits_per_dim.py` (a PixelCNN with a mixture of 5 logistics per pixel).
`--architecture vqvae` is the `VQVAE` of `benchmarks/vq_vae.py` (then its prior is fitted).
`--architecture hierarchical` is `HierarchicalVAE` with its defaults (the MNIST recipe of
`benchmarks/quality_mnist.py`: Adam with the gradient's global norm clipped at 200); it has its
own latent groups, so `--latent-dim` is not used (an explicit one is refused).

`--architecture` is the older spelling of two switches: `--model-kind` (vae, pixelvae, vqvae,
hierarchical: `vae_keras.models.kinds`) and `--network` (auto, conv, dense, residual:
`vae_keras.networks.families`); `kind_and_network` maps one onto the other. The models are
built by the library's one `kinds.build_model`; this module keeps the command line's
defaults and recipe constants, and its refusals in the flags' words.
"""

import dataclasses

import keras

from vae_keras import priors
from vae_keras.models import kinds
from vae_keras.networks import families
from vae_keras.networks.families import default_family  # noqa: F401  (kept importable)

GRAY_BENCHMARKS = ("mnist", "fashion_mnist", "digits")
# `--architecture`'s spellings of the model kinds that build their own networks (the others
# are network families of `kind vae`).
ARCHITECTURE_KINDS = {
    "pixelcnn": "pixelvae",
    "vqvae": "vqvae",
    "vqvae2": "vqvae2",
    "hierarchical": "hierarchical",
}
# ("auto", "conv", "dense", "residual", "pixelcnn", "vqvae", "vqvae2", "hierarchical")
ARCHITECTURES = (families.AUTO, *families.NAMES, *ARCHITECTURE_KINDS)
# `--model-kind` and `--network`: the kinds the command line trains (no labelled ones) and the
# network families, both read from the library's tables.
MODEL_KINDS = tuple(name for name in kinds.NAMES if not kinds.get(name).needs_labels)
NETWORKS = (families.AUTO, *families.NAMES)
LIKELIHOOD_CHOICES = ("auto", "bernoulli", "gaussian", "discretized_logistic")


# The model kinds' own defaults are the command line's recipe constants (features, free bits,
# mixtures, widths, codebook size: `vae_keras.models.kinds`), so `build_model` passes none.
#
# How a run optimizes, where it is not Adam at a constant --learning-rate with the model
# class's `RECIPE_GLOBAL_CLIPNORM` (HierarchicalVAE: 200).
@dataclasses.dataclass(frozen=True)
class Optimization:
    """`schedule`: a linear warm-up from `final_fraction` x --learning-rate over the first
    `warmup_fraction` of the run's steps (at most `max_warmup_steps`), then a cosine decay to
    `final_fraction` x at the last step; `global_clipnorm`: the gradient's global norm clip."""

    schedule: dict | None = None
    global_clipnorm: float | None = None


# The colour PixelVAE (--architecture pixelcnn on 8-bit images): the benchmark's two legs
# (1e-3, then 5e-4) as one schedule over the run's steps, and the gradient's global norm
# clipped above its usual size: on patches (the loss sums 3,072 sub-pixels) the norm's median
# was 1.1e5, its 90th percentile 2.1e5 and its maximum 4.2e5 over the first 300 steps at
# 1e-3; an unclipped spike's update is what diverged (KL 6.8 million nats in a sixth epoch).
COLOUR_SCHEDULE = {"warmup_fraction": 0.05, "max_warmup_steps": 500, "final_fraction": 0.1}
COLOUR_GLOBAL_CLIPNORM = 3e5
# The binary PixelVAE (--architecture pixelcnn --binarize): benchmarks/quality_mnist.py's
# cosine decay from --learning-rate to a tenth of it over the run, no warm-up.
BINARY_PIXEL_SCHEDULE = {"warmup_fraction": 0.0, "max_warmup_steps": 0, "final_fraction": 0.1}
OPTIMIZATIONS = {
    ("pixelvae", "discretized_logistic"): Optimization(COLOUR_SCHEDULE, COLOUR_GLOBAL_CLIPNORM),
    ("pixelvae", "bernoulli"): Optimization(BINARY_PIXEL_SCHEDULE),
}


def optimization(model_kind: str, likelihood: str) -> Optimization:
    """The run's `Optimization` for (model kind, likelihood name); the default: none."""
    return OPTIMIZATIONS.get((model_kind, likelihood), Optimization())


# IWAE fine-tuning (--finetune-iwae): each stage's epochs unless given, and its Adam's rate
# (benchmarks/quality_mnist.py: k = 5 then 20 at 1e-4 took 81.91 nats to 80.87).
FINETUNE_EPOCHS, FINETUNE_LEARNING_RATE = 3, 1e-4


@dataclasses.dataclass(frozen=True)
class TrainRecipe:
    """A named set of `vae-keras train` flags (`--recipe NAME`): `flags` fill the flags left
    unset (explicit ones win, a contradicting model is refused); `binarize`: the recipe
    needs --binarize."""

    summary: str
    flags: dict
    binarize: bool = False


TRAIN_RECIPES = {
    # The likelihood lead on binarized MNIST (BENCHMARKS.md, "Test log-likelihood"): the
    # PixelVAE at a cosine-decayed rate, then IWAE fine-tuning at k = 5, 20 and 50.
    "best-likelihood": TrainRecipe(
        summary="--architecture pixelcnn --latent-dim 32 --epochs 180, then "
        "--finetune-iwae 5,20,50 --finetune-epochs 3,5,2 (about 4 hours on 2 CPU cores)",
        flags={
            "architecture": "pixelcnn",
            "latent_dim": 32,
            "epochs": 180,
            "finetune_iwae": (5, 20, 50),
            "finetune_epochs": (3, 5, 2),
        },
        binarize=True,
    ),
}


def finetune_stages(iwae: tuple | None, epochs: tuple | None) -> list[tuple[int, int]]:
    """`--finetune-iwae` and `--finetune-epochs` -> [(k, epochs), ...] (one line if they
    do not pair up)."""
    if not iwae:
        if epochs:
            raise ValueError(
                "--finetune-epochs sets the epochs of --finetune-iwae stages; add "
                "--finetune-iwae K[,K...] or drop --finetune-epochs."
            )
        return []
    epochs = tuple(epochs or (FINETUNE_EPOCHS,))
    if len(epochs) == 1:
        epochs *= len(iwae)
    if len(epochs) != len(iwae):
        raise ValueError(
            f"--finetune-epochs takes one value or one per --finetune-iwae stage "
            f"({len(iwae)}); got {','.join(map(str, epochs))}."
        )
    return list(zip(iwae, epochs, strict=True))


def kind_and_network(architecture: str) -> tuple[str, str]:
    """`--architecture` -> (model kind, network family): `conv` -> ("vae", "conv"),
    `vqvae` -> ("vqvae", "auto"), `auto` -> ("vae", "auto")."""
    if architecture in ARCHITECTURE_KINDS:
        return ARCHITECTURE_KINDS[architecture], families.AUTO
    if architecture != families.AUTO:
        families.get(architecture)
    return "vae", architecture


def architecture_of(model_kind: str, network: str) -> str:
    """(model kind, network family) -> its `--architecture` spelling (run folders and
    config.json record it): ("vae", "conv") -> "conv", ("pixelvae", "auto") -> "pixelcnn"."""
    if model_kind == "vae":
        return network
    return next(a for a, kind in ARCHITECTURE_KINDS.items() if kind == model_kind)


def default_likelihood(dataset: str) -> str:
    """Bernoulli for the gray benchmark sets, the discretized logistic for 8-bit images."""
    return "bernoulli" if dataset.lower() in GRAY_BENCHMARKS else "discretized_logistic"


def resolve_architecture(architecture: str, shape) -> str:
    """`"auto"` -> what `networks.default_networks` picks for `shape`."""
    if architecture != families.AUTO:
        return architecture
    return families.default_family(tuple(shape))


def check_settings(
    model_kind: str,
    network: str,
    likelihood: str,
    binarize: bool = False,
    shape=None,
    spelling: str | None = None,
):
    """Refuses a combination the command line cannot train, in its flags' words (one line).
    Decided from the flags alone where `shape` is None (before any data loads); `spelling`
    names the model as the user did (default: `--architecture NAME`)."""
    spelling = spelling or f"--architecture {architecture_of(model_kind, network)}"
    if model_kind == "vae" and network != families.AUTO:
        families.get(network)
    elif model_kind != "vae" and network != families.AUTO:
        raise ValueError(
            f"--model-kind {model_kind} builds its own networks; --network {network} does not "
            f"apply (leave --network auto, or use --model-kind vae --network {network})."
        )
    if binarize and likelihood != "bernoulli":
        raise ValueError(
            f"--binarize needs --likelihood bernoulli (binary pixels); got {likelihood}."
        )
    kind = kinds.get(model_kind)
    if shape is not None:
        shape = tuple(shape)
        if likelihood == "discretized_logistic" and len(shape) != 3:
            raise ValueError(
                "--likelihood discretized_logistic models 8-bit images (height, width, "
                f"channels); the data are shaped {shape}."
            )
    if model_kind == "pixelvae":
        if (shape is not None and len(shape) != 3) or likelihood not in kind.likelihoods:
            data = "" if shape is None else f", data shaped {shape}"
            raise ValueError(
                f"{spelling} models images (height, width, channels) with --likelihood "
                "bernoulli (binary; add --binarize for gray-level data) or discretized_logistic "
                f"(8-bit). Received: --likelihood {likelihood}{data}."
            )
    elif kind.images_only and shape is not None and len(shape) != 3:
        raise ValueError(
            f"{spelling} models images (height, width, channels); the data are {shape}."
        )


# `--prior-components` defaults: the VampPrior paper's 500 pseudo-inputs; 10 Gaussians.
PRIOR_COMPONENTS = {"vampprior": 500, "mixture": 10}


def prior_argument(prior: str | None, components: int | None = None):
    """`--prior NAME [--prior-components K]` as a `vae_keras.priors` object (None: unset)."""
    if components is not None and prior not in PRIOR_COMPONENTS:
        raise ValueError(
            f"--prior-components sets the components of --prior vampprior or mixture; got "
            f"--prior {prior or 'unset'}. Drop --prior-components or pass one of those."
        )
    if prior is None:
        return None
    if prior not in PRIOR_COMPONENTS:
        return priors.get(prior)
    return priors.get(prior, num_components=components or PRIOR_COMPONENTS[prior])


def build_model(
    *,
    architecture: str,
    likelihood: str,
    shape,
    latent_dim: int,
    beta: float = 1.0,
    seed: int = 0,
    learning_rate: float = 1e-3,
    binarize: bool = False,
    prior: str | None = None,
    prior_components: int | None = None,
    captions: bool = False,
    steps: int | None = None,
):
    """The compiled model of a `vae-keras train` run (validates the combination first):
    `--architecture` mapped onto the library's model kind and network family
    (`vae_keras.models.kinds.build_model`), with the command line's recipe constants.
    `captions`: a VQ-VAE whose prior over codes is a transformer reading the caption.
    `steps`: the run's training steps in all, which a recipe's learning-rate schedule spans
    (`optimizer`); None: a constant `learning_rate`."""
    model_kind, network = kind_and_network(architecture)
    shape = tuple(shape)
    check_settings(model_kind, network, likelihood, binarize, shape)
    model = kinds.build_model(
        model_kind,
        network=network,
        likelihood=likelihood,
        shape=shape,
        # A hierarchy has its own latent groups: --latent-dim is not used.
        latent_dim=latent_dim if kinds.get(model_kind).latent_dim else None,
        beta=beta,
        seed=seed,
        prior=prior_argument(prior, prior_components),
        **({"code_prior": "transformer"} if captions else {}),
    )
    model.compile(optimizer=optimizer(model, model_kind, likelihood, learning_rate, steps))
    return model


def learning_rate(model_kind: str, likelihood: str, peak: float, steps: int | None):
    """The learning rate a run of `steps` steps trains with: `peak` constant, or the kind's
    `Optimization.schedule` (a `keras.optimizers.schedules.CosineDecay` with warm-up, which
    `.keras` files save and the optimizer's step count continues)."""
    schedule = optimization(model_kind, likelihood).schedule
    if not steps or schedule is None:
        return peak
    warmup = min(schedule["max_warmup_steps"], int(steps * schedule["warmup_fraction"]))
    return keras.optimizers.schedules.CosineDecay(
        # With a warm-up, from the final rate up to `peak`; without, from `peak` itself.
        initial_learning_rate=peak * schedule["final_fraction"] if warmup else peak,
        decay_steps=max(1, steps - warmup),
        alpha=schedule["final_fraction"],
        warmup_target=peak if warmup else None,
        warmup_steps=warmup,
    )


def optimizer(model, model_kind: str, likelihood: str, peak: float, steps: int | None = None):
    """The recipe's Adam for `model`: `learning_rate(...)`, and the gradient clipping (global
    norm) of its `Optimization`, else the one its class names (`RECIPE_GLOBAL_CLIPNORM`)."""
    clipnorm = optimization(model_kind, likelihood).global_clipnorm
    return keras.optimizers.Adam(
        learning_rate(model_kind, likelihood, peak, steps),
        global_clipnorm=model.RECIPE_GLOBAL_CLIPNORM if clipnorm is None else clipnorm,
    )


def set_learning_rate(model, model_kind: str, likelihood: str, peak: float, steps: int | None):
    """A resumed run's learning rate: `--learning-rate` as given now, its schedule (if the
    recipe has one) rebuilt over `steps` so that it continues from the optimizer's step."""
    rate = learning_rate(model_kind, likelihood, peak, steps)
    schedule = keras.optimizers.schedules.LearningRateSchedule
    if not isinstance(rate, schedule) and isinstance(
        model.optimizer.get_config()["learning_rate"], dict
    ):
        rate = _constant(rate)  # the saved optimizer's rate is a schedule; it stays one
    model.optimizer.learning_rate = rate


def _constant(rate: float):
    """A schedule that is `rate` at every step (a schedule cannot become a float again)."""
    return keras.optimizers.schedules.PolynomialDecay(rate, 1, end_learning_rate=rate)

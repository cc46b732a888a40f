"""`vae-keras train`'s model flags, resolved and checked from the flags alone (before any
data loads): `--architecture` (the older spelling), `--model-kind`, `--network`,
`--likelihood auto`, `--latent-dim` and `--prior`.

`--architecture conv|dense|residual` is `--model-kind vae --network NAME`;
`--architecture pixelcnn|vqvae|hierarchical` is `--model-kind pixelvae|vqvae|hierarchical`
(their own networks); `--architecture auto` leaves both to the other flags. The run folder's
name and config.json record the `--architecture` spelling, as before the new flags.
"""

from vae_keras.cli.parser import DEFAULTS


def apply_recipe(args) -> None:
    """`--recipe NAME`: its flags where the command line left them unset (before the
    dataset's defaults), or a one-line `ValueError` where a given flag contradicts it."""
    from vae_keras.app import recipes
    from vae_keras.networks import families

    name = getattr(args, "recipe", None)
    if name is None:
        return
    recipe = recipes.TRAIN_RECIPES[name]
    if recipe.binarize and not args.binarize:
        raise ValueError(f"--recipe {name} trains on binarized images: add --binarize.")
    architecture = recipe.flags.get("architecture")
    if architecture is not None:
        kind = recipes.kind_and_network(architecture)[0]
        given = [
            f"--{flag.replace('_', '-')} {value}"
            for flag, value, unset in (
                ("architecture", args.architecture, (None, families.AUTO, architecture)),
                ("model_kind", getattr(args, "model_kind", None), (None, kind)),
            )
            if value not in unset
        ]
        if given:
            raise ValueError(
                f"--recipe {name} trains --architecture {architecture}; {' '.join(given)} "
                "contradicts it. Drop one of them."
            )
    for flag, value in recipe.flags.items():
        if getattr(args, flag, None) in (None, families.AUTO):
            setattr(args, flag, value)


def resolve(args) -> None:
    """Sets `args.model_kind`, `args.network`, `args.likelihood` (`auto` -> the dataset's)
    and `args.latent_dim` (unset -> the default), or raises a one-line `ValueError` for
    contradictory flags or a combination that cannot be trained."""
    from vae_keras.app import recipes, run_data
    from vae_keras.models import kinds
    from vae_keras.networks import families

    architecture = args.architecture or families.AUTO
    from_architecture = recipes.kind_and_network(architecture)
    model_kind = getattr(args, "model_kind", None)
    network = getattr(args, "network", None)
    if architecture != families.AUTO:
        given = [
            f"--{flag} {value}"
            for flag, value, implied in (
                ("model-kind", model_kind, from_architecture[0]),
                ("network", network, from_architecture[1]),
            )
            if value not in (None, families.AUTO, implied)
        ]
        if given:
            kind, net = from_architecture
            meaning = f"--model-kind {kind}" + (
                f" --network {net}" if kind == "vae" else " (its own networks)"
            )
            raise ValueError(
                f"--architecture {architecture} means {meaning}, but {' '.join(given)} was "
                "given. Pass one of them (--architecture is the older spelling of --model-kind "
                "and --network)."
            )
    if getattr(args, "captions", False) and architecture == families.AUTO and not model_kind:
        model_kind = "vqvae"  # text to image: a VQ-VAE and a transformer prior over its codes
    model_kind = model_kind or from_architecture[0]
    if network in (None, families.AUTO):
        network = from_architecture[1]
    spelling = (
        f"--architecture {architecture}"
        if architecture != families.AUTO
        else f"--model-kind {model_kind}"
    )
    if args.likelihood == "auto":
        args.likelihood = recipes.default_likelihood(args.dataset)
    recipes.check_settings(model_kind, network, args.likelihood, args.binarize, spelling=spelling)
    if kinds.get(model_kind).latent_dim is None and args.latent_dim is not None:
        raise ValueError(
            f"{spelling} has its own latent groups (HierarchicalVAE's defaults), so "
            "--latent-dim does not apply. Drop --latent-dim."
        )
    _check_prior(args, kinds.get(model_kind), spelling)
    _check_captions(args, model_kind, spelling)
    if args.latent_dim is None:
        args.latent_dim = DEFAULTS["latent_dim"]
    if kinds.get(model_kind).needs_fit_prior and (
        args.dataset == run_data.FOLDER or args.distribute
    ):
        raise ValueError(
            f"{spelling} trains its prior on the encoded training images in memory: "
            "use an in-memory dataset (mnist, fashion_mnist, digits, shapes, patches, TFDS) "
            "without --distribute."
        )
    args.model_kind, args.network = model_kind, network


def resolve_network(args, shape) -> None:
    """`--network auto` -> the family for data shaped `shape`, and `args.architecture` -> the
    `--architecture` spelling of the model (what the run folder and config.json record)."""
    from vae_keras.app import recipes
    from vae_keras.models import kinds
    from vae_keras.networks import families

    if kinds.get(args.model_kind).takes_network:
        args.network = families.resolve(args.network, shape)
    args.architecture = recipes.architecture_of(args.model_kind, args.network)


def _check_prior(args, kind, spelling) -> None:
    """`--prior` / `--prior-components` against what the model kind takes (one line)."""
    from vae_keras.app import recipes

    prior = getattr(args, "prior", None)
    components = getattr(args, "prior_components", None)
    recipes.prior_argument(prior, components)  # --prior-components without its prior
    if prior is not None and prior not in kind.priors:
        takes = (
            "--prior " + " or ".join(kind.priors)
            if kind.priors
            else "no --prior (its own latents or a deterministic code)"
        )
        raise ValueError(f"{spelling} takes {takes}; got --prior {prior}.")


def _check_captions(args, model_kind, spelling) -> None:
    """`--captions` / `--hold-out`: captioned shapes, a VQ-VAE (one line otherwise)."""
    captions, hold_out = getattr(args, "captions", False), getattr(args, "hold_out", None)
    if hold_out is not None and not captions:
        raise ValueError(
            "--hold-out leaves colour:shape pairs out of a --captions run; add --captions "
            "(and --dataset shapes) or drop --hold-out."
        )
    if not captions:
        return
    if args.dataset.lower() != "shapes":
        raise ValueError(
            f"--captions trains on captioned shapes: pass --dataset shapes (got --dataset "
            f"{args.dataset})."
        )
    if model_kind != "vqvae":
        raise ValueError(
            f"--captions trains a VQ-VAE with a transformer prior over its codes; {spelling} "
            "is another model. Drop it or pass --model-kind vqvae."
        )
    if hold_out is not None:
        from vae_keras.datasets.shapes import held_out_pairs

        held_out_pairs(hold_out)  # a misspelt pair fails before any data loads

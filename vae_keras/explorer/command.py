"""`vae-keras explore`: its arguments and what it does (the CLI only calls in here)."""

import argparse
import os
from pathlib import Path

# Datasets that load without a download (the others need --data-dir or $VAE_KERAS_DATA_DIR).
_OFFLINE = ("digits", "shapes")


def _whole_number(text, low, high, expected):
    """`int(text)` in [low, high], or an argparse error saying what the flag expects."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be {expected}, got {text!r}")
    return value


def _port(text):
    return _whole_number(text, 1, 65535, "a port number in [1, 65535]")


def _positive_int(text):
    return _whole_number(text, 1, float("inf"), "a whole number >= 1")


def add_arguments(parser: argparse.ArgumentParser):
    """The `explore` subcommand's arguments."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="a model.keras written by `vae-keras train`")
    source.add_argument("--preset", help="a shipped pretrained model (see vae_keras.presets)")
    parser.add_argument("--port", type=_port, help="port to listen on (default: a free one)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s, this machine only)",
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="only print the URL; do not open a browser"
    )
    parser.add_argument(
        "--dataset", help="test images to encode (default: the one the model was trained on)"
    )
    parser.add_argument(
        "--data-dir",
        help="folder with the dataset files (default: the run's, else $VAE_KERAS_DATA_DIR)",
    )
    parser.add_argument(
        "--num-images", type=_positive_int, default=16, help="test images offered on the page"
    )


def _load(args):
    """(model, where it was trained: {"dataset", "data_dir", "image_size"})."""
    from vae_keras.app import runs

    if args.model:
        return runs.load_model(args.model), runs.run_config(args.model)
    try:
        from vae_keras import presets
    except ImportError:
        raise ValueError(
            f"--preset {args.preset}: this vae_keras has no presets. Pass --model with a "
            "model.keras written by `vae-keras train`."
        ) from None
    model = presets.load(args.preset)
    card = presets.info(args.preset) if hasattr(presets, "info") else {}
    recipe = card.get("recipe") if isinstance(card.get("recipe"), dict) else {}
    return model, {k: card.get(k, recipe.get(k)) for k in ("dataset", "image_size")}


def _test_images(args, config, model):
    """(images, labels, note): a few test images to encode, or None and why not."""
    from vae_keras.app import run_data
    from vae_keras.models.capabilities import capabilities, input_shape

    declared = capabilities(model)
    if not declared.encode:
        return None, None, "the model has no encoder"
    dataset = args.dataset or config.get("dataset")
    if not dataset:
        return None, None, "the model's dataset is unknown: pass --dataset"
    data_dir = args.data_dir
    if not data_dir and args.model:  # the run's (a relative one of an older run: searched)
        try:
            data_dir = run_data.recorded_data_dir(args.model, config)
        except FileNotFoundError as error:
            if args.dataset:
                raise
            return None, None, str(error)
    data_dir = data_dir or os.environ.get("VAE_KERAS_DATA_DIR")
    if not data_dir and dataset not in _OFFLINE:
        if args.preset:  # the few test images shipped with the preset
            from vae_keras import presets

            x, y = presets.examples(args.preset)
            return x, y, None
        return None, None, f"no {dataset} files here: pass --data-dir"
    explicit = args.dataset or args.data_dir
    try:
        x, y = run_data.load_test(
            dataset,
            data_dir,
            image_size=config.get("image_size"),
            limit=max(1000, args.num_images),
            labels=True,
        )
    except (OSError, ValueError) as error:
        if explicit:
            raise
        return None, None, f"{dataset} test images did not load ({error})"
    shape = input_shape(model, default=tuple(x.shape[1:]))
    if tuple(x.shape[1:]) != shape:
        message = f"{dataset} test images are {x.shape[1:]}, the model reads {shape}"
        if explicit:
            raise ValueError(f"{message}: pass the --dataset the model was trained on.")
        return None, None, message
    if declared.conditional and y is None:
        return None, None, f"{dataset} has no labels for the conditional model"
    return x, y, None


def run(args):
    """Loads the model and test images, then serves the explorer until Ctrl-C."""
    from vae_keras.explorer import serve
    from vae_keras.explorer.app import ExplorerServer, check_explorable

    if args.port is not None:  # a taken port fails now, not after loading the model
        ExplorerServer(None, args.host, args.port).server_close()
    model, config = _load(args)
    codes = check_explorable(model).discrete_codes  # before loading any test images
    images, labels, note = _test_images(args, config, model)
    if note:
        what = "the prompt box still works" if codes else "sliders, pad and prior draws still work"
        print(f"No test images to encode ({note}); {what}.")
    else:
        source = Path(args.model).parent if args.model else f"preset {args.preset}"
        if codes:  # the prompt mode shows the codebook use of their codes
            print(f"Codebook use of {min(1000, len(images))} test images ({source}).")
        else:
            print(f"Offering {min(args.num_images, len(images))} test images ({source}).")
    serve(
        model,
        host=args.host,
        port=args.port,
        images=images,
        labels=labels,
        num_images=args.num_images,
        open_browser=not args.no_browser,
    )

"""Helpers the `vae-keras` commands share: progress lines, test data, output file names."""

from pathlib import Path

from vae_keras.cli.parser import DEFAULTS


def say(chief, message):
    """A line of progress for a stage that would otherwise be quiet (flushed: pipes see it)."""
    if chief:
        print(message, flush=True)


def test_data(args, config, labels=False):
    from vae_keras.app import run_data

    dataset = args.dataset or config.get("dataset", DEFAULTS["dataset"])
    data_dir = args.data_dir or run_data.recorded_data_dir(args.model, config)
    x, y = run_data.load_test(
        dataset,
        data_dir,
        image_size=args.image_size or config.get("image_size"),
        limit=args.limit,
        seed=config.get("seed", 0),
        labels=True,
    )
    return (dataset, x, y) if labels else (dataset, x)


def file_in(path, default_name, suffix):
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

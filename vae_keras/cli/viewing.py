"""The commands that read a trained model: sample, plot, export, explore, presets."""

from pathlib import Path

from vae_keras.cli.common import file_in, say, test_data

# The most images one `sample` call draws: a grid of 10,000 MNIST digits is
# already ~3,000 pixels a side, and an unbounded count exhausts memory.
MAX_SAMPLES = 10_000

MAX_SAMPLE_BYTES = 2**30


def sample(args) -> Path:
    import io
    import math

    import numpy as np

    from vae_keras import plotting
    from vae_keras.app import runs

    if args.num_samples > MAX_SAMPLES:
        raise ValueError(
            f"--num-samples {args.num_samples} is more than {MAX_SAMPLES}, the most one call "
            "draws. Run `vae-keras sample` several times with different --seed values."
        )
    name = f"samples_seed{args.seed}"
    out = file_in(args.out, f"{name}.png", ".png") if args.out else None
    npy = file_in(args.npy, f"{name}.npy", ".npy") if args.npy else None
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
    prompt = {}
    if getattr(args, "prompt", None) is not None:
        from vae_keras.models.capabilities import require

        require(model, "captions", "--prompt")
        prompt = {"captions": args.prompt}  # unknown words: a ValueError naming them
    images = model.sample(args.num_samples, seed=args.seed, **prompt)
    out = out or default_out
    plotting.save_image_grid(images, out)
    if npy:
        buffer = io.BytesIO()
        np.save(buffer, images)
        runs.atomic_write_bytes(npy, buffer.getvalue())
    print(f"wrote {out}" + (f" and {npy}" if npy else ""))
    return out


def plot(args) -> Path:
    from vae_keras.app import report, runs

    model = runs.load_model(args.model)
    config = runs.run_config(args.model)
    dataset, x, y = test_data(args, config, labels=True)
    run = Path(args.model).parent
    history = (
        runs.read_json(run / runs.HISTORY)["history"] if (run / runs.HISTORY).is_file() else None
    )
    metrics = runs.read_json(run / "metrics.json") if (run / "metrics.json").is_file() else {}
    out = Path(args.out) if args.out else run / "figures"
    say(True, f"drawing figures of {len(x)} {dataset} test images into {out} ...")
    epochs = len(history.get("loss", ())) if history else 0
    stages = report.finetune_stage_marks(metrics.get("finetune"), epochs)
    figures = report.write_run_figures(
        model, x, y, history, out, max_points=3000, seed=args.seed, stages=stages
    )
    page = report.write_report(out.parent, metrics, figures, title=f"vae_keras run: {run.name}")
    print(f"wrote {len(figures)} figures to {out} and {page}")
    return out


def export(args) -> Path:
    from vae_keras.app import runs
    from vae_keras.export import ENDPOINTS, export_saved_model

    out = Path(args.out) if args.out else Path(args.model).with_name("saved_model")
    say(True, f"exporting {args.model} to {out} (tracing the endpoints takes a while) ...")
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

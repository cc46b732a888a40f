"""Text to image on shapes: do generated images follow captions, also for pairs never seen?

    python benchmarks/text_to_image.py --minutes 45 --out text_to_image_output
    python benchmarks/text_to_image.py --quantizer fsq --minutes 45
    python benchmarks/text_to_image.py --reuse --top-k 4 --out text_to_image_output  # rescore

The trained model is kept as `--out`/model.keras (with its minutes); `--reuse` scores
it again, with other sampler settings, without training.

Trains a small `VQVAE` (8x8 code grid at 32x32; `--quantizer vq`:
`VectorQuantizer(256, 16)`, `fsq`: `FiniteScalarQuantizer((8, 5, 5, 5))`) on
captioned shapes with the colour x shape pairs of `--hold-out` removed from the
training split, then its transformer prior on the code grids with the captions,
both within one wall-clock budget (`--minutes`, checked after each batch;
`--prior-share` of it for the prior). Then it draws `--per-caption` images for

- seen: `--num-seen` captions drawn from the training captions;
- held-out: every caption of the held-out pairs (nine positions x two sizes);

and scores them with the `ShapesOracle` (outside the model: foreground colour
against the palette, centroid against the position words, area against the
size, shape by a small conv classifier trained on renders; trained outside the
budget and cached in `--out`). One table: caption set x colour, shape,
position, size, all four right, and for held-out captions the share of images
that drew a seen colour x shape pair instead. The last rows score real renders
of the held-out captions (the oracle's own ceiling) and the VQ-VAE's
reconstructions of them (the autoencoder's ceiling). Writes
`text_to_image.png` (samples under their captions) and `--json`.
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # _budget.py, however this is loaded
from _budget import TimeBudget  # noqa: E402


def example():
    """examples/text_to_image.py (the flow's pieces), loaded by path: it shares this name."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "text_to_image_example", EXAMPLES / "text_to_image.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def real_renders(targets, image_size, seed):
    """Renders of caption words (centre of each position third, scale 0.6 or 0.9)."""
    from vae_keras.datasets.shapes import COLOR_NAMES, FACTOR_DTYPE, SHAPE_NAMES, render_shapes
    from vae_keras.shapes_oracle import POSITION_NAMES

    centres = (1 / 3, 0.5, 2 / 3)
    f = np.zeros(len(targets), FACTOR_DTYPE)
    for i, words in enumerate(targets):
        where = POSITION_NAMES.index(words["position"])
        f[i] = (
            SHAPE_NAMES.index(words["shape"]),
            COLOR_NAMES.index(words["colour"]),
            0.9 if words["size"] == "large" else 0.6,
            np.random.default_rng([seed, i]).uniform(0, 360),
            centres[where % 3],
            centres[where // 3],
        )
    return render_shapes(f, image_size)


def seen_pair_instead(score, targets, held):
    """Share of images whose colour x shape is a seen pair, not the wanted held-out one."""
    predicted = zip(score["predicted"]["colour"], score["predicted"]["shape"], strict=True)
    return float(
        np.mean(
            [
                (c, s) != (w["colour"], w["shape"]) and (c, s) not in held and c != "none"
                for (c, s), w in zip(predicted, targets, strict=True)
            ]
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=45.0, help="VQ-VAE + prior budget")
    parser.add_argument("--prior-share", type=float, default=0.5, help="of the budget")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--num-train", type=int, default=20000, help="before the hold-out")
    parser.add_argument("--hold-out", default=None, help="colour:shape pairs, comma-separated")
    parser.add_argument("--quantizer", choices=("vq", "fsq"), default="vq")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-seen", type=int, default=72, help="seen captions to draw")
    parser.add_argument("--per-caption", type=int, default=2, help="samples per caption")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--oracle-examples", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="text_to_image_output")
    parser.add_argument("--json", default=None, help="also write the numbers here")
    parser.add_argument(
        "--reuse", action="store_true", help="score --out/model.keras again, no training"
    )
    args = parser.parse_args()

    import keras

    flow = example()
    HOLD_OUT, build_model, cached_oracle = flow.HOLD_OUT, flow.build_model, flow.cached_oracle
    caption_figure, caption_text, generate = flow.caption_figure, flow.caption_text, flow.generate
    held_out_targets, parse_hold_out = flow.held_out_targets, flow.parse_hold_out

    from vae_keras import datasets

    Path(args.out).mkdir(parents=True, exist_ok=True)
    pairs = parse_hold_out(args.hold_out or HOLD_OUT)
    print(
        f"budget {args.minutes:g} min wall clock for VQ-VAE + prior ({args.prior_share:.0%} "
        f"prior); backend {keras.backend.backend()}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    )
    t = time.time()
    oracle = cached_oracle(args.out, args.image_size, num_examples=args.oracle_examples)
    oracle_accuracy = oracle.accuracy_on_renders(2000)
    print(f"oracle ready in {time.time() - t:.0f} s (outside the budget)")

    keras.utils.set_random_seed(args.seed)
    x, captions = datasets.load(
        "shapes",
        "train",
        image_size=args.image_size,
        num_examples=args.num_train,
        captions=True,
        hold_out=pairs,
    )
    captions = list(captions)
    print(f"{len(x)} training images of {args.num_train} ({pairs} held out)")
    saved = Path(args.out) / "model.keras"
    if args.reuse:
        model = keras.models.load_model(saved, safe_mode=True)
        minutes = json.loads(saved.with_suffix(".json").read_text())
        vq_minutes, prior_minutes = minutes["vq_vae"], minutes["prior"]
        print(f"reusing {saved}: VQ-VAE {vq_minutes:.1f} min, prior {prior_minutes:.1f} min")
    else:
        model = build_model(args.image_size, args.quantizer, seed=args.seed)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        budget = 60 * args.minutes
        t = time.time()
        model.fit(
            x,
            epochs=10_000,
            batch_size=args.batch_size,
            verbose=0,
            callbacks=[TimeBudget(budget * (1 - args.prior_share))],
        )
        vq_minutes = (time.time() - t) / 60
        t = time.time()
        history = model.fit_prior(
            x,
            captions=captions,
            epochs=10_000,
            batch_size=args.batch_size,
            verbose=0,
            callbacks=[TimeBudget(budget - 60 * vq_minutes)],
        )
        prior_minutes = (time.time() - t) / 60
        stats = model.codebook_statistics(x[:2000])
        print(
            f"VQ-VAE {vq_minutes:.1f} min, codebook in use {stats['usage']:.0%}; prior "
            f"{prior_minutes:.1f} min, {len(history.history['loss'])} epochs, final NLL "
            f"{history.history['loss'][-1]:.1f} nats per grid"
        )
        model.save(saved)
        saved.with_suffix(".json").write_text(
            json.dumps({"vq_vae": vq_minutes, "prior": prior_minutes})
        )

    rng = np.random.default_rng(args.seed)
    seen = [captions[i] for i in rng.choice(len(captions), args.num_seen, replace=False)]
    held_targets = held_out_targets(pairs)
    held_out = [caption_text(w) for w in held_targets]
    repeat = args.per_caption
    rows, results = [], {}
    for name, texts in (("seen", seen), ("held-out", held_out)):
        t = time.time()
        images, repeated = generate(model, texts, repeat, args.seed, args.temperature, args.top_k)
        seconds = time.time() - t
        if name == "seen":
            rows.append((name, oracle.score_captions(images, repeated), None, seconds))
        else:  # the words are known: no parser needed
            targets = [w for w in held_targets for _ in range(repeat)]
            score = oracle.score(images, targets)
            rows.append((name, score, seen_pair_instead(score, targets, set(pairs)), seconds))
    real = real_renders(held_targets, args.image_size, args.seed)
    score = oracle.score(real, held_targets)
    rows.append(
        ("held-out, real renders", score, seen_pair_instead(score, held_targets, set(pairs)), 0.0)
    )
    # The autoencoder's ceiling: what the oracle reads in the VQ-VAE's reconstructions of
    # those renders (a prior can do no better than the codes' decoder draws).
    rebuilt = np.clip(np.asarray(model.reconstruct(real)), 0.0, 1.0)
    score = oracle.score(rebuilt, held_targets)
    rows.append(
        (
            "held-out, reconstructions of the renders",
            score,
            seen_pair_instead(score, held_targets, set(pairs)),
            0.0,
        )
    )

    print(
        "\n| caption set | images | colour | shape | position | size | all four | "
        "seen pair instead | sampling s |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, score, instead, seconds in rows:
        cells = " | ".join(f"{score[a]:.1%}" for a in ("colour", "shape", "position", "size"))
        instead_text = "–" if instead is None else f"{instead:.1%}"
        print(
            f"| {name} | {len(score['all_hits'])} | {cells} | {score['all']:.1%} | "
            f"{instead_text} | {seconds:.1f} |"
        )
        results[name] = {a: score[a] for a in ("colour", "shape", "position", "size", "all")}
        results[name]["seen_pair_instead"] = instead
    print(f"\noracle's shape accuracy on 2000 fresh real renders: {oracle_accuracy:.1%}")

    block = len(held_out) // len(pairs)  # one held-out caption per pair, varied positions
    figure_captions = seen[:4] + [held_out[k * block + (7 * k + 3) % block] for k in range(4)]
    images, repeated = generate(model, figure_captions, 4, args.seed + 1, args.temperature)
    caption_figure(images, figure_captions, 4, f"{args.out}/text_to_image.png")
    if args.json:
        from vae_keras.runs import atomic_write_bytes

        results.update(
            config=vars(args),
            oracle_shape_accuracy=oracle_accuracy,
            minutes={"vq_vae": vq_minutes, "prior": prior_minutes},
        )
        atomic_write_bytes(args.json, json.dumps(results, indent=1, default=str).encode())


if __name__ == "__main__":
    main()

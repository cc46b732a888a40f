"""Text to image in miniature: a VQ-VAE and a caption-conditioned transformer prior on shapes.

Trains a `VQVAE` on captioned 32x32 shapes ("a small red heart at the top left")
with some colour x shape pairs held out of training, fits its transformer prior
on the code grids with the captions (`fit_prior(x, captions=...)`), draws images
for a few prompts (`sample(n, captions=...)`), and judges them with the
`ShapesOracle` (colour against the palette, centroid against the position words,
shape by a small classifier trained on renders): it writes
`text_to_image.png` (a column of samples under each prompt) and prints, per
prompt, the share of samples with the right colour, shape and position.

    python examples/text_to_image.py --epochs 10 --prior-epochs 20 --out out/
    python examples/text_to_image.py --quick --out out/     # seconds: 16x16, tiny budgets

`benchmarks/text_to_image.py` is the measurement (seen against held-out captions,
within a time budget); this file also holds the pieces it shares.
"""

import sys
from pathlib import Path

import _common
import numpy as np

HOLD_OUT = "red:heart,green:triangle,blue:ellipse,yellow:square"
SIZES = ("small", "large")
PROMPTS = (  # the first two pairs are seen in training, the last two held out
    "a large green square in the middle",
    "a small cyan heart at the top left",
    "a large red heart in the middle",
    "a small blue ellipse at the bottom right",
)


def parse_hold_out(text):
    """`"red:heart,green:triangle"` -> `[("red", "heart"), ("green", "triangle")]` (checked by
    the data loader's own `held_out_pairs`: a misspelt word names the known ones)."""
    from vae_keras.datasets.shapes import COLOR_NAMES, SHAPE_NAMES, held_out_pairs

    shapes = len(SHAPE_NAMES)
    return [(COLOR_NAMES[c // shapes], SHAPE_NAMES[c % shapes]) for c in held_out_pairs(text)]


def held_out_targets(pairs):
    """The words of every caption of the held-out pairs: nine positions, both sizes."""
    from vae_keras.shapes_oracle import POSITION_NAMES

    return [
        {"size": size, "colour": colour, "shape": shape, "position": position}
        for colour, shape in pairs
        for position in POSITION_NAMES
        for size in SIZES
    ]


def caption_text(words):
    """The caption grammar's sentence for `{"size", "colour", "shape", "position"}`."""
    return f"a {words['size']} {words['colour']} {words['shape']} {words['position']}"


def build_model(image_size, quantizer="vq", codes=256, levels=(8, 5, 5, 5), seed=0):
    """A small VQ-VAE for shapes (an 8x8 code grid at 32x32) with a transformer prior."""
    from vae_keras import VQVAE, layers, networks

    if quantizer == "fsq":
        quantizer_layer = layers.FiniteScalarQuantizer(levels=tuple(levels))
        dim = len(levels)
    elif quantizer == "vq":
        dim = 16
        quantizer_layer = layers.VectorQuantizer(codes, dim, seed=seed)
    else:
        raise ValueError(f"--quantizer must be 'vq' or 'fsq'. Received: {quantizer!r}")
    shape = (image_size, image_size, 3)
    encoder = networks.vq_encoder(shape, dim, filters=(32, 64))
    decoder = networks.vq_decoder(tuple(encoder.output.shape[1:]), shape, filters=(64, 32))
    return VQVAE(encoder, decoder, quantizer_layer, prior="transformer", seed=seed)


def cached_oracle(out, image_size, num_examples=20000, epochs=8, seed=0):
    """The shapes oracle, trained once and kept in `out` (`oracle_{size}.keras`)."""
    from vae_keras.shapes_oracle import ShapesOracle

    path = Path(out) / f"oracle_{image_size}.keras"
    if path.is_file():
        return ShapesOracle.load(path)
    oracle = ShapesOracle.fit(image_size, num_examples=num_examples, epochs=epochs, seed=seed)
    oracle.save(path)
    return oracle


def generate(model, captions, per_caption, seed, temperature=1.0, top_k=None):
    """`per_caption` samples of each caption, caption-major, clipped to [0, 1]."""
    repeated = [c for c in captions for _ in range(per_caption)]
    images = model.sample(
        len(repeated), captions=repeated, seed=seed, temperature=temperature, top_k=top_k
    )
    return np.clip(np.asarray(images), 0.0, 1.0), repeated


def caption_figure(images, captions, per_caption, path):
    """A PNG grid: one column per caption (written above it), `per_caption` rows."""
    import textwrap

    fig, axes = _common.figure(per_caption, len(captions), size=1.6)
    for j, text in enumerate(captions):
        axes[0, j].set_title(textwrap.fill(text, 18), fontsize=7)
        for i in range(per_caption):
            axes[i, j].imshow(images[j * per_caption + i], interpolation="nearest")
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
    _common.save(fig, path)


def main():
    quick = "--quick" in sys.argv
    if quick:
        sys.argv.remove("--quick")
    args = _common.parse_args(
        __doc__.splitlines()[0],
        epochs=10,
        limit=10000,
        prior_epochs=(int, 20, "epochs of the transformer prior (fit_prior)"),
        image_size=(int, 32, "image side in pixels"),
        quantizer=(str, "vq", "'vq' (VectorQuantizer(256, 16)) or 'fsq' (levels 8,5,5,5)"),
        hold_out=(str, HOLD_OUT, "colour:shape pairs kept out of training"),
        per_prompt=(int, 4, "samples per prompt"),
    )
    timer = _common.Timer()
    import keras

    from vae_keras import datasets

    keras.utils.set_random_seed(args.seed)
    if quick:
        args.image_size, args.limit, args.epochs, args.prior_epochs = 16, 1000, 1, 1
        args.per_prompt = 2
    pairs = parse_hold_out(args.hold_out)
    x, captions = datasets.load(
        "shapes",
        "train",
        image_size=args.image_size,
        num_examples=args.limit,
        captions=True,
        hold_out=pairs,
    )
    print(f"{len(x)} captioned {args.image_size}x{args.image_size} shapes; held out: {pairs}")
    model = build_model(args.image_size, args.quantizer, seed=args.seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(x, epochs=args.epochs, batch_size=args.batch_size, verbose=2)
    model.fit_prior(
        x, captions=list(captions), epochs=args.prior_epochs, batch_size=args.batch_size, verbose=2
    )
    oracle = (
        cached_oracle(args.out, args.image_size, num_examples=2000, epochs=5)
        if quick
        else cached_oracle(args.out, args.image_size)
    )
    images, repeated = generate(model, PROMPTS, args.per_prompt, seed=args.seed)
    scores = oracle.score_captions(images, repeated)
    print(f"oracle's shape accuracy on real renders: {oracle.accuracy_on_renders(500):.1%}")
    print("\n| prompt | held out | colour | shape | position |")
    print("| --- | --- | ---: | ---: | ---: |")
    for j, prompt in enumerate(PROMPTS):
        rows = slice(j * args.per_prompt, (j + 1) * args.per_prompt)
        held = any(f"{c} {s}" in prompt for c, s in pairs)
        cells = " | ".join(
            f"{scores[a + '_hits'][rows].mean():.0%}" for a in ("colour", "shape", "position")
        )
        print(f"| {prompt} | {'yes' if held else 'no'} | {cells} |")
    caption_figure(images, PROMPTS, args.per_prompt, f"{args.out}/text_to_image.png")
    print(f"total {timer}")


if __name__ == "__main__":
    main()

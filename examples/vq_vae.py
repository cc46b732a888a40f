"""VQ-VAE on MNIST: discrete codes, a codebook kept in use, a learned prior.

Trains a `VQVAE` (the keras.io example's networks: a 7x7 grid of codes from
a 128-entry codebook; the package's quantizer with its EMA codebook and
dead-code restarts), then its PixelCNN prior over the code grids
(`fit_prior`), and writes

- `code_usage.png`: how often each codebook entry codes a test position
  (a flat chart: no dead codes),
- `code_grids.png`: the keras.io picture, image | grid of code indices | reconstruction,
- `samples.png`: images decoded from code grids drawn from the prior,

and prints the test reconstruction NLL and error, the perplexity and share of
the codebook in use, the prior's NLL in nats per image and the log p(x)
bound (reconstruction + prior NLL of the indices).

    python examples/vq_vae.py --data-dir ../shared/datasets/mnist --epochs 5 --out out/
    python examples/vq_vae.py --quick --out out/     # seconds: 8x8 scikit-learn digits
"""

import sys

import _common
import numpy as np


def main():
    quick = "--quick" in sys.argv
    if quick:
        sys.argv.remove("--quick")
    args = _common.parse_args(
        __doc__.splitlines()[0],
        epochs=5,
        prior_epochs=(int, 5, "epochs of the prior (fit_prior)"),
        num_samples=(int, 64, "prior samples to draw"),
    )
    timer = _common.Timer()
    import keras

    from vae_keras import VQVAE, datasets, networks, plotting
    from vae_keras.layers import VectorQuantizer

    keras.utils.set_random_seed(args.seed)
    if quick:  # 8x8 digits (bundled with scikit-learn): a 4x4 grid from 32 codes
        x, _ = datasets.load("digits")
        x_train, x_test = x[:1400], x[1400:]
        shape, dim, filters, codes = (8, 8, 1), 8, (16,), 32
        args.epochs, args.prior_epochs = min(args.epochs, 2), 1
        args.num_samples = min(args.num_samples, 16)
    else:
        x_train, _, x_test, _ = _common.load_mnist(args, test_limit=5000)
        shape, dim, filters, codes = (28, 28, 1), 16, (32, 64), 128
    encoder = networks.vq_encoder(shape, dim, filters=filters)
    grid = tuple(encoder.output.shape[1:])
    model = VQVAE(
        encoder,
        networks.vq_decoder(grid, shape, filters=filters[::-1]),
        VectorQuantizer(codes, dim, seed=args.seed),
        seed=args.seed,
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(x_train, epochs=args.epochs, batch_size=args.batch_size, verbose=2)
    model.fit_prior(x_train, epochs=args.prior_epochs, batch_size=args.batch_size, verbose=2)

    test = model.evaluate(x_test, batch_size=256, verbose=0, return_dict=True)
    stats = model.codebook_statistics(x_test)
    prior_nll = model.prior_nll(x_test)
    bound = model.nll_bound(x_test)
    mse = float(np.mean((model.reconstruct(x_test) - x_test) ** 2))
    print(f"grid {grid[0]}x{grid[1]} of {codes} codes; trained in {timer}")
    print(f"test reconstruction NLL {test['reconstruction_loss']:.2f} nats, MSE/pixel {mse:.5f}")
    print(
        f"codebook in use {stats['usage']:.1%}, perplexity {stats['perplexity']:.1f} (of {codes})"
    )
    print(f"prior NLL {prior_nll.mean():.2f} nats/image; -log p(x) <= {bound.mean():.2f} nats")

    out = args.out
    plotting.code_usage(model, x_test, path=f"{out}/code_usage.png")
    plotting.code_grids(model, x_test, num_images=4, path=f"{out}/code_grids.png")
    samples = model.sample(args.num_samples, seed=args.seed)
    plotting.save_image_grid(samples, f"{out}/samples.png", ncols=8)
    for name in ("code_usage.png", "code_grids.png", "samples.png"):
        print(f"wrote {out}/{name}")
    print(f"total {timer}")


if __name__ == "__main__":
    main()

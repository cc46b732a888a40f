"""Shared plumbing of the example scripts: arguments, MNIST, a digit classifier, figures.

Not part of the package; each example imports it as `_common` (it sits next to them).
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def parse_args(description, epochs=5, limit=20000, **extra):
    """The common command line: --data-dir, --epochs, --out, --limit, --seed, --batch-size.

    `extra` adds options: name -> (type, default, help).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("VAE_KERAS_DATA_DIR"),
        help="folder with the MNIST IDX files (default: $VAE_KERAS_DATA_DIR)",
    )
    parser.add_argument("--epochs", type=int, default=epochs, help="training epochs per model")
    parser.add_argument("--out", default="example_output", help="folder for figures")
    parser.add_argument(
        "--limit", type=int, default=limit, help="training examples used (0: all 60000)"
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    for name, (kind, default, help_text) in extra.items():
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=kind, default=default, help=help_text
        )
    args = parser.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    return args


def load_mnist(args, test_limit=None):
    """Returns `(x_train, y_train, x_test, y_test)`, float32 NHWC in [0, 1]."""
    from vae_keras import datasets

    x_train, y_train = datasets.load(
        "mnist", "train", data_dir=args.data_dir, limit=args.limit or None
    )
    x_test, y_test = datasets.load("mnist", "test", data_dir=args.data_dir, limit=test_limit)
    print(f"MNIST: {len(x_train)} training and {len(x_test)} test images")
    return x_train, y_train, x_test, y_test


class DigitClassifier:
    """A small MLP trained on real digits (about 97% on MNIST test), to judge samples.

    `probabilities(images)` gives class probabilities `(N, 10)`;
    `features(images)` its 256 hidden activations, for `frechet_distance`.
    """

    def __init__(self, x, y, epochs=2, seed=0):
        import keras

        keras.utils.set_random_seed(seed)
        inputs = keras.Input(x.shape[1:])
        hidden = keras.layers.Dense(256, activation="relu", name="features")(
            keras.layers.Flatten()(inputs)
        )
        outputs = keras.layers.Dense(10, activation="softmax")(hidden)
        self.model = keras.Model(inputs, outputs)
        self.model.compile("adam", "sparse_categorical_crossentropy")
        self.model.fit(x, y, epochs=epochs, batch_size=128, verbose=0)
        self.feature_model = keras.Model(inputs, hidden)

    def probabilities(self, images):
        return self.model.predict(images, batch_size=512, verbose=0)

    def features(self, images):
        return self.feature_model.predict(images, batch_size=512, verbose=0).astype("float64")


def frechet_distance(features_a, features_b):
    """Frechet distance between Gaussians fitted to two feature sets (FID's formula,
    here on the digit classifier's features): 0 for matching statistics; blurry,
    broken or all-alike samples all raise it."""
    from scipy import linalg

    mu_a, mu_b = features_a.mean(0), features_b.mean(0)
    ridge = 1e-6 * np.eye(features_a.shape[1])  # dead ReLU units: keep sqrtm well posed
    cov_a = np.cov(features_a, rowvar=False) + ridge
    cov_b = np.cov(features_b, rowvar=False) + ridge
    root = linalg.sqrtm(cov_a @ cov_b)
    trace = np.trace(cov_a + cov_b - 2 * np.real(root))
    return float(np.sum((mu_a - mu_b) ** 2) + trace)


def sample_quality(classifier, samples, reference):
    """`(frechet distance to reference images, class entropy in bits)`; the entropy
    of the classifier's labels measures variety (log2(10) = 3.32 is uniform)."""
    labels = classifier.probabilities(samples).argmax(1)
    counts = np.bincount(labels, minlength=10) / len(labels)
    nonzero = counts[counts > 0]
    entropy = abs(float((nonzero * np.log2(nonzero)).sum()))
    fd = frechet_distance(classifier.features(samples), classifier.features(reference))
    return fd, entropy


def figure(nrows, ncols, size=3.0):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    return fig, axes


def show_images(ax, images, ncols, title=None):
    from vae_keras.plotting import image_grid

    grid = np.clip(image_grid(images, ncols=ncols), 0, 1)
    ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)


def save(fig, path):
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"wrote {path}")


class Timer:
    def __init__(self):
        self.start = time.perf_counter()

    def __str__(self):
        return f"{time.perf_counter() - self.start:.1f} s"

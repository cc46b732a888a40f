"""Shared fixtures. Tests use small synthetic arrays, sklearn digits, or the
real MNIST files in ../shared/datasets/mnist when present; never the network."""

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")
# `vae-keras train`'s download probe (run_data) knocks on a closed local port, never the
# network, in this process and in the commands tests start.
os.environ.setdefault("VAE_KERAS_PROBE_HOST", "127.0.0.1:9")

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"


def make_binary_images():
    """64 binary 8x8x1 images with structure (two stripe patterns plus noise)."""
    rng = np.random.default_rng(0)
    base = np.zeros((2, 8, 8, 1), "float32")
    base[0, :, :4] = 1.0
    base[1, :4, :] = 1.0
    x = base[rng.integers(0, 2, 64)]
    flip = rng.uniform(size=x.shape) < 0.05
    return np.where(flip, 1.0 - x, x).astype("float32")


@pytest.fixture
def binary_images():
    """64 binary 8x8x1 images with structure (two stripe patterns plus noise)."""
    return make_binary_images()


@pytest.fixture
def shared_mnist_dir():
    if not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST not found at {SHARED_MNIST}")
    return SHARED_MNIST

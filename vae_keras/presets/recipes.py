"""How each preset is built and trained: the single source `examples/train_presets.py` reads.

A recipe names its data, networks, likelihood and schedule; `build_model(recipe)` returns
the compiled, untrained model and `load_data(recipe, split, data_dir)` its arrays.
"""

from dataclasses import asdict, dataclass

import keras


@dataclass(frozen=True)
class Recipe:
    """One preset's data, model and schedule."""

    name: str
    description: str
    dataset: str  # "mnist" or "shapes"
    model: str  # "vae" or "conditional"
    architecture: str  # "conv", "dense" or "residual"
    latent_dim: int
    epochs: int
    likelihood: str = "bernoulli"
    image_size: int | None = None
    widths: tuple[int, ...] | None = None  # residual networks' stage widths (default: theirs)
    num_train: int | None = None  # None: the dataset's whole training split
    batch_size: int = 128
    learning_rate: float = 1e-3
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


RECIPES = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            "mnist_conv_z2",
            "MNIST conv VAE with a 2-D latent space: the manifold, on a slider pad",
            dataset="mnist",
            model="vae",
            architecture="conv",
            latent_dim=2,
            epochs=5,
        ),
        Recipe(
            "mnist_conv_z16",
            "MNIST conv VAE with 16 latent dimensions: the command line's default model",
            dataset="mnist",
            model="vae",
            architecture="conv",
            latent_dim=16,
            epochs=5,
        ),
        Recipe(
            "mnist_conditional_z2",
            "conditional MNIST VAE (dense, label-aware): pick the digit, move through styles",
            dataset="mnist",
            model="conditional",
            architecture="dense",
            latent_dim=2,
            epochs=5,
        ),
        Recipe(
            "shapes_residual_z10",
            "colour shapes (32x32, known factors: shape, colour, size, angle, position)",
            dataset="shapes",
            model="vae",
            architecture="residual",
            latent_dim=10,
            epochs=6,
            image_size=32,
            widths=(32, 64, 64),
            num_train=10000,
        ),
    )
}


def load_data(recipe: Recipe, split: str, data_dir=None):
    """`(x, y)` float32 arrays in [0, 1] (y: labels, or shape indices for `shapes`)."""
    from vae_keras import datasets

    kwargs = {"data_dir": data_dir} if recipe.dataset == "mnist" else {}
    if recipe.image_size:
        kwargs["image_size"] = recipe.image_size
    if recipe.dataset == "shapes" and split == "train" and recipe.num_train:
        kwargs["num_examples"] = recipe.num_train
    return datasets.load(recipe.dataset, split, **kwargs)


def build_model(recipe: Recipe, input_shape, compile: bool = True) -> keras.Model:
    """The untrained model of `recipe` for images shaped `input_shape` (compiled by default)."""
    from vae_keras import VAE, networks
    from vae_keras.models import ConditionalVAE, conditional_decoder, conditional_encoder

    shape, latent = tuple(input_shape), recipe.latent_dim
    keras.utils.set_random_seed(recipe.seed)
    if recipe.model == "conditional":
        model = ConditionalVAE(
            conditional_encoder(shape, latent, 10, network=recipe.architecture),
            conditional_decoder(latent, shape, 10, network=recipe.architecture),
            num_classes=10,
            likelihood=recipe.likelihood,
            seed=recipe.seed,
        )
    else:
        encoder = getattr(networks, f"{recipe.architecture}_encoder")
        decoder = getattr(networks, f"{recipe.architecture}_decoder")
        kwargs = {"widths": recipe.widths} if recipe.widths else {}
        model = VAE(
            encoder(shape, latent, **kwargs),
            decoder(latent, shape, **kwargs),
            likelihood=recipe.likelihood,
            seed=recipe.seed,
        )
    if compile:
        model.compile(optimizer=optimizer(recipe))
    return model


def optimizer(recipe: Recipe) -> keras.optimizers.Optimizer:
    """The optimizer the preset was trained with (a loaded preset continues with it)."""
    return keras.optimizers.Adam(recipe.learning_rate)

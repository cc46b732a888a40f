"""The model kinds: each name -> how its uncompiled model is built, registered once.

`build_model(kind, network=..., likelihood=..., shape=..., latent_dim=...)` is the one
builder the command line (`vae-keras train --model-kind`, and `--architecture` mapped onto it)
and the presets call; a kind declares what it takes (a network family of
`vae_keras.networks.families`, which likelihoods, images only, what `latent_dim` means), so
a caller can refuse an impossible combination before any data loads (`check`).

| kind           | model            | networks                     | `latent_dim`            |
|----------------|------------------|------------------------------|-------------------------|
| `vae`          | `VAE`            | a family (`auto`: by shape)  | size of z               |
| `conditional`  | `ConditionalVAE` | `dense` or `conv`            | size of z               |
| `pixelvae`     | `PixelVAE`       | its own (+ a PixelCNN)       | size of z               |
| `vqvae`        | `VQVAE`          | its own (a grid of codes)    | size of each code vector|
| `vqvae2`       | `VQVAE2`         | its own (two grids of codes) | size of each code vector|
| `hierarchical` | `HierarchicalVAE`| its own (latent groups)      | not used                |

Example:

>>> model = build_model("vae", network="dense", shape=(12,), latent_dim=2)
>>> type(model).__name__, model.encoder.name
('VAE', 'encoder')
>>> get("vqvae").latent_dim
'the size of each code vector'
"""

from collections.abc import Callable
from dataclasses import dataclass

import keras

from vae_keras import likelihoods, priors
from vae_keras.networks import families

# `pixelvae` on binary data: decoder features per pixel, and free bits (nats per latent
# dimension) that keep the latent in use beside the PixelCNN (benchmarks/quality_mnist.py).
PIXEL_FEATURES, PIXEL_FREE_BITS = 4, 0.25
# ... and the benchmark's encoder: the conv pair's filters and a 512-unit dense layer.
PIXEL_ENCODER_UNITS = 512
# `pixelvae` on 8-bit images (benchmarks/bits_per_dim.py): residual networks of these widths,
# a PixelCNN with a mixture of logistics per pixel.
COLOUR_PIXEL_FEATURES, COLOUR_MIXTURES, COLOUR_WIDTHS, COLOUR_FREE_BITS = 16, 5, (16, 32, 64), 0.1
# `vqvae`: codebook size (benchmarks/vq_vae.py).
VQ_CODES = 128


@dataclass(frozen=True)
class ModelKind:
    """One model kind: its builder and what it takes.

    `build(network, likelihood, shape, latent_dim, beta, seed, **options)` returns the
    uncompiled model. `takes_network`: built from a network family (else its own networks,
    and `network` must be `"auto"`); `networks`: the families it supports (None: all);
    `likelihoods`: the likelihood names it supports (None: all); `images_only`: needs
    `(height, width, channels)` data; `latent_dim`: what `latent_dim` means (None: not used,
    the model has its own latents); `needs_labels`: trains on `(x, labels)`; `priors`: the
    `vae_keras.priors` names its `prior=` takes (empty: none; the recipe's PixelVAE trains
    with free bits, which need a factorising prior); `needs_fit_prior`: its prior over codes
    is trained after `fit` by `fit_prior` on the training images in memory.
    """

    name: str
    build: Callable[..., keras.Model]
    model: str
    takes_network: bool = False
    networks: tuple[str, ...] | None = None
    likelihoods: tuple[str, ...] | None = None
    images_only: bool = True
    latent_dim: str | None = "the size of z"
    needs_labels: bool = False
    priors: tuple[str, ...] = ()
    needs_fit_prior: bool = False


def _output_channels(likelihood, shape):
    """What the decoder emits for `likelihood`, or None where it is the data's channels."""
    channels = likelihoods.get(likelihood).output_channels(shape[-1])
    return None if channels == shape[-1] else channels


def _vae(network, likelihood, shape, latent_dim, beta, seed, prior=None, **options):
    from vae_keras.models.vae import VAE

    encoder, decoder = families.get(network).networks(
        shape, latent_dim, output_channels=_output_channels(likelihood, shape), **options
    )
    return VAE(encoder, decoder, beta=beta, likelihood=likelihood, seed=seed, prior=prior)


def _conditional(
    network, likelihood, shape, latent_dim, beta, seed, num_classes=10, prior=None, **options
):
    from vae_keras.models.conditional import ConditionalVAE
    from vae_keras.models.conditional_networks import conditional_decoder, conditional_encoder

    channels = _output_channels(likelihood, shape)
    decoder_args = {} if channels is None else {"output_channels": channels}
    return ConditionalVAE(
        conditional_encoder(shape, latent_dim, num_classes, network=network, **options),
        conditional_decoder(
            latent_dim, shape, num_classes, network=network, **decoder_args, **options
        ),
        num_classes=num_classes,
        beta=beta,
        likelihood=likelihood,
        seed=seed,
        prior=prior,
    )


def _pixel_vae(
    network,
    likelihood,
    shape,
    latent_dim,
    beta,
    seed,
    features=None,
    free_bits=None,
    mixtures=COLOUR_MIXTURES,
    widths=COLOUR_WIDTHS,
    prior=None,
):
    """Binary data: a conv encoder, a dense decoder to `features` maps per pixel and a
    PixelCNN; 8-bit data: residual networks and a PixelCNN with `mixtures` logistics."""
    from vae_keras import networks
    from vae_keras.models.pixel_vae import PixelVAE

    if likelihood == "bernoulli":
        features = PIXEL_FEATURES if features is None else features
        return PixelVAE(
            networks.conv_encoder(shape, latent_dim, dense_units=PIXEL_ENCODER_UNITS),
            networks.dense_decoder(latent_dim, shape[:-1] + (features,)),
            networks.PixelCNN(shape, features),
            beta=beta,
            free_bits=PIXEL_FREE_BITS if free_bits is None else free_bits,
            seed=seed,
            prior=prior,
        )
    mixture = likelihoods.DiscretizedLogistic(num_mixtures=mixtures)
    features = COLOUR_PIXEL_FEATURES if features is None else features
    return PixelVAE(
        networks.residual_encoder(shape, latent_dim, widths=widths),
        networks.residual_decoder(latent_dim, shape, widths=widths, output_channels=features),
        networks.PixelCNN(
            shape,
            feature_channels=features,
            filters=64,
            num_layers=4,
            first_kernel_size=5,
            head_units=64,
            output_channels=mixture.output_channels(shape[-1]),
        ),
        likelihood=mixture,
        beta=beta,
        free_bits=COLOUR_FREE_BITS if free_bits is None else free_bits,
        seed=seed,
        prior=prior,
    )


def _vq_vae(
    network, likelihood, shape, latent_dim, beta, seed, num_codes=VQ_CODES, code_prior=None
):
    """The keras.io VQ-VAE's networks and `num_codes` codes of `latent_dim` (beta: unused);
    `code_prior`: its prior over codes (`VQVAE`'s `prior`: None/"pixelcnn", "transformer")."""
    from vae_keras import networks
    from vae_keras.layers import VectorQuantizer
    from vae_keras.models.vq_vae import VQVAE

    encoder = networks.vq_encoder(shape, latent_dim)
    channels = likelihoods.get(likelihood).output_channels(shape[-1])
    decoder = networks.vq_decoder(tuple(encoder.output.shape[1:]), shape, output_channels=channels)
    return VQVAE(
        encoder,
        decoder,
        VectorQuantizer(num_codes, latent_dim, seed=seed),
        likelihood=likelihood,
        prior=code_prior,
        seed=seed,
    )


def _vq_vae2(network, likelihood, shape, latent_dim, beta, seed):
    """`VQVAE2` with its defaults (a top grid of 64 codes over a bottom grid of 128), code
    vectors of `latent_dim` numbers (beta: unused)."""
    from vae_keras.models.vq_vae2 import VQVAE2

    return VQVAE2(shape, embedding_dim=latent_dim, likelihood=likelihood, seed=seed)


def _hierarchical(network, likelihood, shape, latent_dim, beta, seed, **options):
    """`HierarchicalVAE` with its defaults (the MNIST recipe); beta and latent_dim: unused."""
    from vae_keras.models.hierarchical import HierarchicalVAE

    return HierarchicalVAE(shape, likelihood=likelihood, seed=seed, **options)


KINDS = {
    kind.name: kind
    for kind in (
        ModelKind("vae", _vae, "VAE", takes_network=True, images_only=False, priors=priors.NAMES),
        ModelKind(
            "conditional",
            _conditional,
            "ConditionalVAE",
            takes_network=True,
            networks=("dense", "conv"),
            images_only=False,
            needs_labels=True,
            priors=("standard_normal", "mixture"),  # a VampPrior's encoder would need labels
        ),
        ModelKind(
            "pixelvae",
            _pixel_vae,
            "PixelVAE",
            likelihoods=("bernoulli", "discretized_logistic"),
            priors=("standard_normal",),  # the recipe trains with free bits
        ),
        ModelKind(
            "vqvae",
            _vq_vae,
            "VQVAE",
            latent_dim="the size of each code vector",
            needs_fit_prior=True,
        ),
        ModelKind(
            "vqvae2",
            _vq_vae2,
            "VQVAE2",
            latent_dim="the size of each code vector",
            needs_fit_prior=True,
        ),
        ModelKind(
            "hierarchical",
            _hierarchical,
            "HierarchicalVAE",
            latent_dim=None,
            priors=priors.NAMES,  # over the top group (default: its own learned Gaussian)
        ),
    )
}
NAMES = tuple(KINDS)


def get(name: str) -> ModelKind:
    """The kind called `name` (one of `NAMES`)."""
    if isinstance(name, ModelKind):
        return name
    if name not in KINDS:
        raise ValueError(f"Unknown model kind {name!r}. Use one of {', '.join(NAMES)}.")
    return KINDS[name]


def _accepts(kind, likelihood) -> bool:
    """Whether `kind` takes `likelihood` (a name, config or object), by its class."""
    accepted = tuple(type(likelihoods.get(name)) for name in kind.likelihoods)
    return isinstance(likelihoods.get(likelihood), accepted)


def _accepts_prior(kind, prior) -> bool:
    accepted = tuple(type(priors.get(name)) for name in kind.priors)
    return bool(accepted) and isinstance(priors.get(prior), accepted)


def check(
    kind, *, network=None, likelihood=None, shape=None, latent_dim=None, prior=None
) -> ModelKind:
    """Raises a `ValueError` naming the value and the fix where `kind` cannot take these
    settings (each one may be left None: unknown yet); returns the kind."""
    kind = get(kind)
    if network not in (None, families.AUTO):
        if not kind.takes_network:
            raise ValueError(
                f"Model kind {kind.name!r} builds its own networks; leave network='auto'. "
                f"Received: network={network!r}"
            )
        families.get(network)
        if kind.networks is not None and network not in kind.networks:
            raise ValueError(
                f"Model kind {kind.name!r} takes network {' or '.join(map(repr, kind.networks))}. "
                f"Received: network={network!r}"
            )
    if kind.likelihoods is not None and likelihood is not None and not _accepts(kind, likelihood):
        raise ValueError(
            f"Model kind {kind.name!r} takes likelihood "
            f"{' or '.join(map(repr, kind.likelihoods))}. Received: likelihood={likelihood!r}"
        )
    if shape is not None and kind.images_only and len(tuple(shape)) != 3:
        raise ValueError(
            f"Model kind {kind.name!r} models images (height, width, channels). "
            f"Received: shape={tuple(shape)}"
        )
    if prior is not None and not _accepts_prior(kind, prior):
        takes = " or ".join(map(repr, kind.priors)) if kind.priors else "no prior"
        raise ValueError(f"Model kind {kind.name!r} takes {takes}. Received: prior={prior!r}")
    if latent_dim is not None and kind.latent_dim is None:
        raise ValueError(
            f"Model kind {kind.name!r} has its own latent groups; latent_dim is not used. "
            f"Leave it None. Received: latent_dim={latent_dim!r}"
        )
    return kind


def build_model(
    kind: str = "vae",
    *,
    network: str = "auto",
    likelihood="bernoulli",
    shape,
    latent_dim: int | None = None,
    beta: float = 1.0,
    seed: int | None = None,
    prior=None,
    **options,
) -> keras.Model:
    """The uncompiled model of `kind` for data shaped `shape`.

    Args:
        kind: One of `NAMES` (see the module's table).
        network: A network family (`vae_keras.networks.families.NAMES`) or `"auto"` (the
            family `families.default_family(shape)` picks); kinds that build their own
            networks take only `"auto"`.
        likelihood: The likelihood (name, config or instance).
        shape: Shape of one example, without the batch axis.
        latent_dim: What the kind's `latent_dim` says (`get(kind).latent_dim`): the size of z,
            of each code vector (`vqvae`); None for `hierarchical`.
        beta: Weight of the KL term (kinds with one KL term).
        seed: Seed of the model's random draws.
        prior: The prior `p(z)` (`vae_keras.priors`: name, config or instance) for the
            kinds that take one (`get(kind).priors`); None: the kind's default.
        **options: The kind's own options, e.g. `widths=` for residual networks, `num_classes=`
            (`conditional`), `num_codes=`, `code_prior=` (`vqvae`), `features=`/`free_bits=` (`pixelvae`).

    Returns:
        The model, uncompiled.
    """
    shape = tuple(shape)
    kind = check(
        kind,
        network=network,
        likelihood=likelihood,
        shape=shape,
        latent_dim=latent_dim,
        prior=prior,
    )
    if kind.takes_network:
        network = families.resolve(network, shape)
        if kind.networks is not None and network not in kind.networks:
            check(kind, network=network)  # `auto` picked one this kind does not take
    if kind.latent_dim is not None and latent_dim is None:
        raise ValueError(
            f"Model kind {kind.name!r} needs latent_dim ({kind.latent_dim}). Received: None"
        )
    if prior is not None:
        options["prior"] = prior
    return kind.build(network, likelihood, shape, latent_dim, beta, seed, **options)

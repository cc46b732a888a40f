"""What a model can do, declared by its class and read through one helper.

Every model class of the package declares a `Capabilities` as its class
attribute `capabilities` (subclasses replace only what differs). Evaluation,
export, the commands, the report, the callbacks, plotting and the explorer
read it with `capabilities(model)`, which also answers for a plain object with
`encode`/`decode` (the only place that looks at a foreign object's
attributes), and ask for what they need with `require(model, name, purpose)`,
which raises a one-line `CapabilityError` naming the capability and what to
use instead.

Example:

>>> from vae_keras import VAE, VQVAE
>>> from vae_keras.models.capabilities import capabilities
>>> VAE.capabilities.posterior, VQVAE.capabilities.posterior
(True, False)
>>> capabilities(object()).decode
False
"""

import dataclasses

import numpy as np

# The SavedModel endpoints of `vae_keras.export.export_saved_model`.
ENDPOINTS = ("serve", "encode", "decode", "reconstruct", "sample")


class CapabilityError(ValueError):
    """A model was asked for something its class does not declare it can do."""


@dataclasses.dataclass(frozen=True)
class Capabilities:
    """What a model can do; the public hooks that go with each are named here.

    Attributes:
        encode: `encode(x)` gives codes (`(z_mean, z_log_var)` or a code array).
        decode: `decode(z)` maps codes to data space.
        reconstruct: `reconstruct(x)` decodes the codes of `x`.
        samples: `sample(n, seed=...)` draws from the model's prior.
        conditional: the encoder and decoder take class labels (`num_classes`):
            `encode(x, labels)`, `decode(z, labels)`, `sample(n, labels=...)`.
        latent_vector: codes are flat vectors of `latent_dim` numbers (scatter
            plots, traversals, the explorer's sliders, `SampleGrid`).
        discrete_codes: codes are codebook indices: `encode_indices`,
            `decode_indices`, `code_counts`, and `code_levels` naming the grids
            `encode_indices` returns (one: an array; several: a tuple; VQ-VAE-2).
        code_prior: one learned prior over the code grid, `model.prior` (a grid
            prior: `takes_captions`, `num_classes`, `is_fitted()`), drawn by
            `sample_indices(n, labels, seed, captions=...)` (VQVAE; not VQVAE2's two).
        posterior: a posterior q(z | x) usable for importance-weighted
            scoring through `model.scorer()` (`evaluation.log_likelihood`, `elbo`).
        nll_bound: `nll_bound(x)` bounds -log p(x) from above (VQ-VAE, after
            `fit_prior`).
        likelihood: the decoder has a `likelihoods.Likelihood`,
            `model.likelihood_object` (bits/dim on 8-bit data).
        single_pass_decoder: `decode_tensors(z[, condition])` is one
            feed-forward pass (the explorer compiles it); autoregressive
            decoders generate pixel by pixel instead.
        export_endpoints: the SavedModel endpoints `model.serving_functions()`
            provides (empty: no SavedModel export).
        needs_fit_prior: the prior is trained apart, by `fit_prior(x)` after
            `fit`, before `sample` or `nll_bound`; `prior_is_fitted()` says if it was.
        latent_groups: a hierarchy of latent groups: `group_shapes`,
            `resample`, `encode(x, groups="all")`.
        kl_weight: a KL weight `beta` that callbacks may change during `fit`.
        importance_weighted: the registered name of the model's twin trained
            on the importance-weighted bound (`"vae_keras>IWAE"`), which
            `models.iwae.importance_weighted(model, k)` builds around the model's
            own networks (IWAE fine-tuning); None: the model has none.
        captions: the prior reads a caption: `sample(n, captions=...)` (text to
            image). It depends on the prior a model was built with, so a model
            whose prior may read captions declares it per instance (an instance
            attribute `capabilities` that replaces its class's).
    """

    encode: bool = False
    decode: bool = False
    reconstruct: bool = False
    samples: bool = False
    conditional: bool = False
    latent_vector: bool = False
    discrete_codes: bool = False
    code_prior: bool = False
    posterior: bool = False
    nll_bound: bool = False
    likelihood: bool = False
    single_pass_decoder: bool = False
    export_endpoints: tuple = ()
    needs_fit_prior: bool = False
    latent_groups: bool = False
    kl_weight: bool = False
    importance_weighted: str | None = None
    captions: bool = False

    def replace(self, **changes) -> "Capabilities":
        """A copy with `changes` (what a subclass declares differently)."""
        unknown = sorted(set(changes) - set(NAMES))
        if unknown:
            raise ValueError(f"Unknown capabilities {unknown}. Known: {list(NAMES)}.")
        return dataclasses.replace(self, **changes)


NAMES = tuple(f.name for f in dataclasses.fields(Capabilities))

# What each capability is, in the words of an error message.
DESCRIPTIONS = {
    "encode": "an encoder, `encode(x)`",
    "decode": "a decoder, `decode(z)`",
    "reconstruct": "`reconstruct(x)`",
    "samples": "a prior to sample from, `sample(n)`",
    "conditional": "class labels (`num_classes`)",
    "latent_vector": "a decoder of flat codes, `decode(z)` with z of `latent_dim` numbers",
    "discrete_codes": "discrete codes, `encode_indices(x)`",
    "code_prior": "one prior over its code grid, `model.prior` and `sample_indices`",
    "posterior": "a posterior q(z|x) for importance-weighted scoring, `scorer()`",
    "nll_bound": "a likelihood bound, `nll_bound(x)`",
    "likelihood": "a decoder likelihood, `likelihood_object`",
    "single_pass_decoder": "a single-pass decoder, `decode_tensors(z)`",
    "export_endpoints": "SavedModel endpoints, `serving_functions()`",
    "needs_fit_prior": "a prior trained by `fit_prior(x)`",
    "latent_groups": "latent groups, `resample(x, keep)`",
    "kl_weight": "a KL weight, `beta`",
    "importance_weighted": "an importance-weighted twin, `models.iwae.importance_weighted`",
    "captions": "a prior that reads captions, `sample(n, captions=...)`",
}


def _instead(name: str, declared: Capabilities) -> str:
    """What to use instead of capability `name`, given what the model does declare."""
    if name == "posterior":
        if declared.nll_bound:
            return (
                "Use `model.nll_bound(x)` (after `fit_prior`), an upper bound on -log p(x), "
                "or the reconstruction term that `model.evaluate` reports."
            )
        if declared.conditional:
            return (
                "Likelihood evaluation of a model conditional on labels is not supported yet; "
                "evaluate it with `model.evaluate((x, labels))`."
            )
        return (
            "A deterministic model such as an AE has no likelihood: compare it by "
            "reconstruction error (`model.evaluate`)."
        )
    if name == "export_endpoints":
        if declared.decode and not declared.single_pass_decoder:
            return (
                "Its decoder generates pixel by pixel in a Python loop, which a SavedModel "
                "signature cannot hold: serve the .keras file (`vae_keras.saving.load_model`)."
            )
        return "For any other Keras model use `model.export(path)`."
    if name in ("latent_vector", "samples") and declared.discrete_codes:
        return "Its codes are index grids: use `encode_indices` / `decode_indices`."
    if name == "latent_groups":
        return "For a one-level VAE use `plotting.latent_traversals`."
    if name == "captions":
        return (
            "Train one on captioned shapes: `vae-keras train --dataset shapes --captions` "
            '(in Python: `VQVAE(..., prior="transformer")`, `fit_prior(x, captions=...)`).'
        )
    if name == "kl_weight":
        return "Use a model with a KL term, like vae_keras.VAE."
    if name == "importance_weighted":
        return "Fine-tune a vae_keras.VAE or a PixelVAE on the importance-weighted bound."
    if name == "nll_bound" and declared.posterior:
        return "Use `vae_keras.evaluation.log_likelihood(model, x)`."
    return "Use a model that declares it, like vae_keras.VAE."


def _callable(obj, name) -> bool:
    return callable(getattr(obj, name, None))


def _inferred(obj) -> Capabilities:
    """Capabilities of an object that is not a model of the package: what its
    `encode`/`decode`/`reconstruct`/`sample`/`latent_dim`/`num_classes` offer."""
    latent_dim = getattr(obj, "latent_dim", None)
    return Capabilities(
        encode=_callable(obj, "encode"),
        decode=_callable(obj, "decode"),
        reconstruct=_callable(obj, "reconstruct"),
        samples=_callable(obj, "sample"),
        conditional=bool(getattr(obj, "num_classes", None)),
        latent_vector=_callable(obj, "decode")
        and isinstance(latent_dim, (int, np.integer))
        and not isinstance(latent_dim, bool),
        discrete_codes=_callable(obj, "code_counts"),
        kl_weight=hasattr(obj, "beta"),
    )


def capabilities(model) -> Capabilities:
    """What `model` can do: its class's declared `capabilities`, or, for any
    other object, what its `encode`/`decode`-style methods offer (defaults)."""
    declared = getattr(type(model), "capabilities", None)
    if isinstance(declared, Capabilities):
        own = getattr(model, "capabilities", declared)  # what this instance's parts add
        return own if isinstance(own, Capabilities) else declared
    return _inferred(model)


def require(model, name: str, purpose: str, instead: str | None = None) -> Capabilities:
    """Returns `capabilities(model)` when it declares `name`, else raises a
    one-line `CapabilityError` naming the capability and what to use instead.

    Args:
        model: A model of the package, or any object with `encode`/`decode`.
        name: A field of `Capabilities`, e.g. `"posterior"`.
        purpose: Who asks, e.g. `"Likelihood evaluation"`.
        instead: What to use instead (default: advice for the capability).
    """
    if name not in NAMES:
        raise ValueError(f"Unknown capability {name!r}. Known: {list(NAMES)}.")
    declared = capabilities(model)
    if getattr(declared, name):
        return declared
    advice = instead if instead is not None else _instead(name, declared)
    raise CapabilityError(
        f"{purpose} needs a model with {DESCRIPTIONS[name]} (capability `{name}`); a "
        f"{type(model).__name__} does not declare it. {advice}"
    )


def input_shape(model, default=None):
    """The per-example input shape of `model` (a tuple), or `default` when it has none."""
    if isinstance(getattr(type(model), "capabilities", None), Capabilities):
        return tuple(model.input_shape_)
    shape = getattr(model, "input_shape_", None)
    if shape is None and getattr(model, "inputs", None):
        shape = model.inputs[0].shape[1:]
    return default if shape is None else tuple(shape)


def _declares(model) -> bool:
    return isinstance(getattr(type(model), "capabilities", None), Capabilities)


def prior_quantiles(model, q, dim: int):
    """Quantiles `q` of the prior's marginal along latent dimension `dim`: the model's
    `prior_quantiles`, or N(0, 1)'s for an object not of the package."""
    if _declares(model):
        return model.prior_quantiles(q, dim)
    from scipy.stats import norm

    return norm.ppf(np.asarray(q, "float64"))


def prior_codes(model, eps, seed=None):
    """Codes from the prior given standard normal noise `eps` `(n, latent_dim)`: the
    model's `prior_codes`, or `eps` itself (N(0, I)) for an object not of the package."""
    if _declares(model):
        return model.prior_codes(eps, seed=seed)
    return np.asarray(eps, "float32")


def display_name(model) -> str:
    """The model's name (a Keras model's `name`), or its class name."""
    name = getattr(model, "name", None)
    return name if isinstance(name, str) and name else type(model).__name__

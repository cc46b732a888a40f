"""The explorer's page mode for models with discrete codes (VQ-VAE): a prompt box.

"DALL-E in miniature": when the model's prior reads captions (capability
`captions`: a `TransformerPrior` with a vocabulary, fitted with
`fit_prior(x, captions=...)`), the page sends a caption and a seed and shows a grid
of samples, `model.sample(n, captions=text, seed=seed)`; a prompt with unknown
words answers with the tokenizer's one-line message (every unknown word and the
vocabulary). Without captions the mode samples from a seed (and a class for a
class-conditional prior). Every answer also reports how the drawn grids use the
codebook; test images, when given, add the codebook use of their codes.
"""

import base64
import threading

import keras
import numpy as np

from vae_keras.explorer.decoding import to_uint8
from vae_keras.models.capabilities import capabilities, display_name, require

# The most samples one request may draw (the page offers 4, 9 and 16).
MAX_SAMPLES = 64
MAX_PROMPT_CHARS = 500


def codebook_use(counts) -> dict:
    """`{"used", "size", "perplexity", "counts"}` of code counts `(K,)` (JSON-ready).

    Example:

    >>> codebook_use(np.array([2, 0, 2, 0]))["used"], codebook_use([2, 0, 2, 0])["perplexity"]
    (2, 2.0)
    """
    counts = np.asarray(counts, "int64")
    p = counts / max(int(counts.sum()), 1)
    nonzero = p[p > 0]
    perplexity = float(np.exp(-(nonzero * np.log(nonzero)).sum())) if len(nonzero) else 0.0
    return {
        "used": int((counts > 0).sum()),
        "size": int(len(counts)),
        "perplexity": round(perplexity, 4),
        "counts": counts.tolist(),
    }


def check_samplable(model, purpose: str = "The explorer"):
    """Refuses, in one line, a model with discrete codes that the prompt mode cannot
    sample: no single prior over its code grid, or a prior not fitted yet."""
    require(
        model,
        "code_prior",
        purpose,
        instead=f"The explorer's code mode draws from one grid prior; draw from a "
        f"{type(model).__name__} with `model.sample(n)`.",
    )
    if not model.prior.is_fitted():
        raise ValueError(
            f"{purpose} samples from the prior over codes, which this {type(model).__name__} "
            "has not fitted yet: call `model.fit_prior(x_train)` (with `captions=` for a "
            "caption prior) and save the model again."
        )


def _whole(value, name, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(
            f"`{name}` must be a whole number in [{low}, {high}]. Received: {value!r}."
        )
    return value


class CodeSampler:
    """Draws and decodes code grids for the page, from a caption, a class or a seed.

    Args:
        model: A model with discrete codes and one fitted grid prior (`VQVAE`).
        images: Optional test images, whose codes' codebook use the page shows.

    Example (an unfitted prior is refused, in one line):

    >>> from vae_keras import VQVAE, networks
    >>> from vae_keras.layers import VectorQuantizer
    >>> model = VQVAE(networks.vq_encoder((8, 8, 1), 4, filters=(8,)),
    ...               networks.vq_decoder((4, 4, 4), (8, 8, 1), filters=(8,)),
    ...               VectorQuantizer(16, 4, seed=0), prior="transformer")
    >>> CodeSampler(model)
    Traceback (most recent call last):
    ...
    ValueError: The explorer samples from the prior over codes, which this VQVAE has not fitted yet: call `model.fit_prior(x_train)` (with `captions=` for a caption prior) and save the model again.
    """

    def __init__(self, model, images=None):
        check_samplable(model)
        self.model = model
        self.prior = model.prior
        self._lock = threading.Lock()  # one draw at a time (the server is threaded)
        self.test_codes = None
        if images is not None and len(images):
            counts = model.code_counts(np.asarray(images, "float32")[:1000])
            self.test_codes = {**codebook_use(counts), "images": min(len(images), 1000)}
        warm = {"n": 1, "seed": 0, "label": 0 if self.prior.num_classes else None}
        first = self.sample(warm)  # checks the draw and warms it up
        self.image_shape = tuple(first["shape"][1:])

    def info(self) -> dict:
        """What the page needs to lay out the prompt mode (JSON-ready)."""
        # The capability `captions` (declared per instance: it follows the prior).
        tokenizer = self.prior.tokenizer if capabilities(self.model).captions else None
        return {
            "mode": "codes",
            "model": type(self.model).__name__,
            "name": display_name(self.model),
            "backend": keras.backend.backend(),
            "image_shape": list(self.image_shape),
            "grid_shape": [int(d) for d in self.model.grid_shape],
            "num_embeddings": int(self.model.num_embeddings),
            "takes_captions": tokenizer is not None,
            "vocabulary": None if tokenizer is None else list(tokenizer.vocabulary),
            "max_prompt_length": None if tokenizer is None else int(tokenizer.max_length),
            "num_classes": self.prior.num_classes,
            "max_samples": MAX_SAMPLES,
            "test_codes": self.test_codes,
        }

    def _condition(self, request):
        caption, label = request.get("caption"), request.get("label")
        if caption is not None:
            if not isinstance(caption, str) or len(caption) > MAX_PROMPT_CHARS:
                raise ValueError(
                    f"`caption` must be text of at most {MAX_PROMPT_CHARS} characters. "
                    f"Received: {str(caption)[:60]!r}."
                )
            if not caption.strip():
                caption = None  # the empty prompt: the prior's unconditional draw
        if label is not None:
            label = _whole(label, "label", 0, (self.prior.num_classes or 1) - 1)
        return {"captions": caption, "labels": label}

    def sample(self, request: dict) -> dict:
        """`{"n", "seed", "caption" | "label", "temperature"}` -> the samples as 8-bit
        pixels (base64, `shape`) with the codebook use of their grids."""
        n = _whole(request.get("n", 9), "n", 1, MAX_SAMPLES)
        seed = _whole(request.get("seed", 0), "seed", 0, 2**31 - 2)
        temperature = request.get("temperature", 1.0)
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
            temperature = None
        if temperature is None or not 0.05 <= temperature <= 5:
            raise ValueError(
                f"`temperature` must be a number in [0.05, 5]. Received: {temperature!r}."
            )
        condition = self._condition(request)
        with self._lock:
            indices = self.model.sample_indices(
                n, condition["labels"], seed, float(temperature), captions=condition["captions"]
            )
            images = to_uint8(self.model.decode_indices(indices))
        counts = np.bincount(np.asarray(indices).ravel(), minlength=self.model.num_embeddings)
        return {
            "shape": list(images.shape),
            "pixels": base64.b64encode(images.tobytes()).decode("ascii"),
            "codes": codebook_use(counts),
        }

"""The explorer's model side: codes in, 8-bit pixels out, fast enough to drag.

`LatentDecoder` wraps a model with `decode(z)` and `latent_dim` (`VAE`, `AE`,
`ConditionalVAE`, ...). For the package's feed-forward models the decoder is
compiled once (Keras' own predict function: `tf.function`, `jax.jit`) and
warmed, so a slider move costs about a millisecond of model time; other
models (e.g. `PixelVAE`, which decodes pixel by pixel) go through their own
`decode`.
"""

import threading

import keras
import numpy as np

from vae_keras.models.capabilities import capabilities, display_name, require

# The most codes one request may decode (a 32 x 32 pad background is 1024).
MAX_BATCH = 1024
# Batch sizes the page asks for: one code (a slider move), the interpolation strip,
# the pad's background grid. Each is compiled and warmed before the page loads.
STRIP = 9
PAD_GRID = 12
PAGE_BATCHES = (1, STRIP, PAD_GRID * PAD_GRID)


def to_uint8(images) -> np.ndarray:
    """Decoded images (data space, [0, 1]) as 8-bit pixels `(N, H, W, C)`.

    Values are clipped to [0, 1] and rounded: `round(255 * x)`. Flat images
    `(N, D)` become one-row images `(N, 1, D, 1)`.

    Example:

    >>> to_uint8(np.array([[[[0.0], [0.5], [1.2]]]])).ravel().tolist()
    [0, 128, 255]
    """
    x = np.asarray(images, "float32")
    if x.ndim == 2:
        x = x[:, None, :, None]
    elif x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"Decoded images must be (N, H, W[, C]). Received shape {x.shape}.")
    return np.round(np.clip(np.nan_to_num(x), 0.0, 1.0) * 255.0).astype("uint8")


class _CompiledDecode(keras.Model):
    """`model.decode_tensors` as a Keras model, so `predict_on_batch`
    compiles it once per backend (the likelihood's mean included)."""

    def __init__(self, model, conditional):
        super().__init__(name="explorer_decode")
        self.inner = model
        self.conditional = conditional
        self.built = True  # the variables are the model's, all created

    def call(self, inputs):
        if self.conditional:
            z, one_hot = inputs
            return self.inner.decode_tensors(z, one_hot)
        return self.inner.decode_tensors(inputs)


def _jax_predict(compiled):
    """`compiled`'s call jitted by JAX *without* donating the variables.

    Keras' own JAX `predict_on_batch` donates the variables' buffers to the
    jitted step and assigns new ones after it: a notebook reading the model
    meanwhile (beside `serve(block=False)`) would find them deleted. This
    reads the variables' current values on every call instead (so further
    training shows) and leaves them alone.
    """
    import jax

    step = jax.jit(lambda trainable, other, x: compiled.stateless_call(trainable, other, x)[0])

    def predict(x):
        trainable = [v.value for v in compiled.trainable_variables]
        other = [v.value for v in compiled.non_trainable_variables]
        return np.asarray(step(trainable, other, x))

    return predict


def _fast_path(model) -> bool:
    """Feed-forward decoders of the package: `decode` is `decode_tensors`, batched
    (not PixelVAE's, which generates pixel by pixel through its own `decode`)."""
    return capabilities(model).single_pass_decoder


def require_sliders(model, purpose: str = "The explorer"):
    """`capabilities(model)` when its codes are flat vectors (sliders, pad), else the
    one-line `CapabilityError`."""
    return require(
        model,
        "latent_vector",
        purpose,
        instead="Pass a VAE-family model.keras written by `vae-keras train`, like a VAE "
        "or ConditionalVAE, or a VQVAE with a fitted prior.",
    )


class LatentDecoder:
    """A model's decoder (and encoder) for the explorer, checked and warmed.

    Args:
        model: A model with `latent_dim` and `decode(z)` (plus
            `decode(z, labels)` and `num_classes` for conditional models;
            `encode` when present enables "encode a test image").

    Example:

    >>> from vae_keras import VAE, networks
    >>> vae = VAE(networks.dense_encoder((4, 4, 1), 2, hidden_units=(8,)),
    ...           networks.dense_decoder(2, (4, 4, 1), hidden_units=(8,)))
    >>> decoder = LatentDecoder(vae)
    >>> decoder.decode(np.zeros((3, 2))).shape
    (3, 4, 4, 1)
    """

    def __init__(self, model):
        declared = require_sliders(model, "The explorer's sliders")
        self.model = model
        self.latent_dim = latent_dim = int(model.latent_dim)
        self.num_classes = int(model.num_classes) if declared.conditional else None
        self.can_encode = declared.encode
        self._lock = threading.Lock()  # one decode at a time (the server is threaded)
        self._compiled = None
        if _fast_path(model):
            self._compiled = _CompiledDecode(model, self.num_classes is not None)
            self._predict = self._compiled.predict_on_batch
            if keras.backend.backend() == "jax":
                self._predict = _jax_predict(self._compiled)
        # Compiled: once per batch size now, not while dragging. Else one call checks decode.
        for n in PAGE_BATCHES if self._compiled is not None else (1,):
            images = self.decode(np.zeros((n, latent_dim)))
        self.image_shape = tuple(int(d) for d in images.shape[1:])

    def _one_hot(self, labels, n):
        labels = np.asarray(0 if labels is None else labels)
        if labels.dtype.kind not in "iu" or labels.ndim > 1 or labels.size not in (1, n):
            raise ValueError(
                f"`label` must be one class id, or one per code ({n}), as integers. "
                f"Received: {labels.tolist()!r}."
            )
        labels = np.broadcast_to(labels.astype("int64"), (n,))
        if labels.min() < 0 or labels.max() >= self.num_classes:
            raise ValueError(
                f"Class labels must be in [0, {self.num_classes - 1}]. Received: "
                f"{sorted(set(labels.tolist()))}."
            )
        return labels

    def decode(self, z, labels=None) -> np.ndarray:
        """Codes `(N, latent_dim)` (and class labels) -> 8-bit images `(N, H, W, C)`."""
        z = np.asarray(z, "float32")
        if z.ndim != 2 or z.shape[1] != self.latent_dim or not 1 <= len(z) <= MAX_BATCH:
            raise ValueError(
                f"Codes must be shaped (N, {self.latent_dim}) with 1 <= N <= {MAX_BATCH}. "
                f"Received shape {z.shape}."
            )
        if not np.isfinite(z).all():
            raise ValueError("Codes must be finite numbers. Received NaN or inf.")
        with self._lock:
            if self.num_classes is None:
                if self._compiled is not None:
                    return to_uint8(self._predict(z))
                return to_uint8(self.model.decode(z))
            labels = self._one_hot(labels, len(z))
            if self._compiled is not None:
                one_hot = np.eye(self.num_classes, dtype="float32")[labels]
                return to_uint8(self._predict([z, one_hot]))
            return to_uint8(self.model.decode(z, labels))

    def encode(self, x, labels=None) -> np.ndarray:
        """Images -> their codes' means `(N, latent_dim)` (float64, for JSON)."""
        if not self.can_encode:
            raise ValueError(f"A {type(self.model).__name__} has no encoder (`encode`).")
        with self._lock:
            if self.num_classes is None:
                out = self.model.encode(x)
            else:
                out = self.model.encode(x, self._one_hot(labels, len(x)))
        z_mean = out[0] if isinstance(out, (tuple, list)) else out
        return np.asarray(z_mean, "float64").reshape(len(x), -1)

    def info(self) -> dict:
        """What the page needs to lay itself out (JSON-ready)."""
        return {
            "model": type(self.model).__name__,
            "name": display_name(self.model),
            "backend": keras.backend.backend(),
            "latent_dim": self.latent_dim,
            "num_classes": self.num_classes,
            "image_shape": list(self.image_shape),
            "can_encode": self.can_encode,
            "compiled": self._compiled is not None,
            "max_batch": MAX_BATCH,
            "strip": STRIP,
            "pad_grid": PAD_GRID,
        }


def pick_examples(x, y=None, num_images: int = 16):
    """A few test images spread over the classes: `(x[idx], y[idx] or None)`.

    With labels, takes images round-robin over the classes in order of their
    first appearance (so 10 MNIST digits show 0-9); else the first ones.

    Example:

    >>> x = np.zeros((6, 2, 2, 1)); y = np.array([0, 0, 0, 1, 1, 2])
    >>> pick_examples(x, y, 3)[1].tolist()
    [0, 1, 2]
    """
    x = np.asarray(x)
    n = min(int(num_images), len(x))
    if y is None:
        return x[:n], None
    y = np.asarray(y).reshape(len(x), -1)
    y = y.argmax(1) if y.shape[1] > 1 else y[:, 0]
    groups = {}
    for i, label in enumerate(y.tolist()):
        groups.setdefault(label, []).append(i)
    order = [g[r] for r in range(n) for g in groups.values() if r < len(g)]
    idx = np.array(order[:n])
    return x[idx], y[idx].astype("int64")

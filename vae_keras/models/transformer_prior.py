"""A transformer prior over a VQ code grid (DALL-E in miniature): codes after a text prompt.

The grid is read in raster order as a sequence of `h * w` code tokens, after a
prefix that carries the condition:

    [prompt tokens (L)] [BOS] [code_0] ... [code_{N-2}]   ->   logits of code_0 ... code_{N-1}

The prompt is one class token (`num_classes`), or a caption's words right-padded
to `max_prompt_length` (`vocabulary`), or nothing. Pad tokens are masked as
attention keys, so padding never changes any code's conditional; an all-pad prompt
is the empty caption, which makes a caption prior also an unconditional one (fit
or sample without captions). Token ids: codes `0..K-1`, BOS `K`, pad `K+1`, then
the class or word tokens.
"""

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from vae_keras.datasets.captions import VOCABULARY, CaptionTokenizer
from vae_keras.models._grid_prior import GridPrior
from vae_keras.networks.transformer import CausalTransformer


@keras.saving.register_keras_serializable(package="vae_keras")
class TransformerPrior(GridPrior, keras.Model):
    """`p(indices | prompt) = prod_i p(k_i | k_<i, prompt)` by a causal transformer.

    The same surface as `CodePrior` (so `VQVAE` fits, scores and samples it the
    same way): `call` returns the logits `(batch, height, width, K)` of each code
    given those before it, `compute_loss` the NLL of a grid in nats (mean over the
    batch), `nll`, `sample`, and the codebook fingerprint. With a `vocabulary` it
    reads captions: `VQVAE.fit_prior(x, captions=...)`, `VQVAE.sample(n, captions=...)`
    (its `tokenizer`, saved in its config, turns them into tokens).

    Args:
        grid_shape: `(height, width)` of the code grid.
        num_embeddings: Codebook size `K`.
        embedding_dim: Size of the code vectors (for the codebook fingerprint).
        num_classes: Classes of a class-conditional prior (one prompt token), or `None`.
        vocabulary: Caption words (e.g. `datasets.captions.VOCABULARY`), or `None`.
            Not with `num_classes`.
        max_prompt_length: Most words in a caption (default: the shapes grammar's 8).
        width, depth, heads, mlp_ratio: The `networks.CausalTransformer`'s.

    Example:

    >>> import numpy as np
    >>> prior = TransformerPrior((2, 3), 5, 2, vocabulary=["red", "heart"], width=8, depth=1)
    >>> tokens = prior.condition(2, captions="red heart")
    >>> tuple(prior((np.zeros((2, 2, 3), "int32"), tokens)).shape)
    (2, 2, 3, 5)
    >>> prior.sample(2, tokens, seed=0).shape
    (2, 2, 3)
    """

    def __init__(
        self,
        grid_shape: Sequence[int],
        num_embeddings: int,
        embedding_dim: int,
        num_classes: int | None = None,
        vocabulary: Sequence[str] | None = None,
        max_prompt_length: int | None = None,
        width: int = 64,
        depth: int = 2,
        heads: int = 4,
        mlp_ratio: int = 4,
        name: str = "transformer_prior",
        **kwargs,
    ):
        kwargs.pop("trainable", None)
        super().__init__(name=name, **kwargs)
        self._init_codes(grid_shape, num_embeddings, embedding_dim, num_classes)
        if num_classes is not None and vocabulary is not None:
            raise ValueError(
                "A TransformerPrior takes `num_classes` or `vocabulary`, not both. "
                f"Received: num_classes={num_classes}, vocabulary={list(vocabulary)!r}"
            )
        self.tokenizer = (
            None if vocabulary is None else CaptionTokenizer(vocabulary, max_prompt_length)
        )
        self.network_config = {"width": width, "depth": depth, "heads": heads}
        self.network_config["mlp_ratio"] = mlp_ratio
        self.bos, self.pad = self.num_embeddings, self.num_embeddings + 1
        if self.tokenizer is not None:
            self.prompt_length = self.tokenizer.max_length
            extra = len(self.tokenizer.vocabulary)
        else:
            self.prompt_length = 0 if num_classes is None else 1
            extra = num_classes or 0
        self.num_codes = self.grid_shape[0] * self.grid_shape[1]

        # === Layers ===
        self.transformer = CausalTransformer(
            self.num_embeddings + 2 + extra,
            self.prompt_length + self.num_codes,
            pad_token=self.pad,
            name="transformer",
            **self.network_config,
        )
        self.transformer.build()
        # === State: what the prior was fitted on ===
        self._init_fingerprint()
        self.built = True

    @classmethod
    def for_codes(cls, grid_shape, num_embeddings, embedding_dim, num_classes=None):
        """`VQVAE(prior="transformer")`: class-conditional with `num_classes`, else captioned
        with the shapes grammar's vocabulary (and unconditional without captions)."""
        vocabulary = VOCABULARY if num_classes is None else None
        return cls(grid_shape, num_embeddings, embedding_dim, num_classes, vocabulary)

    # === The condition ===

    @property
    def takes_captions(self) -> bool:
        return self.tokenizer is not None

    def encode_captions(self, captions, num: int):
        if self.tokenizer is None:
            return super().encode_captions(captions, num)
        if isinstance(captions, str):
            captions = [captions] * num
        captions = list(captions)
        if len(captions) != num:
            raise ValueError(
                f"`captions` must be one string or one per example ({num}). "
                f"Received {len(captions)} captions."
            )
        return self.tokenizer.encode(captions)

    def condition(self, num: int, labels=None, captions=None):
        if self.tokenizer is not None and labels is not None:
            raise ValueError(
                "This prior reads captions, not class labels: pass `captions` (one string "
                "or one per example)."
            )
        if self.tokenizer is not None and captions is None:
            return np.zeros((num, self.prompt_length), "int32")  # the empty caption
        return super().condition(num, labels, captions)

    def _prompt(self, condition, batch_size):
        """The prompt's transformer tokens `(batch, L)` (`None` when L is 0)."""
        if self.prompt_length == 0:
            return None
        if condition is None:
            if self.tokenizer is None:
                raise ValueError(
                    f"This prior is conditioned on {self.num_classes} classes: pass `labels`."
                )
            return ops.full((batch_size, self.prompt_length), self.pad, "int32")
        condition = ops.reshape(ops.cast(condition, "int32"), (batch_size, self.prompt_length))
        if self.tokenizer is None:  # class id c -> token K + 2 + c
            return condition + (self.pad + 1)
        # word id w (1-based, 0 pads) -> token K + 1 + w
        return ops.where(condition > 0, condition + self.pad, self.pad)

    # === Network ===

    def call(self, inputs, training=False):
        """Logits `(batch, height, width, K)` of each code given the prompt and the codes before it."""
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 2:
                raise ValueError(
                    "TransformerPrior takes `indices` or `(indices, condition)`. "
                    f"Received {len(inputs)} inputs."
                )
            indices, condition = inputs
        else:
            indices, condition = inputs, None
        batch = ops.shape(indices)[0]
        codes = ops.reshape(ops.cast(indices, "int32"), (batch, self.num_codes))
        parts = [ops.full((batch, 1), self.bos, "int32"), codes[:, :-1]]
        prompt = self._prompt(condition, batch)
        tokens = ops.concatenate(parts if prompt is None else [prompt, *parts], axis=1)
        logits = self.transformer(tokens)[:, self.prompt_length :, : self.num_embeddings]
        return ops.reshape(ops.cast(logits, "float32"), (batch, *self.grid_shape, -1))

    def log_prob_terms(self, indices, logits):
        """`log p(k_i | k_<i, prompt)` per position, `(batch, height, width)`."""
        log_probs = ops.log_softmax(logits, axis=-1)
        one_hot = ops.one_hot(ops.cast(indices, "int32"), self.num_embeddings, dtype="float32")
        return ops.sum(log_probs * one_hot, axis=-1)

    def nll(self, indices, condition=None):
        """`-log p(indices [| condition])` per grid, in nats (a tensor)."""
        logits = self(indices if condition is None else (indices, condition))
        return -ops.sum(self.log_prob_terms(indices, logits), axis=(1, 2))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Mean over the batch of each grid's NLL in nats (the codes only, not the prompt)."""
        indices = y if y is not None else (x[0] if isinstance(x, (list, tuple)) else x)
        loss = -ops.mean(ops.sum(self.log_prob_terms(indices, y_pred), axis=(1, 2)))
        return loss + ops.sum(self.losses) if self.losses else loss

    # === Sampling (sequential over positions) ===

    def sample(
        self,
        num_samples: int,
        condition=None,
        seed=None,
        temperature: float = 1.0,
        sampler: str = "cached",
        top_k: int | None = None,
    ):
        """Draws `(num_samples, height, width)` int32 grids, one code at a time.

        `condition`: the class ids or caption tokens of `condition(...)`.
        `temperature` divides the logits; `top_k` keeps the k likeliest codes.
        `sampler="cached"` (the default) runs the transformer on the new position
        only, from the key/value cache; `"full"` reruns it on the whole sequence
        so far. Both draw the same grids for a seed (same logits, same draws).
        """
        self.check_sampling(sampler, top_k)
        n, length = num_samples, self.prompt_length
        prompt = self._prompt(condition, n)
        sequence = np.full((n, length + self.num_codes), self.bos, "int32")
        if prompt is not None:
            sequence[:, :length] = ops.convert_to_numpy(prompt)
        generator = keras.random.SeedGenerator(seed)
        net = self.transformer
        if sampler == "cached":
            step, cache = net.compiled_step(), net.init_cache(n)
            for t in range(length):  # the prompt fills the cache; its logits are unused
                _, cache = step(sequence[:, t], t, cache)
        codes = np.zeros((n, self.num_codes), "int32")
        for i in range(self.num_codes):
            t = length + i
            if sampler == "cached":
                logits, cache = step(sequence[:, t], t, cache)
            else:
                logits = net(sequence[:, : t + 1])[:, t]
            codes[:, i] = self.draw_codes(
                logits[:, : self.num_embeddings], generator, temperature, top_k
            )
            if t + 1 < sequence.shape[1]:
                sequence[:, t + 1] = codes[:, i]
        return codes.reshape(n, *self.grid_shape)

    # === Config ===

    def get_config(self):
        return {
            "name": self.name,
            "grid_shape": list(self.grid_shape),
            "num_embeddings": self.num_embeddings,
            "embedding_dim": self.embedding_dim,
            "num_classes": self.num_classes,
            "vocabulary": None if self.tokenizer is None else list(self.tokenizer.vocabulary),
            "max_prompt_length": None if self.tokenizer is None else self.tokenizer.max_length,
            **self.network_config,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("dtype", None)
        return cls(**config)

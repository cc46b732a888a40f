"""`HierarchicalVAE`: a deep hierarchy of latent groups (NVAE / VDVAE style).

A bottom-up path reads the image into features at each scale; a top-down
path starts from a learned constant and, group by group from the coarsest
scale, produces the prior `p(z_l | z_<l)` and, with the features, the
posterior `q(z_l | x, z_<l)` as a residual on it (NVAE's parameterisation):

    p = N(mu_p, e^lv_p),    q = N(mu_p + d_mu, e^(lv_p + d_lv)).

Each sampled group is added back into the top-down state, and a 1x1
depth-to-space head maps it to the likelihood's parameters. The decoder is
factorised, so sampling is one parallel pass (no pixel loop).
"""

import math

import keras
import numpy as np
from keras import ops

from vae_keras import likelihoods
from vae_keras._graph import graph_function
from vae_keras.layers import bound_log_var
from vae_keras.models import _kl_weighting as klw
from vae_keras.models import _serving
from vae_keras.models._hierarchical_prior import TopGroupPrior
from vae_keras.models._reconstruction import likelihood_argument
from vae_keras.models.base import LatentModel
from vae_keras.models.capabilities import ENDPOINTS
from vae_keras.networks.hierarchical import ResidualCell, crop_to, pixel_shuffle, soft_clamp
from vae_keras.validation import check_data, check_positive_int


def _halved(size, times):
    for _ in range(times):
        size = -(-size // 2)
    return size


@keras.saving.register_keras_serializable(package="vae_keras")
class HierarchicalVAE(TopGroupPrior, LatentModel):
    """A deep hierarchical VAE with a factorised decoder (NVAE / VDVAE style).

    Every argument after `input_shape` has a default: together they are the
    MNIST recipe for a CPU (`benchmarks/quality_mnist.py`).

    Args:
        input_shape: `(height, width, channels)` of one image.
        widths: Channels of the features at each scale, finest first. Scale
            `s` has `ceil(size / 2 ** (s + 1))` positions per side (28x28
            images: 14x14, 7x7).
        groups: Latent groups at each scale, finest first.
        latent_channels: Channels of every group's `z` (per position).
        blocks: Residual cells per scale on the bottom-up path.
        bottleneck: Inner width of the residual cells, as a fraction.
        likelihood: `"bernoulli"`, `"gaussian"`, `"discretized_logistic"` or
            a `vae_keras.likelihoods.Likelihood`.
        kl_warmup_steps: Training steps over which the KL coefficient rises
            from 0 to 1 (0: no warm-up).
        kl_balancing: Balance the groups' KLs during warm-up (NVAE).
        free_bits: Nats per group whose batch-mean KL costs nothing in training.
        log_var_bound: Soft bound `b * tanh(lv / b)` on every log-variance
            (`None`: only the package's hard clip to [-30, 20]).
        zero_init: Start the residual cells and the posterior/prior heads at
            zero, so the model starts as identity cells and `q = p = N(0, I)`.
        seed: Seed of the model's sampling (training draws and `sample`).
        prior: The top group's prior `p(z_0)`, kept in `model.prior`: None (the
            default) is the hierarchy's own learned Gaussian; `"standard_normal"`,
            `"mixture"`, `"vampprior"` or a `vae_keras.priors.Prior` replace it over
            the top group flattened (a VampPrior's pseudo-inputs go through the
            bottom-up path to the top group's posterior). Its KL is closed-form
            where the prior has one, else the single-sample estimate.

    `fit`/`evaluate` report `loss`, `reconstruction_loss`, `kl_loss` (the
    true total KL) and `kl_group_0`... (group 0 is the top). In training
    `loss` is the objective minimised (warm-up, free bits, balancing); in
    `evaluate` it is the negative ELBO.

    Example:

    >>> import numpy as np
    >>> from vae_keras.models import HierarchicalVAE
    >>> model = HierarchicalVAE((8, 8, 1), widths=(8, 8), groups=(1, 1), seed=0)
    >>> model.compile("adam")
    >>> x = (np.random.default_rng(0).random((32, 8, 8, 1)) > 0.5).astype("float32")
    >>> sorted(model.fit(x, epochs=1, verbose=0).history)[:3]
    ['kl_group_0', 'kl_group_1', 'kl_loss']
    >>> model.sample(4, seed=0, temperature=0.7).shape
    (4, 8, 8, 1)
    """

    capabilities = LatentModel.capabilities.replace(
        decode=True,
        reconstruct=True,
        samples=True,
        latent_vector=True,  # the top group, flattened
        posterior=True,  # scored by the model itself (`scorer()` is the model)
        likelihood=True,
        single_pass_decoder=True,
        export_endpoints=ENDPOINTS,
        latent_groups=True,
    )

    def __init__(
        self,
        input_shape,
        widths=(24, 48),
        groups=(2, 3),
        latent_channels=4,
        blocks=1,
        bottleneck=0.5,
        likelihood="bernoulli",
        kl_warmup_steps=2000,
        kl_balancing=True,
        free_bits=0.0,
        log_var_bound=7.0,
        zero_init=True,
        seed=None,
        prior=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.input_shape_ = tuple(int(d) for d in input_shape)
        if len(self.input_shape_) != 3 or min(self.input_shape_) < 1:
            raise ValueError(
                "HierarchicalVAE reads images shaped (height, width, channels). "
                f"Received: input_shape={input_shape!r}. Add a channel axis (x[..., None])."
            )
        self.widths = tuple(check_positive_int(w, "widths") for w in widths)
        self.groups = tuple(check_positive_int(g, "groups") for g in groups)
        if len(self.widths) != len(self.groups):
            raise ValueError(
                "`widths` and `groups` need one entry per scale. Received: "
                f"widths={widths!r}, groups={groups!r}."
            )
        self.latent_channels = check_positive_int(latent_channels, "latent_channels")
        self.blocks = check_positive_int(blocks, "blocks")
        self.bottleneck = float(bottleneck)
        self.kl_warmup_steps = int(kl_warmup_steps)
        self.kl_balancing = bool(kl_balancing)
        self.free_bits = float(free_bits)
        self.log_var_bound = None if log_var_bound is None else float(log_var_bound)
        self.zero_init = bool(zero_init)
        self.seed = seed
        self._likelihood = likelihoods.get(likelihood_argument(likelihood))
        self._needs_unit_interval = self._likelihood.unit_interval
        height, width, channels = self.input_shape_
        self.scale_sizes = [
            (_halved(height, s + 1), _halved(width, s + 1)) for s in range(len(self.widths))
        ]
        # Top-down order: coarsest scale first; group 0 is the top.
        self.group_scales = [
            s for s in reversed(range(len(self.widths))) for _ in range(self.groups[s])
        ]
        self.num_groups = len(self.group_scales)
        self.loss_names = ("loss", "reconstruction_loss", "kl_loss") + tuple(
            f"kl_group_{i}" for i in range(self.num_groups)
        )
        self._init_trackers()
        self._make_layers(channels)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.prior_seed_generator = keras.random.SeedGenerator(None if seed is None else seed + 1)
        self.step_counter = self.add_weight(
            shape=(), initializer="zeros", dtype="int32", trainable=False, name="step_counter"
        )
        self._init_top_prior(prior)
        self(ops.zeros((1,) + self.input_shape_))  # builds every layer

    # === Layers ===

    def _make_layers(self, channels):
        head_init = "zeros" if self.zero_init else "glorot_uniform"
        cz, w0 = self.latent_channels, self.widths[0]
        conv = keras.layers.Conv2D
        self.stem = conv(w0, 3, strides=2, padding="same", name="stem")
        self.up_cells = [
            [ResidualCell(w, self.bottleneck, self.zero_init) for _ in range(self.blocks)]
            for w in self.widths
        ]
        self.downsamplers = [
            conv(w, 3, strides=2, padding="same", name=f"down_{s}")
            for s, w in enumerate(self.widths[1:])
        ]
        top_h, top_w = self.scale_sizes[-1]
        self.top_state = self.add_weight(
            shape=(1, top_h, top_w, self.widths[-1]), initializer="zeros", name="top_state"
        )
        widths = [self.widths[s] for s in self.group_scales]
        self.priors = [
            conv(2 * cz, 3, padding="same", kernel_initializer=head_init) for _ in widths
        ]
        self.posteriors = [
            conv(2 * cz, 3, padding="same", kernel_initializer=head_init) for _ in widths
        ]
        self.z_projections = [conv(w, 1) for w in widths]
        self.down_cells = [ResidualCell(w, self.bottleneck, self.zero_init) for w in widths]
        self.upsamplers = [conv(self.widths[s], 1) for s in range(len(self.widths) - 1)]
        self.out_cell = ResidualCell(w0, self.bottleneck, self.zero_init)
        out_channels = self._likelihood.output_channels(channels)
        self.out_conv = conv(4 * out_channels, 3, padding="same", name="out")

    # The recipe's optimizer: Adam with the gradient's global norm clipped (2.8 nats better
    # test ELBO after 2 epochs in benchmarks/hierarchical_ablation.py).
    RECIPE_LEARNING_RATE, RECIPE_GLOBAL_CLIPNORM = 2e-3, 200.0

    def compile(self, optimizer=None, jit_compile=False, **kwargs):
        """Configures training; XLA is off by default (`jit_compile=False`).

        `optimizer=None` is the recipe's: `Adam(2e-3, global_clipnorm=200)`.
        TensorFlow's XLA on CPU runs this model's many small convolutions
        3.3x slower than its graph mode (263 vs 858 ms per step of 128 MNIST
        images, 2 cores); pass `jit_compile=True` (or "auto") to choose it.
        """
        if optimizer is None:
            optimizer = keras.optimizers.Adam(
                self.RECIPE_LEARNING_RATE, global_clipnorm=self.RECIPE_GLOBAL_CLIPNORM
            )
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)

    # === Paths ===

    def _bottom_up(self, x):
        """Features at each scale, finest first."""
        features = []
        h = self.stem(ops.cast(x, "float32") * 2.0 - 1.0)
        for s, cells in enumerate(self.up_cells):
            if s > 0:
                h = self.downsamplers[s - 1](ops.silu(h))
            for cell in cells:
                h = cell(h)
            features.append(h)
        return features

    def _log_var(self, raw):
        if self.log_var_bound is not None:
            raw = soft_clamp(raw, self.log_var_bound)
        return bound_log_var(raw)

    def _top_down(self, batch, choose, features=None, num_groups=None):
        """Runs the top-down path. `choose(g, prior, posterior) -> z` picks each
        group's code (`posterior` is None without features).

        Returns `(decoder outputs, [(z, prior, posterior) per group])`, with
        `prior`/`posterior` as `(mean, log_var)` pairs. With `num_groups`, stops
        after that many groups and returns `(None, records)`."""
        h = ops.tile(self.top_state, (batch, 1, 1, 1))
        scale, records = self.group_scales[0], []
        for g, s in enumerate(self.group_scales):
            if s != scale:  # one scale finer
                h = ops.repeat(ops.repeat(h, 2, axis=1), 2, axis=2)
                h = self.upsamplers[s](crop_to(h, *self.scale_sizes[s]))
                scale = s
            mu_p, lv_p = ops.split(self.priors[g](ops.silu(h)), 2, axis=-1)
            prior = (mu_p, self._log_var(lv_p))
            posterior = None
            if features is not None:
                feature = features[s]
                d_mu, d_lv = ops.split(
                    self.posteriors[g](ops.silu(ops.concatenate([h, feature], axis=-1))), 2, -1
                )
                posterior = (mu_p + d_mu, self._log_var(lv_p + d_lv))
            z = choose(g, prior, posterior)
            records.append((z, prior, posterior))
            if num_groups is not None and len(records) == num_groups:
                return None, records
            h = self.down_cells[g](h + self.z_projections[g](z))
        h = self.out_cell(h)
        outputs = pixel_shuffle(self.out_conv(ops.silu(h)))
        return crop_to(outputs, *self.input_shape_[:2]), records

    def _draw(self, params, seed, temperature=1.0):
        mean, log_var = params
        eps = keras.random.normal(ops.shape(mean), seed=seed)
        return mean + temperature * ops.exp(0.5 * log_var) * eps

    def _posterior_pass(self, x, features=None, seed=None):
        """One posterior draw of every group for each example of `x`."""
        features = self._bottom_up(x) if features is None else features
        seed = self.seed_generator if seed is None else seed
        batch = ops.shape(features[0])[0]
        return self._top_down(batch, lambda g, p, q: self._draw(q, seed), features)

    # === Losses ===

    def call(self, inputs, training=False):
        """Deterministic reconstruction: every group at its posterior mean."""
        features = self._bottom_up(inputs)
        outputs, _ = self._top_down(ops.shape(inputs)[0], lambda g, p, q: q[0], features)
        return self._likelihood.mean(outputs)

    def compute_losses(self, x, y=None, training=False):
        x = ops.cast(x, "float32")
        outputs, records = self._posterior_pass(x)
        rec = self._likelihood.nll(x, ops.cast(outputs, "float32"))
        group_kls = self._group_kls(records)
        total_kl = sum(group_kls[1:], group_kls[0])
        losses = {"reconstruction_loss": ops.mean(rec), "kl_loss": ops.mean(total_kl)}
        for i, kl in enumerate(group_kls):
            losses[f"kl_group_{i}"] = ops.mean(kl)
        if training:
            coefficient = klw.warmup_coefficient(self.step_counter, self.kl_warmup_steps)
            sizes = self._balancing_sizes() if self.kl_balancing else None
            kl_term = klw.weighted_kl(group_kls, coefficient, self.free_bits, sizes)
            losses["loss"] = losses["reconstruction_loss"] + kl_term
            self.step_counter.assign_add(ops.cast(1, "int32"))
        else:
            losses["loss"] = losses["reconstruction_loss"] + losses["kl_loss"]
        return losses

    def _group_kls(self, records):
        """Per-example KL of each group: the top one to `model.prior`, the others exact."""
        top = self._top_kl(records[0][2], records[0][0])
        return [top] + [klw.gaussian_kl(*q, *p) for _, p, q in records[1:]]

    def _balancing_sizes(self):
        positions = [math.prod(self.scale_sizes[s]) for s in self.group_scales]
        per_scale = [self.groups[s] for s in self.group_scales]
        return klw.balancing_sizes(positions, per_scale)

    # === Likelihood evaluation (`vae_keras.evaluation`) ===

    # Importance samples scored per call: its feature maps make a row ~30x a conv VAE's, and
    # 4,000 rows ran 2x faster than 20,000 (memory-bound beyond).
    evaluation_rows = 4000

    # On TensorFlow the estimator runs as a graph: 1.6x the samples/s of eager ops for this
    # model on an idle 2-core CPU (a conv VAE's few large ops ran 1.2x faster eagerly).
    evaluate_as_graph = True

    def scorer(self):
        """The model itself: it scores its own draws (see `LatentModel.scorer`)."""
        return self

    def serving_functions(self):
        """The SavedModel endpoints of the top group; `sample` draws it from `model.prior`."""
        return _serving.continuous_serving(self, mixture=self.prior.mixture_parameters())

    def posterior_context(self, x):
        """What the k importance samples of a batch share: its bottom-up features."""
        return self._bottom_up(ops.cast(x, "float32"))

    def _draws(self, x, features, num_samples, seed):
        tile = lambda t: ops.tile(t, (num_samples,) + (1,) * (len(t.shape) - 1))  # noqa: E731
        features = [tile(f) for f in features]
        outputs, records = self._posterior_pass(None, features, seed)
        log_px = -self._likelihood.nll(tile(ops.cast(x, "float32")), outputs)
        return log_px, records

    # The share of the importance samples drawn from the prior (`log_importance_weights`).
    evaluation_prior_fraction = 0.5

    def log_importance_weights(self, x, features, num_samples, seed):
        """`log p(x, z) - log r(z | x)` for `num_samples` draws: shape `(num_samples, batch)`.

        `r` is the defensive proposal of `vae_keras.evaluation` for a hierarchy:
        `(1 - a) q~ + a p`, with `q~` the posterior with each group's variance
        bounded by its conditional prior's (`q~(z_l | z_<l, x) = N(mu_q,
        min(var_q, var_p))`), `p` the hierarchical prior, and the last `m =
        floor(evaluation_prior_fraction * num_samples)` draws (`a = m /
        num_samples`) taken from `p`, every group from its prior (the top one
        from `model.prior`, its variance bound the components' largest). Both densities
        are known along any path `z`, so each weight is `p(x, z)` over the
        mixture: unbiased for `p(x)`, and at most `p(x | z) / a` however wild
        the posterior is.
        """
        tile = lambda t: ops.tile(t, (num_samples,) + (1,) * (len(t.shape) - 1))  # noqa: E731
        features = [tile(f) for f in features]
        rows = ops.shape(features[0])[0]
        from_prior = int(self.evaluation_prior_fraction * num_samples)
        a = from_prior / num_samples
        # Rows are sample-major (row i * batch + b is draw i of example b): the last draws.
        picks_prior = ops.arange(rows) >= rows // num_samples * (num_samples - from_prior)

        top_bound = self._top_variance_bound()

        def bounded(g, q, p):
            return q[0], ops.minimum(q[1], top_bound if g == 0 else p[1])

        def choose(g, p, q):
            z_q = self._draw(bounded(g, q, p), seed)
            if not from_prior:
                return z_q
            mask = ops.reshape(picks_prior, (-1,) + (1,) * (len(z_q.shape) - 1))
            if g == 0:
                z_p = self._top_from_noise(keras.random.normal(ops.shape(z_q), seed=seed), seed)
            else:
                z_p = self._draw(p, seed)
            return ops.where(mask, z_p, z_q)

        outputs, records = self._top_down(rows, choose, features)
        log_px = -self._likelihood.nll(tile(ops.cast(x, "float32")), outputs)
        log_p = self._top_log_prob(records[0][0]) + sum(
            klw.gaussian_log_prob(z, *p) for z, p, _ in records[1:]
        )
        log_q = sum(
            klw.gaussian_log_prob(z, *bounded(g, q, p)) for g, (z, p, q) in enumerate(records)
        )
        if from_prior:
            log_q = ops.logaddexp(math.log1p(-a) + log_q, math.log(a) + log_p)
        return ops.reshape(log_px + log_p - log_q, (num_samples, -1))

    def elbo_draws(self, x, features, num_samples, seed):
        """`log p(x | z) - sum_l KL_l` for `num_samples` draws: shape `(num_samples, batch)`."""
        log_px, records = self._draws(x, features, num_samples, seed)
        kl = sum(self._group_kls(records))
        return ops.reshape(log_px - kl, (num_samples, -1))

    # === Inference (NumPy in, NumPy out, batched) ===

    @property
    def likelihood_object(self):
        """The decoder's `vae_keras.likelihoods.Likelihood`."""
        return self._likelihood

    @property
    def group_shapes(self):
        """The shape of each group's `z`, top group first."""
        return [self.scale_sizes[s] + (self.latent_channels,) for s in self.group_scales]

    @property
    def latent_dim(self):
        """Size of the top group's code, the one `encode`/`decode` read and write."""
        return math.prod(self.group_shapes[0])

    def check_inputs(self, x, name="x"):
        return self._likelihood.check_data(super().check_inputs(x, name), name)

    def encode_tensors(self, x, training=False):
        """`(mean, log_var)` of the top group's posterior, flattened."""
        batch = ops.shape(x)[0]
        _, records = self._top_down(batch, lambda g, p, q: q[0], self._bottom_up(x), num_groups=1)
        mean, log_var = records[0][2]
        return ops.reshape(mean, (batch, -1)), ops.reshape(log_var, (batch, -1))

    def encode(self, x, batch_size: int = 256, groups: str = "top"):
        """Posterior means and log-variances.

        `groups="top"`: `(z_mean, z_log_var)` of the top group, flattened
        (shape `(N, latent_dim)`), as `VAE.encode`. `groups="all"`: a list of
        `(mean, log_var)` per group (top first, shaped `group_shapes`), each
        group conditioned on the posterior means of the groups above it.
        """
        if groups not in ("top", "all"):
            raise ValueError(f"`groups` must be 'top' or 'all'. Received: groups={groups!r}")
        x = self.check_inputs(x)
        if groups == "top":
            return self._batched(
                lambda xb: tuple(ops.convert_to_numpy(t) for t in self.encode_tensors(xb)),
                [x],
                batch_size,
            )

        def step(xb):
            _, records = self._top_down(len(xb), lambda g, p, q: q[0], self._bottom_up(xb))
            return tuple(ops.convert_to_numpy(t) for _, _, q in records for t in q)

        flat = self._batched(step, [x], batch_size)
        return [(flat[2 * i], flat[2 * i + 1]) for i in range(self.num_groups)]

    def _top_head(self):
        """The top group's own prior `(mean, log_var)` from the learned top state (tensors,
        batch 1): the default `model.prior`, and the base of its posterior."""
        _, records = self._top_down(1, lambda g, p, q: p[0], num_groups=1)
        return records[0][1]

    def top_prior(self):
        """`(mean, log_var)` of the top group's Gaussian prior `p(z_0)`, flattened, as NumPy.

        By default it is learned (not N(0, I)): draw top codes for `decode` from it. A
        mixture prior has no single Gaussian: read `model.prior.mixture_parameters()`."""
        _, means, log_vars = self.prior.mixture_parameters()
        if len(means) != 1:
            raise ValueError(
                f"The top prior {self.prior!r} is a mixture of {len(means)} Gaussians; read "
                "`model.prior.mixture_parameters()` (or `model.sample`) instead of top_prior()."
            )
        return means[0], log_vars[0]

    def decode_tensors(self, z, temperature=0.0, seed=None):
        """Top group `z` (flattened) -> data space; lower groups from the prior."""
        batch = ops.shape(z)[0]
        top = ops.reshape(ops.cast(z, "float32"), (batch,) + self.group_shapes[0])
        seed = self.prior_seed_generator if seed is None else seed

        def choose(g, p, q):
            return top if g == 0 else self._draw(p, seed, temperature)

        outputs, _ = self._top_down(batch, choose)
        return self._likelihood.mean(outputs)

    def decode(self, z, batch_size: int = 256, temperature: float = 0.0, seed=None):
        """Decodes top-group codes; the lower groups are drawn from their priors at
        `temperature` (0: their means, deterministic)."""
        z = check_data(z, (self.latent_dim,), "z")
        gen = keras.random.SeedGenerator(seed) if seed is not None else None
        return self._batched(
            lambda zb: ops.convert_to_numpy(self.decode_tensors(zb, temperature, gen)),
            [z],
            batch_size,
        )

    def reconstruct(self, x, batch_size: int = 256):
        """Deterministic reconstruction (every group at its posterior mean), as NumPy."""
        x = self.check_inputs(x)
        return self._batched(lambda xb: ops.convert_to_numpy(self(xb)), [x], batch_size)

    def sample(
        self,
        num_samples: int,
        seed: int | None = None,
        temperature: float = 1.0,
        batch_size: int = 256,
    ):
        """Draws from the hierarchical prior, as data-space means (NumPy).

        `temperature` scales every group's prior standard deviation (NVAE's
        reduced-temperature sampling: 0.6-0.9 gives cleaner samples; 0 is
        deterministic). With `seed` the same call returns the same samples.
        """
        return self.resample(None, 0, num_samples, seed, temperature, batch_size)

    def resample(self, x, keep, num_samples=1, seed=None, temperature=1.0, batch_size=256):
        """Keeps the top `keep` groups of `x`'s posterior means, redraws the rest from the prior.

        With `x=None` (and `keep=0`) it samples. Returns `(num_samples * N, ...)`
        images, sample-major. `keep=1` shows what the top group holds; larger
        `keep`, what is left to the lower groups ("what each level controls").
        """
        num_samples = check_positive_int(num_samples, "num_samples")
        temperature = float(temperature)
        if temperature < 0.0 or not math.isfinite(temperature):
            raise ValueError(f"`temperature` must be >= 0. Received: temperature={temperature!r}")
        if not 0 <= int(keep) <= self.num_groups or (x is None and keep):
            raise ValueError(
                f"`keep` must be in [0, {self.num_groups}] (and 0 without `x`). Received: keep={keep!r}"
            )
        gen = self.prior_seed_generator if seed is None else keras.random.SeedGenerator(seed)
        if x is None:
            x = np.zeros((num_samples,) + self.input_shape_, "float32")
        else:
            x = np.tile(self.check_inputs(x), (num_samples, 1, 1, 1))
        # The noise is drawn first, so the pass itself is a pure (graph-compiled) function.
        noise = [
            keras.random.normal((len(x),) + shape, seed=gen)
            for shape in self.group_shapes[int(keep) :]
        ]
        if not keep:  # the top codes themselves, from `model.prior` (temperature scales its noise)
            noise[0] = self._top_from_noise(temperature * noise[0], gen)
        noise = [ops.convert_to_numpy(t) for t in noise]
        step = self._resample_function(int(keep))
        temperature = ops.convert_to_tensor(
            temperature, "float32"
        )  # a tensor: no retrace per value
        return self._batched(
            lambda xb, *eps: ops.convert_to_numpy(step(xb, temperature, *eps)),
            [x] + noise,
            batch_size,
        )

    def _resample_function(self, keep):
        functions = self.__dict__.setdefault("_resample_functions", {})
        if keep not in functions:

            def step(xb, temperature, *noise):
                noise = [ops.convert_to_tensor(eps) for eps in noise]
                features = self._bottom_up(ops.convert_to_tensor(xb)) if keep else None

                def choose(g, p, q):
                    if g < keep:
                        return q[0]
                    if g == 0:
                        return noise[0]  # drawn from `model.prior` by `resample`
                    return p[0] + temperature * ops.exp(0.5 * p[1]) * noise[g - keep]

                outputs, _ = self._top_down(ops.shape(xb)[0], choose, features)
                return self._likelihood.mean(outputs)

            functions[keep] = graph_function(step, dynamic_batch=True)
        return functions[keep]

    # === Serialisation ===

    def get_config(self):
        return {
            **super().get_config(),
            "input_shape": self.input_shape_,
            "widths": self.widths,
            "groups": self.groups,
            "latent_channels": self.latent_channels,
            "blocks": self.blocks,
            "bottleneck": self.bottleneck,
            "likelihood": keras.saving.serialize_keras_object(self._likelihood),
            "kl_warmup_steps": self.kl_warmup_steps,
            "kl_balancing": self.kl_balancing,
            "free_bits": self.free_bits,
            "log_var_bound": self.log_var_bound,
            "zero_init": self.zero_init,
            "seed": self.seed,
            "prior": self._prior_config(),
        }

    def build_from_config(self, config):
        pass  # built in __init__

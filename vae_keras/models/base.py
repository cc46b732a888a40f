"""What every latent-variable model here shares: its own train/test steps,
loss trackers, input checks, and batched NumPy-in/NumPy-out inference."""

import contextlib
import types

import keras
import numpy as np
from keras import ops

from vae_keras.layers import bound_log_var
from vae_keras.models import _serving, _steps
from vae_keras.models.capabilities import Capabilities, require
from vae_keras.validation import check_data, check_positive_int


def split_concatenated_encoder(encoder):
    """An encoder with one output `[z_mean | z_log_var]` (TensorFlow's CVAE
    tutorial design), as a functional model with the two halves as outputs.

    The first half is `z_mean`, the second `z_log_var`; other encoders are
    returned unchanged. The result saves and loads in safe mode.
    """
    outputs = getattr(encoder, "outputs", None)
    if not (isinstance(outputs, (list, tuple)) and len(outputs) == 1):
        return encoder
    shape = tuple(outputs[0].shape)
    if len(shape) != 2 or not shape[-1] or shape[-1] % 2:
        return encoder
    k = shape[-1] // 2
    inputs = encoder.inputs if len(encoder.inputs) > 1 else encoder.inputs[0]
    return keras.Model(inputs, [outputs[0][:, :k], outputs[0][:, k:]], name=f"{encoder.name}_split")


def _encoder_outputs(encoder):
    outputs = getattr(encoder, "outputs", None)
    if isinstance(outputs, (list, tuple)) and len(outputs) == 1 and len(outputs[0].shape) == 2:
        width = outputs[0].shape[-1]
        raise ValueError(
            f"The encoder has one output of shape {tuple(outputs[0].shape)}; it must output "
            "[z_mean, z_log_var]. For a concatenated `[z_mean | z_log_var]` output (as in "
            "TensorFlow's CVAE tutorial) split it: `encoder = keras.Model(encoder.inputs, "
            "[encoder.output[:, :k], encoder.output[:, k:]])` with k = latent_dim (VAE "
            f"does this itself when the width is even; received width {width})."
        )
    if not isinstance(outputs, (list, tuple)) or len(outputs) not in (2, 3):
        raise ValueError(
            "The encoder must be a functional keras.Model with outputs "
            "[z_mean, z_log_var] (a third output `z`, as in the Keras example, is "
            f"ignored). Received an encoder with outputs: {outputs!r}. Build one with "
            "`vae_keras.networks.conv_encoder` or `dense_encoder`."
        )
    return outputs


def check_pair(
    encoder, decoder, extra_decoder_inputs: int = 0, same_shape: bool = True, output_channels=None
):
    """Checks that `encoder` and `decoder` fit together; returns (input_shape, latent_dim).

    `same_shape=False` skips the check that the decoder emits the encoder's
    input shape (decoders that emit features, as in `PixelVAE`).
    `output_channels(channels)` gives the decoder's channel count when it
    differs from the data's (a likelihood with several parameters per
    sub-pixel, e.g. the discretized logistic)."""
    for net, role in ((encoder, "encoder"), (decoder, "decoder")):
        if not isinstance(net, keras.Model):
            raise ValueError(f"`{role}` must be a keras.Model. Received: {role}={net!r}")
    z_mean, z_log_var = _encoder_outputs(encoder)[:2]
    if tuple(z_mean.shape) != tuple(z_log_var.shape) or len(z_mean.shape) != 2:
        raise ValueError(
            "The encoder's z_mean and z_log_var must both be shaped (batch, latent_dim). "
            f"Received: {tuple(z_mean.shape)} and {tuple(z_log_var.shape)}."
        )
    latent_dim = int(z_mean.shape[-1])
    decoder_latent = int(decoder.inputs[0].shape[-1]) - extra_decoder_inputs
    if decoder_latent != latent_dim:
        raise ValueError(
            f"Latent sizes do not match: the encoder outputs latent_dim={latent_dim}, "
            f"the decoder takes latent_dim={decoder_latent}. Build both with the same "
            "`latent_dim`."
        )
    input_shape = tuple(encoder.inputs[0].shape[1:])
    output_shape = tuple(decoder.outputs[0].shape[1:])
    wanted = input_shape
    if output_channels is not None and input_shape:
        wanted = input_shape[:-1] + (output_channels(input_shape[-1]),)
    if same_shape and output_shape != wanted:
        if wanted == input_shape:
            fix = f"Build the decoder with output_shape={input_shape}."
        else:
            fix = (
                f"The likelihood needs {wanted[-1]} decoder channels per pixel for "
                f"{input_shape[-1]}-channel data: build the decoder with "
                f"output_channels={wanted[-1]} (output shape {wanted})."
            )
        raise ValueError(
            f"The decoder generates shape {output_shape} but the encoder reads shape "
            f"{input_shape}. {fix}"
        )
    return input_shape, latent_dim


def _portable_optimizer(compile_config):
    """Names a backend's own optimizer class (e.g. torch's Adam, saved by its
    module `keras.src.backend.torch.optimizers...`) by its public name, so a
    model saved on one backend resumes training on another (Keras restores
    the saving backend's class, which cannot apply gradients elsewhere)."""
    optimizer = compile_config.get("optimizer") if isinstance(compile_config, dict) else None
    if isinstance(optimizer, dict) and str(optimizer.get("module", "")).startswith(
        "keras.src.backend."
    ):
        compile_config = {
            **compile_config,
            "optimizer": {**optimizer, "module": "keras.optimizers"},
        }
    return compile_config


def _is_tf_dataset(x):
    return type(x).__module__.startswith("tensorflow") and hasattr(x, "take")


class LatentModel(keras.Model):
    """Base of `VAE` and `AE`: subclasses define `compute_losses` and `loss_names`.

    `train_step` and `test_step` are the model's own on every backend; they
    call `compute_losses(x, y, training)` (all the loss math) and only the
    gradient plumbing differs per backend (see `_steps`).
    """

    loss_names = ("loss", "reconstruction_loss")

    # What the model can do (`vae_keras.models.capabilities`); subclasses replace what differs.
    capabilities = Capabilities(encode=True)

    # The gradient clipping (global norm) `vae-keras train` compiles the model with; None: none.
    RECIPE_GLOBAL_CLIPNORM = None

    # Likelihood evaluation (`vae_keras.evaluation`): importance samples decoded per call
    # (None: the default for the image size), and whether its passes run as a graph.
    evaluation_rows = None
    evaluate_as_graph = False

    @classmethod
    def from_preset(cls, name: str):
        """Loads a pretrained preset (see `vae_keras.presets.list()`), checking its class.

        Example:

        >>> from vae_keras import VAE
        >>> vae = VAE.from_preset("mnist_conv_z2")  # doctest: +SKIP
        >>> vae.sample(16, seed=0).shape  # doctest: +SKIP
        (16, 28, 28, 1)
        """
        from vae_keras import presets

        model = presets.load(name)
        if not isinstance(model, cls):
            raise ValueError(
                f"Preset {name!r} is a {type(model).__name__}, not a {cls.__name__}. Call "
                f"`{type(model).__name__}.from_preset({name!r})` or "
                f"`vae_keras.presets.load({name!r})`."
            )
        return model

    def _init_trackers(self):
        self.loss_trackers = [keras.metrics.Mean(name=name) for name in self.loss_names]

    @property
    def metrics(self):
        return list(self.loss_trackers)

    def objectives(self):
        """What `train_step` minimises: `[(loss name, optimizer, variables)]`.

        One objective here: `"loss"` by `self.optimizer` over all trainable
        variables. Models with an adversary (`FactorVAE`) add theirs.
        """
        return [("loss", getattr(self, "optimizer", None), self.trainable_variables)]

    # === Training ===

    def compile(self, optimizer="adam", **kwargs):
        """Configures training. The loss is the model's own; only pass an optimizer."""
        if kwargs.get("loss") is not None:
            raise ValueError(
                f"{type(self).__name__} computes its own loss; do not pass `loss`. "
                f"Received: loss={kwargs['loss']!r}. Use the model's arguments "
                "(e.g. `beta`, `likelihood`) to shape the objective."
            )
        super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config):
        # Keras skips overridden `compile` methods when loading; ours only
        # forbids `loss`, so restoring the saved optimizer is safe.
        config = keras.saving.deserialize_keras_object(_portable_optimizer(config))
        self.compile(**{k: v for k, v in config.items() if v is not None})
        if self.built and not self.optimizer.built:
            self.optimizer.build(self.objectives()[0][2])

    if keras.backend.backend() == "jax":

        def train_step(self, state, data):
            return _steps.jax_train_step(self, state, data)

        def test_step(self, state, data):
            return _steps.jax_test_step(self, state, data)

    elif keras.backend.backend() == "torch":

        def train_step(self, data):
            return _steps.torch_train_step(self, data)

        def test_step(self, data):
            return _steps.eager_test_step(self, data)

    else:

        def train_step(self, data):
            return _steps.tensorflow_train_step(self, data)

        def test_step(self, data):
            return _steps.eager_test_step(self, data)

    def fit(self, x=None, y=None, *args, validation_data=None, nan_guard=True, **kwargs):
        """`keras.Model.fit`, with the data checked first (shape, NaN, range).

        `fit(x)` reconstructs `x`; `fit(x_noisy, x_clean)` trains a denoising
        model that reconstructs the clean target from the noisy input.
        NumPy data is checked whole; every batch of a generator, a
        `keras.utils.PyDataset` or a `tf.data.Dataset` is checked as it is
        drawn. Every example weighs the same: `sample_weight` and
        `class_weight` are refused.

        With `nan_guard=True` (the default) a `callbacks.NaNGuard` stops
        training at the first NaN or inf loss, restores the weights of the
        last finite epoch and raises `NonFiniteLossError`; pass
        `nan_guard=False` (or your own `NaNGuard`) to opt out.
        """
        self._check_fit_arguments(kwargs)
        if x is None:
            raise ValueError(
                "`fit` needs training data. Received: x=None. Pass images shaped "
                f"(N, {', '.join(map(str, self.input_shape_))}), a generator, a "
                "keras.utils.PyDataset or a tf.data.Dataset."
            )
        x, y = self._check_fit_data(x, y, "x", "y")
        if validation_data is not None:
            if isinstance(validation_data, (tuple, list)):
                vx, vy = (list(validation_data) + [None])[:2]
                if len(validation_data) > 2:
                    self._refuse_sample_weight(validation_data[2], "validation_data[2]")
                vx, vy = self._check_fit_data(vx, vy, "validation_data[0]", "validation_data[1]")
                validation_data = (vx,) if vy is None else (vx, vy)
            else:
                validation_data, _ = self._check_fit_data(
                    validation_data, None, "validation_data", None
                )
        if nan_guard:
            from vae_keras.callbacks import NaNGuard

            callbacks = list(kwargs.pop("callbacks", None) or [])
            if not any(isinstance(c, NaNGuard) for c in callbacks):
                callbacks.insert(0, NaNGuard())
            kwargs["callbacks"] = callbacks
        with self._stream_errors():
            return super().fit(x, y, *args, validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.evaluate`, with the data checked first."""
        self._check_fit_arguments(kwargs)
        if x is None:
            raise ValueError("`evaluate` needs data. Received: x=None.")
        x, y = self._check_fit_data(x, y, "x", "y")
        with self._stream_errors():
            return super().evaluate(x, y, *args, **kwargs)

    def _check_fit_arguments(self, kwargs):
        for name in ("batch_size", "steps_per_epoch", "validation_batch_size", "steps"):
            if kwargs.get(name) is not None:
                kwargs[name] = check_positive_int(kwargs[name], name)
        self._refuse_sample_weight(kwargs.get("sample_weight"), "sample_weight")
        if kwargs.get("class_weight") is not None:
            raise ValueError(
                f"{type(self).__name__} weighs every example equally; `class_weight` is not "
                f"supported. Received: class_weight={kwargs['class_weight']!r}. To weight "
                "classes, resample the data (repeat examples of rare classes)."
            )

    def _refuse_sample_weight(self, sample_weight, name):
        # Keras would pass the weights to a train_step that has no per-example
        # loss to weigh: refusing beats silently ignoring them.
        if sample_weight is not None:
            raise ValueError(
                f"{type(self).__name__} weighs every example equally; `{name}` is not "
                f"supported. Received: {name} of shape {np.shape(sample_weight)}. To weight "
                "examples, repeat them in the data (e.g. `np.repeat(x, counts, axis=0)`)."
            )

    # --- Checks of streamed data: every batch, as it is drawn ---

    def _check_stream_batch(self, batch, name):
        """Checks one batch drawn from a generator, PyDataset or tf.data pipeline."""
        try:
            bx, by, sw = keras.utils.unpack_x_y_sample_weight(batch)
            self._refuse_sample_weight(sw, f"the sample weights yielded by `{name}`")
            to_numpy = lambda t: keras.tree.map_structure(np.asarray, t)  # noqa: E731
            self._check_one_batch(to_numpy(bx), None if by is None else to_numpy(by), name)
        except ValueError as error:
            self._stream_error = error  # raised as is by `fit`, not wrapped by tf.data
            raise

    @contextlib.contextmanager
    def _stream_errors(self):
        """Re-raises a failed batch check as its own ValueError: TensorFlow runs
        generators and PyDatasets inside tf.data and wraps errors raised there."""
        self._stream_error = None
        saved = _jax_values(self)
        try:
            yield
        except Exception:
            _restore_purged_jax_values(self, saved)
            error, self._stream_error = self._stream_error, None
            if error is not None:
                raise error from None
            raise

    def _check_one_batch(self, bx, by, name):
        self._check_batch(bx, by, f"{name} (a batch drawn from it)")

    def _checked_stream(self, x, name):
        """`x` wrapped to check each batch, or None when `x` is not a stream."""
        check = lambda batch: self._check_stream_batch(batch, name)  # noqa: E731
        if _is_tf_dataset(x):
            check(next(iter(x.take(1))))  # now, not after the train step is traced
            return _checked_tf_dataset(x, check)
        if isinstance(x, keras.utils.PyDataset):
            if getattr(x, "use_multiprocessing", False):  # the check would not pickle
                check(x[0])
                return x
            return _CheckedPyDataset(x, check)
        if isinstance(x, types.GeneratorType):
            return _checked_generator(x, check)
        return None

    def _check_fit_data(self, x, y, x_name, y_name):
        stream = self._checked_stream(x, x_name)
        if stream is not None:
            return stream, y
        if isinstance(x, np.ndarray) or isinstance(x, (list, tuple)) and not _is_nested(x):
            return self._check_batch(x, y, x_name, y_name)
        return x, y

    def _check_batch(self, x, y, x_name, y_name="y"):
        x = self.check_inputs(x, x_name)
        if y is not None:
            y = self.check_targets(y, y_name)
            if len(y) != len(x):
                raise ValueError(f"`{x_name}` has {len(x)} examples but `{y_name}` has {len(y)}.")
        return x, y

    @property
    def _data_likelihood(self):
        """The likelihood the data checks name (models without one: "bernoulli")."""
        return getattr(self, "_likelihood", None) or "bernoulli"

    def _check_pixels(self, data, name):
        return check_data(
            data,
            self.input_shape_,
            name,
            unit_interval=self._needs_unit_interval,
            pixels=True,
            likelihood=self._data_likelihood,
        )

    def check_inputs(self, x, name="x"):
        """Validates model inputs; returns them as float32 NumPy."""
        return self._check_pixels(x, name)

    def check_targets(self, y, name="y"):
        """Validates reconstruction targets (denoising); subclasses may differ."""
        return self._check_pixels(y, name)

    _needs_unit_interval = False

    # === Export ===

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kw):
        """`keras.Model.export`, working right after construction.

        Keras infers a subclassed model's input signature from its first call;
        this model knows its input shape, so it is passed for the user. For
        endpoints `encode`, `decode`, `sample` use `vae_keras.export.export_saved_model`.
        """
        if input_signature is None:
            input_signature = self._export_signature()
        return super().export(
            filepath, format=format, verbose=verbose, input_signature=input_signature, **kw
        )

    def _export_signature(self):
        return [keras.InputSpec(shape=(None, *self.input_shape_), dtype="float32")]

    # === Inference (NumPy in, NumPy out, batched) ===

    def _batched(self, fn, arrays, batch_size):
        batch_size = check_positive_int(batch_size, "batch_size")
        n = len(arrays[0])
        outputs = [fn(*(a[i : i + batch_size] for a in arrays)) for i in range(0, n, batch_size)]
        if isinstance(outputs[0], (tuple, list)):
            return tuple(np.concatenate(parts) for parts in zip(*outputs, strict=True))
        return np.concatenate(outputs)

    def encode_tensors(self, x, training=False):
        """`(z_mean, z_log_var)` of the encoder's inputs `x`, as float32 tensors (traceable)."""
        z_mean, z_log_var = self.encoder(x, training=training)[:2]
        # The one place the model reads its encoder: every use of q(z|x) (sampler,
        # KL, likelihood evaluation, `encode`, exports) sees the same bounded variance.
        return ops.cast(z_mean, "float32"), bound_log_var(ops.cast(z_log_var, "float32"))

    def _encode_tensors(self, *args, **kwargs):  # the former private name
        return self.encode_tensors(*args, **kwargs)

    def _decode_tensors(self, *args, **kwargs):  # the former private name
        return self.decode_tensors(*args, **kwargs)

    # === Public hooks (what `capabilities` declares) ===

    def scorer(self):
        """The importance-scoring interface `vae_keras.evaluation` reads.

        An object with `check_inputs(x)`, `posterior_context(x)` (what the
        `k` samples of a batch share), `log_importance_weights` and
        `elbo_draws`, each `(x, context, num_samples, seed) -> (num_samples,
        batch)`, and `evaluation_rows`, `evaluate_as_graph`. Here the
        single-code estimator (one Gaussian code, a standard normal prior);
        a model without the capability `posterior` raises `CapabilityError`.
        """
        require(self, "posterior", "Likelihood evaluation")
        from vae_keras.evaluation import SingleCodeScorer

        return SingleCodeScorer(self)

    def prior_codes(self, eps, seed=None):
        """Codes from the model's prior over its latent vector given standard normal noise
        `eps` `(n, latent_dim)` (NumPy). Here `N(0, I)`: `eps` itself; models with a
        `priors.Prior` draw from it (`ReconstructionModel.prior_codes`)."""
        return np.asarray(eps, "float32")

    def prior_quantiles(self, q, dim):
        """Quantiles `q` of the prior's marginal along latent dimension `dim` (here N(0, 1))."""
        from scipy.stats import norm

        return norm.ppf(np.asarray(q, "float64"))

    def serving_functions(self) -> "_serving.ServingFunctions":
        """What `vae_keras.export.export_saved_model` serves: the endpoints as
        `keras.ops` functions with their input specs, and the `sample` builder.

        Raises `CapabilityError` for a model without `export_endpoints`.
        """
        require(self, "export_endpoints", "SavedModel export")
        return _serving.continuous_serving(self)

    def encode(self, x, batch_size: int = 256):
        """Deterministic encoding: returns `(z_mean, z_log_var)` as NumPy arrays.

        `z_log_var` is the encoder's, clipped to [-30, 20] as everywhere the model uses it.
        """
        x = self.check_inputs(x)

        def step(xb):
            z_mean, z_log_var = self.encode_tensors(xb)
            return ops.convert_to_numpy(z_mean), ops.convert_to_numpy(z_log_var)

        return self._batched(step, [x], batch_size)


def _is_nested(x):
    return isinstance(x, (list, tuple)) and len(x) > 0 and isinstance(x[0], (tuple, dict))


def _all_variables(model):
    optimizer = getattr(model, "optimizer", None)
    optimizer_variables = list(getattr(optimizer, "variables", []) or [])
    return list(model.variables) + optimizer_variables + list(model.metrics_variables)


def _jax_values(model):
    """References to the JAX variables' current (immutable) values, or None."""
    if keras.backend.backend() != "jax":
        return None
    return {id(v): v._value for v in _all_variables(model)}


def _restore_purged_jax_values(model, saved):
    """Keras' JAX `fit` detaches the variables' values while a step runs and
    reattaches them after it; an error raised by the data iterator in between
    (a failed batch check) left them `None`, so the model could not even be
    read. Reattach the values from before `fit` (fresh zeros for variables
    created during it: optimizer slots and counters)."""
    if saved is None:
        return
    for v in _all_variables(model):
        if getattr(v, "_value", True) is None:
            value = saved.get(id(v))
            v._value = value if value is not None else keras.ops.zeros(v.shape, v.dtype)


def _checked_generator(generator, check):
    for batch in generator:
        check(batch)
        yield batch


class _CheckedPyDataset(keras.utils.PyDataset):
    """A `PyDataset` whose batches are checked as they are drawn."""

    def __init__(self, inner, check):
        super().__init__(
            workers=inner.workers,
            use_multiprocessing=inner.use_multiprocessing,
            max_queue_size=inner.max_queue_size,
        )
        self.inner, self.check = inner, check

    def __getitem__(self, index):
        batch = self.inner[index]
        self.check(batch)
        return batch

    def __len__(self):
        return self.inner.num_batches

    @property
    def num_batches(self):
        return self.inner.num_batches

    def on_epoch_begin(self):
        self.inner.on_epoch_begin()

    def on_epoch_end(self):
        self.inner.on_epoch_end()


def _checked_tf_dataset(dataset, check):
    """`dataset` with every batch checked in NumPy (a failed check ends `fit`
    with the check's message inside TensorFlow's error)."""
    import tensorflow as tf

    spec = dataset.element_spec

    def check_flat(*flat):
        check(keras.tree.pack_sequence_as(spec, [np.asarray(t) for t in flat]))
        return np.bool_(True)

    def checked(*batch):
        element = batch[0] if len(batch) == 1 and not isinstance(spec, tuple) else batch
        ok = tf.numpy_function(check_flat, tf.nest.flatten(element), tf.bool, stateful=True)
        with tf.control_dependencies([ok]):
            return tf.nest.map_structure(tf.identity, element)

    return dataset.map(checked)

"""Per-layer timing shared by the speed benchmarks: each layer alone, on its real input.

`layer_inputs(model, x)` runs a functional model once and returns every weighted
layer with the tensor it receives; `time_layer` times one layer's forward pass,
or its forward pass and the gradients of `sum(y * dy)` with respect to its input
and its weights, compiled the way the backend compiles a step (a `tf.function`
without XLA on TensorFlow, `jax.jit` on JAX, eager on PyTorch). Each figure is
the median of `repeats` calls after one untimed call (tracing, compilation).
"""

import statistics
import time


def layer_inputs(model, x):
    """[(layer, its input as a NumPy array)] for the layers of `model` that have weights."""
    import keras

    layers = [layer for layer in model.layers if layer.weights]
    probe = keras.Model(model.inputs, [layer.input for layer in layers])
    values = probe.predict_on_batch(x)
    if len(layers) == 1:
        values = [values]
    return [(layer, keras.ops.convert_to_numpy(v)) for layer, v in zip(layers, values, strict=True)]


def _sync(result):
    """Waits for every array of a (nested) result."""
    import keras

    if isinstance(result, (list, tuple)):
        for value in result:
            _sync(value)
    else:
        keras.ops.convert_to_numpy(result)


def _forward(layer):
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(layer)
    if backend == "jax":
        import jax

        trainable = [v.value for v in layer.trainable_variables]
        frozen = [v.value for v in layer.non_trainable_variables]
        step = jax.jit(lambda t, x: layer.stateless_call(t, frozen, x)[0])
        return lambda x: step(trainable, x)
    return layer


def _forward_and_gradients(layer, dy):
    """fn(x) -> gradients of sum(layer(x) * dy) w.r.t. x and the layer's trainable weights."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function
        def step(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x)
                loss = tf.reduce_sum(y * dy)
            return tape.gradient(loss, [x, *layer.trainable_variables])

        return lambda x: step(tf.convert_to_tensor(x))
    if backend == "jax":
        import jax

        trainable = [v.value for v in layer.trainable_variables]
        frozen = [v.value for v in layer.non_trainable_variables]

        def loss(t, x):
            return (layer.stateless_call(t, frozen, x)[0] * dy).sum()

        step = jax.jit(jax.grad(loss, argnums=(0, 1)))
        return lambda x: step(trainable, x)
    import torch

    weights = [v.value for v in layer.trainable_variables]
    dy_t = torch.as_tensor(dy)

    def step(x):
        x = torch.as_tensor(x).detach().requires_grad_(True)
        return torch.autograd.grad((layer(x) * dy_t).sum(), [x, *weights])

    return step


def time_layer(layer, x, repeats=7, gradients=False, seed=0):
    """Median ms of `layer` on `x`: forward only, or forward + input and weight gradients."""
    import keras
    import numpy as np

    if gradients:
        shape = keras.ops.convert_to_numpy(layer(x[:1])).shape[1:]
        dy = np.random.default_rng(seed).normal(size=(len(x), *shape)).astype("float32")
        fn = _forward_and_gradients(layer, dy)
    else:
        fn = _forward(layer)
    x = keras.ops.convert_to_tensor(x)
    _sync(fn(x))  # tracing, compilation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        _sync(fn(x))
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def implementation_forms(layer):
    """Yields `(suffix, None)` per implementation of `layer` worth timing apart.

    A `TapConv2DTranspose` is timed twice, its taps forced then Keras's layer forced
    (this instance only); every other layer once, as it is. The class's choice is
    restored afterwards.
    """
    import keras

    from vae_keras.networks.output_conv import TapConv2DTranspose

    if not isinstance(layer, TapConv2DTranspose):
        yield ""
        return
    try:
        for suffix, backends in (
            (" (taps forced)", (keras.backend.backend(),)),
            (" (Keras forced)", ()),
        ):
            layer.TAP_BACKENDS = backends
            yield suffix
    finally:
        layer.__dict__.pop("TAP_BACKENDS", None)

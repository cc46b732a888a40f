"""Graph compilation where eager dispatch dominates, kept to one place.

On TensorFlow, eager execution of a deep model's many small ops cost 2.5x
the time of the same ops in a graph (a hierarchy's top-down pass; 2 CPU
cores), and XLA was slower still on CPU. JAX and PyTorch run eagerly here:
their functions draw from stateful seed generators, which `jax.jit` cannot
hold; on JAX the passes without randomness are compiled (`pure_function`).
"""

import weakref

import keras


def graph_function(fn, dynamic_batch: bool = False):
    """`fn` as a TensorFlow graph function (no XLA) on TensorFlow; `fn` elsewhere.

    With `dynamic_batch=True` a second input shape traces one graph for any
    batch size (`fn` must then read sizes with `ops.shape`); otherwise each
    new shape traces its own graph with static sizes.
    """
    if keras.backend.backend() != "tensorflow":
        return fn
    import tensorflow as tf

    return tf.function(fn, reduce_retracing=dynamic_batch)


def pure_function(method):
    """A model's bound `method` compiled with `jax.jit` on JAX; the method itself elsewhere.

    For passes with no randomness that read the model's variables (a decoder's
    log-likelihood of given codes): op-by-op dispatch ran the default MNIST conv
    decoder's evaluation at 8% of the CPU's matmul peak on JAX. The variables'
    current values go in as arguments, so later weight updates are seen; the
    compiled function is kept per model, so each evaluation does not recompile.
    """
    if keras.backend.backend() != "jax":
        return method
    model, function = method.__self__, method.__func__
    variables = list(model.variables)
    key = (function, len(variables))
    cache = _COMPILED.setdefault(model, {})
    if key not in cache:
        import jax

        model_ref = weakref.ref(model)  # the cache must not keep its key alive

        @jax.jit
        def pure(values, *args):
            with keras.StatelessScope(state_mapping=list(zip(variables, values, strict=True))):
                return function(model_ref(), *args)

        cache[key] = pure
    pure = cache[key]
    return lambda *args: pure([v.value for v in variables], *args)


_COMPILED = weakref.WeakKeyDictionary()  # model -> {(function, variable count): jitted}

"""Graph compilation where eager dispatch dominates, kept to one place.

On TensorFlow, eager execution of a deep model's many small ops cost 2.5x
the time of the same ops in a graph (a hierarchy's top-down pass; 2 CPU
cores), and XLA was slower still on CPU. JAX and PyTorch run eagerly here:
their functions draw from stateful seed generators, which `jax.jit` cannot
hold.
"""

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

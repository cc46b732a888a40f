"""Data-parallel training on the engines the backends already have.

Build, compile, `fit` and `evaluate` the model inside `strategy_scope(name)`;
save and export it after the block, on the chief only:

    from vae_keras import VAE, distribute, networks
    from vae_keras.export import export_saved_model

    with distribute.strategy_scope("mirrored") as strategy:   # or "multi_worker", "data_parallel"
        x_train, = distribute.even_split(strategy, 256, x_train)   # batches split evenly
        vae = VAE(networks.conv_encoder((28, 28, 1), 16), networks.conv_decoder(16, (28, 28, 1)))
        vae.compile(optimizer="adam")
        vae.fit(x_train, epochs=10, batch_size=256)              # 256 = the global batch
    if distribute.is_chief(strategy):
        vae.save("model.keras")
        export_saved_model(vae, "saved_model")

The batch size stays the *global* batch: each of `n` replicas computes the
losses of its share of the batch, and the gradients are averaged (each
replica's loss is weighted by its share of the global batch, so this holds
exactly even when the last batch splits unevenly), so a run on `n` devices
follows the same curve as a run on one device with the same batch size.
Reported losses are means over examples, as on one device.

Strategies:

- `"mirrored"` (TensorFlow backend): `tf.distribute.MirroredStrategy` over
  the local GPUs (or `devices=[...]`), one machine.
- `"multi_worker"` (TensorFlow backend):
  `tf.distribute.MultiWorkerMirroredStrategy`, several machines, each
  running the same command with its own `TF_CONFIG`. For two machines:

      # on host1: worker 0, the chief, which writes the run folder
      export TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]},
                         "task": {"type": "worker", "index": 0}}'
      vae-keras train --distribute multi_worker --output runs/multi
      # on host2: the same TF_CONFIG with "index": 1

  Start every worker (the first ones wait for the others). Each worker
  loads the same data; Keras shards every global batch across the workers.
  Without `TF_CONFIG` it runs as one worker over the local devices.
- `"data_parallel"` (JAX backend): `keras.distribution.DataParallel` over
  all devices (or `devices=["cpu:0", ...]`). JAX splits every batch over
  the devices, so every batch, the last one too, must be a multiple of the
  number of devices: `even_split` trims NumPy data to fit. On several
  hosts, set on each process before starting Python:

      export KERAS_DISTRIBUTION_JOB_ADDRESSES="host1:1234,host2:1234"
      export KERAS_DISTRIBUTION_NUM_PROCESSES=2
      export KERAS_DISTRIBUTION_PROCESS_ID=0          # 1 on host2
      KERAS_BACKEND=jax vae-keras train --distribute data_parallel

  `strategy_scope` then calls `keras.distribution.initialize()`, i.e.
  `jax.distributed.initialize(coordinator_address=host1:1234,
  num_processes=2, process_id=...)`, before listing the devices of all
  hosts. Feed a `tf.data.Dataset` batched with the global batch size:
  Keras gives each process its shard. (NumPy batches are taken as the
  process's local part of the global batch.)

  To try it on one CPU: `XLA_FLAGS=--xla_force_host_platform_device_count=2`.

PyTorch: Keras has no distribution engine for it; `strategy_scope` raises.
"""

import contextlib
import os
from collections.abc import Iterator, Sequence

import keras

STRATEGIES = ("mirrored", "multi_worker", "data_parallel")
_BACKEND_OF = {"mirrored": "tensorflow", "multi_worker": "tensorflow", "data_parallel": "jax"}
_MULTI_PROCESS_ENV = "KERAS_DISTRIBUTION_NUM_PROCESSES"


def check_strategy(name: str | None) -> str | None:
    """Validates a strategy name against the current backend; returns it.

    `None` (or `"none"`) means no distribution.
    """
    if name is None or name == "none":
        return None
    if name not in STRATEGIES:
        raise ValueError(
            f"Unknown distribution strategy {name!r}. Use one of {STRATEGIES} "
            f"(or None). Received: name={name!r}"
        )
    backend = keras.backend.backend()
    needed = _BACKEND_OF[name]
    if backend != needed:
        other = {"tensorflow": "'mirrored' or 'multi_worker'", "jax": "'data_parallel'"}
        hint = (
            f" On {backend}, use {other[backend]}."
            if backend in other
            else " Keras has no distribution engine for PyTorch."
        )
        raise RuntimeError(
            f"Strategy {name!r} runs on the {needed} backend (KERAS_BACKEND={needed}); "
            f"the current backend is {backend!r}.{hint}"
        )
    return name


@contextlib.contextmanager
def strategy_scope(name: str | None, devices: Sequence[str] | None = None) -> Iterator:
    """A scope to build (or load), compile, `fit` and `evaluate` a model in.

    Save and export the model after the block (on the chief: `is_chief`);
    TensorFlow cannot export SavedModel signatures inside a strategy scope.

    Args:
        name: `"mirrored"` or `"multi_worker"` (TensorFlow backend),
            `"data_parallel"` (JAX backend), or `None` for no distribution
            (a no-op scope, so callers need no branch).
        devices: Devices to replicate over (`"mirrored"`: TF names such as
            `"/gpu:0"`; `"data_parallel"`: Keras names such as `"cpu:0"`,
            see `keras.distribution.list_devices()`). Default: all of them.

    Yields:
        The `tf.distribute.Strategy` or `keras.distribution.DataParallel`
        (None without distribution); `num_replicas(...)` gives its size.

    Example:

    >>> from vae_keras import distribute
    >>> with distribute.strategy_scope(None) as strategy:
    ...     print(strategy)
    None
    """
    name = check_strategy(name)
    if name is None:
        yield None
        return
    if name == "data_parallel":
        distribution = _data_parallel(devices)
        with distribution.scope():
            yield distribution
        return
    import tensorflow as tf

    if name == "mirrored":
        strategy = tf.distribute.MirroredStrategy(devices=list(devices) if devices else None)
    else:
        if devices:
            raise ValueError(
                "'multi_worker' uses every local device of each worker; it takes no "
                f"`devices`. Received: devices={devices!r}"
            )
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        yield strategy


def num_replicas(strategy) -> int:
    """Number of model replicas of what `strategy_scope` yielded (1 for None)."""
    if strategy is None:
        return 1
    if hasattr(strategy, "num_replicas_in_sync"):
        return int(strategy.num_replicas_in_sync)
    return int(strategy.device_mesh.devices.size)


def even_split(strategy, batch_size: int, *arrays):
    """Fits NumPy data to a data-parallel run; returns the arrays.

    With `n > 1` replicas, `batch_size` must be a multiple of `n` (else a
    `ValueError`), and each array loses its last `len % n` examples (at most
    `n - 1`): trim the inputs, the denoising targets and the validation data
    alike. Why: JAX shards every batch over the devices, so every batch, the
    last one too, must split evenly; Keras' TensorFlow trainer fails when the
    *first* batch of a `fit` or `evaluate` splits unevenly (later uneven
    batches, e.g. of a `tf.data` pipeline, are handled exactly by the models'
    train step). Without distribution the arrays come back unchanged.

    Example:

    >>> import numpy as np
    >>> from vae_keras import distribute
    >>> x, = distribute.even_split(None, 128, np.zeros((10, 2)))
    >>> x.shape
    (10, 2)
    """
    replicas = num_replicas(strategy)
    if replicas == 1:
        return arrays
    if batch_size % replicas:
        raise ValueError(
            f"With {replicas} replicas the batch size must be a multiple of {replicas}, "
            f"so that every batch splits evenly. Received: batch_size={batch_size}."
        )
    return tuple(a[: len(a) - len(a) % replicas] for a in arrays)


def is_chief(strategy=None) -> bool:
    """True on the process that should write files (the chief worker, process 0)."""
    extended = getattr(strategy, "extended", None)
    if extended is not None:
        return bool(getattr(extended, "should_checkpoint", True))
    if keras.backend.backend() == "jax":
        import jax

        return jax.process_index() == 0
    return True


def _data_parallel(devices):
    if os.environ.get(_MULTI_PROCESS_ENV) and int(os.environ[_MULTI_PROCESS_ENV]) > 1:
        _initialize_multi_process()
    devices = list(devices) if devices else keras.distribution.list_devices()
    return keras.distribution.DataParallel(devices=devices)


def _initialize_multi_process():
    import jax

    if jax.distributed.is_initialized():
        return
    keras.distribution.initialize()

"""Mixed-precision training: float16 on GPUs, bfloat16 on CPUs.

Under a mixed policy the encoder's and decoder's layers compute in 16 bits
and keep float32 variables. The models keep the numerically delicate parts
in float32 on every backend: the encoder's outputs are cast to float32, the
`Sampling` layer the model builds computes in float32, the decoder's outputs
are cast to float32 before the likelihood, and the KL term and the losses
are float32 (so `fit` and `evaluate` report float32 figures under the same
metric names). With `"mixed_float16"`, `compile` wraps the optimizer in a
`keras.optimizers.LossScaleOptimizer` (dynamic loss scaling) and the
models' train steps scale the loss and unscale the gradients through it on
every backend.

Set the policy *before* building the networks and the model:

    from vae_keras import VAE, networks
    from vae_keras.precision import configure_mixed_precision

    configure_mixed_precision(True)      # "mixed_float16" on a GPU, else "mixed_bfloat16"
    vae = VAE(networks.conv_encoder((28, 28, 1), 16), networks.conv_decoder(16, (28, 28, 1)))
    vae.compile(optimizer="adam")

A model trained this way saves and loads like any other (a `.keras` file
records each layer's policy); `configure_mixed_precision(False)` restores
float32 for models built afterwards.
"""

import keras


def has_gpu() -> bool:
    """True when the current backend sees a GPU."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return any(device.platform == "gpu" for device in jax.devices())
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def mixed_precision_policy(gpu: bool | None = None) -> str:
    """The mixed policy for this machine: `"mixed_float16"` with a GPU, else
    `"mixed_bfloat16"` (CPUs compute float16 slowly, and bfloat16 needs no
    loss scaling)."""
    if gpu is None:
        gpu = has_gpu()
    return "mixed_float16" if gpu else "mixed_bfloat16"


def configure_mixed_precision(enabled: bool, policy: str | None = None) -> str:
    """Sets Keras' global dtype policy for the models built next; returns its name.

    Args:
        enabled: `True`: a mixed policy (`policy`, or the one
            `mixed_precision_policy()` picks for this machine); `False`:
            `"float32"`.
        policy: `"mixed_float16"` or `"mixed_bfloat16"` to override the
            choice (only with `enabled=True`).

    Example:

    >>> from vae_keras.precision import configure_mixed_precision
    >>> configure_mixed_precision(True, policy="mixed_bfloat16")
    'mixed_bfloat16'
    >>> configure_mixed_precision(False)
    'float32'
    """
    if not isinstance(enabled, bool):
        raise ValueError(f"`enabled` must be True or False. Received: enabled={enabled!r}")
    allowed = ("mixed_float16", "mixed_bfloat16")
    if policy is not None and (not enabled or policy not in allowed):
        raise ValueError(
            f"`policy` must be one of {allowed}, with enabled=True. "
            f"Received: enabled={enabled!r}, policy={policy!r}"
        )
    name = (policy or mixed_precision_policy()) if enabled else "float32"
    keras.mixed_precision.set_dtype_policy(name)
    return name

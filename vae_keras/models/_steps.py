"""Per-backend gradient plumbing for the models' own `train_step`/`test_step`.

The loss math lives in each model's `compute_losses(x, y, training)`, which
returns a dict of scalar tensors with a `"loss"` entry (the objective). These
functions only take gradients, apply them, and update the Mean trackers, in
the way each backend's trainer expects (TensorFlow and PyTorch: stateful;
JAX: a pure function of `state`).

A model with more than one objective (`FactorVAE`: the VAE and its
discriminator, each with its own optimizer) lists them in `objectives()`:
`[(loss name, optimizer, variables), ...]`, the model's `"loss"` and
`model.optimizer` first. Each objective's gradient is taken of its own loss
with respect to its own variables, from one forward pass; an extra
optimizer's variables are tracked by the model (JAX carries them in the
non-trainable state).
"""

import keras


def _unpack(data):
    x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
    return x, y


def _batch_size(x):
    first = keras.tree.flatten(x)[0]
    return keras.ops.cast(keras.ops.shape(first)[0], "float32")


def _update_trackers(model, losses, x):
    # Weighted by the batch size, as Keras' own trainers weight their loss
    # tracker: an epoch's figure is the mean over examples even when the
    # last batch is short or a replica's share of a batch is uneven.
    weight = _batch_size(x)
    for tracker in model.metrics:
        tracker.update_state(losses[tracker.name], sample_weight=weight)
    return {tracker.name: tracker.result() for tracker in model.metrics}


# --- TensorFlow -----------------------------------------------------------


def _tf_replicas():
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def _without_empty_replica_nans(losses, local):
    """Zeros, not the NaN of a mean over nothing, on a replica with no examples."""
    return {k: keras.ops.where(local > 0, v, keras.ops.zeros_like(v)) for k, v in losses.items()}


def _objectives(model):
    return model.objectives()


def _replica_share(losses, x):
    """Under a tf.distribute strategy: `(losses, this replica's share of the
    loss, the replica's weight)`.

    Each replica holds part of the global batch and the optimizer sums the
    replicas' gradients. Keras' own TF trainer divides each replica's loss by
    the number of replicas (`scale_loss_for_distribution`); weighting it by
    the replica's fraction of the global batch instead makes the sum exactly
    the gradient of the global batch mean, also when a short last batch
    splits unevenly. A replica left with no examples (a last batch smaller
    than the number of replicas) has zero weight and zero losses.
    Without a strategy: `(losses, losses["loss"], 1.0)`. The weight scales the
    other objectives' losses (`objectives()`) the same way.
    """
    import tensorflow as tf

    if _tf_replicas() == 1:
        return losses, losses["loss"], 1.0
    local = _batch_size(x)
    total = tf.distribute.get_replica_context().all_reduce("SUM", local)
    losses = _without_empty_replica_nans(losses, local)
    return losses, losses["loss"] * (local / total), local / total


def _tf_logs(logs):
    """Gives the step's logs a length-1 axis in multi-worker mode.

    Keras 3 reduces the logs of a step across workers with
    `strategy.reduce("MEAN", value, axis=0)`, which fails on scalars
    (tensorflow/tensorflow#72388, also with Keras' own train_step); the
    epoch's figures are read from the trackers, so this changes no result.
    """
    import tensorflow as tf

    strategy = tf.distribute.get_strategy()
    multi_worker = getattr(strategy.extended, "_in_multi_worker_mode", None)
    is_collective = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    if is_collective and multi_worker and multi_worker():
        return {name: tf.reshape(value, [1]) for name, value in logs.items()}
    return logs


def tensorflow_train_step(model, data):
    import tensorflow as tf

    x, y = _unpack(data)
    objectives = _objectives(model)
    with tf.GradientTape(persistent=len(objectives) > 1) as tape:
        losses = model.compute_losses(x, y, training=True)
        losses, loss, share = _replica_share(losses, x)
        scaled = [
            optimizer.scale_loss(loss if name == "loss" else losses[name] * share)
            for name, optimizer, _ in objectives
        ]
    grads = [tape.gradient(t, w) for t, (_, _, w) in zip(scaled, objectives, strict=True)]
    del tape
    for g, (_, optimizer, weights) in zip(grads, objectives, strict=True):
        optimizer.apply(g, weights)
    return _tf_logs(_update_trackers(model, losses, x))


# --- PyTorch --------------------------------------------------------------


def torch_train_step(model, data):
    import torch

    x, y = _unpack(data)
    model.zero_grad()
    losses = model.compute_losses(x, y, training=True)
    objectives = _objectives(model)
    if len(objectives) == 1:
        model.optimizer.scale_loss(losses["loss"]).backward()
        weights = model.trainable_weights
        grads = [w.value.grad for w in weights]
        with torch.no_grad():
            model.optimizer.apply(grads, weights)
        return _update_trackers(model, losses, x)
    updates = []
    for i, (name, optimizer, weights) in enumerate(objectives):
        values = [w.value for w in weights]
        grads = torch.autograd.grad(
            optimizer.scale_loss(losses[name]),
            values,
            retain_graph=i < len(objectives) - 1,
            allow_unused=True,
        )
        grads = [
            torch.zeros_like(v) if g is None else g for g, v in zip(grads, values, strict=True)
        ]
        updates.append((optimizer, grads, weights))
    with torch.no_grad():  # after every gradient: the graph still holds the old weights
        for optimizer, grads, weights in updates:
            optimizer.apply(grads, weights)
    return _update_trackers(model, losses, x)


def eager_test_step(model, data):
    """TensorFlow and PyTorch: no gradients, trackers updated in place."""
    x, y = _unpack(data)
    losses = model.compute_losses(x, y, training=False)
    if keras.backend.backend() != "tensorflow":
        return _update_trackers(model, losses, x)
    if _tf_replicas() > 1:
        losses = _without_empty_replica_nans(losses, _batch_size(x))
    return _tf_logs(_update_trackers(model, losses, x))


# --- JAX ------------------------------------------------------------------


def _jax_losses(model, trainable, non_trainable, x, y, training):
    """Runs `compute_losses` with the model's variables mapped to `state`."""
    mapping = list(zip(model.trainable_variables, trainable, strict=True))
    mapping += list(zip(model.non_trainable_variables, non_trainable, strict=True))
    with keras.StatelessScope(state_mapping=mapping) as scope:
        losses = model.compute_losses(x, y, training=training)
    # Seed generators advance inside the scope; carry their new state out.
    non_trainable = [scope.get_current_value(v) for v in model.non_trainable_variables]
    return losses, non_trainable


def _jax_update_trackers(model, metrics_variables, losses, x):
    mapping = list(zip(model.metrics_variables, metrics_variables, strict=True))
    with keras.StatelessScope(state_mapping=mapping) as scope:
        logs = _update_trackers(model, losses, x)
    return logs, [scope.get_current_value(v) for v in model.metrics_variables]


def jax_train_step(model, state, data):
    import jax

    if len(_objectives(model)) > 1:
        return _jax_multi_objective_step(model, state, data)
    trainable, non_trainable, optimizer_variables, metrics_variables = state
    x, y = _unpack(data)

    def objective(trainable, non_trainable):
        losses, non_trainable = _jax_losses(model, trainable, non_trainable, x, y, True)
        opt_mapping = list(zip(model.optimizer.variables, optimizer_variables, strict=True))
        with keras.StatelessScope(state_mapping=opt_mapping):
            scaled_loss = model.optimizer.scale_loss(losses["loss"])
        return scaled_loss, (losses, non_trainable)

    (_, (losses, non_trainable)), grads = jax.value_and_grad(objective, has_aux=True)(
        trainable, non_trainable
    )
    trainable, optimizer_variables = model.optimizer.stateless_apply(
        optimizer_variables, grads, trainable
    )
    logs, metrics_variables = _jax_update_trackers(model, metrics_variables, losses, x)
    return logs, (trainable, non_trainable, optimizer_variables, metrics_variables)


def _jax_multi_objective_step(model, state, data):
    """One forward pass, one vector-Jacobian product per objective; the main
    optimizer's state is the trainer's, the others' ride in `non_trainable`."""
    import jax

    trainable, non_trainable, optimizer_variables, metrics_variables = state
    x, y = _unpack(data)
    objectives = _objectives(model)
    names = [name for name, _, _ in objectives]

    def objective(trainable):
        losses, new_non_trainable = _jax_losses(model, trainable, non_trainable, x, y, True)
        opt_mapping = list(zip(model.optimizer.variables, optimizer_variables, strict=True))
        with keras.StatelessScope(state_mapping=opt_mapping):
            main = model.optimizer.scale_loss(losses["loss"])
        return (main,) + tuple(losses[n] for n in names[1:]), (losses, new_non_trainable)

    outputs, vjp, (losses, non_trainable) = jax.vjp(objective, trainable, has_aux=True)
    trainable = list(trainable)
    non_trainable = list(non_trainable)
    trainable_index = {id(v): i for i, v in enumerate(model.trainable_variables)}
    non_trainable_index = {id(v): i for i, v in enumerate(model.non_trainable_variables)}
    for k, (_, optimizer, variables) in enumerate(objectives):
        cotangent = tuple(
            jax.numpy.ones_like(o) if j == k else jax.numpy.zeros_like(o)
            for j, o in enumerate(outputs)
        )
        (grads,) = vjp(cotangent)
        rows = [trainable_index[id(v)] for v in variables]
        values = [trainable[i] for i in rows]
        if k == 0:
            values, optimizer_variables = optimizer.stateless_apply(
                optimizer_variables, [grads[i] for i in rows], values
            )
        else:
            slots = [non_trainable_index[id(v)] for v in optimizer.variables]
            values, slot_values = optimizer.stateless_apply(
                [non_trainable[i] for i in slots], [grads[i] for i in rows], values
            )
            for i, value in zip(slots, slot_values, strict=True):
                non_trainable[i] = value
        for i, value in zip(rows, values, strict=True):
            trainable[i] = value
    logs, metrics_variables = _jax_update_trackers(model, metrics_variables, losses, x)
    return logs, (trainable, non_trainable, optimizer_variables, metrics_variables)


def jax_test_step(model, state, data):
    trainable, non_trainable, metrics_variables = state
    x, y = _unpack(data)
    losses, non_trainable = _jax_losses(model, trainable, non_trainable, x, y, False)
    logs, metrics_variables = _jax_update_trackers(model, metrics_variables, losses, x)
    return logs, (trainable, non_trainable, metrics_variables)

"""Data-parallel training matches one device: TF MirroredStrategy over two
logical CPUs, MultiWorkerMirroredStrategy over two local worker processes,
JAX DataParallel over two host devices.

Each run happens in a subprocess (devices must be set up before the backend
starts); this file is also the worker script. The setup is exactly
deterministic: the encoder's log-variance head is frozen at -30 (noise of
standard deviation 3e-7), so two runs from the same weights on the same
batches differ only by float rounding. Plain SGD, not Adam: Adam divides out
the scale of the gradient, so summed-instead-of-averaged replica gradients
would go unnoticed.
"""

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from vae_keras import distribute

LEARNING_RATE = 0.02
BATCH_SIZE = 16
# TensorFlow: 4 full batches and one of 1 example, which leaves the second
# replica an empty batch (the models' train step handles uneven batches
# exactly). JAX needs every batch to split evenly over the devices:
# `even_split` trims 71 examples to 4 full batches and one of 6.
NUM_EXAMPLES = {"mirrored": 65, "multi_worker": 65, "data_parallel": 71}


def _worker_env(backend, **extra):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", **extra}
    if backend == "jax":
        env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
        env["JAX_PLATFORMS"] = "cpu"
    return env


def _start_worker(mode, out, env):
    command = [sys.executable, __file__, mode, str(out), str(NUM_EXAMPLES[mode])]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish(process, out):
    try:
        stdout, stderr = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
    assert process.returncode == 0, stdout[-3000:] + stderr[-5000:]
    return json.loads(out.read_text())


def _run_worker(mode, tmp_path, backend):
    out = tmp_path / f"{mode}.json"
    return _finish(_start_worker(mode, out, _worker_env(backend)), out)


def _assert_same_run(results, local_devices=2):
    single, parallel = results["single"], results["parallel"]
    assert parallel["replicas"] == 2
    assert single["num_examples"] == (70 if results["mode"] == "data_parallel" else 65)
    # Each variable lives on every local device (mirrored / replicated).
    assert parallel["variable_devices"] == local_devices
    for key in ("loss", "reconstruction_loss", "kl_loss"):
        for figures, rtol in (("history", 1e-4), ("eval_before", 1e-5), ("eval_after", 1e-4)):
            np.testing.assert_allclose(
                parallel[figures][key], single[figures][key], rtol=rtol, err_msg=figures
            )
    # Training moved the weights, by the same amount (not twice it: averaged gradients).
    before, after_1, after_n = (
        np.array(r["weights"]) for r in (results["initial"], single, parallel)
    )
    assert np.abs(after_1 - before).max() > 1e-3
    np.testing.assert_allclose(after_n - before, after_1 - before, atol=2e-5, rtol=1e-3)
    if parallel["is_chief"]:  # the trained model saves and exports
        assert parallel["export_error"] < 1e-5
    # Losses are reported per example: the epoch mean equals the mean over all examples.
    assert single["eval_before"]["loss"] == pytest.approx(single["direct_loss"], rel=1e-5)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.mark.backend
def test_mirrored_strategy_on_two_cpus_matches_one_device(tmp_path):
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.distribute runs on the TensorFlow backend")
    _assert_same_run(_run_worker("mirrored", tmp_path, "tensorflow"))


@pytest.mark.backend
def test_jax_data_parallel_on_two_host_devices_matches_one_device(tmp_path):
    import keras

    if keras.backend.backend() != "jax":
        pytest.skip("keras.distribution.DataParallel runs on the JAX backend")
    _assert_same_run(_run_worker("data_parallel", tmp_path, "jax"))


@pytest.mark.backend
def test_multi_worker_strategy_with_two_local_workers_matches_one_device(tmp_path):
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.distribute runs on the TensorFlow backend")
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    outs = [tmp_path / f"worker{i}.json" for i in range(2)]
    workers = [
        _start_worker(
            "multi_worker",
            out,
            _worker_env(
                "tensorflow",
                TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}),
            ),
        )
        for i, out in enumerate(outs)
    ]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and any(w.poll() is None for w in workers):
        if any(w.poll() not in (None, 0) for w in workers):  # one failed: the other would wait
            break
        time.sleep(0.5)
    for worker in workers:
        if worker.poll() is None:
            worker.kill()
    results = [_finish(worker, out) for worker, out in zip(workers, outs, strict=True)]
    for result in results:
        _assert_same_run(result, local_devices=1)
    assert [r["parallel"]["is_chief"] for r in results] == [True, False]


def test_even_split_trims_to_whole_replicas():
    x, y = np.zeros((71, 2)), np.ones((71,))
    assert all(a is b for a, b in zip(distribute.even_split(None, 15, x, y), (x, y), strict=True))

    class TwoReplicas:  # what num_replicas reads from a tf.distribute strategy
        num_replicas_in_sync = 2

    tx, ty, tv = distribute.even_split(TwoReplicas(), 16, x, y, np.zeros((37, 2)))
    assert (len(tx), len(ty), len(tv)) == (70, 70, 36)
    with pytest.raises(ValueError, match="multiple of 2"):
        distribute.even_split(TwoReplicas(), 15, x)


@pytest.mark.backend
def test_strategy_names_are_checked_against_the_backend():
    import keras

    with pytest.raises(ValueError, match="Unknown distribution strategy 'horovod'"):
        distribute.check_strategy("horovod")
    assert distribute.check_strategy(None) is None
    with distribute.strategy_scope(None) as strategy:
        assert strategy is None and distribute.num_replicas(strategy) == 1
    wrong = {"tensorflow": "data_parallel", "jax": "mirrored", "torch": "mirrored"}
    with pytest.raises(RuntimeError, match="backend"):
        distribute.check_strategy(wrong[keras.backend.backend()])


# === Worker (runs in the subprocess) ===


def _data(num_examples):
    rng = np.random.default_rng(0)
    base = np.zeros((2, 8, 8, 1), "float32")
    base[0, :, :4] = 1.0
    base[1, :4, :] = 1.0
    x = base[rng.integers(0, 2, num_examples)]
    return np.where(rng.uniform(size=x.shape) < 0.1, 1.0 - x, x).astype("float32")


def _build(weights=None):
    import keras

    from vae_keras import VAE, networks

    keras.utils.set_random_seed(0)
    encoder = networks.dense_encoder((8, 8, 1), 2, hidden_units=(16,))
    log_var = encoder.get_layer("z_log_var")
    log_var.kernel.assign(np.zeros(log_var.kernel.shape, "float32"))
    log_var.bias.assign(np.full(log_var.bias.shape, -30.0, "float32"))
    log_var.trainable = False
    decoder = networks.dense_decoder(2, (8, 8, 1), hidden_units=(16,))
    vae = VAE(encoder, decoder, seed=0)
    if weights is not None:
        vae.set_weights(weights)
    vae.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE))
    return vae


def _train(vae, x):
    from keras import ops

    before = vae.evaluate(x, batch_size=BATCH_SIZE, verbose=0, return_dict=True)
    history = vae.fit(x, epochs=2, batch_size=BATCH_SIZE, shuffle=False, verbose=0).history
    after = vae.evaluate(x, batch_size=BATCH_SIZE, verbose=0, return_dict=True)
    weights = np.concatenate([np.ravel(w) for w in vae.get_weights()]).tolist()
    return {
        "history": history,
        "eval_before": before,
        "eval_after": after,
        "weights": weights,
        "loss_dtype": str(ops.convert_to_numpy(vae.compute_losses(x[:2])["loss"]).dtype),
    }


def _variable_devices(variable):
    value = variable.value
    if hasattr(value, "sharding"):  # a jax.Array
        return len(value.sharding.device_set)
    import tensorflow as tf

    return len(tf.distribute.get_strategy().experimental_local_results(value))


def _export_error(model, x, path):
    """Saves `.keras` and a SavedModel; returns the largest difference on reloading."""
    import tensorflow as tf

    from vae_keras import runs
    from vae_keras.export import export_saved_model

    expected = model.reconstruct(x[:4])
    restored = runs.load_model(runs.save_model(model, path + ".keras"))
    loaded = tf.saved_model.load(str(export_saved_model(model, path)))
    return max(
        float(np.abs(loaded.reconstruct(x[:4]).numpy() - expected).max()),
        float(np.abs(restored.reconstruct(x[:4]) - expected).max()),
    )


def _worker(mode, out, num_examples):
    devices = None
    if mode == "mirrored":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
        devices = ["/cpu:0", "/cpu:1"]
    from keras import ops

    from vae_keras import distribute

    x = _data(num_examples)
    # The strategy comes first: MultiWorkerMirroredStrategy must be created
    # before the process runs any other TensorFlow op.
    with distribute.strategy_scope(mode, devices=devices) as strategy:
        if mode == "data_parallel":
            (x,) = distribute.even_split(strategy, BATCH_SIZE, x)
        parallel = _build()
        initial = parallel.get_weights()
        results = {
            "mode": mode,
            "initial": {"weights": np.concatenate([np.ravel(w) for w in initial]).tolist()},
            "parallel": {
                **_train(parallel, x),
                "replicas": distribute.num_replicas(strategy),
                "variable_devices": _variable_devices(parallel.trainable_variables[0]),
                "is_chief": distribute.is_chief(strategy),
            },
        }
    # Export after the scope (the chief only, as the command line does).
    if results["parallel"]["is_chief"]:
        results["parallel"]["export_error"] = _export_error(parallel, x, out + ".savedmodel")
    single = _build(initial)
    direct = float(ops.convert_to_numpy(single.compute_losses(x)["loss"]))
    results["single"] = {
        **_train(single, x),
        "direct_loss": direct,
        "replicas": 1,
        "num_examples": len(x),
    }
    with open(out, "w") as f:
        json.dump(results, f, default=float)


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2], int(sys.argv[3]))

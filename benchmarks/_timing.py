"""Timing shared by the speed benchmarks: interleaved rounds, so load drifts hit every row."""

import statistics
import time


def interleaved_ms_per_step(models, data, batch_size, rounds, steps):
    """ms per training step of each model in `{name: model}`, as `(medians, all times)`.

    Each round fits every model for one epoch over `data` (`steps` batches of
    `batch_size`), one after the other; a row's figure is its median round.
    """
    times = {name: [] for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            start = time.perf_counter()
            model.fit(data, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
            times[name].append(1000 * (time.perf_counter() - start) / steps)
    return {name: statistics.median(t) for name, t in times.items()}, times


def run_worker(cmd, backend):
    """Runs one backend's worker process; returns the last JSON line it printed, or None
    (after printing its error) when it failed."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode or not lines:
        print(f"{backend}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(lines[-1])

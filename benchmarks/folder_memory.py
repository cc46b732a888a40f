"""Peak memory: training from `datasets.image_folder` (streaming) vs an in-memory array.

Generates (once, cached) a folder of 32x32 PNGs rendered by `datasets.load("shapes")`,
then, each in a fresh subprocess, trains the same small conv VAE for one epoch:

- `folder`: `model.fit(datasets.image_folder(folder, 32, batch_size=128))`;
- `numpy`: all images decoded into one float32 array first, then `model.fit(x)`;
- `baseline`: the same process up to the model build, no data (the fixed cost).

It reports peak RSS (`ru_maxrss`), RSS sampled every 40 training steps (to show that
streaming does not grow), and the ratio. Not run by CI.

    python benchmarks/folder_memory.py                  # 50,000 images under /tmp
    python benchmarks/folder_memory.py --num-images 5000 --folder /tmp/small
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from multiprocessing import Pool
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's vae_keras


def rss_mib():
    """Current resident set size, from /proc (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _write_chunk(args):
    folder, start, stop, seed = args
    import numpy as np
    from PIL import Image

    from vae_keras.datasets import render_shapes, shapes_factors

    factors = shapes_factors("train", stop, seed=seed)[start:stop]
    images = np.round(render_shapes(factors, 32) * 255).astype(np.uint8)
    for i, image in zip(range(start, stop), images, strict=True):
        sub = Path(folder) / f"{i // 1000:03d}"  # 1,000 files per subfolder
        sub.mkdir(exist_ok=True)
        Image.fromarray(image).save(sub / f"{i:06d}.png", compress_level=1)
    return stop - start


def make_folder(folder, num_images, workers=2, chunk=2500):
    folder = Path(folder)
    marker = folder / f"DONE_{num_images}"
    if marker.exists():
        print(f"using cached folder {folder} ({num_images} images)")
        return
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    jobs = [(str(folder), i, min(i + chunk, num_images), 0) for i in range(0, num_images, chunk)]
    with Pool(workers) as pool:
        done = sum(pool.map(_write_chunk, jobs))
    marker.write_text(str(done))
    print(f"wrote {done} PNGs to {folder} in {time.perf_counter() - start:.1f} s")


def measure(mode, folder, batch_size, epochs):
    """Runs in the child process; prints one JSON line."""
    import keras
    import numpy as np

    from vae_keras import VAE, datasets, networks

    keras.utils.set_random_seed(0)
    vae = VAE(networks.conv_encoder((32, 32, 3), 16), networks.conv_decoder(16, (32, 32, 3)))
    vae.compile(optimizer="adam")
    after_build = rss_mib()
    samples = []

    class Sampler(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch % 40 == 0:
                samples.append(round(rss_mib()))

    start = time.perf_counter()
    if mode == "folder":
        data = datasets.image_folder(folder, 32, batch_size=batch_size, on_error="raise")
        n = data.num_files
    elif mode == "numpy":
        ds = datasets.image_folder(folder, 32, batch_size=1024, shuffle=False, on_error="raise")
        n = ds.num_files
        data = np.empty((n, 32, 32, 3), np.float32)
        i = 0
        for batch in ds:
            data[i : i + len(batch)] = batch.numpy()
            i += len(batch)
    else:
        data, n = None, 0
    after_data = rss_mib()
    if data is not None:
        kwargs = {} if mode == "folder" else {"batch_size": batch_size}
        vae.fit(data, epochs=epochs, verbose=0, callbacks=[Sampler()], **kwargs)
    print(
        json.dumps(
            {
                "mode": mode,
                "images": n,
                "after_build_mib": round(after_build),
                "after_data_mib": round(after_data),
                "peak_mib": round(peak_mib()),
                "samples_mib": samples,
                "seconds": round(time.perf_counter() - start, 1),
            }
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-images", type=int, default=50_000)
    parser.add_argument("--folder", default=None, help="default /tmp/vae_keras_shapes32_N")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--measure", choices=["baseline", "folder", "numpy"], help="(internal)")
    args = parser.parse_args()
    folder = args.folder or f"/tmp/vae_keras_shapes32_{args.num_images}"
    if args.measure:
        measure(args.measure, folder, args.batch_size, args.epochs)
        return
    make_folder(folder, args.num_images)
    rows = []
    for mode in ("baseline", "folder", "numpy"):
        command = [sys.executable, __file__, "--measure", mode, "--folder", folder]
        command += ["--batch-size", str(args.batch_size), "--epochs", str(args.epochs)]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]))
    base = rows[0]["peak_mib"]
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(f"{'mode':<9} {'images':>7} {'peak MiB':>9} {'above baseline':>15} {'seconds':>8}")
    for r in rows:
        print(
            f"{r['mode']:<9} {r['images']:>7} {r['peak_mib']:>9} "
            f"{r['peak_mib'] - base:>15} {r['seconds']:>8}"
        )
    folder_row, numpy_row = rows[1], rows[2]
    print(
        f"\npeak ratio numpy / folder: {numpy_row['peak_mib'] / folder_row['peak_mib']:.2f}; "
        f"above baseline: {(numpy_row['peak_mib'] - base) / max(1, folder_row['peak_mib'] - base):.1f}x"
    )
    for r in rows[1:]:
        print(f"RSS every 40 steps ({r['mode']}): {r['samples_mib']}")


if __name__ == "__main__":
    main()

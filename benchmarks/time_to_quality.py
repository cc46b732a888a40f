"""Time to quality: test NLL after fixed minutes of training, the keras.io recipe beside ours.

Every recipe trains on the same dynamically binarized MNIST (`DynamicBinarization`,
seed 0), one after the other in this process. Training pauses at each mark (minutes of
training wall time: tracing and compilation count, the scoring does not) to score the
test set with the importance-weighted estimator (`evaluation.log_likelihood`, k samples
on the first N test images binarized with seed 0). The table reports the NLL at every
mark and, for each package recipe, the first mark at which it matched the keras.io
recipe's NLL at its last mark: "<= 15 min (>= 4.0x sooner)" means it needed at most a
quarter of the time (it got there between the previous mark and this one).

Recipes (constant learning rates: a time budget has no step count for a schedule):
- `keras.io example`: the published "Variational AutoEncoder" (latent 2, Conv 32-64,
  Dense 16; Adam 1e-3; batch 128), its GradientTape `train_step` on TensorFlow and the
  same networks through Keras's built-in step elsewhere (`train_speed.reference_models`);
- the package's MNIST recipes of `quality_mnist.py`: the conv VAE (z=32, Adam 1e-3)
  and the `HierarchicalVAE` (Adam 2e-3, global norm clipped at 200).

Run it on an idle machine: a mark is wall time.

    python benchmarks/time_to_quality.py --data-dir ../shared/datasets/mnist --marks 5,15,60

or, since the target is the reference's 60-minute NLL within 15 minutes,

    python benchmarks/time_to_quality.py --marks 5,15,60 --package-marks 5,15
"""

import argparse
import json
import os
import platform
import time

REFERENCE = "keras.io example (z=2, Adam 1e-3)"


def recipes(keras, ops):
    """name -> (builder of the trained model, builder of its optimizer, scoring view)."""
    from quality_mnist import configurations
    from train_speed import reference_models

    from vae_keras import VAE
    from vae_keras.likelihoods import Bernoulli

    ref_networks, KerasIoVAE, BuiltinStepVAE = reference_models(keras, ops)
    reference_class = BuiltinStepVAE
    if keras.backend.backend() == "tensorflow":

        class reference_class(KerasIoVAE):
            def train_step(self, data):
                # The example is fitted on an array; a dataset's batches arrive as (x,).
                return super().train_step(keras.utils.unpack_x_y_sample_weight(data)[0])

    def keras_io_scoring_view(model):
        # The example's networks as a package VAE (sharing the weights): its encoder also
        # returns z, and its decoder ends in a sigmoid.
        encoder = keras.Model(model.encoder.inputs, model.encoder.outputs[:2])
        return VAE(encoder, model.decoder, likelihood=Bernoulli(from_probabilities=True))

    ours = configurations()
    conv = "conv VAE (32-64 conv, 512 dense, z=32)"
    hierarchical = "HierarchicalVAE (default recipe)"
    return {
        REFERENCE: (
            lambda: reference_class(*ref_networks()),
            lambda: keras.optimizers.Adam(1e-3),
            keras_io_scoring_view,
        ),
        f"vae_keras {conv}, Adam 1e-3": (
            ours[conv],
            lambda: keras.optimizers.Adam(1e-3),
            lambda model: model,
        ),
        f"vae_keras {hierarchical}, Adam 2e-3, clipnorm 200": (
            ours[hierarchical],
            lambda: None,  # compile()'s default: the recipe's Adam(2e-3, global_clipnorm=200)
            lambda model: model,
        ),
    }


def train_to_marks(keras, build, optimizer, score, x_train, marks_min, batch_size):
    """Trains until the last mark; returns one row per mark (minutes, NLL, steps, CPU s)."""
    from vae_keras.binarization import DynamicBinarization

    class Marks(keras.callbacks.Callback):
        """Pauses training at each mark of training wall time to score the model."""

        def __init__(self):
            super().__init__()
            self.pending = [60.0 * m for m in marks_min]
            self.rows, self.trained_s, self.cpu_s, self.steps = [], 0.0, 0.0, 0

        def _start_clock(self):
            self.wall, self.cpu = time.perf_counter(), time.process_time()

        def on_train_begin(self, logs=None):
            self._start_clock()

        def on_train_batch_end(self, batch, logs=None):
            self.trained_s += time.perf_counter() - self.wall
            self.cpu_s += time.process_time() - self.cpu
            self.steps += 1
            while self.pending and self.trained_s >= self.pending[0]:
                mark = self.pending.pop(0)
                start = time.perf_counter()
                nll = score(self.model)
                self.rows.append(
                    {
                        "mark_min": mark / 60,
                        "nll": nll,
                        "steps": self.steps,
                        "epochs": self.steps * batch_size / len(x_train),
                        "train_cpu_s": round(self.cpu_s),
                        "score_s": round(time.perf_counter() - start, 1),
                    }
                )
                print(json.dumps(self.rows[-1]), flush=True)
            if not self.pending:
                self.model.stop_training = True
            self._start_clock()  # scoring is not training time

    keras.utils.set_random_seed(0)
    model = build()
    model.compile(optimizer=optimizer())
    marks = Marks()
    model.fit(
        DynamicBinarization(x_train, batch_size, seed=0),
        epochs=10**6,  # the marks stop it
        verbose=0,
        callbacks=[marks],
    )
    return marks.rows


def first_mark_reaching(rows, target):
    """The first mark (minutes) whose NLL is at most `target`, or None."""
    return next((r["mark_min"] for r in rows if r["nll"] <= target), None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data-dir", default=os.environ.get("VAE_KERAS_DATA_DIR", "../shared/datasets/mnist")
    )
    parser.add_argument(
        "--marks",
        type=lambda s: sorted(float(v) for v in s.split(",")),
        default=[5.0, 15.0, 60.0],
        help="minutes of training at which to score (comma-separated)",
    )
    parser.add_argument(
        "--package-marks",
        type=lambda s: sorted(float(v) for v in s.split(",")),
        default=None,
        help="marks for the package recipes when they differ from the reference's "
        "(e.g. 5,15: the target is the reference's 60-minute NLL within 15 minutes)",
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--nll-samples", type=int, default=100)
    parser.add_argument("--test-limit", type=int, default=1000)
    parser.add_argument("--train-limit", type=int, default=None)
    parser.add_argument(
        "--only",
        default=None,
        help="run the reference and the package recipes whose name contains this",
    )
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args()

    import keras
    from keras import ops

    from vae_keras import datasets, evaluation
    from vae_keras.binarization import binarize
    from vae_keras.runs import write_json

    x_train, _ = datasets.load("mnist", "train", args.data_dir, limit=args.train_limit)
    x_test, _ = datasets.load("mnist", "test", args.data_dir, limit=args.test_limit)
    x_test = binarize(x_test, seed=0)
    machine = f"{platform.machine()} {os.cpu_count()} cores, {keras.backend.backend()}"
    results = {}
    for name, (build, optimizer, view) in recipes(keras, ops).items():
        if args.only and name != REFERENCE and args.only not in name:
            continue
        print(f"\n{name}", flush=True)

        def score(model, view=view):
            log_px = evaluation.log_likelihood(
                view(model), x_test, num_samples=args.nll_samples, verbose=False
            )
            return float(-log_px.mean())

        marks = args.marks if name == REFERENCE else (args.package_marks or args.marks)
        results[name] = train_to_marks(
            keras, build, optimizer, score, x_train, marks, args.batch_size
        )
        if args.json:  # after every recipe, so a long run keeps what it finished
            write_json(args.json, {"machine": machine, "args": vars(args), "rows": results})

    reference = results[REFERENCE]
    target = reference[-1]["nll"]
    print(
        f"\nDynamically binarized MNIST, batch {args.batch_size}; NLL = -mean IWAE log p(x), "
        f"k={args.nll_samples}, first {len(x_test)} test images (seed-0 binarization); "
        f"marks are minutes of training wall time; machine: {machine}"
    )
    all_marks = sorted({r["mark_min"] for rows in results.values() for r in rows})
    header = " | ".join(f"NLL at {m:g} min" for m in all_marks)
    last = reference[-1]["mark_min"]
    print(
        f"| recipe | {header} | steps at its last mark | reaches the reference's "
        f"{last:g}-min NLL ({target:.2f}) at |"
    )
    print("| --- |" + " ---: |" * (len(all_marks) + 2))
    for name, rows in results.items():
        by_mark = {r["mark_min"]: r["nll"] for r in rows}
        nlls = " | ".join(f"{by_mark[m]:.2f}" if m in by_mark else "—" for m in all_marks)
        reached = first_mark_reaching(rows, target)
        if name == REFERENCE:
            reached_text = "—"
        elif reached is None:
            reached_text = "not within its marks"
        else:
            # Marks bound it: the recipe got there at or before this one.
            reached_text = f"<= {reached:g} min (>= {last / reached:.1f}x sooner)"
        print(f"| {name} | {nlls} | {rows[-1]['steps']} | {reached_text} |")


if __name__ == "__main__":
    main()

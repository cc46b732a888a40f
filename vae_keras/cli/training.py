"""`vae-keras train`: a run folder that one process owns and every rerun resumes."""

import contextlib
import math
import os
import sys
import time
import warnings
from pathlib import Path

from vae_keras.cli import model_flags
from vae_keras.cli.common import say
from vae_keras.cli.parser import DATASET_DEFAULTS, DEFAULTS

# Settings that define a run: a rerun with the same ones resumes it.
# (--learning-rate and --epochs may change: resuming with a lower learning rate is the way out of a
# diverged run.)
_RUN_SETTINGS = (
    "dataset",
    "data_dir",
    "image_size",
    "architecture",
    "latent_dim",
    "batch_size",
    "beta",
    "likelihood",
    "binarize",
    "limit",
    "seed",
    "mixed_precision",
    "distribute",
    "prior",
    "prior_components",
    "captions",
    "hold_out",
)
# What a run folder written before a setting existed recorded for it: its default.
_SETTING_DEFAULTS = {"captions": False}


def _absolute(data_dir):
    from vae_keras.app import run_data

    return run_data.absolute_data_dir(data_dir)


def _output_folder(args) -> Path:
    return Path(args.output or f"runs/{args.dataset}-{args.architecture}-z{args.latent_dim}")


def _run_folder(args, out, shape, backend, chief=True, total_epochs=None):
    """Reopens or starts the run folder (owned by this process); returns
    (resumable model, first epoch, history, state). Only the chief writes.
    `total_epochs`: --epochs and the fine-tuning stages' epochs after them."""
    total_epochs = total_epochs or args.epochs
    from vae_keras.app import runs

    # --model-kind and --network are recorded as their --architecture spelling (as before them).
    unrecorded = ("func", "debug", "model_kind", "network")
    config = {k: v for k, v in vars(args).items() if k not in unrecorded}
    # Absolute: evaluate, plot and explore find the data from any folder.
    config.update(backend=backend, input_shape=list(shape), data_dir=_absolute(args.data_dir))
    removed = runs.clean_leftovers(out) if chief else []
    if removed:
        print(f"Removed {len(removed)} temporary file(s) left in {out} by a killed run")
    if args.overwrite and chief:
        runs.clear_run(out)  # also a stale evaluation.json: it would describe the old model
    previous = runs.read_json(out / "config.json") if (out / "config.json").is_file() else None
    state = runs.read_state(out)
    finished = (out / "metrics.json").is_file() and (not state or runs.reached(state, "done"))
    if finished and not args.overwrite:
        raise ValueError(
            f"Run folder {out} already holds a finished run. Pass a new --output, "
            "or --overwrite to replace it."
        )
    if args.overwrite:
        previous, state = None, {}
    model, initial_epoch, history = runs.resume_state(out)
    if model is not None:
        if previous and previous.get("data_dir"):  # older runs: as typed, from this folder
            previous["data_dir"] = _absolute(previous["data_dir"])
        changed = [
            k
            for k in _RUN_SETTINGS
            if previous and previous.get(k, _SETTING_DEFAULTS.get(k)) != config.get(k)
        ]
        if changed:
            raise ValueError(
                f"Run folder {out} holds an interrupted run with other settings "
                f"({', '.join(f'{k}: {previous.get(k)!r} -> {config.get(k)!r}' for k in changed)}). "
                "Rerun with the same settings to resume, or pass a new --output."
            )
        if initial_epoch > total_epochs:
            planned = (
                f"--epochs {args.epochs}"
                if total_epochs == args.epochs
                else f"--epochs {args.epochs} and the fine-tuning's {total_epochs - args.epochs}"
            )
            raise ValueError(
                f"Run folder {out} already completed {initial_epoch} epochs; {planned} are "
                f"fewer. Rerun with as many epochs to finish it, or pass --overwrite to start "
                "over."
            )
    clock = _seconds_after_epoch(state, initial_epoch)  # the attempts before a kill
    if initial_epoch < total_epochs:
        # (More) training to do: every later stage is redone.
        state = {SECONDS_AFTER_EPOCH: clock}
    elif not runs.reached(state, "model"):  # trained, killed before model.keras was written
        state = {
            "completed_epochs": initial_epoch,
            "history": history,
            "resumed_from_epoch": initial_epoch,
            "train_seconds": clock[-1] if clock else 0.0,
            SECONDS_AFTER_EPOCH: clock,
        }
    if chief:
        out.mkdir(parents=True, exist_ok=True)
        runs.write_json(out / "config.json", config)
    return model, initial_epoch, history, state


# state.json while training: the training seconds (all attempts) after each completed epoch,
# so a resumed run's train_seconds counts the time spent before the kill.
SECONDS_AFTER_EPOCH = "train_seconds_after_epoch"


def _seconds_after_epoch(state, completed_epochs) -> list:
    """The record up to `completed_epochs` (the checkpoint's), or [] where it is incomplete
    (folders of older versions)."""
    record = list(state.get(SECONDS_AFTER_EPOCH, []))[:completed_epochs]
    return record if len(record) == completed_epochs else []


def _training_clock(out, record, start):
    """A callback that records the training seconds after each epoch in state.json (before
    the checkpoint of that epoch is written: the record never lags the checkpoint)."""
    import keras

    from vae_keras.app import runs

    earlier = record[-1] if record else 0.0

    class TrainingClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.record = list(record)

        def seconds(self):
            return round(earlier + time.time() - start, 2)

        def on_epoch_end(self, epoch, logs=None):
            self.record[epoch:] = [self.seconds()]
            runs.write_state(out, {SECONDS_AFTER_EPOCH: self.record}, "training")

    return TrainingClock()


def latent_summary(model, latent_dim: int) -> str:
    """`latent 16` (`--latent-dim`); for a hierarchy, which ignores it, its groups and size;
    for discrete codes, what it sizes there: `code vectors of 8`."""
    from vae_keras.models.capabilities import capabilities

    declared = capabilities(model)
    if declared.latent_groups:
        groups = model.group_shapes
        return f"{len(groups)} latent groups, {sum(math.prod(g) for g in groups)} dims"
    if declared.discrete_codes:
        return f"code vectors of {latent_dim}"
    return f"latent {latent_dim}"


def _new_model(args, shape, steps):
    from vae_keras.app import recipes

    return recipes.build_model(
        architecture=args.architecture,
        likelihood=args.likelihood,
        shape=shape,
        latent_dim=args.latent_dim,
        beta=args.beta,
        seed=args.seed,
        learning_rate=args.learning_rate,
        binarize=args.binarize,
        prior=getattr(args, "prior", None),
        prior_components=getattr(args, "prior_components", None),
        captions=getattr(args, "captions", False),
        steps=steps,
    )


def _training_steps(args, num_train: int) -> int:
    """The run's optimizer steps in all (a recipe's learning-rate schedule spans them)."""
    return args.epochs * math.ceil(num_train / args.batch_size)


@contextlib.contextmanager
def _quiet_end_of_stream(streamed: bool):
    """Silences Keras's "Your input ran out of data" for a streamed folder: its length is
    unknown until the first epoch ends (files that fail to decode are dropped), so that end
    is the epoch's normal end, not the error the warning reads as."""
    with warnings.catch_warnings():
        if streamed:
            warnings.filterwarnings("ignore", message="Your input ran out of data")
        yield


def _apply_dataset_defaults(args):
    """--epochs / --batch-size left unset -> the dataset's own default, else the global one."""
    own = DATASET_DEFAULTS.get(args.dataset.lower(), {})
    for key in ("epochs", "batch_size"):
        if getattr(args, key) is None:
            setattr(args, key, own.get(key, DEFAULTS[key]))


def _resolve_recipe(args, shape):
    """`auto` network -> what the data call for (stored in config.json as --architecture)."""
    model_flags.resolve_network(args, shape)


def train(args) -> Path:
    import keras

    from vae_keras import distribute
    from vae_keras.app import recipes, run_data, runs
    from vae_keras.callbacks import NaNGuard, NonFiniteLossError
    from vae_keras.models.capabilities import capabilities

    model_flags.apply_recipe(args)  # --recipe NAME fills the flags left unset
    _apply_dataset_defaults(args)
    model_flags.resolve(args)  # contradictory or impossible model flags fail before any data
    plan = _finetune_plan(args)
    total_epochs = plan[-1][2] if plan else args.epochs
    distribute.check_strategy(args.distribute)  # a wrong backend fails before any data loads
    if args.mixed_precision:
        from vae_keras.precision import configure_mixed_precision

        configure_mixed_precision(True)
    keras.utils.set_random_seed(args.seed)
    if args.dataset == run_data.FOLDER and (args.distribute or args.binarize):
        raise ValueError(
            "--dataset folder streams images from disk; --distribute and --binarize need the "
            "in-memory datasets (mnist, fashion_mnist, digits, shapes, patches, TFDS)."
        )
    data = run_data.load_train_and_test(
        args.dataset,
        args.data_dir,
        image_size=args.image_size,
        batch_size=args.batch_size,
        limit=args.limit,
        seed=args.seed,
        captions=getattr(args, "captions", False),
        hold_out=getattr(args, "hold_out", None),
    )
    x_train, x_test, y_test, shape = data.train, data.x_test, data.y_test, data.shape
    _resolve_recipe(args, shape)
    out = _output_folder(args)
    with contextlib.ExitStack() as owner:
        with distribute.strategy_scope(args.distribute) as strategy:
            chief = distribute.is_chief(strategy)
            if not data.streamed:
                x_train, x_test = distribute.even_split(strategy, args.batch_size, x_train, x_test)
            y_test = None if y_test is None else y_test[: len(x_test)]
            steps = _training_steps(args, data.num_train if data.streamed else len(x_train))
            model = _new_model(args, shape, steps)  # validates before touching the folder
            model.check_inputs(x_test if data.streamed else x_train)  # e.g. the 8-bit grid
            if plan and not capabilities(model).importance_weighted:
                raise ValueError(
                    f"--finetune-iwae trains the model's importance-weighted twin; "
                    f"--architecture {args.architecture} has none (vae networks and pixelcnn "
                    "do). Drop --finetune-iwae."
                )
            if chief:  # one process owns the folder from here on
                owner.enter_context(runs.RunLock(out))
            resumed, initial_epoch, history, state = _run_folder(
                args, out, shape, keras.backend.backend(), chief, total_epochs
            )
            # Epochs of a VQ prior's fitting the checkpoint holds: read before any training,
            # which replaces the checkpoint (and changes the codes: the prior starts over).
            prior_done = runs.prior_epochs(out) if initial_epoch >= total_epochs else 0
            if resumed is not None:
                model = resumed
                stage = _stage_of(plan, initial_epoch)
                if stage is None:
                    recipes.set_learning_rate(
                        model,
                        args.model_kind,
                        args.likelihood,
                        args.learning_rate,
                        steps,
                    )
                else:
                    _check_stage_model(model, out, plan[stage], initial_epoch)
                    recipes.set_learning_rate(
                        model, args.model_kind, args.likelihood, _finetune_rate(args), None
                    )
                print(
                    f"Resuming {out} after epoch {initial_epoch} of {total_epochs}"
                    if initial_epoch < total_epochs
                    else f"Finishing {out}: trained; done so far: {state.get('stage', 'training')}"
                )
            print(
                f"Training a {args.architecture} VAE ({args.likelihood}, {latent_summary(model, args.latent_dim)}) "
                f"on {data.num_train if data.streamed else len(x_train)} {args.dataset} images "
                f"{shape}{' (streamed)' if data.streamed else ''}, {args.epochs} epochs"
                f"{_plan_summary(plan)}, backend {keras.backend.backend()}; run folder {out}"
            )

            train_data = x_train
            # A stream reshuffles its files every epoch itself (and fit() warns at a shuffle
            # it cannot apply to one).
            fit_kwargs = {"shuffle": False} if data.streamed else {"batch_size": args.batch_size}
            if args.binarize:
                from vae_keras.binarization import DynamicBinarization, binarize

                train_data, fit_kwargs = (
                    DynamicBinarization(x_train, args.batch_size, seed=args.seed),
                    {},
                )
                train_data.epoch = initial_epoch  # resumed runs continue the sequence of draws
                x_test = binarize(x_test, seed=args.seed)
            checkpoint = runs.RunCheckpoint(out, history)
            if initial_epoch < total_epochs:
                clock = _training_clock(out, state[SECONDS_AFTER_EPOCH], time.time())

                def fit(model, first, end):
                    with _quiet_end_of_stream(data.streamed):
                        model.fit(
                            train_data,
                            epochs=end,
                            initial_epoch=first,
                            validation_data=(x_test,),
                            callbacks=[NaNGuard()] + ([clock, checkpoint] if chief else []),
                            verbose=1 if sys.stdout.isatty() else 2,
                            **fit_kwargs,
                        )

                try:
                    if initial_epoch < args.epochs:
                        fit(model, initial_epoch, args.epochs)
                    for number, (k, first, end) in enumerate(plan, start=1):
                        if initial_epoch >= end:
                            continue
                        if initial_epoch <= first:  # the stage starts: a fresh twin and Adam
                            model = _finetune_model(model, k, args, number)
                            say(chief, f"fine-tuning on the IWAE bound, k = {k} ...")
                        fit(model, max(initial_epoch, first), end)
                except NonFiniteLossError as error:
                    kept = out / runs.CHECKPOINT
                    raise NonFiniteLossError(
                        f"{error} The last good checkpoint is {kept}: rerun with a lower "
                        "--learning-rate to resume from it."
                        if kept.is_file()
                        else str(error)
                    ) from None
                state = {
                    "completed_epochs": total_epochs,
                    "history": checkpoint.history,
                    "resumed_from_epoch": initial_epoch,
                    "train_seconds": clock.seconds(),  # with the attempts before a kill
                    SECONDS_AFTER_EPOCH: clock.record,
                }
            if capabilities(model).needs_fit_prior and not model.prior_is_fitted():  # VQ-VAEs
                from vae_keras.binarization import binarize

                prior_x = binarize(x_train, seed=args.seed) if args.binarize else x_train
                # A caption model's prior reads each image's caption before its codes.
                conditions = {"captions": data.captions} if data.captions is not None else {}
                # Checkpointed every epoch: a killed run resumes the prior where it stopped.
                if prior_done:
                    say(chief, f"resuming the prior's fitting after {prior_done} of its epochs")
                record = {k: state[k] for k in ("completed_epochs", "history")}
                model.fit_prior(
                    prior_x,
                    epochs=args.epochs,
                    initial_epoch=prior_done,
                    batch_size=args.batch_size,
                    verbose=2,
                    callbacks=[runs.PriorCheckpoint(out, model, record, prior_done)]
                    if chief
                    else [],
                    **conditions,
                )
            if chief and not runs.reached(state, "model"):
                say(chief, f"saving {out / 'model.keras'} ...")
                # model.keras (with its optimizer) replaces the checkpoint.
                runs.save_model(model, out / "model.keras")
                runs.write_json(
                    out / runs.HISTORY,
                    {"completed_epochs": state["completed_epochs"], "history": state["history"]},
                )
                runs.write_state(out, state, "model")
                checkpoint.finish()
            if not runs.reached(state, "evaluated"):
                say(chief, f"scoring the {len(x_test)} test images ...")
                # Every worker takes part in evaluation; the global batch divides evenly.
                hooks = [runs.FaultHook("evaluate")] if os.environ.get("VAE_KERAS_FAULT") else []
                test = model.evaluate(
                    x_test, batch_size=args.batch_size, verbose=0, return_dict=True, callbacks=hooks
                )
                state["test"] = {k: float(v) for k, v in test.items()}
                state["test"].update(_test_bits_per_dim(model, x_test, args.seed))
                if chief:
                    runs.write_state(out, state, "evaluated")
        if chief:
            num_train = data.num_train if data.streamed else len(x_train)
            _write_results(args, model, out, state, num_train, x_test, y_test)
    return out


def _finetune_plan(args) -> list[tuple[int, int, int]]:
    """[(k, first epoch, end epoch), ...]: the --finetune-iwae stages after --epochs."""
    from vae_keras.app import recipes

    stages = recipes.finetune_stages(
        getattr(args, "finetune_iwae", None), getattr(args, "finetune_epochs", None)
    )
    plan, first = [], args.epochs
    for k, epochs in stages:
        plan.append((k, first, first + epochs))
        first += epochs
    return plan


def _plan_summary(plan) -> str:
    """`, then IWAE fine-tuning k = 5, 20 for 3, 2 epochs` (empty without a plan)."""
    if not plan:
        return ""
    ks = ", ".join(str(k) for k, _, _ in plan)
    epochs = ", ".join(str(end - first) for _, first, end in plan)
    return f", then IWAE fine-tuning k = {ks} for {epochs} epochs"


def _plan_record(args, plan) -> dict:
    """metrics.json's account of the fine-tuning stages."""
    return {
        "k": [k for k, _, _ in plan],
        "epochs": [end - first for _, first, end in plan],
        "learning_rate": _finetune_rate(args),
    }


def _finetune_rate(args) -> float:
    from vae_keras.app import recipes

    rate = getattr(args, "finetune_learning_rate", None)
    return recipes.FINETUNE_LEARNING_RATE if rate is None else rate


def _stage_of(plan, completed_epochs):
    """The index of the fine-tuning stage a checkpoint after `completed_epochs` is in (its
    model is that stage's twin), or None: the model is the one trained on --epochs."""
    for index, (_, first, end) in enumerate(plan):
        if first < completed_epochs <= end:
            return index
    return None


def _check_stage_model(model, out, stage, completed_epochs):
    """A resumed twin must be the one the stage trains (--finetune-iwae may not change
    under a stage that started)."""
    from vae_keras.models.iwae import IWAE

    k, found = stage[0], model.num_samples if isinstance(model, IWAE) else None
    if found != k:
        raise ValueError(
            f"Run folder {out} was fine-tuned with k = {found} "
            f"up to epoch {completed_epochs}, where --finetune-iwae now puts k = {k}. Rerun "
            "with the --finetune-iwae it started with, or pass --overwrite."
        )


def _finetune_model(model, k, args, stage):
    """The stage's twin of `model` (its networks on the k-sample bound) with a fresh Adam."""
    from vae_keras.app import recipes
    from vae_keras.models.iwae import importance_weighted

    twin = importance_weighted(model, k, seed=args.seed + stage)
    twin.compile(
        optimizer=recipes.optimizer(twin, args.model_kind, args.likelihood, _finetune_rate(args))
    )
    return twin


# The run's own bits/dim estimate (0-255 scale): importance samples per image and images.
RUN_BPD_SAMPLES, RUN_BPD_IMAGES = 10, 1000


def _test_bits_per_dim(model, x_test, seed):
    """`{"bits_per_dim_8bit": ...}` for 8-bit data and a likelihood it applies to, else {}.

    From the importance-weighted estimate for a model with a posterior, from
    `nll_bound` (an upper bound) for one without (VQ-VAE, after `fit_prior`)."""
    from vae_keras import evaluation
    from vae_keras.models.capabilities import capabilities

    declared = capabilities(model)
    scorable = declared.likelihood and (declared.posterior or declared.nll_bound)
    if not scorable or model.likelihood_object.binary:
        return {}
    if not evaluation.on_8bit_grid(x_test):
        return {}
    bpd = evaluation.bits_per_dim_8bit(
        model, x_test[:RUN_BPD_IMAGES], num_samples=RUN_BPD_SAMPLES, seed=seed, verbose=False
    )
    return {"bits_per_dim_8bit": float(bpd.mean())}


def _write_results(args, model, out, state, num_train, x_test, y_test):
    """The stages after evaluation; each is skipped when `state` records it."""
    import keras

    from vae_keras import plotting
    from vae_keras.app import report, runs
    from vae_keras.models.capabilities import capabilities

    plan = _finetune_plan(args)
    finetune = _plan_record(args, plan) if plan else None
    if not runs.reached(state, "figures"):
        say(True, "drawing figures (samples, reconstructions, latent space, history) ...")
        plotting.save_image_grid(model.sample(64, seed=args.seed), out / "samples.png", ncols=8)
        runs.fault_point("figures")
        # One layout for reconstructions everywhere: rows of x above rows of x̂, labelled.
        plotting.reconstruction_grid(
            x_test[:32], model.reconstruct(x_test[:32]), path=out / "reconstructions.png"
        )
        figures = report.write_run_figures(
            model,
            x_test,
            y_test,
            state["history"],
            out / "figures",
            max_points=3000,
            seed=args.seed,
            stages=report.finetune_stage_marks(finetune, len(state["history"].get("loss", ()))),
        )
        # Relative to the run folder, which may move between attempts.
        state["figures"] = {k: str(Path(p).relative_to(out)) for k, p in figures.items()}
        runs.write_state(out, state, "figures")
    if not runs.reached(state, "exported"):
        exportable = bool(capabilities(model).export_endpoints)  # not PixelVAE's pixel loop
        if keras.backend.backend() in ("tensorflow", "jax") and exportable:
            from vae_keras.export import export_saved_model

            say(True, "exporting the TensorFlow SavedModel ...")
            export_saved_model(model, out / "saved_model")
        runs.write_state(out, state, "exported")
    test = state["test"]
    metrics = {
        "history": state["history"],
        "test": test,
        "epochs": args.epochs,
        **({"finetune": finetune} if finetune else {}),
        "resumed_from_epoch": state["resumed_from_epoch"],
        "train_seconds": state["train_seconds"],
        "num_train": num_train,
        "num_test": len(x_test),
    }
    figures = {name: out / path for name, path in state["figures"].items()}
    report.write_report(out, metrics, figures, title=f"vae_keras run: {out.name}")
    runs.fault_point("report")
    runs.write_json(out / "metrics.json", metrics)  # its presence marks a finished run
    runs.write_state(out, state, "done")
    print(
        f"test loss {test['loss']:.2f} nats (reconstruction {test['reconstruction_loss']:.2f}, "
        + (f"KL {test['kl_loss']:.2f})" if "kl_loss" in test else f"VQ {test['vq_loss']:.2f})")
        + (
            f", {test['bits_per_dim_8bit']:.3f} bits/dim (0-255 scale)"
            if "bits_per_dim_8bit" in test
            else ""
        )
        + f"; wrote {out}"
    )

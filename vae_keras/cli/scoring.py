"""`vae-keras evaluate`: test losses, ELBO, importance-sampled NLL and active units."""

import time
from pathlib import Path

from vae_keras.cli.common import file_in, test_data


def evaluate(args) -> Path:
    import math

    import numpy as np

    from vae_keras import evaluation
    from vae_keras.app import runs
    from vae_keras.binarization import binarize
    from vae_keras.models.capabilities import capabilities

    out = (  # checked before the (long) evaluation
        file_in(args.out, "evaluation.json", ".json")
        if args.out
        else Path(args.model).with_name("evaluation.json")
    )
    model = runs.load_model(args.model)
    config = runs.run_config(args.model)
    dataset, x = test_data(args, config)
    binarized = args.binarize == "yes" or (
        args.binarize == "auto" and config.get("binarize", False)
    )
    if binarized:  # the fixed binarization the run scored its test set with (its seed)
        x = binarize(x, seed=config.get("seed", args.seed))
    print(
        f"evaluating {args.model} on {len(x)} {dataset} test images: losses, ELBO, active "
        "units ...",
        flush=True,
    )
    start = time.time()
    losses = model.evaluate(x, batch_size=args.batch_size, verbose=0, return_dict=True)
    result = {
        "dataset": dataset,
        "num_examples": len(x),
        "binarized": binarized,
        **{f"test_{k}": float(v) for k, v in losses.items()},
    }
    declared = capabilities(model)
    if declared.nll_bound:  # VQVAE: reconstruction + prior NLL of the indices
        bound = model.nll_bound(x, batch_size=args.batch_size)
        result.update(nll_bound=float(bound.mean()), prior_nll=float(model.prior_nll(x).mean()))
    elif declared.posterior:  # importance-weighted scoring (VAE family, hierarchies)
        elbo = evaluation.elbo(model, x, batch_size=args.batch_size, seed=args.seed)
        scored, extra_bits, scale = evaluation.scoring_plan(model.likelihood_object, x, args.seed)
        if args.nll_images:
            scored = scored[: args.nll_images]
        log_px = _log_likelihood_with_progress(model, scored, args.num_samples, args.seed)
        dims = math.prod(x.shape[1:])
        if scale is not None:
            result["bits_per_dim_scale"] = scale
        active, variances = evaluation.active_units(model, x)
        result.update(
            elbo=float(elbo.mean()),
            nll=float(-log_px.mean()),
            nll_num_samples=args.num_samples,
            nll_num_images=len(log_px),
            nll_standard_error=(
                float(log_px.std(ddof=1) / math.sqrt(len(log_px))) if len(log_px) > 1 else 0.0
            ),
            bits_per_dim=evaluation.bits_per_dim(-log_px.mean(), dims) + extra_bits,
            # The median beside the mean: a few images the model finds strange can move the mean.
            nll_median=float(-np.median(log_px)),
            bits_per_dim_median=evaluation.bits_per_dim(-np.median(log_px), dims) + extra_bits,
            active_units=active,
            latent_dim=int(len(variances)),
            latent_variances=[float(v) for v in variances],
        )
    if "nll_bound" in result and model.likelihood_object.discrete:  # VQVAE, 8-bit likelihood
        # The data's bits/dim (an upper bound); the `test_reconstruction_bits_per_dim` above
        # leaves out the prior's cost of the codes.
        result.update(
            bits_per_dim=evaluation.bits_per_dim(result["nll_bound"], math.prod(x.shape[1:])),
            bits_per_dim_scale="0-255 (discrete likelihood; upper bound)",
        )
    result["seconds"] = round(time.time() - start, 2)
    runs.write_json(out, result)
    summary = _evaluation_summary(result, len(x), dataset)
    same_images = (
        binarized == config.get("binarize", False)
        and not args.limit
        and args.dataset in (None, config.get("dataset"))
        and args.image_size in (None, config.get("image_size"))
    )
    summary = _against_training(summary, result, Path(args.model), same_images)
    print(summary + f"\nwrote {out}", flush=True)
    return out


def _against_training(summary, result, model_path, same_images) -> str:
    """The summary, with one line saying why its test loss differs from `train`'s in
    metrics.json (where a run folder has one and the two differ)."""
    from vae_keras.app import runs

    metrics = model_path.with_name("metrics.json")
    try:
        trained = float(runs.read_json(metrics)["test"]["loss"]) if metrics.is_file() else None
    except (ValueError, KeyError, TypeError):  # not a run's metrics.json: nothing to compare
        trained = None
    now = result.get("test_loss")
    if trained is None or now is None or f"{trained:.2f}" == f"{now:.2f}":
        return summary
    why = (
        "the loss draws a random z per image, so each scoring differs a little"
        if same_images
        else "other test images than train scored"
    )
    lines = summary.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  test loss"))
    lines.insert(at + 1, f"                   (metrics.json: {trained:.2f}; {why})")
    return "\n".join(lines)


def _evaluation_summary(result, num_images, dataset) -> str:
    lines = [f"{num_images} {dataset} test images:"]
    if "test_loss" in result:
        lines.append(f"  test loss        {result['test_loss']:.2f} nats per image")
    if "elbo" in result:
        lines.append(f"  ELBO             {result['elbo']:.2f} nats")
    if "nll" in result:
        lines.append(
            f"  NLL              {result['nll']:.2f} ± {result['nll_standard_error']:.2f} nats "
            f"(importance sampling, k={result['nll_num_samples']}, "
            f"{result['nll_num_images']} images; ± one standard error)"
        )
        lines.append(
            f"  bits/dim         {result['bits_per_dim']:.3f} (median "
            f"{result['bits_per_dim_median']:.3f}; median NLL {result['nll_median']:.2f} nats)"
        )
        lines.append(f"  active units     {result['active_units']} of {result['latent_dim']}")
    if "nll_bound" in result:  # VQVAE: reconstruction + the prior's NLL of the codes
        lines.append(f"  log p(x) bound   {result['nll_bound']:.2f} nats (-log p(x) <= this)")
        if "bits_per_dim" in result:
            lines.append(f"  bits/dim bound   {result['bits_per_dim']:.3f}")
    lines.append(f"  time             {result['seconds']:.0f} s")
    return "\n".join(lines)


def _log_likelihood_with_progress(model, x, num_samples, seed):
    """`evaluation.log_likelihood` in about ten pieces, with a line of progress after each

    (plain lines, so a log file or a pipe sees them too) and the expected time after the first.
    """
    import numpy as np

    from vae_keras import evaluation

    n = len(x)
    print(
        f"NLL: importance sampling with k={num_samples} on {n} test images "
        f"({n * num_samples:,} decoder passes) ...",
        flush=True,
    )
    piece = max(100, -(-n // 10))
    start, parts = time.time(), []
    for begin in range(0, n, piece):
        parts.append(
            evaluation.log_likelihood(
                model, x[begin : begin + piece], num_samples, seed=seed + begin, verbose=False
            )
        )
        done, elapsed = begin + len(parts[-1]), time.time() - start
        left = elapsed / done * (n - done)
        print(
            f"  {done}/{n} images, {elapsed:.0f} s"
            + (f", about {left:.0f} s left" if left else ""),
            flush=True,
        )
    return np.concatenate(parts)

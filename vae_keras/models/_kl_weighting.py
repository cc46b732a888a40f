"""The KL terms of a hierarchy and what keeps their training stable.

Per group `l` of latents, `KL(q(z_l | x, z_<l) || p(z_l | z_<l))` between two
diagonal Gaussians is exact given the sampled `z_<l`; their sum is the KL of
the ELBO. Training may weigh them differently (the reported `kl_loss` never
does):

- KL warm-up (Sønderby et al., 2016): the KL coefficient ramps 0 -> 1;
- free bits per group (Kingma et al., 2016): a group's batch-mean KL below
  `free_bits` nats costs nothing, so no group collapses early;
- KL balancing (NVAE, Vahdat & Kautz 2020, `utils.kl_balancer`): during
  warm-up each group's KL is weighted by its share of the total, relative to
  its size, so that groups with little information are pushed to carry some.
"""

from keras import ops

from vae_keras.losses import gaussian_kl, gaussian_log_prob  # noqa: F401  (the group KLs' maths)


def warmup_coefficient(step, warmup_steps):
    """`min(1, (step + 1) / warmup_steps)`; 1 without warm-up."""
    if not warmup_steps:
        return ops.convert_to_tensor(1.0)
    return ops.minimum(1.0, (ops.cast(step, "float32") + 1.0) / float(warmup_steps))


def balancing_sizes(group_positions, groups_per_scale):
    """NVAE's `kl_balancer_coeff`: a group's size is its spatial positions over
    the number of groups at its scale, normalised to a minimum of 1."""
    sizes = [p / g for p, g in zip(group_positions, groups_per_scale, strict=True)]
    return [s / min(sizes) for s in sizes]


def weighted_kl(group_kls, coefficient, free_bits=0.0, balance_sizes=None):
    """The KL term that training minimises, from the per-example group KLs.

    Args:
        group_kls: List of `(batch,)` tensors, one per group.
        coefficient: The warm-up coefficient (a scalar tensor in [0, 1]).
        free_bits: Nats per group below which its batch-mean KL is free.
        balance_sizes: NVAE's group sizes (`balancing_sizes`) to balance by
            while `coefficient < 1`; `None` for no balancing.
    """
    means = ops.stack([ops.mean(kl) for kl in group_kls])
    if free_bits:
        means = ops.maximum(means, float(free_bits))
    if balance_sizes is None:
        return coefficient * ops.sum(means)
    shares = ops.abs(ops.stop_gradient(means)) + 0.01
    gamma = shares / ops.convert_to_tensor(balance_sizes, "float32") * ops.sum(shares)
    gamma = gamma / ops.mean(gamma)
    balanced = ops.sum(gamma * means)
    # NVAE balances only during warm-up; afterwards every group counts once.
    return coefficient * ops.where(coefficient < 1.0, balanced, ops.sum(means))

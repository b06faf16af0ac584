"""Names of the loss registries, torch-free: the experiment spec offers exactly these (rlab.spec), and the
registries keyed by them (`training.losses.aggregation.AGGREGATIONS`, `training.losses.kl.KL_ESTIMATORS`)
are checked against them by tests/training/test_losses.py."""

AGGREGATION_NAMES = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm")
NEEDS_NORM_LENGTH = frozenset({"seq-mean-token-sum-norm"})
# k1 = kl, k2 = mse, k3 = low_var_kl: verl's names for the same three estimators.
KL_ESTIMATOR_NAMES = ("k1", "kl", "k2", "mse", "k3", "low_var_kl")

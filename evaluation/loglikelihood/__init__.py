"""Multiple-choice evaluation by log-likelihood of each option (lm-evaluation-harness's `acc`/`acc_norm`);
see docs/loglikelihood.md. Importing this package loads no torch: the scorer lives in `scoring`."""

from evaluation.loglikelihood.formulations import FORMULATIONS, Formulation, get_formulation, is_formulation
from evaluation.loglikelihood.runner import LoglikelihoodConfig, LoglikelihoodRun, evaluate_loglikelihood

__all__ = [
    "FORMULATIONS",
    "Formulation",
    "LoglikelihoodConfig",
    "LoglikelihoodRun",
    "evaluate_loglikelihood",
    "get_formulation",
    "is_formulation",
]

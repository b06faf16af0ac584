"""The "sample effect" of an SFT sample: how much one gradient step on it would raise test accuracy, to
first order. OUR RECONSTRUCTION (research notes algorithms.md §4.3): the re-distillation paper's text
(Chen, Gao & Wu 2025, arXiv 2505.17988) was not available, only its abstract and summaries, which describe
the measure as the inner product of the gradient a training sample induces under the SFT loss with the
gradient of the test objective. Here, for a model π_θ:

    g_i    = ∇θ (1/|y_i|) Σ_t log π_θ(y_i,t | x_i, y_i,<t)             the SFT direction of sample i
                                                                          (token-mean: the SFT loss's)
    g_test = 1/(N·K) Σ_x Σ_k (R(x, y_k) − mean_k R) ∇θ Σ_t log π_θ(y_k,t | x, y_k,<t),  y_k ~ π_θ(·|x)
                                                                          (policy-gradient estimate of
                                                                           ∇θ E_test[accuracy])
    e_i    = ⟨g_i, g_test⟩ / ‖g_test‖   (unnormalised with `normalize=False`)

e_i > 0: an SFT step on sample i moves the model along the direction that raises test accuracy. Full
gradients over every trainable parameter (fine for small models; a 1.5B model needs 2 × 6 GB of float32
vectors); the LoRA / random-projection proxy of the notes is not implemented. See docs/redistillation.md.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from evaluation.benchmarks import Problem
from evaluation.generation.base import SamplingConfig
from evaluation.templates import get_template
from training.batch import RolloutBatch, response_logps_and_entropy
from training.rewards import score_completions
from training.rollouts import TransformersRolloutEngine

TokenIds = Sequence[int]


@dataclass(frozen=True)
class HeldOutRollouts:
    """K sampled responses to each held-out prompt, with their rewards (1 = correct)."""

    prompt_ids: Sequence[TokenIds]
    response_ids: Sequence[Sequence[TokenIds]]  # [prompt][k]
    rewards: Sequence[Sequence[float]]  # [prompt][k]


def _parameters(model: PreTrainedModel) -> list[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def _flat_gradient(model: PreTrainedModel, objective: Tensor) -> Tensor:
    parameters = _parameters(model)
    grads = torch.autograd.grad(objective, parameters, allow_unused=True)
    return torch.cat([
        (g if g is not None else torch.zeros_like(p)).reshape(-1).float()
        for g, p in zip(grads, parameters, strict=True)
    ])


def _response_logps(
    model: PreTrainedModel, prompt: TokenIds, response: TokenIds, pad_token_id: int
) -> Tensor:
    device = next(model.parameters()).device
    batch = RolloutBatch.build([prompt], [response], pad_token_id, device)
    logp, _ = response_logps_and_entropy(model, batch, temperature=1.0)
    return logp[0, : len(response)]


def sample_gradient(
    model: PreTrainedModel, prompt: TokenIds, response: TokenIds, pad_token_id: int
) -> Tensor:
    """g_i: the gradient of the token-mean log-likelihood of `response` after `prompt`, flattened."""
    if not response:
        raise ValueError("a sample needs at least one response token")
    return _flat_gradient(model, _response_logps(model, prompt, response, pad_token_id).mean())


def held_out_gradient(model: PreTrainedModel, rollouts: HeldOutRollouts, pad_token_id: int) -> Tensor:
    """g_test: the group-baselined policy-gradient estimate of ∇ E[reward], averaged over prompts and K."""
    total: Tensor | None = None
    count = 0
    for prompt, responses, rewards in zip(
        rollouts.prompt_ids, rollouts.response_ids, rollouts.rewards, strict=True
    ):
        baseline = sum(rewards) / len(rewards)
        for response, reward in zip(responses, rewards, strict=True):
            count += 1
            if reward == baseline or not response:
                continue  # a zero advantage (or an empty response) adds nothing
            objective = (reward - baseline) * _response_logps(model, prompt, response, pad_token_id).sum()
            gradient = _flat_gradient(model, objective)
            total = gradient if total is None else total + gradient
    if total is None:
        return torch.zeros(sum(p.numel() for p in _parameters(model)))
    return total / count


def sample_effects(
    model: PreTrainedModel,
    samples: Sequence[tuple[TokenIds, TokenIds]],
    g_test: Tensor,
    pad_token_id: int,
    normalize: bool = True,
) -> list[float]:
    """e_i = ⟨g_i, g_test⟩ (/‖g_test‖) for each (prompt ids, response ids) sample. All 0 when g_test is 0
    (every held-out prompt all right or all wrong: no signal)."""
    norm = float(g_test.norm())
    if norm == 0.0:
        return [0.0] * len(samples)
    scale = 1.0 / norm if normalize else 1.0
    return [
        float(sample_gradient(model, prompt, response, pad_token_id) @ g_test) * scale
        for prompt, response in samples
    ]


@dataclass(frozen=True)
class SampleEffectConfig:
    """How g_test is estimated: K samples of the model itself on held-out problems, graded by `outcome`."""

    template: str = field(default="qwen25-math-cot", metadata={"help": "Template of the held-out prompts."})
    rollouts_per_prompt: int = field(default=4, metadata={"help": "K responses per held-out problem."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature of those responses."})
    max_new_tokens: int = field(default=1024, metadata={"help": "Longest held-out response."})
    seed: int = field(default=0, metadata={"help": "Sampling seed."})
    normalize: bool = field(default=True, metadata={"help": "Divide by ‖g_test‖ (a cosine-like scale)."})

    def __post_init__(self) -> None:
        if self.rollouts_per_prompt < 2:
            raise ValueError("rollouts_per_prompt must be >= 2: the baseline is the group mean")


def held_out_rollouts(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    problems: Sequence[Problem],
    config: SampleEffectConfig,
) -> HeldOutRollouts:
    """Sample `model` K times on each problem (prompts tokenised as the trainers tokenise them)."""
    template = get_template(config.template)
    texts = [template.render(problem, tokenizer) for problem in problems]
    sampling = SamplingConfig.for_template(
        config.template,
        temperature=config.temperature,
        max_new_tokens=config.max_new_tokens,
        n=config.rollouts_per_prompt,
        seed=config.seed,
    )
    engine = TransformersRolloutEngine(model, tokenizer)
    try:
        groups = engine.generate(texts, sampling)
    finally:
        engine.close()
    return HeldOutRollouts(
        prompt_ids=[tokenizer(text, add_special_tokens=True)["input_ids"] for text in texts],
        response_ids=[[list(c.token_ids) for c in group] for group in groups],
        rewards=[
            score_completions("outcome", [c.text for c in group], [problem.answer] * len(group))
            for problem, group in zip(problems, groups, strict=True)
        ],
    )

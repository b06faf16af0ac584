"""A rollout engine whose responses depend only on (prompt, response index, step), and the reward the
training tests score them with: runs that must make the same update (data parallel or not, micro-batched or
not, resumed or not) train on exactly the same rollouts. Responses differ in length, so a wrong token-mean
normaliser shows up in the update."""

import random
from collections.abc import Sequence

from evaluation.generation.base import Completion, SamplingConfig
from training.algorithms.grpo.trainer import RANK_SEED_STRIDE


def contains_answer(completion_text: str, gold: str, **kwargs: object) -> float:
    return 1.0 if gold in completion_text.split() else 0.0


class ScriptedEngine:
    """Responses of 1-6 digit words, a function of (prompt, response index, step) only: the same in every
    process and after a resume (the step is recovered from the sampling seed)."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer

    def generate(self, prompts: Sequence[str], sampling: SamplingConfig) -> list[list[Completion]]:
        step = sampling.seed % RANK_SEED_STRIDE
        return [[self._completion(prompt, j, step) for j in range(sampling.n)] for prompt in prompts]

    def _completion(self, prompt: str, j: int, step: int) -> Completion:
        rng = random.Random(f"{prompt}|{j}|{step}")
        text = " ".join(rng.choice("0123456789") for _ in range(rng.randint(1, 6)))
        ids = tuple(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        return Completion(text=text, n_tokens=len(ids), finish_reason="stop", token_ids=ids)

    def sync_weights(self) -> None:
        pass

    def close(self) -> None:
        pass

"""Peak resident memory of one GRPO step, in a fresh process: `python -m tests.training.memory_probe ROWS
MICRO_ROWS` prints {"peak_mb": ...}, the peak over the step alone (Linux: VmHWM, reset before the step by
/proc/self/clear_refs). Sizes make activations dominate: hidden 256, responses of 128 tokens, a vocabulary of
8192 whose float32 logits the chunked head never holds for more than 1024 positions."""

import json
import sys
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from evaluation.generation.base import Completion, SamplingConfig
from tests.models import make_tokenizer
from tests.training.scripted import contains_answer
from training.algorithms.grpo.config import GRPOConfig
from training.algorithms.grpo.trainer import GRPOTrainer
from training.examples import TrainingExample
from training.rewards import REWARDS

GROUP = 8
RESPONSE_TOKENS = 128


class LongResponses:
    """Every response: RESPONSE_TOKENS digit tokens."""

    def __init__(self, tokenizer) -> None:
        self.ids = tuple(tokenizer("0 1 2 3 4 5 6 7", add_special_tokens=False)["input_ids"] * 16)

    def generate(self, prompts, sampling: SamplingConfig) -> list[list[Completion]]:
        completion = Completion(
            text="0", n_tokens=RESPONSE_TOKENS, finish_reason="length", token_ids=self.ids
        )
        return [[completion] * sampling.n for _ in prompts]

    def sync_weights(self) -> None:
        pass

    def close(self) -> None:
        pass


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(rows: int, micro_rows: int) -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    REWARDS["probe-contains-answer"] = contains_answer
    tokenizer = make_tokenizer()
    config = LlamaConfig(
        vocab_size=8192,
        hidden_size=256,
        intermediate_size=512,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    prompts = rows // GROUP
    examples = [TrainingExample(i, f"What is {i} + 1 ?", str(i + 1)) for i in range(prompts)]
    trainer = GRPOTrainer(
        LlamaForCausalLM(config),
        tokenizer,
        examples,
        GRPOConfig(
            template="one-shot-boxed",
            batch_size=prompts,
            rollouts_per_prompt=GROUP,
            max_response_length=RESPONSE_TOKENS,
            temperature=1.0,
            reward="probe-contains-answer",
            steps=1,
            micro_batch_size=micro_rows,
            logprob_chunk_tokens=1024,
        ),
        rollout_engine=LongResponses(tokenizer),
    )
    Path("/proc/self/clear_refs").write_text("5")
    trainer.train_step()
    print(json.dumps({"peak_mb": peak_mb()}))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))

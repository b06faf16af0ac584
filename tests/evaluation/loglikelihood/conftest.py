"""A tiny random Llama with the real SmolLM2 tokenizer (byte-level BPE, so spaces and merges across the
context/continuation boundary behave as in a real model), in float64 so that sums compare tightly."""

import pytest
import torch
from transformers import AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from tests.evaluation.generation.conftest import smollm2_installed, smollm2_tokenizer_dir  # noqa: F401
from tests.models import random_model


@pytest.fixture(scope="session")
def bpe_tokenizer(smollm2_tokenizer_dir) -> PreTrainedTokenizerBase:  # noqa: F811
    return AutoTokenizer.from_pretrained(smollm2_tokenizer_dir)


@pytest.fixture(scope="session")
def tiny_lm(bpe_tokenizer) -> PreTrainedModel:
    return random_model(bpe_tokenizer, seed=3).to(torch.float64).eval()

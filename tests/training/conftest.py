"""The word-level tokenizer of the tiny test models (tests/models.py), once per module."""

import pytest
from transformers import PreTrainedTokenizerFast

from tests.models import make_tokenizer


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    return make_tokenizer()

"""The batched, prefix-cached scorer against the plainest possible computation: each (context, continuation)
pair tokenised as lm-evaluation-harness does and run alone through the model, log-softmax summed."""

import pytest
import torch

from evaluation.loglikelihood.requests import ChoiceRequest
from evaluation.loglikelihood.scoring import ScorerOptions, TransformersScorer, encode_requests

REQUESTS = [
    ChoiceRequest("Question: Which gas do plants take in?\nAnswer:", (" oxygen", " carbon dioxide", " CO2")),
    ChoiceRequest("Question: 2+2=\nAnswer:", (" 4", " four", " 22 (twenty-two)")),
    ChoiceRequest("Pick one \nAnswer: ", ("A", "B")),  # trailing whitespace moves to the continuation
    ChoiceRequest("A much longer context, " * 6 + "so that the batch pads the others:", (" yes", " no")),
]


def plain_loglikelihood(model, tokenizer, context: str, continuation: str) -> tuple[float, bool]:
    """lm-evaluation-harness's tokenisation rules, written out, and one unbatched forward pass."""
    if context == "":
        prefix = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        context_ids, continuation_ids = [prefix], tokenizer.encode(continuation, add_special_tokens=False)
    else:
        spaces = len(context) - len(context.rstrip())
        if spaces:
            context, continuation = context[:-spaces], context[-spaces:] + continuation
        context_ids = tokenizer.encode(context)
        continuation_ids = tokenizer.encode(context + continuation)[len(context_ids) :]
    ids = torch.tensor([context_ids + continuation_ids])
    with torch.no_grad():
        logprobs = torch.log_softmax(model(ids[:, :-1]).logits[0, -len(continuation_ids) :], -1)
    targets = torch.tensor(continuation_ids)
    chosen = logprobs.gather(1, targets[:, None])[:, 0]
    return float(chosen.sum()), bool((logprobs.argmax(-1) == targets).all())


@pytest.mark.parametrize(
    "options",
    [ScorerOptions(), ScorerOptions(max_batch_tokens=1), ScorerOptions(max_batch_questions=2)],
    ids=["one-batch", "one-question-per-batch", "two-per-batch"],
)
def test_scores_match_one_pair_at_a_time(tiny_lm, bpe_tokenizer, options):
    scores = TransformersScorer(tiny_lm, bpe_tokenizer, options).score(REQUESTS)
    for request, option_scores in zip(REQUESTS, scores, strict=True):
        assert len(option_scores) == len(request.continuations)
        for continuation, score in zip(request.continuations, option_scores, strict=True):
            logprob, greedy = plain_loglikelihood(tiny_lm, bpe_tokenizer, request.context, continuation)
            assert score.logprob == pytest.approx(logprob, abs=1e-9)
            assert score.is_greedy == greedy
            assert score.logprob < 0


def test_unconditional_requests_use_the_bos_or_eos_token_as_context(tiny_lm, bpe_tokenizer):
    request = ChoiceRequest("", (" oxygen", " carbon dioxide"))
    scores = TransformersScorer(tiny_lm, bpe_tokenizer).score([request])[0]
    for continuation, score in zip(request.continuations, scores, strict=True):
        assert score.logprob == pytest.approx(
            plain_loglikelihood(tiny_lm, bpe_tokenizer, "", continuation)[0]
        )


def test_a_greedy_continuation_is_recognised(tiny_lm, bpe_tokenizer):
    context = "Question: what comes next?\nAnswer: the"
    ids = bpe_tokenizer(context, return_tensors="pt")["input_ids"]
    generated = tiny_lm.generate(ids, max_new_tokens=3, do_sample=False, pad_token_id=0)[0, ids.shape[1] :]
    greedy_text = bpe_tokenizer.decode(generated)
    request = ChoiceRequest(context, (greedy_text, " something else entirely"))
    if bpe_tokenizer.encode(context + greedy_text)[ids.shape[1] :] != generated.tolist():
        pytest.skip("the greedy tokens do not re-encode to themselves after the context")
    assert encode_requests(bpe_tokenizer, [request])[0].continuations[0] == generated.tolist()
    scores = TransformersScorer(tiny_lm, bpe_tokenizer).score([request])[0]
    assert scores[0].is_greedy
    assert scores[0].n_tokens == 3


def test_contexts_too_long_for_the_model_are_refused_with_their_length(tiny_lm, bpe_tokenizer):
    long_context = "word " * 600
    with pytest.raises(ValueError, match=r"request 0: context plus continuation is \d+ tokens, more than"):
        TransformersScorer(tiny_lm, bpe_tokenizer).score([ChoiceRequest(long_context, (" x",))])


def test_requests_without_continuations_are_refused(tiny_lm, bpe_tokenizer):
    with pytest.raises(ValueError, match="request 0 has no continuations"):
        TransformersScorer(tiny_lm, bpe_tokenizer).score([ChoiceRequest("ctx", ())])


def test_the_scorer_follows_the_generation_backend(tiny_lm, bpe_tokenizer):
    from evaluation.generation.transformers_backend import TransformersBackend
    from evaluation.loglikelihood.backends import scorer_for

    scorer = scorer_for(TransformersBackend(tiny_lm, bpe_tokenizer), bpe_tokenizer)
    assert isinstance(scorer, TransformersScorer) and scorer.model is tiny_lm

    class Echo:
        name = "echo"

    with pytest.raises(
        ValueError, match="no log-likelihood scorer for the 'echo' backend; known: transformers, vllm"
    ):
        scorer_for(Echo(), bpe_tokenizer)

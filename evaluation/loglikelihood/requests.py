"""What a log-likelihood scorer takes and gives back (no torch here: the web app and specs import it)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ChoiceRequest:
    """One question: a context shared by every option and one continuation per option."""

    context: str
    continuations: tuple[str, ...]


@dataclass(frozen=True)
class ContinuationScore:
    logprob: float  # summed over the continuation's tokens
    is_greedy: bool  # every continuation token is the argmax of its position
    n_tokens: int

"""Normalised-text fingerprints of problems, to find training examples that are benchmark problems.

A problem's text is normalised (Unicode NFKC, lower case, LaTeX spacing and delimiters dropped, `\\dfrac` /
`\\tfrac` read as `\\frac`, split into words, numbers and single symbols), then fingerprinted twice:

exact   a hash of the normalised text: the same problem whatever its spacing, case or `$…$` markup;
ngrams  the hashes of its word 5-grams (the whole text when shorter). A benchmark problem is a *near
        duplicate* of a training example when at least NEAR_DUPLICATE_CONTAINMENT of the benchmark
        problem's 5-grams occur in the example: that catches a problem inside a longer prompt (verl data
        appends "Let's think step by step…") and small edits, and not a problem that only shares its
        phrasing with another ("What is 12 + 7?" vs "What is 12 + 8?" share none of their 5-grams).

The measure is the containment of Broder (1997), "On the resemblance and containment of documents", on word
shingles; the 13-gram overlap of GPT-3's contamination study (Brown et al. 2020, appendix C) is the same idea
with longer shingles for longer documents.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Literal

NGRAM = 5
NEAR_DUPLICATE_CONTAINMENT = 0.8

OverlapKind = Literal["exact", "near"]

_DROPPED = re.compile(r"\\left|\\right|\\displaystyle|\\[,;:! ]|\\\(|\\\)|\\\[|\\\]|\$")
_FRACTIONS = re.compile(r"\\[dt]frac")
_TOKEN = re.compile(r"\\[a-z]+|[a-z]+|\d+(?:\.\d+)?|\S")


def tokens(text: str) -> list[str]:
    """The normalised text's tokens: LaTeX commands, words, numbers, single symbols."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _FRACTIONS.sub(r"\\frac", _DROPPED.sub(" ", text))
    return _TOKEN.findall(text)


def normalise(text: str) -> str:
    return " ".join(tokens(text))


def _hash32(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big")


@dataclass(frozen=True)
class Fingerprint:
    exact: str  # 32 hex digits of the normalised text's hash
    ngrams: frozenset[int]  # 32-bit hashes of its word n-grams

    @classmethod
    def of(cls, text: str) -> Fingerprint:
        words = tokens(text)
        exact = hashlib.blake2b(" ".join(words).encode(), digest_size=16).hexdigest()
        if len(words) < NGRAM:
            return cls(exact, frozenset({_hash32(" ".join(words))}) if words else frozenset())
        shingles = (" ".join(words[i : i + NGRAM]) for i in range(len(words) - NGRAM + 1))
        return cls(exact, frozenset(_hash32(s) for s in shingles))


def containment(inner: Fingerprint, outer: Fingerprint) -> float:
    """The share of `inner`'s n-grams that occur in `outer` (0 when `inner` has none)."""
    return len(inner.ngrams & outer.ngrams) / len(inner.ngrams) if inner.ngrams else 0.0


class BenchmarkIndex:
    """Benchmark problems by key, to find those a training example holds, exactly or as a near duplicate."""

    def __init__(self, problems: Iterable[tuple[Hashable, Fingerprint]]):
        self._exact: dict[str, list[Hashable]] = {}
        self._by_ngram: dict[int, list[Hashable]] = {}
        self._sizes: dict[Hashable, int] = {}
        for key, fingerprint in problems:
            self._exact.setdefault(fingerprint.exact, []).append(key)
            self._sizes[key] = len(fingerprint.ngrams)
            for ngram in fingerprint.ngrams:
                self._by_ngram.setdefault(ngram, []).append(key)

    def __len__(self) -> int:
        return len(self._sizes)

    def matches(self, example: Fingerprint) -> dict[Hashable, OverlapKind]:
        """The benchmark problems `example` holds: its exact text, or ≥ NEAR_DUPLICATE_CONTAINMENT of a
        problem's n-grams."""
        found: dict[Hashable, OverlapKind] = dict.fromkeys(self._exact.get(example.exact, ()), "exact")
        shared = Counter(key for ngram in example.ngrams for key in self._by_ngram.get(ngram, ()))
        for key, count in shared.items():
            if key not in found and count >= NEAR_DUPLICATE_CONTAINMENT * self._sizes[key]:
                found[key] = "near"
        return found

    def matched_by(self, examples: Iterable[Fingerprint]) -> dict[Hashable, OverlapKind]:
        """Every benchmark problem some example holds; "exact" wins over "near"."""
        found: dict[Hashable, OverlapKind] = {}
        for example in examples:
            for key, kind in self.matches(example).items():
                if found.get(key) != "exact":
                    found[key] = kind
        return found

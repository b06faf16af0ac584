"""What reports say about a run's training data: the examples it trained on with the labels that were wrong
(realized label noise beside the nominal fraction), and the benchmark problems among its training examples
that its evaluations left out or flagged."""

from __future__ import annotations

from collections.abc import Iterable

from rlab.catalog.models import Example
from rlab.experiments.models import Run
from rlab.experiments.training_data import CatalogLookups, TrainingData, training_data
from rlab.results.models import EvalResult, overlap_note

MAX_EXAMPLES_LISTED = 8


def _label(value) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def _example_text(example: Example) -> str:
    name = f"#{example.index}" + (f" ({example.pi_name})" if example.pi_name else "")
    if example.is_noisy:
        return f"{name} label {_label(example.answer)} (wrong; was {_label(example.original_answer)})"
    return name


def _noise_text(data: TrainingData) -> str:
    if data.label_noise is None:
        return ""
    if data.variant_missing:
        return f" — label noise {data.label_noise:.0%} asked for; its variant is not made yet"
    realized = data.dataset.realized_noise_percent if data.dataset is not None else None
    dataset = f", realized {realized:.1f}% of the dataset's rows" if realized is not None else ""
    return f" — {data.n_noisy} of {data.n_examples} labels wrong (nominal {data.label_noise:.0%}{dataset})"


def describe(data: TrainingData) -> str:
    """One line, e.g. "arith-noise0.6-seed0 #0 label 17 (wrong; was 12), #5 — 1 of 2 labels wrong (nominal
    60%)"."""
    if data.dataset is None:
        own = "nothing known from the catalogue"
    elif data.examples is None:
        own = f"all {data.n_examples} examples of {data.dataset.name}"
    else:
        listed = ", ".join(_example_text(e) for e in data.examples[:MAX_EXAMPLES_LISTED])
        more = len(data.examples) - MAX_EXAMPLES_LISTED
        own = f"{data.dataset.name} {listed}" + (f", … {more} more" if more > 0 else "")
    text = own + _noise_text(data)
    for upstream in data.upstream:
        text += f"; from run {upstream.run.name}'s checkpoint, trained on {describe(upstream)}"
    return text


def trained_on(runs: Iterable[Run]) -> dict[int, str]:
    """What each run trained on, by run id (the catalogue read once for all of them)."""
    runs = list(runs)
    lookups = CatalogLookups.for_runs(runs)
    return {run.pk: describe(training_data(run, lookups=lookups)) for run in runs}


def overlap_notes(result_ids: Iterable[int]) -> dict[int, str]:
    """By EvalResult id: "arith (1 training problem excluded)" for evaluations with training problems in
    their benchmark; one query."""
    # Only the overlap record of the evaluations that have one: not every evaluation's whole metrics.
    results = EvalResult.objects.filter(pk__in=set(result_ids), metrics__training_overlap__isnull=False)
    return {
        pk: f"{key}{note}"
        for pk, key, record in results.values_list("pk", "benchmark__key", "metrics__training_overlap")
        if isinstance(record, dict) and (note := overlap_note(record))
    }

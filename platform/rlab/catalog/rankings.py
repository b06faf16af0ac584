"""Storing π rankings on a dataset's examples (Ranking + RankEntry, mirrored on Example)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from rlab.catalog.models import Dataset, Example, RankEntry, Ranking


class RankingMismatch(ValueError):
    """The ranking names examples the dataset does not have."""


@transaction.atomic
def store_ranking(
    dataset: Dataset, ranked: Sequence, name: str, source: str = "", source_run=None
) -> Ranking:
    """Save `ranked` (rlab.catalog.curation.ranking.RankedExample, keys = Example.index) as the dataset's
    latest ranking: a Ranking with one entry per example, and pi_rank / historical_variance on the
    examples."""
    examples = {e.index: e for e in dataset.examples.all()}
    missing = [r.key for r in ranked if int(r.key) not in examples]
    if missing:
        raise RankingMismatch(
            f"{len(missing)} ranked examples are not in dataset {dataset.name!r} (first: {missing[:5]})"
        )
    ranking, _ = Ranking.objects.update_or_create(
        dataset=dataset, name=name, defaults={"source": source, "source_run": source_run}
    )
    ranking.entries.all().delete()
    RankEntry.objects.bulk_create(
        RankEntry(
            ranking=ranking,
            example=examples[int(r.key)],
            pi=r.pi,
            variance=r.variance,
            mean_accuracy=r.mean_acc,
            n_epochs=r.n_epochs,
        )
        for r in ranked
    )
    dataset.examples.update(pi_rank=None, historical_variance=None)
    for r in ranked:
        example = examples[int(r.key)]
        example.pi_rank, example.historical_variance = r.pi, r.variance
    Example.objects.bulk_update([examples[int(r.key)] for r in ranked], ["pi_rank", "historical_variance"])
    return ranking


def resolve_examples(
    dataset: Dataset, refs: Sequence[str | int], ranking_name: str | None = None
) -> list[Example]:
    """Examples named by π rank ("pi13", in the named or latest ranking) or by index, in the given order."""
    ranking = (dataset.rankings.filter(name=ranking_name) if ranking_name else dataset.rankings).first()
    found = []
    for ref in refs:
        if isinstance(ref, str) and ref.startswith("pi"):
            if ranking is None:
                raise LookupError(f"dataset {dataset.name!r} has no ranking to name {ref}")
            entry = ranking.entries.select_related("example").filter(pi=int(ref[2:])).first()
            if entry is None:
                raise LookupError(f"ranking {ranking.name!r} of {dataset.name!r} has no {ref}")
            found.append(entry.example)
        else:
            example = dataset.examples.filter(index=int(ref)).first()
            if example is None:
                raise LookupError(f"dataset {dataset.name!r} has no example with index {ref}")
            found.append(example)
    return found


def copy_ranking(ranking: Ranking, dataset: Dataset) -> Ranking:
    """The same ranking on another dataset with the same example indexes (a derived variant)."""
    examples = {e.index: e for e in dataset.examples.all()}
    copy = Ranking.objects.create(
        dataset=dataset, name=ranking.name, source=ranking.source, source_run=ranking.source_run
    )
    RankEntry.objects.bulk_create(
        RankEntry(
            ranking=copy,
            example=examples[entry.example.index],
            pi=entry.pi,
            variance=entry.variance,
            mean_accuracy=entry.mean_accuracy,
            n_epochs=entry.n_epochs,
        )
        for entry in ranking.entries.select_related("example")
    )
    return copy


def history_of_run(run) -> list[tuple[int, list[float]]]:
    """Each training example's accuracy per epoch in `run` (EpochAccuracy rows), in example-index order:
    the input of the historical variance score."""
    history: dict[int, list[float]] = {}
    for row in run.epoch_accuracies.order_by("epoch"):
        for key, accuracy in row.accuracy.items():
            history.setdefault(int(key), []).append(accuracy)
    return sorted(history.items())


def store_ranking_of_run(run, name: str | None = None) -> Ranking:
    """Rank the run's training dataset by its historical variance and store it with the run as source."""
    from rlab.catalog.curation.ranking import rank_examples

    history = history_of_run(run)
    if not history:
        raise RankingMismatch(f"run {run.name} has no per-epoch example accuracies to rank by")
    data = run.config["data"]
    dataset = Dataset.objects.named_for(run.team, data["dataset"])
    if dataset is None:
        raise RankingMismatch(f"the dataset {data['dataset']!r} of run {run.name} no longer exists")
    return store_ranking(
        dataset,
        rank_examples(history),
        name or f"historical-variance-{run.name}",
        source=f"run:{run.name}",
        source_run=run,
    )

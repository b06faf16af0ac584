"""Putting the data-parallel ranks' results of a step together, so that rank 0 reports what one process
running the whole batch would (docs/distributed.md). With one rank every function returns its input."""

from dataclasses import dataclass

from training.callbacks import Metrics


@dataclass(frozen=True)
class RankRollouts:
    """One rank's rollouts of a step, sent to every rank so that metrics and per-example accuracy cover
    the whole rollout batch. `prompts` index the step's batch; each has G rollouts, in order."""

    prompts: list[int]
    texts: list[str]
    lengths: list[int]
    finish_reasons: list[str | None]
    rewards: list[float]
    correct: list[float]
    extra_metrics: Metrics  # _build_rollout's, per prompt
    generation_seconds: float


def in_batch_order(ranks: list[RankRollouts], group: int) -> RankRollouts:
    """The ranks' rollouts as one record in the batch's prompt order (a single process's is that already).
    Per-prompt extra metrics are averaged weighted by the ranks' prompt counts; generation_seconds is the
    slowest rank's."""
    if len(ranks) == 1:
        return ranks[0]
    slots = sorted(
        (prompt, rank, position)
        for rank, part in enumerate(ranks)
        for position, prompt in enumerate(part.prompts)
    )

    def ordered(field: str) -> list:
        return [
            value
            for _, rank, position in slots
            for value in getattr(ranks[rank], field)[position * group : (position + 1) * group]
        ]

    counted = [(len(part.prompts), part.extra_metrics) for part in ranks if part.prompts]
    total = sum(count for count, _ in counted)
    return RankRollouts(
        prompts=[prompt for prompt, _, _ in slots],
        texts=ordered("texts"),
        lengths=ordered("lengths"),
        finish_reasons=ordered("finish_reasons"),
        rewards=ordered("rewards"),
        correct=ordered("correct"),
        extra_metrics={
            name: sum(count * float(metrics[name]) for count, metrics in counted) / total
            for name in counted[0][1]
        },
        generation_seconds=max(part.generation_seconds for part in ranks),
    )


def sum_over_ranks(
    ranks: list[tuple[list[dict[str, float]], float, float]],
) -> tuple[list[dict[str, float]], float, float]:
    """Each optimizer step's weighted metric sums, and the entropy sums, added over the ranks (the weights
    are shares of the global mini-batch). grad_norm is taken once: after the all-reduce every rank has it."""
    if len(ranks) == 1:
        return ranks[0]
    updates = []
    for k, own in enumerate(ranks[0][0]):
        names = dict.fromkeys(name for updates_of_rank, _, _ in ranks for name in updates_of_rank[k])
        merged = {name: sum(part[0][k].get(name, 0.0) for part in ranks) for name in names}
        merged["grad_norm"] = own["grad_norm"]
        updates.append(merged)
    return updates, sum(part[1] for part in ranks), sum(part[2] for part in ranks)

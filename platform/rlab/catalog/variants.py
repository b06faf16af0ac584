"""Label-noise variants: a derived Dataset whose examples carry corrupted labels (the 1-shot paper's rule,
rlab.catalog.curation.label_noise) beside their originals. The same parent, fraction and seed give the same
variant, so asking twice returns the existing one."""

from __future__ import annotations

from django.db import transaction

from rlab.catalog.models import Dataset, Example
from rlab.catalog.rankings import copy_ranking
from rlab.teams.models import Team

NOISE_RULE = "one-shot-rlvr-label-noise"


def variant_name(parent: Dataset, fraction: float, seed: int, scope: str = "all") -> str:
    numeric = "-numeric" if scope == "numeric" else ""
    return f"{parent.name}-noise{fraction:g}{numeric}-seed{seed}"


@transaction.atomic
def label_noise_variant(
    parent: Dataset, fraction: float, seed: int, *, team: Team, user=None, scope: str = "all"
) -> Dataset:
    """`team`'s label-noise variant of the parent for (fraction, seed), created on first use.

    The variant belongs to the team that asked for it: a variant of a shared dataset is that team's own
    (other teams make their own), and a team's dataset only has variants in that team."""
    from rlab.catalog.curation.label_noise import NoiseConfig, make_noisy_rows, summarize

    if parent.team_id not in (None, team.pk):
        raise ValueError(f"{parent.name} belongs to another team; {team.slug} cannot derive from it")
    derivation = {"rule": NOISE_RULE, "fraction": fraction, "seed": seed, "scope": scope}
    existing = Dataset.objects.filter(
        parent=parent,
        team=team,
        derivation__rule=NOISE_RULE,
        derivation__fraction=fraction,
        derivation__seed=seed,
    )
    # Variants made before scopes existed corrupted numeric labels only.
    existing = (
        existing.filter(derivation__scope=scope)
        if scope == "all"
        else existing.exclude(derivation__scope="all")
    ).first()
    if existing is not None:
        return existing
    examples = list(parent.examples.order_by("index"))
    # Labels are corrupted from each example's original answer, so a variant of a variant stays one step away.
    rows = [{"answer": e.answer if e.original_answer is None else e.original_answer} for e in examples]
    noisy = make_noisy_rows(rows, NoiseConfig(fraction=fraction, seed=seed, scope=scope))
    summary = summarize(noisy)
    share = "of its rows" if scope == "all" else "of its numeric labels"
    variant = Dataset.objects.create(
        team=team,
        name=variant_name(parent, fraction, seed, scope),
        kind=parent.kind,
        source="derived",
        parent=parent,
        created_by=user,
        licence_note=parent.licence_note,
        derivation={
            **derivation,
            "n_corrupted": summary.n_corrupted,
            "n_rows": summary.n_rows,
            "realized_rate": summary.realized_rate,
        },
        description=f"{parent.name} with {fraction:.0%} {share} given a wrong label (seed {seed}): "
        f"{summary.n_corrupted} of {summary.n_rows} rows wrong, a realized error rate of "
        f"{summary.realized_rate:.1%}.",
    )
    Example.objects.bulk_create(
        Example(
            dataset=variant,
            index=e.index,
            problem=e.problem,
            answer=row["answer"],
            original_answer=row["original_answer"],
            solution=e.solution,
            subject=e.subject,
            level=e.level,
            category=e.category,
            choices=e.choices,
            pi_rank=e.pi_rank,
            historical_variance=e.historical_variance,
            metadata=e.metadata,
        )
        for e, row in zip(examples, noisy, strict=True)
    )
    for ranking in parent.rankings.all():  # π names keep meaning the same problems in the variant
        copy_ranking(ranking, variant)
    return variant

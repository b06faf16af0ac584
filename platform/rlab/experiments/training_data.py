"""What a run was trained on, read from its spec and the catalogue: for its evaluations (benchmark problems
among its training examples are left out or flagged) and for reports (which examples, which labels wrong).

A run's own examples are its `data` block's: the catalog dataset, or its label-noise variant once the run
made it (workers.inputs creates it at the start of training), the examples named (π ranks or indices) or
all of them. A re-distillation without a `data` block trains on its source run's prompts. A run that
starts from another run's checkpoint (`model.id: run:NAME`) was also trained, through that checkpoint, on
everything that run was trained on: `upstream` follows the chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet
from pydantic import ValidationError

from evaluation.fingerprints import Fingerprint
from rlab.catalog.models import Dataset, Example
from rlab.catalog.rankings import resolve_examples
from rlab.catalog.variants import NOISE_RULE
from rlab.experiments.models import Run
from rlab.spec import SpecV1, parse_run_ref

MAX_UPSTREAM = 8  # run:NAME chains longer than this are cut (a cycle cannot be submitted, but be bounded)


@dataclass
class TrainingData:
    """One run's own training examples (`examples` None: the whole dataset) and its upstream runs'."""

    run: Run
    dataset: Dataset | None  # the dataset trained on: the label-noise variant when there is one
    examples: list[Example] | None
    label_noise: float | None = None  # the nominal fraction the spec asked for
    variant_missing: bool = False  # label noise asked for, but the variant is not made yet
    upstream: list[TrainingData] = field(default_factory=list)

    def rows(self) -> list[Example] | QuerySet:
        if self.dataset is None:
            return []
        return self.examples if self.examples is not None else self.dataset.examples.all()

    @property
    def n_examples(self) -> int:
        rows = self.rows()
        return len(rows) if isinstance(rows, list) else rows.count()

    @property
    def n_noisy(self) -> int | None:
        """How many of the examples trained on carry a wrong label (None when no noise was asked for or its
        variant is not made yet)."""
        if self.label_noise is None or self.variant_missing:
            return None
        if self.examples is not None:
            return sum(e.is_noisy for e in self.examples)
        return sum(e.is_noisy for e in self.rows().only("answer", "original_answer"))

    def fingerprints(self) -> list[Fingerprint]:
        """Every example's fingerprint, the upstream runs' included."""
        rows = self.rows()
        if isinstance(rows, QuerySet):
            rows = rows.only("problem", "fingerprint", "ngrams")
        own = [row.text_fingerprint for row in rows]
        return own + [f for data in self.upstream for f in data.fingerprints()]


def _noise_variant(dataset: Dataset, fraction: float, seed: int) -> Dataset | None:
    return Dataset.objects.filter(
        parent=dataset, derivation__rule=NOISE_RULE, derivation__fraction=fraction, derivation__seed=seed
    ).first()


def _own_data(run: Run, spec: SpecV1, depth: int) -> TrainingData:
    data = spec.data
    if data is None:
        source = _redistill_source(run, spec)
        if source is None or depth >= MAX_UPSTREAM:
            return TrainingData(run, None, [])
        inherited = training_data(source, depth + 1)
        return TrainingData(run, inherited.dataset, inherited.examples, inherited.label_noise)
    dataset = Dataset.objects.named_for(run.team, data.dataset)
    if dataset is None:
        return TrainingData(run, None, [])
    noise = data.label_noise.fraction if data.label_noise and data.label_noise.fraction > 0 else None
    missing = False
    if noise is not None:
        variant = _noise_variant(dataset, noise, data.label_noise.seed)
        missing = variant is None
        dataset = variant or dataset
    try:
        examples = resolve_examples(dataset, data.examples, data.ranking) if data.examples else None
    except LookupError:
        examples = []
    return TrainingData(run, dataset, examples, noise, missing)


def _redistill_source(run: Run, spec: SpecV1) -> Run | None:
    block = getattr(spec.algorithm, "redistill", None)
    if block is None:
        return None
    return Run.objects.filter(team=run.team, name=block.source_run).first()


def training_data(run: Run, depth: int = 0) -> TrainingData:
    """What `run` was trained on (see the module's docstring); nothing known for a config that is no valid
    spec (any more)."""
    try:
        spec = SpecV1.model_validate(run.config)
    except ValidationError:
        return TrainingData(run, None, None)
    own = _own_data(run, spec, depth)
    ref = parse_run_ref(spec.model.id)
    if ref is not None and depth < MAX_UPSTREAM:
        source = Run.objects.filter(team=run.team, name=ref.name).first()
        if source is not None:
            own.upstream.append(training_data(source, depth + 1))
    return own

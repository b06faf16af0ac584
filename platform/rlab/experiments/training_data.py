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
from rlab.spec import DataSpec, parse_run_ref

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


@dataclass
class CatalogLookups:
    """The catalogue reads of training_data, each done once: runs of one sweep share a dataset, its
    label-noise variants and its ranking, so describing a whole sweep costs a few queries, not a few per
    run."""

    datasets: dict[tuple[int, str], Dataset | None] = field(default_factory=dict)
    variants: dict[tuple[int, float, int], Dataset | None] = field(default_factory=dict)
    pis: dict[tuple[int, str | None], dict[int, Example] | None] = field(default_factory=dict)
    runs: dict[tuple[int, str], Run | None] = field(default_factory=dict)
    wanted_pis: set[int] | None = None  # the π ranks the runs name, read together (None: read as named)

    @classmethod
    def for_runs(cls, runs: list[Run]) -> CatalogLookups:
        """Lookups that read the π entries every one of `runs` names in one query."""
        wanted = {
            int(str(ref)[2:])
            for run in runs
            for ref in ((run.config.get("data") or {}).get("examples") or [])
            if str(ref).startswith("pi") and str(ref)[2:].isdecimal()
        }
        return cls(wanted_pis=wanted)

    def dataset(self, team_id: int, name: str) -> Dataset | None:
        if (team_id, name) not in self.datasets:
            self.datasets[team_id, name] = Dataset.objects.named_for(team_id, name)
        return self.datasets[team_id, name]

    def variant(self, dataset: Dataset, fraction: float, seed: int) -> Dataset | None:
        key = (dataset.pk, fraction, seed)
        if key not in self.variants:
            derivation = {"rule": NOISE_RULE, "fraction": fraction, "seed": seed}
            self.variants[key] = Dataset.objects.filter(
                parent=dataset, **{f"derivation__{name}": value for name, value in derivation.items()}
            ).first()
        return self.variants[key]

    def run(self, team_id: int, name: str) -> Run | None:
        if (team_id, name) not in self.runs:
            self.runs[team_id, name] = Run.objects.filter(team_id=team_id, name=name).first()
        return self.runs[team_id, name]

    def examples(self, dataset: Dataset, refs: list, ranking: str | None) -> list[Example]:
        """resolve_examples, with every π of the ranking read in one query the first time (a π sweep names
        one or a few π per run); index references go through resolve_examples."""
        if not all(isinstance(ref, str) and ref.startswith("pi") and ref[2:].isdecimal() for ref in refs):
            return resolve_examples(dataset, refs, ranking)
        key = (dataset.pk, ranking)
        if key not in self.pis:
            chosen = (dataset.rankings.filter(name=ranking) if ranking else dataset.rankings).first()
            entries = chosen.entries.select_related("example") if chosen else None
            if entries is not None and self.wanted_pis is not None:
                entries = entries.filter(pi__in=self.wanted_pis)
            self.pis[key] = {entry.pi: entry.example for entry in entries} if entries is not None else None
        by_pi = self.pis[key]
        if by_pi is None or any(int(ref[2:]) not in by_pi for ref in refs):
            return resolve_examples(dataset, refs, ranking)  # raises LookupError naming what is missing
        return [by_pi[int(ref[2:])] for ref in refs]


@dataclass(frozen=True)
class TrainingSpec:
    """The parts of a run's spec that say what it trained on, validated alone: a report describes every
    run of a sweep, and validating each whole spec would cost more than the rest of the page."""

    data: DataSpec | None
    source_run: str | None  # a re-distillation's source run
    model_id: str

    @classmethod
    def of(cls, config: dict) -> TrainingSpec:
        """Raises ValidationError (or ValueError) for a config that is no valid spec (any more)."""
        data = config.get("data")
        source = ((config.get("algorithm") or {}).get("redistill") or {}).get("source_run")
        model_id = (config.get("model") or {}).get("id")
        if not isinstance(model_id, str) or not (source is None or isinstance(source, str)):
            raise ValueError("the config names no model id, or a source run that is no name")
        return cls(DataSpec.model_validate(data) if data is not None else None, source, model_id)


def _own_data(run: Run, spec: TrainingSpec, depth: int, lookups: CatalogLookups) -> TrainingData:
    data = spec.data
    if data is None:
        source = lookups.run(run.team_id, spec.source_run) if spec.source_run else None
        if source is None or depth >= MAX_UPSTREAM:
            return TrainingData(run, None, [])
        inherited = training_data(source, depth + 1, lookups)
        return TrainingData(run, inherited.dataset, inherited.examples, inherited.label_noise)
    dataset = lookups.dataset(run.team_id, data.dataset)
    if dataset is None:
        return TrainingData(run, None, [])
    noise = data.label_noise.fraction if data.label_noise and data.label_noise.fraction > 0 else None
    missing = False
    if noise is not None:
        variant = lookups.variant(dataset, noise, data.label_noise.seed)
        missing = variant is None
        dataset = variant or dataset
    try:
        examples = lookups.examples(dataset, data.examples, data.ranking) if data.examples else None
    except LookupError:
        examples = []
    return TrainingData(run, dataset, examples, noise, missing)


def training_data(run: Run, depth: int = 0, lookups: CatalogLookups | None = None) -> TrainingData:
    """What `run` was trained on (see the module's docstring); nothing known for a config that is no valid
    spec (any more). Pass one `lookups` for many runs to read the catalogue once."""
    lookups = lookups or CatalogLookups()
    try:
        spec = TrainingSpec.of(run.config)
        ref = parse_run_ref(spec.model_id)
    except (ValidationError, ValueError):
        return TrainingData(run, None, None)
    own = _own_data(run, spec, depth, lookups)
    if ref is not None and depth < MAX_UPSTREAM:
        source = lookups.run(run.team_id, ref.name)
        if source is not None:
            own.upstream.append(training_data(source, depth + 1, lookups))
    return own

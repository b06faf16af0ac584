"""The best-average checkpoint of a run (the paper's convention): the checkpoint with the highest mean score
over the benchmarks it was evaluated on, ties to the earliest.

It is computed here from EvalResult rows and kept on the Run (best_step, best_average, best_scores,
best_setup, best_facets) every time an evaluation of one of its checkpoints is recorded, so that leaderboards
over thousands of runs sort, filter and page in the database instead of reading every evaluation. Nothing
here imports models: callers (EvalResult.record, the migration that fills the fields) hand in querysets.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import QuerySet

from evaluation.loglikelihood.formulations import is_formulation
from evaluation.metrics import best_average_checkpoint

FORMULATION_SEPARATOR = "@"

RESULT_FIELDS = (
    "pk",
    "run_id",
    "checkpoint__step",
    "benchmark__key",
    "score",
    "per_subject",
    "template",
    "sampling_hash",
    "model_ref",
    "n",
    "k",
    "sampling",
)
# Read where the model has them: experiments migration 0003 fills the best checkpoints before results
# migration 0002 adds the intervals.
INTERVAL_FIELDS = ("score_lo", "score_hi")


def column_key(benchmark: str, template: str) -> str:
    """What a score is filed under in Run.best_scores and the leaderboards' columns: the benchmark key, plus
    the log-likelihood formulation where the template is one (`arc_easy@ll-cloze`), so that a score from
    option log-likelihoods never shares a column with one from generated answers."""
    return f"{benchmark}{FORMULATION_SEPARATOR}{template}" if is_formulation(template) else benchmark


def column_label(key: str) -> str:
    benchmark, _, formulation = key.partition(FORMULATION_SEPARATOR)
    return f"{benchmark} ({formulation})" if formulation else benchmark


def sampling_text(sampling: dict | None) -> str:
    """The sampling settings that set a score's setup apart, as text: every setting but the seed (runs that
    differ only in seeds are replicates of one setup) and the sample count (in Score.size)."""
    shown = {key: value for key, value in (sampling or {}).items() if key not in ("seed", "n")}
    return ", ".join(f"{key}={value}" for key, value in sorted(shown.items()))


@dataclass(frozen=True)
class Score:
    """One evaluation of one model or checkpoint, and the EvalResult it comes from; `benchmark` is its
    column key (see column_key)."""

    benchmark: str
    score: float
    per_subject: dict[str, float]
    template: str
    sampling_hash: str
    model_ref: str
    result_id: int | None = None
    lo: float | None = None  # the score's 95% interval (EvalResult.score_lo / score_hi)
    hi: float | None = None
    n: int | None = None  # problems scored (EvalResult.n)
    k: int | None = None  # samples per problem (EvalResult.k)
    sampling_text: str = ""  # sampling_text(EvalResult.sampling)

    @classmethod
    def from_values(cls, values: dict) -> Score:
        return cls(
            column_key(values["benchmark__key"], values["template"]),
            values["score"],
            values["per_subject"] or {},
            values["template"],
            values["sampling_hash"],
            values["model_ref"],
            values["pk"],
            values.get("score_lo"),
            values.get("score_hi"),
            values.get("n"),
            values.get("k"),
            sampling_text(values.get("sampling")),
        )

    @property
    def size(self) -> str:
        """Problems × samples per problem, e.g. "500×4" ("" where not recorded)."""
        return "" if self.n is None else f"{self.n}×{self.k or 1}"

    @property
    def setup(self) -> str:
        """What a score must share with another to sit in one column unflagged: how many problems and
        samples, the template and the sampling (its seed aside)."""
        return f"{self.size or '?'} · {self.template} · {self.sampling_text or '?'}"

    def stored(self) -> dict:
        """The score as kept in Run.best_scores."""
        return {
            "score": self.score,
            "result": self.result_id,
            "per_subject": self.per_subject,
            "template": self.template,
            "sampling_hash": self.sampling_hash,
            "model_ref": self.model_ref,
            "lo": self.lo,
            "hi": self.hi,
            "n": self.n,
            "k": self.k,
            "sampling_text": self.sampling_text,
        }

    @classmethod
    def from_stored(cls, benchmark: str, stored: dict) -> Score:
        return cls(
            benchmark,
            stored["score"],
            stored["per_subject"],
            stored["template"],
            stored["sampling_hash"],
            stored["model_ref"],
            stored["result"],
            stored.get("lo"),
            stored.get("hi"),
            stored.get("n"),
            stored.get("k"),
            stored.get("sampling_text", ""),
        )


def averaged(keys: Iterable[str]) -> list[str]:
    """The benchmarks (column keys) an average is taken over: the maths ones when there are any, else all.
    The 1-shot RLVR paper's "average" is over its six maths benchmarks, never ARC or GPQA (research notes,
    evaluation.md); a suite of multiple-choice benchmarks alone averages them all."""
    return list(_averaged(tuple(sorted(set(keys)))))


@functools.lru_cache(maxsize=1024)
def _averaged(keys: tuple[str, ...]) -> tuple[str, ...]:
    """averaged() for sorted keys, remembered: a report asks it for every row and column."""
    from evaluation.benchmarks import get_benchmark

    def graded_as_maths(key: str) -> bool:
        name, _, formulation = key.partition(FORMULATION_SEPARATOR)
        try:
            return not formulation and get_benchmark(name).grader == "math"
        except KeyError:
            return False

    return tuple(key for key in keys if graded_as_maths(key)) or keys


def average_label(keys: Iterable[str]) -> str:
    """The average column's header: which benchmarks it averages when that is not all of them."""
    keys = sorted(set(keys))
    chosen = averaged(keys)
    return "average" if len(chosen) == len(keys) else f"average ({len(chosen)} maths)"


def average_of(scores: dict[str, Score]) -> float:
    """The mean score over the averaged benchmarks (see `averaged`)."""
    return mean(scores[key] for key in averaged(scores))


def mean(scores: Iterable[Score]) -> float:
    scores = list(scores)
    return math.fsum(s.score for s in scores) / len(scores)


def setup_key(model_ref: str, template: str, sampling_hash: str) -> str:
    """What a base-model evaluation must share with a checkpoint's to compare with it, as one string."""
    return json.dumps([model_ref, template, sampling_hash])


@dataclass(frozen=True)
class Best:
    """The best-average checkpoint of a run and its scores by benchmark key."""

    step: int
    scores: dict[str, Score]

    @property
    def average(self) -> float:
        return average_of(self.scores)

    def run_fields(self, config: dict) -> dict:
        """Run.best_* as stored for a run of `config`: best_setup is the setup of the first benchmark (a run
        evaluates all its benchmarks with one model, template and sampling); best_facets are what the
        leaderboard filters on, the benchmarks it needs columns for and each score's setup (to flag a
        column mixing problem counts or sampling), small enough to read for every run (the config is
        not)."""
        first = self.scores[min(self.scores)]
        facets = {
            "benchmarks": sorted(self.scores),
            "setups": {key: score.setup for key, score in sorted(self.scores.items())},
            "model": (config.get("model") or {}).get("id", ""),
            "algorithm": (config.get("algorithm") or {}).get("name", ""),
            "tags": sorted(config.get("tags") or []),
        }
        return {
            "best_facets": facets,
            "best_step": self.step,
            "best_average": self.average,
            "best_scores": {key: score.stored() for key, score in sorted(self.scores.items())},
            "best_setup": setup_key(first.model_ref, first.template, first.sampling_hash),
        }

    @classmethod
    def from_run(cls, run) -> Best | None:
        if run.best_step is None:
            return None
        return cls(run.best_step, {key: Score.from_stored(key, s) for key, s in run.best_scores.items()})


NO_BEST = {"best_step": None, "best_average": None, "best_scores": {}, "best_setup": "", "best_facets": {}}


def _latest_results(results: QuerySet, *extra: str) -> Iterable[dict]:
    """Result rows oldest first, so that a later evaluation of the same target overwrites an earlier one."""
    names = {f.name for f in results.model._meta.get_fields()}
    intervals = [name for name in INTERVAL_FIELDS if name in names]
    return results.order_by("created_at", "pk").values(*RESULT_FIELDS, *intervals, *extra)


def scores_by_step(results: QuerySet) -> dict[int, dict[int, dict[str, Score]]]:
    """The checkpoint scores among `results` by run id, step and column key (one query)."""
    by_run: dict[int, dict[int, dict[str, Score]]] = {}
    for values in _latest_results(results.filter(checkpoint__isnull=False, run__isnull=False)):
        steps = by_run.setdefault(values["run_id"], {})
        score = Score.from_values(values)
        steps.setdefault(values["checkpoint__step"], {})[score.benchmark] = score
    return by_run


def best_checkpoints(results: QuerySet) -> dict[int, Best]:
    """The best-average checkpoint of every run among `results` (EvalResults; one query).

    Only checkpoints evaluated on every benchmark of their run compete: a checkpoint whose evaluation is
    still under way would otherwise be compared on fewer benchmarks.
    """
    best = {}
    for run_id, steps in scores_by_step(results).items():
        benchmarks = set().union(*steps.values())
        complete = {step: scores for step, scores in steps.items() if set(scores) == benchmarks}
        if complete:
            keys = averaged(benchmarks)
            step = best_average_checkpoint(
                {s: {b: scores[b].score for b in keys} for s, scores in complete.items()}
            )
            best[run_id] = Best(step, complete[step])
    return best


def best_on(results: QuerySet, selection: str) -> dict[int, Best]:
    """Model selection on a held-out benchmark: each run's checkpoint with the highest score on the column
    `selection` (ties to the earliest), with every score recorded at that checkpoint; runs never evaluated
    on `selection` are left out. Reporting the other benchmarks there keeps the choice of checkpoint off
    the test sets (the best-average convention picks it on the very scores it reports). Two queries: the
    selection column's scores, then the chosen checkpoints' results."""
    benchmark = selection.partition(FORMULATION_SEPARATOR)[0]
    rows = (
        results.filter(checkpoint__isnull=False, run__isnull=False, benchmark__key=benchmark)
        .order_by("created_at", "pk")
        .values_list("run_id", "checkpoint_id", "checkpoint__step", "score", "template")
    )
    latest = {
        (run_id, step): (score, checkpoint_id)
        for run_id, checkpoint_id, step, score, template in rows
        if column_key(benchmark, template) == selection
    }
    chosen: dict[int, tuple[float, int, int]] = {}  # run id → (score, step, checkpoint id)
    for (run_id, step), (score, checkpoint_id) in sorted(latest.items(), key=lambda item: item[0][1]):
        if run_id not in chosen or score > chosen[run_id][0]:
            chosen[run_id] = (score, step, checkpoint_id)
    at_chosen = scores_by_step(results.filter(checkpoint_id__in=[c for _, _, c in chosen.values()]))
    return {
        run_id: Best(step, at_chosen[run_id][step])
        for run_id, (_, step, _) in chosen.items()
        if step in at_chosen.get(run_id, {})
    }


def best_per_benchmark(results: QuerySet) -> dict[int, Best]:
    """The 1-shot RLVR paper's Tab. 3/5 convention: each benchmark's score at the run's checkpoint best on
    that benchmark (the earliest on ties); MATH500's subject columns come with its own best checkpoint.
    `step` is that best-MATH500 checkpoint's (else the first benchmark's)."""
    by_run: dict[int, dict[str, tuple[int, Score]]] = {}
    for values in _latest_results(results.filter(checkpoint__isnull=False, run__isnull=False)):
        score = Score.from_values(values)
        scores = by_run.setdefault(values["run_id"], {})
        step, current = scores.get(score.benchmark, (0, None))
        if (
            current is None
            or score.score > current.score
            or (score.score == current.score and values["checkpoint__step"] < step)
        ):
            scores[score.benchmark] = (values["checkpoint__step"], score)
    best = {}
    for run_id, scores in by_run.items():
        anchor = "math500" if "math500" in scores else min(scores)
        best[run_id] = Best(scores[anchor][0], {key: score for key, (_, score) in scores.items()})
    return best


Setup = tuple[str, str, str]  # model_ref, template, sampling_hash


def base_scores_by_team(results: QuerySet) -> dict[tuple[int, str], dict[Setup, dict[str, Score]]]:
    """Base-model evaluations among `results`, by (team id, team name), (model_ref, template,
    sampling_hash), then benchmark (one query)."""
    teams: dict[tuple[int, str], dict[Setup, dict[str, Score]]] = {}
    for values in _latest_results(results.filter(checkpoint__isnull=True), "team_id", "team__name"):
        score = Score.from_values(values)
        setups = teams.setdefault((values["team_id"], values["team__name"]), {})
        setups.setdefault((score.model_ref, score.template, score.sampling_hash), {})[score.benchmark] = score
    return teams


def base_scores(results: QuerySet) -> dict[Setup, dict[str, Score]]:
    """Base-model evaluations of one team among `results`, by (model_ref, template, sampling_hash)."""
    return {
        setup: scores for setups in base_scores_by_team(results).values() for setup, scores in setups.items()
    }


def refresh_bests(runs: QuerySet, results: QuerySet) -> int:
    """Store the best-average checkpoint of each of `runs` (Run rows) computed from `results` (the
    EvalResults of those runs): three queries whatever the number of runs. Returns the number of runs."""
    run_list = list(runs.only("pk", "config"))
    best = best_checkpoints(results.filter(run__in=[run.pk for run in run_list]))
    for run in run_list:
        fields = best[run.pk].run_fields(run.config) if run.pk in best else NO_BEST
        for name, value in fields.items():
            setattr(run, name, value)
    runs.model._default_manager.bulk_update(run_list, list(NO_BEST), batch_size=500)
    return len(run_list)

"""Server time and SQL queries of the result pages on a large database: the team and global leaderboards,
the per-example 1-shot comparison and the ablation report.

A throw-away PostgreSQL (started like the test suite's, tests/services.py) is migrated and seeded with
bulk inserts: 4 teams, 10 benchmarks, the 1,209 examples of DSR-sub with a π ranking, and runs in sweeps of
10 (one π-example sweep of PI_POINTS runs and one loss-ablation sweep among them), each with 4 checkpoints
evaluated on every benchmark (math500 with per-subject scores), half of each team's runs published, and
each team's base-model evaluations. Every evaluation carries its 95% interval; those of the π and ablation
sweeps and of the base models also carry per-problem outcomes (one greedy sample on each of N_PROBLEMS
problems), which the reports' paired bootstraps read. The best checkpoints are computed by
rlab.results.bests, as recording the evaluations does. The pages are then requested through Django's test
Client (the full middleware and template stack, no network) at 1,000 and at 10,000 runs: p50/p95 of
REQUESTS timed requests after a warm-up (the 1-shot comparison also with its cache cleared before each of
COLD_REQUESTS requests, so that its paired statistics are computed every time), and the number of SQL
queries of one request (it must not grow with the number of runs). The baseline is the team leaderboard's
old core, reading every evaluation of the team's checkpoints.

    .venv/bin/python bench/bench_pages.py [--runs 1000,10000] [--requests 30]
"""

import argparse
import gc
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "platform"), str(REPO)]

from tests.services import PostgresServer  # noqa: E402

TEAMS, CHECKPOINTS, SWEEP_SIZE, PI_POINTS, EXAMPLES, N_PROBLEMS = 4, 4, 10, 100, 1209, 500
COLD_REQUESTS = 10
BENCHMARKS = [
    "math500",
    "aime24",
    "aime25",
    "amc23",
    "minerva_math",
    "olympiadbench",
    "arc_c",
    "mmlu_pro",
    "gpqa_diamond",
    "gsm8k",
]
SUBJECTS = [
    "Algebra",
    "Counting & Probability",
    "Geometry",
    "Intermediate Algebra",
    "Number Theory",
    "Prealgebra",
    "Precalculus",
]
MODELS = ["Qwen/Qwen2.5-Math-1.5B", "Qwen/Qwen2.5-Math-7B", "meta-llama/Llama-3.2-3B-Instruct"]
ALGORITHMS = ["grpo", "srft", "sft", "redistill"]
TEMPLATE = "qwen25-math-cot"
SAMPLING = {"temperature": 0.0, "top_p": 1.0, "max_new_tokens": 3072, "n": 1, "seed": 0}
LOSS_POINTS = [
    {"loss": {"kl_coef": 0.001, "entropy_coeff": -0.001}},
    {"loss": {"kl_coef": 0.0}},
    {"loss": {"entropy_coeff": 0.0}},
    {"loss": {"kl_coef": 0.0, "entropy_coeff": 0.0}},
    {"loss": {}},
    {"loss": {"kl_coef": 0.01}},
    {"loss": {"entropy_coeff": -0.01}},
    {"loss": {"kl_coef": 0.0001}},
]


def create_database(server: PostgresServer) -> None:
    """CREATE DATABASE rlab_bench, once the server accepts connections (it listens before it does)."""
    import psycopg

    for _ in range(100):
        try:
            with psycopg.connect(server.url(), autocommit=True) as connection:
                connection.execute("CREATE DATABASE rlab_bench")
                return
        except psycopg.OperationalError:
            time.sleep(0.1)
    raise RuntimeError("PostgreSQL did not accept connections")


def setup_django(server: PostgresServer, directory: Path) -> None:
    create_database(server)
    os.environ.update(
        DATABASE_URL=server.url("rlab_bench"),
        DJANGO_SETTINGS_MODULE="rlab.settings",
        DJANGO_DEBUG="0",
        ALLOWED_HOSTS="testserver",
        RLAB_VAR_DIR=str(directory / "var"),
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class Seeder:
    """Bulk inserts of realistic rows; `add_runs` can be called again to grow the database."""

    def __init__(self) -> None:
        from django.contrib.auth import get_user_model

        from rlab.catalog.models import Benchmark, Dataset, Example, RankEntry, Ranking
        from rlab.experiments.models import Spec
        from rlab.spec import parse_spec
        from rlab.teams.models import Membership, Team

        self.random = random.Random(0)
        self.teams = Team.objects.bulk_create(Team(name=f"Team {i}", slug=f"team-{i}") for i in range(TEAMS))
        self.viewer = get_user_model().objects.create_user(username="viewer", password="bench-password-123")
        Membership.objects.create(team=self.teams[0], user=self.viewer)
        self.benchmarks = Benchmark.objects.bulk_create(Benchmark(key=k, name=k) for k in BENCHMARKS)
        dataset = Dataset.objects.create(team=None, name="dsr_sub", source="bench")
        examples = Example.objects.bulk_create(
            Example(dataset=dataset, index=i, problem=f"Problem {i}: find x if x^2 = {i * i}.", answer=str(i))
            for i in range(EXAMPLES)
        )
        ranking = Ranking.objects.create(dataset=dataset, name="variance")
        order = self.random.sample(examples, len(examples))
        RankEntry.objects.bulk_create(
            RankEntry(ranking=ranking, example=e, pi=pi, variance=1 / pi) for pi, e in enumerate(order, 1)
        )
        spec_yaml = (REPO / "examples" / "specs" / "pi1-1shot.yaml").read_text()
        self.config = parse_spec(spec_yaml).model_dump(mode="json")
        self.config["data"]["dataset"] = "dsr_sub"
        self.specs = [
            Spec.objects.create(team=t, name="bench", yaml_text=spec_yaml, spec_json={}, content_hash=t.slug)
            for t in self.teams
        ]
        self.runs = 0
        self.pi_sweep = self.ablation_sweep = None
        self._base_evaluations()

    def _config(self, index: int, coordinates: dict) -> dict:
        config = {**self.config, "model": {**self.config["model"], "id": MODELS[index % len(MODELS)]}}
        config["algorithm"] = {**self.config["algorithm"], "name": ALGORITHMS[index % len(ALGORITHMS)]}
        config["tags"] = [f"batch-{index % 7}", "bench"]
        if "data.examples" in coordinates:
            config["data"] = {**config["data"], "examples": coordinates["data.examples"]}
        return config

    def _outcomes(self, score: float) -> bytes:
        """One greedy sample on each of N_PROBLEMS problems, right with probability `score`."""
        from rlab.results.outcomes import pack

        return pack((i, int(self.random.random() < score), 1) for i in range(N_PROBLEMS))

    def _result(self, team, run, checkpoint, model: str, benchmark, score: float, outcomes: bool = False):
        from rlab.results.models import EvalResult
        from rlab.results.outcomes import interval, unpack

        blob = self._outcomes(score) if outcomes else b""
        if outcomes:
            score = float(unpack(blob)["correct"].mean())
        bounds = interval(score, N_PROBLEMS, unpack(blob))
        subjects = {s: min(1.0, max(0.0, score + self.random.uniform(-0.1, 0.1))) for s in SUBJECTS}
        target = EvalResult.make_target_key(team.pk, model, checkpoint.pk if checkpoint else None)
        return EvalResult(
            team=team,
            run=run,
            checkpoint=checkpoint,
            model_ref=model,
            benchmark=benchmark,
            template=TEMPLATE,
            sampling=SAMPLING,
            sampling_hash=EvalResult.hash_sampling(SAMPLING),
            n=N_PROBLEMS,
            k=1,
            score=score,
            score_lo=bounds.lo,
            score_hi=bounds.hi,
            outcomes=blob,
            per_subject=subjects if benchmark.key == "math500" else {},
            metrics={"pass_at_k": {"1": score}, "boxed_ratio": 0.98, "length_mean": 612.5},
            target_key=target,
        )

    def _base_evaluations(self) -> None:
        from rlab.results.models import EvalResult

        EvalResult.objects.bulk_create(
            self._result(team, None, None, model, b, self.random.uniform(0.05, 0.5), outcomes=True)
            for team in self.teams
            for model in MODELS
            for b in self.benchmarks
        )

    def _sweeps(self, count: int) -> list[tuple[object, list[dict]]]:
        """(team, coordinates of its runs) per new sweep: first the π sweep and the ablation sweep of
        the viewer's team, then sweeps of SWEEP_SIZE seeds taking turns among the teams."""
        sweeps: list[tuple[object, list[dict]]] = []
        if self.pi_sweep is None:
            sweeps.append((self.teams[0], [{"data.examples": [f"pi{pi}"]} for pi in range(1, PI_POINTS + 1)]))
            sweeps.append((self.teams[0], LOSS_POINTS))
        left = count - sum(len(points) for _, points in sweeps)
        while left > 0:
            size = min(SWEEP_SIZE, left)
            team = self.teams[(self.runs + count - left) // SWEEP_SIZE % TEAMS]
            sweeps.append((team, [{"train.seed": seed} for seed in range(size)]))
            left -= size
        return sweeps

    def add_runs(self, count: int) -> None:
        from django.db import connection

        from rlab.experiments.models import Checkpoint, Run, Sweep
        from rlab.results.bests import refresh_bests
        from rlab.results.models import EvalResult

        planned = self._sweeps(count)
        sweeps = Sweep.objects.bulk_create(
            Sweep(team=team, spec=self.specs[self.teams.index(team)]) for team, _ in planned
        )
        if self.pi_sweep is None:
            self.pi_sweep, self.ablation_sweep = sweeps[0], sweeps[1]
        runs = []
        for sweep, (team, points) in zip(sweeps, planned, strict=True):
            for index, coordinates in enumerate(points):
                n = self.runs + len(runs)
                runs.append(
                    Run(
                        team=team,
                        spec=sweep.spec,
                        sweep=sweep,
                        point_index=index,
                        name=f"run-{n:05d}",
                        coordinates=coordinates,
                        config=self._config(n, coordinates),
                        status=Run.Status.SUCCEEDED,
                        progress=1.0,
                        step=200,
                        total_steps=200,
                        published=n % 2 == 0,
                    )
                )
        runs = Run.objects.bulk_create(runs, batch_size=1000)
        checkpoints = Checkpoint.objects.bulk_create(
            (
                Checkpoint(run=run, step=step, path=f"/ckpt/{run.pk}/{step}")
                for run in runs
                for step in (50, 100, 150, 200)
            ),
            batch_size=5000,
        )
        skill = {run.pk: self.random.uniform(0.2, 0.7) for run in runs}
        reported = {self.pi_sweep.pk, self.ablation_sweep.pk}
        batch = []
        for checkpoint in checkpoints:
            run = checkpoint.run
            for b in self.benchmarks:
                score = min(1.0, max(0.0, skill[run.pk] + self.random.gauss(0, 0.05)))
                model = run.config["model"]["id"]
                outcomes = run.sweep_id in reported
                batch.append(self._result(run.team, run, checkpoint, model, b, score, outcomes))
            if len(batch) >= 5000:
                EvalResult.objects.bulk_create(batch)
                batch = []
        EvalResult.objects.bulk_create(batch)
        ids = [run.pk for run in runs]
        for i in range(0, len(ids), 1000):
            chunk = ids[i : i + 1000]
            refresh_bests(Run.objects.filter(pk__in=chunk), EvalResult.objects.filter(run_id__in=chunk))
        self.runs += count
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # what autovacuum does after bulk loads: planner statistics


def measure(
    client, url: str, params: dict, requests: int, cold: bool = False
) -> tuple[float, float, float, int, int]:
    """(p50 ms, p95 ms, p50 CPU ms of this process, SQL queries, response bytes) of GET url. The CPU time
    leaves out PostgreSQL's and other processes' share: on a busy machine it shows our own cost. `cold`
    clears the cache before every request (a report's paired statistics are then computed each time)."""
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        client.get(url, params)
    times, cpu = [], []
    for _ in range(requests):
        if cold:
            cache.clear()
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.get(url, params)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return (
        statistics.median(times),
        p95,
        statistics.median(cpu),
        len(queries.captured_queries),
        len(response.content),
    )


def baseline(seeder: Seeder) -> float:
    """Median ms of what the team leaderboard did before the best checkpoints were kept on the runs: read
    every evaluation of the team's checkpoints and pick each run's best in Python (3 calls)."""
    from rlab.results.bests import best_checkpoints
    from rlab.results.models import EvalResult

    times = []
    for _ in range(3):
        start = time.perf_counter()
        best_checkpoints(EvalResult.objects.filter(team=seeder.teams[0]))
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def pages(seeder: Seeder) -> list[tuple[str, str, dict, bool]]:
    """(name, url, params, cold) of each page measured."""
    from django.urls import reverse

    comparison = reverse("results:example_comparison", args=[seeder.pi_sweep.pk])
    return [
        *[(name, url, params, False) for name, url, params in _warm_pages(seeder)],
        ("1-shot comparison, cold cache", comparison, {}, True),
    ]


def _warm_pages(seeder: Seeder) -> list[tuple[str, str, dict]]:
    from django.urls import reverse

    return [
        ("team leaderboard, by average", reverse("results:leaderboard"), {}),
        (
            "team leaderboard, by math500, page 3",
            reverse("results:leaderboard"),
            {"sort": "-math500", "page": 3},
        ),
        ("team leaderboard, filtered by model", reverse("results:leaderboard"), {"model": MODELS[1]}),
        (
            "team leaderboard, checkpoint chosen on aime24",
            reverse("results:leaderboard"),
            {"select_on": "aime24"},
        ),
        ("global leaderboard, by average", reverse("results:global_leaderboard"), {}),
        (
            "global leaderboard, by name, page 10",
            reverse("results:global_leaderboard"),
            {"sort": "name", "page": 10},
        ),
        ("1-shot comparison (π sweep)", reverse("results:example_comparison", args=[seeder.pi_sweep.pk]), {}),
        (
            "1-shot comparison against π1",
            reverse("results:example_comparison", args=[seeder.pi_sweep.pk]),
            {"reference": seeder.pi_sweep.runs.get(point_index=0).pk},
        ),
        ("ablation (loss sweep)", reverse("results:ablation", args=[seeder.ablation_sweep.pk]), {}),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="1000,10000", help="run counts to measure at, ascending")
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="rlab-bench-pages-"))
    server = PostgresServer(directory).start()
    try:
        setup_django(server, directory)
        from django.test import Client

        seeder = Seeder()
        client = Client()
        client.force_login(seeder.viewer)
        header = (
            f"{'runs':>6} {'page':<42} {'p50 ms':>7} {'p95 ms':>7} {'CPU p50':>7} {'queries':>7} {'KiB':>6}"
        )
        print(header)
        for target in (int(n) for n in args.runs.split(",")):
            started = time.perf_counter()
            seeder.add_runs(target - seeder.runs)
            seconds = time.perf_counter() - started
            # The seeding left hundreds of thousands of objects alive in this process, which a web server
            # does not hold; out of the collector's way they no longer stretch its pauses into the timings.
            gc.collect()
            gc.freeze()
            print(f"# seeded {seeder.runs} runs in {seconds:.0f} s; load average {os.getloadavg()[0]:.1f}")
            for name, url, params, cold in pages(seeder):
                requests = min(args.requests, COLD_REQUESTS) if cold else args.requests
                p50, p95, cpu, queries, size = measure(client, url, params, requests, cold)
                figures = f"{p50:7.1f} {p95:7.1f} {cpu:7.1f} {queries:7d} {size / 1024:6.0f}"
                print(f"{seeder.runs:>6} {name:<42} {figures}", flush=True)
            print(f"# load average {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)", flush=True)
            print(f"# baseline: {baseline(seeder):.0f} ms", flush=True)
    finally:
        from django.db import connections

        connections.close_all()
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()

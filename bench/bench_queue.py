"""Queue overhead of our task path against plain Celery on the same broker (a real Redis) and machine.

Both sides run one worker process (`-c 1`, prefetch 1, acks late) consuming a real Redis started for this
run; our side also uses a real PostgreSQL for the ORM (both started like the test suite does,
tests/services.py).

1. latency: `submit_spec` of a 1-step GRPO run of a tiny model until its first TrainMetric, against a plain
   Celery task (registered only here) doing the same work — load the same tiny model, one GRPO step with
   the same config (`training.algorithms.grpo.build.grpo_config` of the run's own `Run.config`) — timed from
   `send_task` to its first step. The ratio is our whole overhead over the same work. The parts are printed
   too: submit → claimed (`Run.started_at`) → job start (the run.log line) against send_task → task start,
   and job/task start → first step (model load + 1 step) on both sides. The sides alternate, sample by
   sample, so that both see the same load; each sample starts on an idle worker (ours waits for the run's
   checkpoint evaluation to finish as well).
2. throughput: evaluations through `workers.tasks.evaluate_model` of a checkpoint whose results are all
   recorded already (the skip path a re-delivered evaluation takes: two queries, no folder or log),
   against plain no-op tasks, and against plain tasks doing the same recorded-check (the same two
   queries through `workers.evaluation.all_recorded`: what our task path adds to that work); all timed from
   the first send to the worker's log line of the last task's success.

    .venv/bin/python bench/bench_queue.py            # the goal: ratios <= 1.2
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "platform"), str(REPO)]

from tests.services import PostgresServer, RedisServer, WorkerProcess, service_env  # noqa: E402

GOAL = 1.2
PLAIN_QUEUE, PLAIN_NOOP, PLAIN_TRAIN = "plain", "bench.noop", "bench.grpo_step"
PLAIN_CHECK = "bench.recorded_check"
STARTS_KEY, STEPS_KEY = "bench:starts", "bench:steps"
WORKER_ARGV = ["worker", "-c", "1", "--prefetch-multiplier", "1", "-l", "INFO"]
EXAMPLE = {"index": 0, "problem": "What is 3 + 4 ?", "answer": "7"}
DONE = "succeeded in"
# Before each latency sample: torch's OpenMP threads keep spinning a while after the other side's work.
SETTLE_SECONDS = 1.0


def plain_app(broker_url: str):
    """A bare Celery app with the settings our app uses for delivery (acks late, prefetch 1)."""
    from celery import Celery

    app = Celery("plain", broker=broker_url)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
    )

    @app.task(name=PLAIN_NOOP)
    def noop() -> None:
        pass

    @app.task(name=PLAIN_CHECK)
    def recorded_check(run_id: int, checkpoint_id: int) -> None:
        """The work of a skipped evaluation without our task around it: is the suite recorded already?"""
        from rlab.experiments.models import Run
        from workers.evaluation import all_recorded

        assert all_recorded(Run.objects.get(pk=run_id), checkpoint_id)

    @app.task(name=PLAIN_TRAIN)
    def grpo_step(config: dict) -> None:
        """Our training job's work without the platform: the same model, example, config and trainer."""
        import redis

        client = redis.Redis.from_url(broker_url)
        client.rpush(STARTS_KEY, time.time())
        import torch

        from evaluation.benchmarks import Problem
        from evaluation.generation.models import load_model_and_tokenizer
        from rlab.spec import SpecV1
        from training.algorithms.configs import TrainerRuntime
        from training.algorithms.grpo.build import grpo_config
        from training.algorithms.grpo.trainer import GRPOTrainer
        from training.callbacks import NullCallbacks
        from training.examples import TrainingExample

        class FirstStep(NullCallbacks):
            def on_step(self, step: int, metrics: dict) -> None:
                if step == 1:
                    client.rpush(STEPS_KEY, time.time())

        model, tokenizer = load_model_and_tokenizer(config["model"]["id"], config["model"]["dtype"], "auto")
        problem = Problem(id=str(EXAMPLE["index"]), problem=EXAMPLE["problem"], answer=EXAMPLE["answer"])
        example = TrainingExample(key=EXAMPLE["index"], problem=problem, answer=EXAMPLE["answer"])
        with tempfile.TemporaryDirectory() as output_dir:
            trainer = GRPOTrainer(
                model,
                tokenizer,
                [example],
                grpo_config(
                    SpecV1.model_validate(config),
                    TrainerRuntime(output_dir=Path(output_dir), on_gpu=torch.cuda.is_available()),
                ),
                callbacks=FirstStep(),
            )
            try:
                trainer.train()
            finally:
                trainer.close()

    return app


def log_count(log: Path, needle: str = DONE) -> int:
    return log.read_text(errors="replace").count(needle)


def wait_for_lines(log: Path, needle: str, count: int, timeout: float = 600) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log_count(log, needle) >= count:
            return time.perf_counter()
        time.sleep(0.01)
    raise TimeoutError(f"{count} × {needle!r} not in {log} after {timeout} s")


def start_plain_worker(env: dict, log: Path) -> subprocess.Popen:
    """This file in worker mode: a plain Celery worker with our worker's options."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--plain-worker"],
        env=env,
        stdout=open(log, "a"),  # noqa: SIM115 - the worker writes to it until it stops
        stderr=subprocess.STDOUT,
    )
    wait_for_lines(log, "ready.", 1, timeout=60)
    return process


def plain_latency(app, client, log: Path, config: dict) -> tuple[float, float]:
    """One sample: (send_task → task start, task start → first step)."""
    client.delete(STARTS_KEY, STEPS_KEY)
    done_before = log_count(log)
    sent = time.time()
    app.send_task(PLAIN_TRAIN, kwargs={"config": config}, queue=PLAIN_QUEUE)
    wait_for_lines(log, DONE, done_before + 1)
    started, stepped = (float(client.lindex(key, 0)) for key in (STARTS_KEY, STEPS_KEY))
    return started - sent, stepped - started


def plain_throughput(app, log: Path, tasks: int, name: str = PLAIN_NOOP, args: tuple = ()) -> float:
    done_before = log_count(log)
    start = time.perf_counter()
    for _ in range(tasks):
        app.send_task(name, args=args, queue=PLAIN_QUEUE)
    return tasks / (wait_for_lines(log, DONE, done_before + tasks) - start)


def latest_checkpoint_ids() -> tuple[int, int]:
    from rlab.experiments.models import Checkpoint

    checkpoint = Checkpoint.objects.latest("pk")
    return checkpoint.run_id, checkpoint.pk


def job_started_at(run) -> float:
    """When the job began, from the worker's "run … started on …" line in run.log (local time)."""
    from workers.artifacts import LOG_NAME

    for line in (Path(run.artifact_dir) / LOG_NAME).read_text().splitlines():
        if f"run {run.name} (attempt" in line:
            return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    raise RuntimeError(f"no start line in the run.log of {run.name}")


def our_latency(team, spec_text: str, log: Path) -> tuple[tuple[float, float, float], dict]:
    """One sample: (submit → claimed, claimed → job start, job start → first TrainMetric), and the run's
    config. It returns once the worker is idle again (the run and its checkpoint's evaluation done)."""
    from rlab.experiments.models import Run, TrainMetric
    from rlab.experiments.submission import submit_spec

    done_before = log_count(log)
    sent = time.time()
    run = submit_spec(team, None, spec_text).runs.get()
    while not TrainMetric.objects.filter(run=run).exists():
        if Run.objects.get(pk=run.pk).is_finished:
            raise RuntimeError(f"the run ended without a step: {Run.objects.get(pk=run.pk).error}")
        time.sleep(0.005)
    first_metric = time.time()
    wait_for_lines(log, DONE, done_before + 2)
    run.refresh_from_db()
    claimed, job_start = run.started_at.timestamp(), job_started_at(run)
    return (claimed - sent, job_start - claimed, first_metric - job_start), run.config


def our_throughput(log: Path, tasks: int) -> float:
    from rlab.experiments.models import Checkpoint
    from rlab.results.models import EvalResult
    from workers.evaluation import enqueue_evaluation

    checkpoint = Checkpoint.objects.select_related("run").latest("pk")
    assert EvalResult.objects.filter(checkpoint=checkpoint).exists()
    done_before = log_count(log)
    start = time.perf_counter()
    for _ in range(tasks):
        enqueue_evaluation(checkpoint.run, checkpoint)
    return tasks / (wait_for_lines(log, DONE, done_before + tasks) - start)


SPEC = """
name: bench-queue
model: {{id: {model}, dtype: float32}}
algorithm: {{name: grpo, grpo: {{rollouts_per_prompt: 2, temperature: 1.0}}}}
data: {{dataset: sums, examples: [0], template: one-shot-boxed}}
train: {{lr: 1.0e-2, batch_size: 1, mini_batch_size: 1, max_response_length: 4, steps: 1, save_every: 1}}
eval: {{suite: [arith], template: one-shot-boxed, every: 1, limit: 1, base_model: false,
       sampling: {{max_new_tokens: 2}}}}
resources: {{queue: cpu, gpus: 0}}
"""


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000.0


def report(
    ours: list[tuple[float, ...]],
    plain: list[tuple[float, float]],
    ours_rate: float,
    plain_rate: float,
    plain_check_rate: float,
) -> None:
    claim, to_job, job = (median_ms(list(part)) for part in zip(*ours, strict=True))
    total = median_ms([sum(sample) for sample in ours])
    plain_start, plain_step = (median_ms(list(part)) for part in zip(*plain, strict=True))
    plain_total = median_ms([sum(sample) for sample in plain])
    print(f"latency, submit -> first step of a 1-step tiny GRPO run (medians of {len(ours)} / {len(plain)}):")
    print("  samples, ours: " + ", ".join(f"{sum(sample) * 1000:.0f}" for sample in ours) + " ms")
    print("  samples, plain: " + ", ".join(f"{sum(sample) * 1000:.0f}" for sample in plain) + " ms")
    print(f"  ours {total:.0f} ms, plain Celery doing the same work {plain_total:.0f} ms")
    print(f"  ratio {total / plain_total:.2f}x (goal <= {GOAL}x)")
    print(f"  queue: ours submit -> claimed {claim:.1f} ms + claimed -> job start {to_job:.1f} ms")
    print(f"         plain send_task -> task start {plain_start:.1f} ms")
    print(f"  work:  ours job start -> first TrainMetric {job:.0f} ms")
    print(f"         plain task start -> first step {plain_step:.0f} ms")
    print(f"throughput, no-op evaluations: ours {ours_rate:.1f}/s, plain Celery {plain_rate:.1f}/s")
    print(f"  ratio (plain/ours time per task) {plain_rate / ours_rate:.2f}x (goal <= {GOAL}x)")
    print(f"  plain Celery doing the same recorded-check (2 queries) {plain_check_rate:.1f}/s: ratio "
          f"{plain_check_rate / ours_rate:.2f}x, our task path's own overhead")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="latency samples per side")
    parser.add_argument("--tasks", type=int, default=200, help="no-op tasks per side for throughput")
    parser.add_argument("--plain-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain_worker:
        import django

        django.setup()  # the plain task builds its GRPOConfig with our grpo_config; it touches no database
        plain_app(os.environ["CELERY_BROKER_URL"]).worker_main([*WORKER_ARGV, "-Q", PLAIN_QUEUE])
        return

    scratch = Path(tempfile.mkdtemp(prefix="rlab-bench-queue-"))
    # A folder of its own, outside the private scratch one: as root the server runs as `postgres`.
    postgres = PostgresServer(Path(tempfile.mkdtemp(prefix="rlab-bench-postgres-"))).start()
    redis_server = RedisServer(scratch / "redis").start()
    env = service_env(
        postgres.url(),
        redis_server.url,
        RLAB_VAR_DIR=str(scratch / "var"),
        RLAB_ARTIFACT_DIR=str(scratch / "var" / "artifacts"),
        RLAB_DATA_DIR=str(scratch / "var" / "data"),
        TQDM_DISABLE="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
    )
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "CELERY_BROKER_URL", "RLAB_VAR_DIR")})
    os.environ.update(RLAB_ARTIFACT_DIR=env["RLAB_ARTIFACT_DIR"], RLAB_DATA_DIR=env["RLAB_DATA_DIR"])
    ours: WorkerProcess | None = None
    plain_worker: subprocess.Popen | None = None
    try:
        import django
        import redis
        from django.core.management import call_command

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rlab.settings")
        django.setup()
        call_command("migrate", verbosity=0)
        from rlab.catalog.models import Dataset, Example
        from rlab.teams.models import Team
        from tests.models import save_tiny_model

        team = Team.objects.create(name="Bench", slug="bench")
        dataset = Dataset.objects.create(team=team, name="sums", source="bench")
        Example.objects.create(dataset=dataset, **EXAMPLE)
        spec_text = SPEC.format(model=save_tiny_model(scratch / "tiny"))

        ours_log, plain_log = scratch / "ours.log", scratch / "plain.log"
        ours = WorkerProcess(env, ours_log, queues="cpu").start()
        plain_worker = start_plain_worker(env, plain_log)
        app = plain_app(redis_server.url)

        client = redis.Redis.from_url(redis_server.url)
        ours_latency, plain = [], []
        for _ in range(args.repeats):  # alternating, so that both sides see the same load on the machine
            time.sleep(SETTLE_SECONDS)
            sample, config = our_latency(team, spec_text, ours_log)
            ours_latency.append(sample)
            time.sleep(SETTLE_SECONDS)
            plain.append(plain_latency(app, client, plain_log, config))
        ours_rate = our_throughput(ours_log, args.tasks)
        plain_rate = plain_throughput(app, plain_log, args.tasks)
        plain_check_rate = plain_throughput(app, plain_log, args.tasks, PLAIN_CHECK, latest_checkpoint_ids())
    finally:
        if ours:
            ours.stop()
        if plain_worker:
            plain_worker.terminate()
            plain_worker.wait(timeout=30)
        redis_server.stop()
        postgres.stop()
    report(ours_latency, plain, ours_rate, plain_rate, plain_check_rate)


if __name__ == "__main__":
    main()

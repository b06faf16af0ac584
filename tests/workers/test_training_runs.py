"""GRPO runs on real worker processes: metrics, checkpoints, evaluations, cancel, and a worker killed
mid-run whose run resumes on the next worker with no row missing or duplicated."""

import time
from pathlib import Path

import pytest

from rlab.experiments.models import Checkpoint, EpochAccuracy, Run, TrainMetric
from rlab.experiments.submission import submit_spec
from rlab.results.models import EvalResult, ExampleResult
from tests.models import tiny_grpo_spec
from workers.tasks import requeue_stale_runs

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(condition, timeout: float = 180, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what() if callable(what) else what}")


def finished(run: Run) -> Run:
    def done():
        run.refresh_from_db()
        return run.is_finished

    def state() -> str:
        run.refresh_from_db()
        return (
            f"run {run.name} to finish ({run.status}, step {run.step}, attempts {run.attempts}, "
            f"heartbeat {run.heartbeat_at}, worker {run.worker})"
        )

    wait_for(done, what=state)
    return run


def evaluations_settled(run: Run, expected: int) -> None:
    wait_for(lambda: EvalResult.objects.filter(run=run).count() >= expected, what=f"{expected} evaluations")


def test_a_grpo_run_writes_metrics_checkpoints_and_evaluations(team, sums, tiny_model_dir, worker_process):
    run = submit_spec(team, None, tiny_grpo_spec(tiny_model_dir, "sums", steps=4, save_every=2)).runs.get()
    finished(run)
    assert run.status == "succeeded", run.error
    assert list(run.metrics.values_list("step", flat=True)) == [1, 2, 3, 4]
    assert {"reward_mean", "entropy", "kl", "grad_norm"} <= set(run.metrics.first().values)
    assert list(run.checkpoints.values_list("step", "dtype")) == [(2, "float32"), (4, "float32")]
    assert EpochAccuracy.objects.filter(run=run).count() == 4  # 1-shot: every step is an epoch
    evaluations_settled(run, 3)  # the base model and both checkpoints
    results = EvalResult.objects.filter(run=run)
    assert sorted((r.checkpoint.step if r.checkpoint else 0) for r in results) == [0, 2, 4]
    assert all(r.n == 2 and r.benchmark.key == "arith" for r in results)
    assert ExampleResult.objects.filter(eval_result__run=run).count() == 6
    log = (Path(run.artifact_dir) / "run.log").read_text().splitlines()
    assert sum("run tiny-grpo" in line for line in log) >= 2
    # Issue: run.log lines were written 2-4 times (a handler per task); one line per step
    assert len(log) == len(set(log)), [line for line in log if log.count(line) > 1]
    assert [line.split("workers.training_job: ")[1][:9] for line in log if "/4: reward" in line] == [
        f"step {step}/4:" for step in range(1, 5)
    ]
    assert sum(" avg@1 = " in line for line in log) == 3  # each evaluation once, the base model's included


def test_cancel_stops_the_run_between_steps(team, sums, tiny_model_dir, worker_process):
    run = submit_spec(
        team, None, tiny_grpo_spec(tiny_model_dir, "sums", steps=200, save_every=100)
    ).runs.get()
    wait_for(lambda: TrainMetric.objects.filter(run=run).exists(), what="the first step")
    Run.objects.filter(pk=run.pk).update(cancel_requested=True)
    finished(run)
    assert run.status == "cancelled" and 0 < run.step < 200


def test_killed_worker_run_resumes_from_its_last_checkpoint(team, sums, tiny_model_dir, worker_process):
    steps, save_every = 40, 5
    run = submit_spec(team, None, tiny_grpo_spec(tiny_model_dir, "sums", steps, save_every)).runs.get()
    wait_for(lambda: Checkpoint.objects.filter(run=run).exists(), what="a first checkpoint")
    worker_process.kill()
    run.refresh_from_db()
    assert run.status == "running" and run.step < steps, "the run finished before the worker was killed"
    killed_at = run.step
    worker_process.start()
    wait_for(lambda: requeue_stale_runs(), timeout=30, what="the run to be seen as stale")
    finished(run)
    assert run.status == "succeeded", run.error
    assert run.attempts == 2 and killed_at < steps
    assert list(run.metrics.values_list("step", flat=True)) == list(range(1, steps + 1))
    assert list(run.checkpoints.values_list("step", flat=True)) == list(
        range(save_every, steps + 1, save_every)
    )
    evaluations_settled(run, 1 + steps // save_every)
    assert EvalResult.objects.filter(run=run).count() == 1 + steps // save_every
    assert ExampleResult.objects.filter(eval_result__run=run).count() == 2 * (1 + steps // save_every)
    assert "resuming from" in (Path(run.artifact_dir) / "run.log").read_text()


@pytest.mark.parametrize("algorithm", ["srft", "luffy"])
def test_a_demonstration_run_trains_on_demonstrations(algorithm, team, sums, tiny_model_dir, worker_process):
    sums.examples.update(solution="2 + 4 = 6 . \\boxed{ 6 }")
    spec = tiny_grpo_spec(tiny_model_dir, "sums", steps=2, save_every=2, base_model=False).replace(
        "algorithm: {name: grpo, grpo: {rollouts_per_prompt: 4, temperature: 1.0}}",
        f"algorithm: {{name: {algorithm}, {algorithm}: {{rollouts_per_prompt: 3, temperature: 1.0}}}}",
    )
    run = submit_spec(team, None, spec).runs.get()
    finished(run)
    assert run.status == "succeeded", run.error
    metrics = run.metrics.order_by("step").last().values
    assert {"demo_advantage_mean", "demo_rl_loss"} <= set(metrics)
    if algorithm == "srft":
        assert {"sft_loss", "w_sft", "w_rl"} <= set(metrics) and metrics["w_sft"] > 0
    else:  # LUFFY: no SFT term, unweighted policy gradient: it reports neither
        assert not {"sft_loss", "w_sft", "w_rl"} & set(metrics)


def test_srft_without_demonstrations_fails_clearly(team, sums, tiny_model_dir, worker_process):
    spec = tiny_grpo_spec(tiny_model_dir, "sums", steps=2, save_every=2, base_model=False).replace(
        "algorithm: {name: grpo, grpo: {rollouts_per_prompt: 4, temperature: 1.0}}",
        "algorithm: {name: srft, srft: {rollouts_per_prompt: 3, temperature: 1.0}}",
    )
    run = submit_spec(team, None, spec).runs.get()
    finished(run)
    assert run.status == "failed" and "has no demonstration in 'solution'" in run.error


def test_a_loss_ablation_sweep_runs_every_variant(team, sums, tiny_model_dir, worker_process):
    spec = tiny_grpo_spec(tiny_model_dir, "sums", steps=2, save_every=2, base_model=False) + (
        "sweep:\n  loss:\n"
        "    - {policy_loss: true, kl_coef: 0.0, entropy_coeff: 0.0}\n"
        "    - {policy_loss: true, kl_coef: 0.001, entropy_coeff: -0.001}\n"
        "    - {policy_loss: false, kl_coef: 0.0, entropy_coeff: -0.001}\n"
    )
    runs = list(submit_spec(team, None, spec).runs.order_by("point_index"))
    for run in runs:
        finished(run)
    assert [run.status for run in runs] == ["succeeded"] * 3, [run.error for run in runs]
    last = [run.metrics.order_by("step").last().values for run in runs]
    assert last[0]["kl"] is None and last[1]["kl"] is not None  # a reference model only when β > 0
    assert last[2]["pg_loss"] == 0.0  # entropy only: no policy-gradient term


def test_a_full_dataset_run_ranks_its_examples_by_historical_variance(
    team, sums, tiny_model_dir, worker_process
):
    from rlab.catalog.rankings import resolve_examples, store_ranking_of_run

    spec = tiny_grpo_spec(
        tiny_model_dir, "sums", steps=6, save_every=6, examples=None, base_model=False, batch_size=1
    )
    run = submit_spec(team, None, spec).runs.get()
    finished(run)
    assert run.status == "succeeded", run.error
    assert EpochAccuracy.objects.filter(run=run).count() == 2  # 3 examples, 1 per step: 6 steps = 2 epochs
    ranking = store_ranking_of_run(run)
    assert ranking.source_run == run and ranking.entries.count() == 3
    assert sorted(e.pi for e in ranking.entries.all()) == [1, 2, 3]
    assert resolve_examples(sums, ["pi1"])[0].pi_rank == 1


def test_a_label_noise_sweep_trains_each_run_on_its_variant(team, sums, tiny_model_dir, worker_process):
    from rlab.catalog.models import Dataset

    spec = tiny_grpo_spec(tiny_model_dir, "sums", steps=1, save_every=1, examples=None, base_model=False)
    spec = spec.replace("one-shot-boxed}", "one-shot-boxed, label_noise: {fraction: 0.0}}")
    spec += "sweep:\n  data.label_noise.fraction: [0.0, 0.6, 0.9]\n"
    runs = list(submit_spec(team, None, spec).runs.order_by("point_index"))
    for run in runs:
        finished(run)
    assert [run.status for run in runs] == ["succeeded"] * 3, [run.error for run in runs]
    variants = {v.derivation["fraction"]: v for v in Dataset.objects.filter(parent=sums)}
    assert sorted(variants) == [0.6, 0.9]  # fraction 0 trains on the dataset itself
    # round(0.6 · 3) = 2 and round(0.9 · 3) = 3 of the 3 integer labels are corrupted
    changed = [
        sum(e.answer != e.original_answer for e in variants[f].examples.all()) for f in (0.6, 0.9)
    ]
    assert changed == [2, 3]
    logs = [(Path(run.artifact_dir) / "run.log").read_text() for run in runs]
    assert "label-noise variant" not in logs[0]
    assert variants[0.6].name in logs[1] and variants[0.9].name in logs[2]

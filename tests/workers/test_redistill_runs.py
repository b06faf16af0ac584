"""SFT, SFT→RL (`model.id: run:NAME`) and re-distillation runs on real worker processes."""

import json
import shutil
from pathlib import Path

import pytest

from rlab.experiments.models import Checkpoint
from rlab.experiments.submission import submit_spec
from rlab.results.models import EvalResult
from rlab.spec import SpecError
from tests.models import tiny_grpo_spec
from tests.workers.test_training_runs import evaluations_settled, finished

pytestmark = pytest.mark.django_db(transaction=True)


def sft_spec(model_dir: str, name: str = "tiny-sft", epochs: int = 30, save_every: int = 15) -> str:
    return f"""
name: {name}
model: {{id: {model_dir}, dtype: float32}}
algorithm: {{name: sft, sft: {{epochs: {epochs}}}}}
data: {{dataset: sums, template: one-shot-boxed}}
train: {{lr: 1.0e-2, batch_size: 3, mini_batch_size: 3, max_response_length: 8, save_every: {save_every},
        keep_last: 100}}
eval: {{suite: [arith], template: one-shot-boxed, every: {save_every}, limit: 2, base_model: false,
       sampling: {{max_new_tokens: 4}}}}
resources: {{queue: cpu, gpus: 0}}
"""


def redistill_spec(model_dir: str, source: str) -> str:
    return f"""
name: tiny-redistill
model: {{id: {model_dir}, dtype: float32}}
algorithm: {{name: redistill, redistill: {{source_run: "{source}", samples_per_prompt: 8, temperature: 1.0,
            epochs: 2, sample_effect_problems: 2, reward: outcome_lenient}}}}
train: {{batch_size: 2, mini_batch_size: 2, max_response_length: 8, save_every: 2, keep_last: 100}}
eval: {{suite: [arith], template: one-shot-boxed, every: 2, limit: 2, base_model: true,
       sampling: {{max_new_tokens: 4}}}}
resources: {{queue: cpu, gpus: 0}}
"""


@pytest.fixture
def sums_with_solutions(sums):
    for example in sums.examples.all():
        example.solution = f"\\boxed{{ {example.answer} }}"
        example.save()
    return sums


def test_sft_then_grpo_from_it_then_redistillation(team, sums_with_solutions, tiny_model_dir, worker_process):
    # 1. Plain SFT on the dataset's solutions: 30 epochs of one batch of 3.
    sft = finished(submit_spec(team, None, sft_spec(tiny_model_dir)).runs.get())
    assert sft.status == "succeeded", sft.error
    assert sft.total_steps == 30 and list(sft.metrics.values_list("step", flat=True)) == list(range(1, 31))
    first, last = sft.metrics.get(step=1).values, sft.metrics.get(step=30).values
    assert {"loss", "lr", "grad_norm", "tokens"} <= set(first) and last["loss"] < 0.5 * first["loss"]
    assert first["lr"] == pytest.approx(1e-2)  # train.lr as given; cosine from there
    assert list(sft.checkpoints.values_list("step", flat=True)) == [15, 30]
    evaluations_settled(sft, 2)

    # 2. GRPO from the SFT run's checkpoint (SFT→RL): the base model it evaluates is that checkpoint.
    grpo_spec = tiny_grpo_spec(f'"run:{sft.name}@30"', "sums", steps=2, save_every=2, examples=None).replace(
        "temperature: 1.0}", "temperature: 1.0, reward: outcome_lenient}"  # its boxes decode as "\\ boxed {"
    )
    grpo = finished(submit_spec(team, None, grpo_spec).runs.get())
    assert grpo.status == "succeeded", grpo.error
    resolved = json.loads((Path(grpo.artifact_dir) / "model.json").read_text())
    assert resolved == {"label": f"run:{sft.name}@30", "weights": sft.checkpoints.get(step=30).path}
    evaluations_settled(grpo, 2)
    assert EvalResult.objects.filter(run=grpo, checkpoint=None).get().model_ref == f"run:{sft.name}@30"

    # 3. Re-distillation from the GRPO run, onto the base model, on the GRPO run's own prompts.
    run = finished(submit_spec(team, None, redistill_spec(tiny_model_dir, grpo.name)).runs.get())
    assert run.status == "succeeded", run.error
    lines = (Path(run.artifact_dir) / "redistill" / "samples.jsonl").read_text().splitlines()
    samples = [json.loads(line) for line in lines]
    assert 1 <= len(samples) <= 3
    assert {s["source_run"] for s in samples} == {grpo.name}
    assert {s["source_step"] for s in samples} == {2} and {s["temperature"] for s in samples} == {1.0}
    answers = {str(e.index): e.answer for e in sums_with_solutions.examples.all()}
    assert all(answers[str(s["example_key"])] in s["response"] for s in samples)
    assert all(isinstance(s["sample_effect"], float) for s in samples)
    log = (Path(run.artifact_dir) / "run.log").read_text()
    assert "sample effect on 2 held-out problem(s) of arith" in log
    steps = 2 * ((len(samples) + 1) // 2)
    assert list(run.metrics.values_list("step", flat=True)) == list(range(1, steps + 1))
    assert run.checkpoints.filter(step=steps).exists()
    evaluations_settled(run, 1 + run.checkpoints.count())
    assert EvalResult.objects.filter(run=run, checkpoint=None).get().model_ref == tiny_model_dir


def test_a_source_run_that_is_missing_unfinished_or_without_checkpoints_is_refused(
    team, sums_with_solutions, tiny_model_dir, worker_process
):
    with pytest.raises(SpecError, match=r"algorithm\.redistill\.source_run: no run named 'nope' in team lab"):
        submit_spec(team, None, redistill_spec(tiny_model_dir, "nope"))
    with pytest.raises(SpecError, match=r"model\.id: no run named 'nope'"):
        submit_spec(team, None, tiny_grpo_spec('"run:nope"', "sums"))

    sft = submit_spec(team, None, sft_spec(tiny_model_dir, epochs=2, save_every=2)).runs.get()
    with pytest.raises(SpecError, match="only a succeeded run can be used"):
        submit_spec(team, None, redistill_spec(tiny_model_dir, sft.name))
    finished(sft)
    assert sft.status == "succeeded", sft.error
    with pytest.raises(SpecError, match="has no usable checkpoint at step 7"):
        submit_spec(team, None, tiny_grpo_spec(f'"run:{sft.name}@7"', "sums"))

    # Known at submission, gone by the time the worker looks: the run fails and says why.
    for checkpoint in Checkpoint.objects.filter(run=sft):
        shutil.rmtree(checkpoint.path)
    run = finished(submit_spec(team, None, redistill_spec(tiny_model_dir, sft.name)).runs.get())
    assert run.status == "failed" and f"run {sft.name!r} has no usable checkpoint" in run.error

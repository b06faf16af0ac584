"""A run's evaluations leave out the benchmark problems it trained on (real worker, tiny model), and base
rows are per setup: a run with other sampling gets its own."""

from pathlib import Path

import pytest

from rlab.catalog.seeding import benchmark_dataset
from rlab.experiments.submission import submit_spec
from rlab.results.models import EvalResult, ExampleResult
from rlab.results.run_evaluations import eval_table
from tests.models import tiny_grpo_spec
from tests.workers.test_training_runs import evaluations_settled, finished

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_arith_run_training_on_example_3_leaves_problem_3_out_and_says_so(
    team, tiny_model_dir, worker_process
):
    benchmark_dataset("arith")
    spec = tiny_grpo_spec(tiny_model_dir, "arith", steps=2, save_every=2, examples="[3]").replace(
        "limit: 2", "limit: 4"
    )
    run = finished(submit_spec(team, None, spec).runs.get())
    assert run.status == "succeeded", run.error
    evaluations_settled(run, 2)  # the base model and step 2
    results = list(EvalResult.objects.filter(run=run))
    assert len(results) == 2
    for result in results:
        assert result.n == 3 and result.training_overlap["problems"] == ["arith-0003"]
        assert result.sampling["excluded_training_problems"] == ["arith-0003"]
        evaluated = ExampleResult.objects.filter(eval_result=result).values_list("example__index", flat=True)
        assert sorted(evaluated) == [0, 1, 2]
    assert eval_table(run).overlaps == ["arith: n = 3 (1 training problem excluded)"]
    log = (Path(run.artifact_dir) / "run.log").read_text()
    assert "arith avg@1" in log and "on 3 problem(s) (1 training problem excluded)" in log


def test_a_second_run_with_other_sampling_gets_its_own_base_row(team, sums, tiny_model_dir, worker_process):
    first = tiny_grpo_spec(tiny_model_dir, "sums", steps=1, save_every=1, name="first")
    second = first.replace("name: first", "name: second").replace("max_new_tokens: 4", "max_new_tokens: 3")
    runs = [finished(submit_spec(team, None, spec).runs.get()) for spec in (first, second)]
    for run in runs:
        assert run.status == "succeeded", run.error
        evaluations_settled(run, 2)
    bases = EvalResult.objects.filter(team=team, checkpoint=None, benchmark__key="arith")
    assert sorted(b.sampling["max_new_tokens"] for b in bases) == [3, 4]
    assert len({b.sampling_hash for b in bases}) == 2

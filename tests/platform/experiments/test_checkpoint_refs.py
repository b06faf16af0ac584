"""Which checkpoint `run:NAME[@STEP]` means (rlab.experiments.checkpoint_refs): the named step, else the
run's best-average checkpoint as rlab.results.bests keeps it in Run.best_step, else its latest."""

import pytest

from rlab.experiments.checkpoint_refs import CheckpointRefError, resolve_run_checkpoint, run_checkpoint
from rlab.experiments.models import Checkpoint, Run
from tests.platform.results.test_results_pages import evaluate, make_sweep

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(team_a) -> Run:
    """A succeeded run whose best-average checkpoint (step 20) is neither its first nor its latest."""
    run = make_sweep(team_a, [{}], name="source").runs.get()
    for step, score in ((10, 0.3), (20, 0.8), (30, 0.5)):
        evaluate(team_a, run, step, {"math500": score})
    run.refresh_from_db()
    return run


def test_without_a_step_the_best_average_checkpoint_is_taken(team_a, source):
    assert source.best_step == 20  # kept by EvalResult.record
    assert resolve_run_checkpoint(team_a, source.name).step == 20


def test_an_unusable_best_checkpoint_gives_the_latest_usable_one(source):
    assert run_checkpoint(source, usable=lambda checkpoint: checkpoint.step != 20).step == 30


def test_a_run_never_evaluated_gives_its_latest_checkpoint(team_a):
    run = make_sweep(team_a, [{}], name="plain").runs.get()
    for step in (5, 15):
        Checkpoint.record(run, step, f"/ckpt/{step}")
    assert run_checkpoint(run).step == 15


def test_a_named_step_must_be_a_usable_checkpoint(team_a, source):
    assert resolve_run_checkpoint(team_a, source.name, 10).step == 10
    with pytest.raises(CheckpointRefError, match=r"no usable checkpoint at step 7 \(has: 10, 20, 30\)"):
        run_checkpoint(source, 7)


def test_the_run_must_exist_in_the_team_and_have_succeeded(team_a, team_b, source):
    with pytest.raises(CheckpointRefError, match=f"no run named '{source.name}' in team team-b"):
        resolve_run_checkpoint(team_b, source.name)
    Run.objects.filter(pk=source.pk).update(status=Run.Status.FAILED)
    with pytest.raises(CheckpointRefError, match="only a succeeded run can be used"):
        resolve_run_checkpoint(team_a, source.name)

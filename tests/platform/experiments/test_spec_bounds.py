"""Specs are bounded whatever their shape: YAML aliases, huge sweeps, long values and oversize texts give a
short, clear error quickly and in little memory (measured in a fresh process), and local model paths are
refused unless they lie in the site's model folder, at submission and again on the worker."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from rlab.experiments.editor import check_spec
from rlab.experiments.submission import submit_spec
from rlab.spec import SpecError, parse_spec
from tests.models import tiny_grpo_spec
from tests.platform.conftest import make_unqueued_run
from tests.services import REPO_ROOT
from workers.model_refs import ModelNotAllowed, run_model

BASE = "name: bounded\nmodel: {id: Qwen/Qwen2.5-Math-1.5B}\ndata: {dataset: arith}\n"
ALIAS_BOMB = BASE + "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9) if i else '1, 1, 1, 1, 1, 1, 1, 1, 1'}]\n" for i in range(9)
) + "sweep: {train.lr: *l8}\n"
HUGE_SWEEP = BASE + "sweep:\n  train.lr: [" + ", ".join(f"{i + 1}e-7" for i in range(100)) + "]\n" + (
    "  train.seed: [" + ", ".join(str(i) for i in range(100)) + "]\n"
)
PROBE = """
import json, sys, time
sys.path.insert(0, "platform")
from rlab.bootstrap import setup_django
setup_django()
from rlab.spec import SpecError, parse_spec
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
text = open(sys.argv[1]).read()
before, started = peak_mb(), time.perf_counter()
try:
    parse_spec(text)
    error = None
except SpecError as exc:
    error = str(exc)
print(json.dumps({"error": error, "seconds": time.perf_counter() - started, "extra_mb": peak_mb() - before}))
"""


def probe(text: str, tmp_path: Path) -> dict:
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    env = {**os.environ, "PYTHONPATH": f"{REPO_ROOT / 'platform'}:{REPO_ROOT}"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(spec)], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (ALIAS_BOMB, "YAML aliases (*name) are not supported"),
        (HUGE_SWEEP, "10,000 points"),
        (BASE + "description: '" + "x" * 70_000 + "'\n", "at most 65,536 are accepted"),
    ],
    ids=["alias-bomb", "10000-point-sweep", "oversize"],
)
def test_hostile_specs_fail_fast_in_little_memory(text, message, tmp_path):
    outcome = probe(text, tmp_path)
    assert outcome["error"] is not None and message in outcome["error"]
    assert len(outcome["error"]) < 500
    assert outcome["seconds"] < 2 and outcome["extra_mb"] < 200, outcome


def test_sweep_values_must_be_values_of_one_field():
    with pytest.raises(SpecError, match=r"sweep\.train\.lr\[1\]: \[\[\[\[1\]\]\]\] is too large or deep"):
        parse_spec(BASE + "sweep: {train.lr: [1.0e-6, [[[[1]]]]]}\n")
    with pytest.raises(SpecError, match=r"sweep\.train\.lr\[0\]: \[0, 0, 0.* is too large or deep"):
        parse_spec(BASE + "sweep: {train.lr: [[" + ", ".join(["0"] * 2000) + "]]}\n")
    with pytest.raises(SpecError, match=r"train.lr: must be a valid number"):
        parse_spec(BASE + "sweep: {train.lr: [1.0e-6, {a: 1}]}\n")
    assert len(parse_spec(BASE + "sweep: {data.examples: [[pi1], [pi2]]}\n").sweep["data.examples"]) == 2


def test_error_messages_quote_a_short_prefix_of_a_value():
    with pytest.raises(SpecError) as error:
        parse_spec(BASE.replace("Qwen/Qwen2.5-Math-1.5B", "'" + "?" * 5000 + "'"))
    assert len(str(error.value)) < 300 and "…" in str(error.value)


@pytest.mark.django_db
def test_the_editors_live_validation_refuses_the_alias_bomb(team_a):
    check = check_spec(team_a, ALIAS_BOMB)
    assert check.run_count == 0 and ["aliases" in str(e) for e in check.errors] == [True]


@pytest.fixture
def artifacts(tmp_path, settings) -> Path:
    settings.RLAB_ARTIFACT_DIR = tmp_path / "artifacts"
    return settings.RLAB_ARTIFACT_DIR


def _spec_with_model(path: str) -> str:
    return BASE.replace("Qwen/Qwen2.5-Math-1.5B", path) + "resources: {queue: cpu}\n"


@pytest.mark.django_db
def test_local_models_only_from_the_model_folder(team_a, shared_datasets, artifacts, tmp_path, settings):
    other_team_run = artifacts / "other-team" / "their-run" / "checkpoints" / "step-00000020"
    other_team_run.mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    settings.RLAB_MODEL_ROOTS = [(tmp_path / "models").resolve()]
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "link").symlink_to(other_team_run)
    refused = {
        str(other_team_run): "a path into run artifacts is not a model",
        str(tmp_path / "models" / ".." / "artifacts" / "other-team"): "a path into run artifacts",
        str(tmp_path / "models" / "link"): "a path into run artifacts",
        str(outside): "local models must be in a model folder of this site",
    }
    for path, message in refused.items():
        with pytest.raises(SpecError, match=message) as error:
            submit_spec(team_a, None, _spec_with_model(path))
        assert [e.path for e in error.value.errors] == ["model.id"]
        assert "exist" not in str(error.value)  # says nothing of what is on the worker's disk


@pytest.mark.django_db
def test_the_worker_refuses_a_path_that_slipped_past_validation(team_a, artifacts):
    target = artifacts / "other-team" / "run" / "checkpoints" / "step-00000001"
    target.mkdir(parents=True)
    run = make_unqueued_run(team_a, tiny_grpo_spec(str(target), "sums"))
    with pytest.raises(ModelNotAllowed, match="a path into run artifacts"):
        run_model(run, Path(settings.RLAB_ARTIFACT_DIR) / "x")

"""The `rlab` command line: exit codes and messages, local and remote submission."""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from rlab.experiments.models import Run
from rlab.teams.models import APIToken
from tests.models import tiny_grpo_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "specs"


@pytest.fixture
def spec_file(tmp_path, tiny_model_dir) -> str:
    path = tmp_path / "tiny.yaml"
    path.write_text(tiny_grpo_spec(tiny_model_dir, "arith", steps=3, save_every=3, base_model=False))
    return str(path)


def wait_until(condition, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def rlab(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """The CLI in a child process; without `env`, with a var/ of its own (no database: nothing to check
    a spec's catalogue against)."""
    env = env or {**os.environ, "RLAB_VAR_DIR": tempfile.mkdtemp(prefix="rlab-cli-")}
    return subprocess.run(
        [sys.executable, "-m", "rlab.cli", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def test_validate_a_good_spec_exits_0():
    result = rlab("validate", str(EXAMPLES / "pi-examples-sweep.yaml"))
    assert result.returncode == 0, result.stderr
    assert "4 run(s)" in result.stdout and "data.examples=['pi13']" in result.stdout


def test_validate_a_bad_spec_exits_2_naming_the_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nmodel: {id: Qwen/Qwen2.5-Math-1.5B}\ndata: {dataset: d}\ntrain: {lr: -1}\n")
    result = rlab("validate", str(bad))
    assert result.returncode == 2
    assert "train.lr: must be greater than 0" in result.stderr


def test_set_overrides_spec_fields_and_names_bad_paths():
    spec = str(EXAMPLES / "label-noise-sweep.yaml")
    result = rlab(
        "validate", spec, "--set", "sweep.data.label_noise.fraction=[0.0, 0.5]", "--set", "train.steps=4"
    )
    assert result.returncode == 0, result.stderr
    assert "2 run(s)" in result.stdout and "data.label_noise.fraction=0.5" in result.stdout
    result = rlab("validate", spec, "--set", "sweep={train.lr: [1.0e-6, 1.0e-5, 1.0e-4]}")
    assert result.returncode == 0 and "3 run(s)" in result.stdout, result.stderr
    result = rlab("validate", spec, "--set", "train.stepz=4", "--set", "train.lr=-1")
    assert result.returncode == 2
    assert "--set train.stepz: train has no field 'stepz'" in result.stderr
    result = rlab("validate", spec, "--set", "train.lr=-1")
    assert result.returncode == 2 and "train.lr: must be greater than 0" in result.stderr
    assert rlab("validate", spec, "--set", "train.steps").returncode == 2


def test_validate_a_missing_file_exits_2():
    result = rlab("validate", "/no/such/spec.yaml")
    assert result.returncode == 2 and "no such file" in result.stderr


def test_unknown_command_exits_2():
    assert rlab("frobnicate").returncode == 2


def test_remote_submit_needs_a_token(spec_file):
    result = rlab("submit", spec_file, "--server", "http://127.0.0.1:9")
    assert result.returncode == 2 and "API token" in result.stderr


def test_remote_submit_to_nothing_fails_clearly(spec_file):
    result = rlab(
        "submit",
        spec_file,
        "--server",
        "http://127.0.0.1:9",
        "--token",
        "rlab_x",
    )
    assert result.returncode == 1 and "cannot reach" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_local_submit_and_wait_runs_to_success(
    spec_file, team_a, alice, shared_datasets, child_env, worker_process
):
    result = rlab(
        "submit",
        spec_file,
        "--team",
        "team-a",
        "--user",
        "alice",
        "--wait",
        env=child_env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    run = Run.objects.get()
    assert run.status == "succeeded" and f"run {run.id}" in result.stdout
    assert run.spec.created_by == alice
    wait_until(lambda: Run.objects.get().best_step is not None)  # its checkpoint's evaluation
    listed = rlab("runs", "--team", "team-a", env=child_env)
    assert listed.returncode == 0, listed.stderr
    header, line = listed.stdout.splitlines()
    assert header.split()[:4] == ["id", "team", "name", "status"]
    assert line.split()[:5] == [str(run.id), "team-a", run.name, "succeeded", "3/3"]
    assert f"{100 * Run.objects.get().best_average:.1f}%" in line
    assert rlab("runs", "--team", "nope", env=child_env).returncode == 2
    bad_limit = rlab("runs", "--limit", "0", env=child_env)
    assert bad_limit.returncode == 2 and "--limit: must be a whole number of 1 or more" in bad_limit.stderr


@pytest.mark.django_db(transaction=True)
def test_local_submit_with_unknown_team_exits_2(spec_file, team_a, shared_datasets, child_env):
    result = rlab("submit", spec_file, "--team", "nope", env=child_env)
    assert result.returncode == 2 and "no team 'nope'" in result.stderr
    assert not Run.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_remote_submit_with_token_runs_to_success(
    spec_file, live_server, alice, team_a, shared_datasets, worker_process, child_env
):
    _, key = APIToken.issue(alice)
    result = rlab(
        "submit",
        spec_file,
        "--server",
        live_server.url,
        "--token",
        key,
        "--wait",
        env=child_env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert Run.objects.get().status == "succeeded"


@pytest.mark.django_db(transaction=True)
def test_remote_submit_of_an_invalid_spec_exits_2(live_server, alice, team_a, child_env, tmp_path):
    _, key = APIToken.issue(alice)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nmodel: {id: a/b}\ndata: {dataset: nope}\n")
    result = rlab("submit", str(bad), "--server", live_server.url, "--token", key, env=child_env)
    assert result.returncode == 2 and "data.dataset: no dataset named 'nope'" in result.stderr


def test_data_noise_writes_a_variant_and_keeps_originals(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(f'{{"problem": "p{i}", "answer": "{i + 3}"}}\n' for i in range(10)))
    out = tmp_path / "out.jsonl"
    result = rlab("data", "noise", str(source), "--fraction", "0.5", "--seed", "3", "-o", str(out))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    changed = [r for r in rows if r["noisy"]]
    assert len(changed) == 5 and all(r["answer"] != r["original_answer"] for r in changed)
    assert all(r["answer"] == r["original_answer"] for r in rows if not r["noisy"])


def test_data_noise_on_a_malformed_file_exits_2_and_writes_nothing(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"answer": "1"}\nnot json\n')
    out = tmp_path / "out.jsonl"
    result = rlab("data", "noise", str(source), "--fraction", "0.5", "-o", str(out))
    assert result.returncode == 2 and "line 2" in result.stderr
    assert not out.exists()


def test_data_rank_names_pi_ranks(tmp_path):
    history = tmp_path / "history.jsonl"
    history.write_text('{"example": "a", "acc": [1, 1, 1]}\n{"example": "b", "acc": [0, 1, 0]}\n')
    out = tmp_path / "ranks.jsonl"
    result = rlab("data", "rank", str(history), "-o", str(out))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["example"], r["pi"]) for r in rows] == [("b", 1), ("a", 2)]
    assert rows[0]["variance"] == pytest.approx(2 / 9)


def test_grade_writes_each_pair_back_with_a_verdict_and_a_summary(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    lines = [
        {"gold": "\\frac{1}{2}", "pred": "0.5", "kind": "math"},
        {"gold": "B", "pred": "(B)", "kind": "choice"},
        {"gold": "10", "pred": "1000", "kind": "math"},
    ]
    pairs.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = rlab("grade", str(pairs))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row.get("equal") for row in rows[:3]] == [True, True, False]
    assert rows[3] == {"summary": {"count": 3, "equal": 2, "not_equal": 1, "errors": 0}}


def test_grade_reports_a_bad_line_and_exits_2(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"gold": "1", "pred": "1"}\n{"pred": "1"}\n')
    result = rlab("grade", str(pairs))
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 2 and rows[0]["equal"] is True
    assert rows[1]["equal"] is None and "line 2" in rows[1]["error"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_serve_refuses_a_taken_port_and_stops_its_server_on_sigterm(child_env):
    port = str(free_port())
    command = [sys.executable, "-m", "rlab.cli", "serve", "--port", port, "--no-worker"]
    server = subprocess.Popen(command, env=child_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: urlopen_status(f"http://127.0.0.1:{port}/accounts/login/") == 200, timeout=60)
        second = rlab("serve", "--port", port, "--no-worker", env=child_env)
        assert second.returncode == 1 and f"127.0.0.1:{port} is taken" in second.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    # its web server went with it: nothing answers on the port any more
    wait_until(lambda: urlopen_status(f"http://127.0.0.1:{port}/accounts/login/") is None, timeout=30)


def urlopen_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except OSError:
        return None


def test_validate_without_a_database_says_the_catalogue_was_not_checked():
    result = rlab("validate", str(EXAMPLES / "pi1-1shot.yaml"))
    assert result.returncode == 0 and "catalogue was not checked" in result.stdout


@pytest.mark.django_db(transaction=True)
def test_validate_checks_the_teams_catalogue_as_the_web_editor_does(spec_file, team_a, child_env, tmp_path):
    """The CLI and the web agree: a dataset the team does not have is an error in both."""
    result = rlab("validate", spec_file, "--team", "team-a", env=child_env)
    assert result.returncode == 2 and "data.dataset: no dataset named" in result.stderr
    assert rlab("validate", spec_file, "--team", "nope", env=child_env).returncode == 2


@pytest.mark.django_db
def test_a_benchmark_without_data_is_refused_at_submission(
    team_a, shared_datasets, settings, monkeypatch, tmp_path
):
    from huggingface_hub import constants

    from rlab.experiments.submission import submit_spec
    from rlab.spec import SpecError

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    settings.RLAB_DATA_DIR = tmp_path
    spec = "name: s\nmodel: {id: Qwen/Qwen2.5-Math-1.5B}\ndata: {dataset: arith}\n"
    spec += "eval: {suite: [arith, aime24]}\nresources: {queue: cpu}\n"
    missing = r"eval\.suite\[1\]: benchmark 'aime24' has no data here: no file"
    with pytest.raises(SpecError, match=missing) as error:
        submit_spec(team_a, None, spec)
    message = str(error.value)
    assert str(tmp_path / "benchmarks" / "aime24") in message and "HF_HUB_OFFLINE" in message
    folder = tmp_path / "benchmarks" / "aime24"
    folder.mkdir(parents=True)
    (folder / "test.jsonl").write_text('{"id": 1, "problem": "1+1?", "answer": "2"}\n')
    assert submit_spec(team_a, None, spec).runs.count() == 1

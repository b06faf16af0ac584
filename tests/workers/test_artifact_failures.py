"""A run whose files cannot be written fails with the path and the cause, never a traceback or a half-written
checkpoint. The failures are real: a file-size limit on the worker process (EFBIG), a folder without write
permission (EACCES; as root, the worker runs without CAP_DAC_OVERRIDE so that permissions hold), and files
that lead to /dev/full (ENOSPC). Each task runs in a child process like a worker's, against the test
database."""

import errno
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from rlab.experiments.models import Checkpoint, EvalRequest, Run
from tests.models import tiny_grpo_spec
from tests.platform.conftest import make_unqueued_run
from workers.artifacts import LOG_NAME, storage_failure

pytestmark = pytest.mark.django_db(transaction=True)

# Root ignores file permissions only through these capabilities; a worker started without them obeys them.
WITHOUT_DAC_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def run_task(env: dict, call: str, *, max_file_bytes: int | None = None, obey_permissions: bool = False):
    """Run `workers.tasks.<call>` in a fresh process with the workers' environment."""

    def limit_file_size() -> None:
        if max_file_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, resource.RLIM_INFINITY))

    prefix = WITHOUT_DAC_OVERRIDE if obey_permissions and os.geteuid() == 0 else []
    code = f"from rlab.bootstrap import setup_django; setup_django(); from workers import tasks; tasks.{call}"
    result = subprocess.run(
        [*prefix, sys.executable, "-c", code],
        env=env,
        preexec_fn=limit_file_size,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture
def run(team, sums, tiny_model_dir, child_env) -> Run:
    spec = tiny_grpo_spec(tiny_model_dir, "sums", steps=2, save_every=1, base_model=False)
    return make_unqueued_run(team, spec)


def artifact_dir(child_env: dict, run: Run) -> Path:
    return Path(child_env["RLAB_ARTIFACT_DIR"]) / run.team.slug / run.name


def assert_no_checkpoint(run: Run, directory: Path) -> None:
    assert not Checkpoint.objects.filter(run=run).exists()
    assert list(directory.iterdir()) == [], "a checkpoint, or its scratch folder, was left behind"


def test_a_checkpoint_over_the_file_size_limit_fails_the_run(run, child_env):
    run_task(child_env, f"execute_run({run.pk})", max_file_bytes=32 * 1024)
    run.refresh_from_db()
    checkpoint = artifact_dir(child_env, run) / "checkpoints" / "step-00000001"
    assert run.status == "failed"
    assert run.error == f"file too large (file-size limit): cannot write {checkpoint} (EFBIG: File too large)"
    assert run.error in (artifact_dir(child_env, run) / LOG_NAME).read_text()
    assert_no_checkpoint(run, checkpoint.parent)


def test_a_checkpoint_folder_without_write_permission_fails_the_run(run, child_env):
    checkpoints = artifact_dir(child_env, run) / "checkpoints"
    checkpoints.mkdir(parents=True)
    checkpoints.chmod(0o555)
    try:
        run_task(child_env, f"execute_run({run.pk})", obey_permissions=True)
    finally:
        checkpoints.chmod(0o755)
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.error.startswith(f"permission denied: cannot write {checkpoints / 'step-00000001'} (EACCES")
    assert run.error in (checkpoints.parent / LOG_NAME).read_text()
    assert_no_checkpoint(run, checkpoints)


def test_a_run_log_on_a_full_disk_fails_the_run(run, child_env, worker_process):
    directory = artifact_dir(child_env, run)
    directory.mkdir(parents=True)
    (directory / LOG_NAME).symlink_to("/dev/full")
    run_task(child_env, f"execute_run({run.pk})")
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.error == f"disk full: cannot write {directory / LOG_NAME} (ENOSPC: No space left on device)"


def test_samples_on_a_full_disk_fail_the_finished_run(run, child_env):
    Run.objects.filter(pk=run.pk).update(status=Run.Status.SUCCEEDED)
    samples = artifact_dir(child_env, run) / "evals" / "base" / "arith.jsonl"
    samples.parent.mkdir(parents=True)
    samples.symlink_to("/dev/full")
    request = EvalRequest.ask(run)
    run_task(child_env, f"evaluate_model_task({request.pk})")
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.error == f"disk full: cannot write {samples} (ENOSPC: No space left on device)"
    assert run.error in (samples.parents[2] / LOG_NAME).read_text()


@pytest.mark.parametrize(
    ("code", "cause"),
    [(errno.EROFS, "read-only file system"), (errno.EDQUOT, "disk quota exceeded"), (errno.EIO, None)],
)
def test_storage_causes_are_named_from_the_os_error_or_a_library_message(code, cause, tmp_path):
    error = OSError(code, os.strerror(code), str(tmp_path / "x"))
    wrapped = RuntimeError(f"Error while serializing: I/O error: {os.strerror(code)} (os error {code})")
    for failure in (storage_failure(error), storage_failure(wrapped, tmp_path / "x")):
        assert failure == (
            f"{cause}: cannot write {tmp_path / 'x'} ({errno.errorcode[code]}: {os.strerror(code)})"
            if cause
            else None
        )

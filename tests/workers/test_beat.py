"""Exactly one scheduler per site: a second `rlab beat` is refused while the first runs."""

import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_second_scheduler_is_refused(child_env, tmp_path):
    log = tmp_path / "beat.log"
    with log.open("w") as output:
        first = subprocess.Popen(
            [sys.executable, "-m", "rlab.cli", "beat"], env=child_env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 90
        while "beat: Starting" not in log.read_text() and first.poll() is None:
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        assert first.poll() is None, log.read_text()[-2000:]
        command = [sys.executable, "-m", "rlab.cli", "beat"]
        second = subprocess.run(command, env=child_env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert "another `rlab beat` already runs for this site" in second.stderr
    finally:
        first.terminate()
        first.wait(timeout=30)

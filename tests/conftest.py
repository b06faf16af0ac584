"""Session fixtures: a real PostgreSQL for every database test, a real Redis broker and real workers.

Library tests (evaluation/, training/) use none of these and start no server.
"""

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from asgiref.local import Local
from django.conf import settings
from django.db import connections

from tests.models import save_tiny_model
from tests.services import MODEL_ROOT, REPO_ROOT, PostgresServer, RedisServer, WorkerProcess, service_env

SHARED_DATA_ENV = "RLAB_SHARED_DATA"

# Worker processes of the tests beat often and give up on a silent run quickly, so crash tests are short.
HEARTBEAT_SECONDS = 0.5
STALE_AFTER_SECONDS = 3.0


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The data folder beside the repository (../shared/data, or $RLAB_SHARED_DATA): benchmark files and
    the 1-shot paper's training data. Never copied into the repo; tests that need it skip without it."""
    path = Path(os.environ.get(SHARED_DATA_ENV, REPO_ROOT.parent / "shared" / "data"))
    if not (path / "benchmarks").is_dir():
        pytest.skip(f"shared data not found at {path} (set {SHARED_DATA_ENV})")
    return path


@pytest.fixture(scope="session")
def postgres_server():
    # Not under pytest's tmp folder: that is private to root, and the server runs as `postgres`.
    directory = Path(tempfile.mkdtemp(prefix="rlab-test-postgres-"))
    server = PostgresServer(directory).start()
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(postgres_server):
    """Point Django at the session's PostgreSQL before pytest-django creates the test database."""
    database = settings.DATABASES["default"]
    database.clear()
    database.update(
        {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "rlab",
            "USER": postgres_server.user,
            "PASSWORD": "",
            "HOST": "127.0.0.1",
            "PORT": str(postgres_server.port),
            "CONN_MAX_AGE": 0,
            "OPTIONS": {},
            "TEST": {"NAME": "test_rlab"},
        }
    )
    # Django may already hold a (SQLite) connection object built from the embedded defaults: drop it and
    # the handler's cached copy of DATABASES so the next access builds a PostgreSQL connection.
    connections.close_all()
    connections.__dict__.pop("settings", None)
    connections._connections = Local(connections.thread_critical)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def celery_broker(redis_server):
    """The project's Celery app, sending to the session's Redis."""
    from rlab.celery import app

    app.conf.broker_url = redis_server.url
    app.conf.broker_transport_options = {"visibility_timeout": 3600}
    yield app
    app.pool.force_close_all()


@pytest.fixture(scope="session")
def test_database_url(django_db_setup, postgres_server) -> str:
    return postgres_server.url(settings.DATABASES["default"]["NAME"])


@pytest.fixture(scope="session")
def child_env(test_database_url, celery_broker, redis_server, tmp_path_factory) -> dict[str, str]:
    """Environment for CLI and worker child processes: the test database and broker, a private var/."""
    var = tmp_path_factory.mktemp("var")
    return service_env(
        test_database_url,
        redis_server.url,
        RLAB_VAR_DIR=str(var),
        RLAB_ARTIFACT_DIR=str(var / "artifacts"),
        RLAB_DATA_DIR=str(var / "data"),
        RLAB_HEARTBEAT_SECONDS=str(HEARTBEAT_SECONDS),
        RLAB_STALE_AFTER_SECONDS=str(STALE_AFTER_SECONDS),
    )


@pytest.fixture(scope="session")
def worker_server(child_env, tmp_path_factory):
    # The cpu queue only: tests of GPU placement start gpu workers with fake devices of their own
    # (gpu_workers), which must be the only ones taking the gpu queue's runs.
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    worker = WorkerProcess(child_env, log, queues="cpu").start()
    yield worker
    worker.stop()


@pytest.fixture
def gpu_workers(child_env, tmp_path, celery_broker, redis_server):
    """Start `rlab worker --queue gpu` processes with fake devices: `gpu_workers("0,1,2,3")` (RLAB_GPUS).
    They are stopped after the test (a warm shutdown: cancel their runs first)."""
    started: list[WorkerProcess] = []

    def start(gpus: str, retry_seconds: float = 0.5) -> WorkerProcess:
        env = {**child_env, "RLAB_GPUS": gpus, "RLAB_DEVICE_RETRY_SECONDS": str(retry_seconds)}
        env["OMP_NUM_THREADS"] = "1"  # several jobs at once on a small CPU
        log = tmp_path / f"gpu-worker-{len(started)}.log"
        worker = WorkerProcess(env, log, queues="gpu").start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def worker_process(worker_server, celery_broker, redis_server):
    """The session's worker process; the test ends only once it is idle again, so no task of this test
    writes to the database while pytest-django empties it for the next one."""
    yield worker_server
    wait_until_idle(celery_broker, redis_server.url, worker_server)


def queue_keys(queues: tuple[str, ...]) -> list[str]:
    """The Redis lists behind Celery queues: one per message priority (kombu: `<queue><sep><priority>`, the
    plain name for priority 0)."""
    from kombu.transport.redis import PRIORITY_STEPS

    sep = "\x06\x16"
    return [queue if step == 0 else f"{queue}{sep}{step}" for queue in queues for step in PRIORITY_STEPS]


def wait_until_idle(app, broker_url: str, worker: WorkerProcess, timeout: float = 120) -> None:
    import redis

    client = redis.Redis.from_url(broker_url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            return
        queued = sum(client.llen(key) for key in queue_keys(tuple(worker.queues.split(","))))
        active = app.control.inspect(timeout=1.0).active() or {}
        if not queued and not any(active.values()):
            return
        time.sleep(0.2)
    raise RuntimeError(f"the worker was still busy {timeout} s after the test")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> str:
    """A tiny random Llama with a word-level tokenizer, saved like any model folder (tests/models.py)."""
    return str(save_tiny_model(tmp_path_factory.mktemp("tiny-llama")))


@pytest.fixture(autouse=True, scope="session")
def model_root_for_tests():
    """This process (submissions made in tests) allows models under MODEL_ROOT, as the test workers do."""
    settings.RLAB_MODEL_ROOTS = [Path(MODEL_ROOT).resolve()]

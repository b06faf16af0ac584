"""Django set-up for processes that are not started by Django itself: the `rlab` CLI and worker processes
(workers.distributed_run's ranks). Kept outside the CLI so that workers do not depend on it."""

import os


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rlab.settings")
    import django

    django.setup()

"""`python -m tests.platform.catalog.import_probe FILE`: import FILE as a shared dataset in a fresh process
and print, as JSON, the error it ends with, the seconds it took and the peak RSS it added over the process's
RSS just before (MB). Run by tests/platform/catalog/test_import_bounds.py against the test database."""

import json
import sys
import time
from pathlib import Path


def _status_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process. Not getrusage's ru_maxrss: that carries over the
    parent's peak through fork and exec, so a child of a large pytest process would report the parent's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def main(path: Path) -> None:
    import django

    django.setup()
    import pyarrow.parquet  # noqa: F401 - loaded before the baseline, as in a warm web process

    from rlab.catalog.importing import FieldMapping, ImportFailed, import_dataset
    from rlab.catalog.models import Dataset

    Dataset.objects.exists()  # the database connection, too
    before = _status_mb("VmRSS")
    started = time.perf_counter()
    try:
        import_dataset(team=None, name="probe", filename=path.name, data=path, mapping=FieldMapping())
        error = None
    except ImportFailed as failed:
        error = str(failed)
    seconds = time.perf_counter() - started
    extra = _status_mb("VmHWM") - before
    print(json.dumps({"error": error, "seconds": seconds, "extra_peak_mb": extra}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))

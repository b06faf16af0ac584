"""The CPU example specs run in sequence, as a researcher would, then their artifacts measured on disk.

On embedded defaults (SQLite, filesystem broker) in a fresh var folder, with the web server, a worker and
the scheduler that `rlab serve` starts: the demo, SRFT, GSPO, the label-noise sweep (3 runs), a
re-distillation from the sweep's noise-free run, and the ARC log-likelihood example, each submitted once
the one before has finished (evaluations included). Prints each run's status, disk use, checkpoints on
disk of those saved and how many still hold optimizer state, then the total against the 3 GB that the
honest-runs issue allows for all of them.

    .venv/bin/python bench/bench_example_artifacts.py [--var-dir /tmp/rlab-examples] [--port 8765] \\
        [--data-dir ../shared/data]

About 30 minutes on a quiet 2-core CPU.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SPECS = REPO_ROOT / "examples" / "specs"
BUDGET_BYTES = 3 * 10**9  # "under 3 GB of artifacts"
SEQUENCE = (
    "demo.yaml",
    "cpu-srft.yaml",
    "cpu-gspo.yaml",
    "cpu-label-noise-sweep.yaml",
    "cpu-redistill.yaml",  # from the sweep's first (noise-free) run
    "cpu-arc-loglikelihood.yaml",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--var-dir", type=Path, default=Path("/tmp/rlab-examples"))
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    if args.var_dir.exists():
        shutil.rmtree(args.var_dir)
    os.environ |= {"RLAB_VAR_DIR": str(args.var_dir), "RLAB_DATA_DIR": str(args.data_dir.resolve())}
    sys.path[:0] = [str(REPO_ROOT / "platform"), str(REPO_ROOT)]

    from rlab.cli.serve import DEMO_TEAM, DEMO_USER, _migrate, _services, ensure_demo_account

    _migrate()  # sets Django up: the models below need it
    from rlab.catalog.seeding import seed_catalog
    from rlab.cli.spec_commands import _submit_local
    from rlab.cli.waiting import wait_for_runs
    from rlab.spec import apply_overrides

    seed_catalog()
    ensure_demo_account()
    run_ids: list[int] = []
    first_noise_run = ""
    started = time.monotonic()
    with _services("127.0.0.1", args.port, worker=True):
        for name in SEQUENCE:
            text = (SPECS / name).read_text()
            if name == "cpu-redistill.yaml":
                text = apply_overrides(text, [f"algorithm.redistill.source_run={first_noise_run}"])
            runs = _submit_local(text, DEMO_TEAM, DEMO_USER)["runs"]
            names = ", ".join(r["name"] for r in runs)
            print(f"[{time.monotonic() - started:6.0f} s] {name}: {names}", flush=True)
            wait_for_runs([r["id"] for r in runs])
            run_ids += [r["id"] for r in runs]
            if name == "cpu-label-noise-sweep.yaml":
                first_noise_run = runs[0]["name"]
    report(run_ids, time.monotonic() - started)
    return 0


def report(run_ids: list[int], seconds: float) -> None:
    from rlab.experiments.models import Run
    from training.disk import folder_size

    total = 0
    print(f"\n{'run':<48}{'status':<11}{'disk':>10}  checkpoints on disk / saved, with optimizer state")
    for run in Run.objects.filter(pk__in=run_ids).order_by("pk"):
        size = folder_size(run.artifact_dir) if run.artifact_dir else 0
        total += size
        saved = list(run.checkpoints.order_by("step"))
        kept = [c for c in saved if c.on_disk]
        resumable = sum((Path(c.path) / "optimizer.pt").is_file() for c in kept)
        steps = ", ".join(str(c.step) for c in kept)
        print(
            f"{run.name:<48}{run.status:<11}{size / 2**20:>8.0f} MiB  {len(kept)} / {len(saved)} "
            f"(steps {steps or '-'}), {resumable} with optimizer state"
        )
    print(
        f"\nall {len(run_ids)} runs: {total / 10**9:.2f} GB ({total / 2**30:.2f} GiB) of artifacts, "
        f"{total / BUDGET_BYTES:.2f} of the 3 GB budget; {seconds / 60:.1f} min"
    )


if __name__ == "__main__":
    raise SystemExit(main())

"""The layers of the code base (docs/architecture.md, "Layers"), kept by what modules import:

- the web process never loads torch, transformers or vllm: every module of `rlab` (the views through
  rlab.urls, rlab.celery, rlab.spec, the CLI), after django.setup() as the web server does it;
- the libraries `training` and `evaluation` never load Django;
- the results app depends on the experiments app, never the other way round.

Imports are checked in a fresh interpreter: this test process has long loaded everything."""

import ast
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path

import pytest

from tests.services import REPO_ROOT

PLATFORM = REPO_ROOT / "platform"
ML_LIBRARIES = ("torch", "transformers", "vllm")
WEB_FRAMEWORK = ("django",)
SETUP = "django.setup()"  # what forbidden_imports reports the Django set-up's own imports under
TIMEOUT_SECONDS = 300

# Run in the fresh interpreter: import each module in turn and name the forbidden modules it loaded first.
CHECK_SCRIPT = """
import importlib, json, sys

modules, forbidden, setup_label = json.loads(sys.argv[1])


def loaded():
    return {name for name in sys.modules if any(name == f or name.startswith(f + ".") for f in forbidden)}


found = {}
if setup_label:
    from rlab.bootstrap import setup_django

    setup_django()
    if loaded():
        found[setup_label] = sorted(loaded())
for module in modules:
    before = loaded()
    importlib.import_module(module)
    if new := loaded() - before:
        found[module] = sorted(new)
print(json.dumps(found))
"""


def forbidden_imports(
    modules: Sequence[str],
    forbidden: Sequence[str],
    *,
    setup_django: bool = False,
    path: Sequence[Path] = (),
    env: dict[str, str] | None = None,
) -> dict[str, list[str]]:
    """Import `modules` one after the other in a fresh interpreter (after django.setup() if asked) and
    return, for each module that loaded any, the modules named by a `forbidden` prefix ("torch": torch,
    torch.nn, …) that were not loaded before it; what the set-up itself loaded is reported under SETUP.
    `path` goes first on the interpreter's sys.path, before the repo's roots."""
    search_path = [*map(str, path), str(PLATFORM), str(REPO_ROOT)]
    child_env = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(search_path)}
    argument = json.dumps([list(modules), list(forbidden), SETUP if setup_django else None])
    done = subprocess.run(
        [sys.executable, "-c", CHECK_SCRIPT, argument],
        env=child_env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )
    assert done.returncode == 0, f"importing the modules failed:\n{done.stderr[-4000:]}"
    return json.loads(done.stdout.splitlines()[-1])


def package_modules(root: Path, package: str) -> list[str]:
    """Every module of `package` (a folder under `root`), but migrations and `__main__` scripts."""
    names = []
    for file in sorted((root / package).rglob("*.py")):
        parts = file.relative_to(root).with_suffix("").parts
        if "migrations" in parts or parts[-1] == "__main__":
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def imported_modules(file: Path, module: str) -> set[str]:
    """The absolute names of what `file` (the module `module`) imports anywhere in it, functions included;
    `from a import b` counts as both `a` and `a.b`."""
    package = module.split(".")[: -1 if file.name != "__init__.py" else None]
    names = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"), str(file))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            source = ".".join([*base, *([node.module] if node.module else [])])
            names.add(source)
            names.update(f"{source}.{alias.name}" for alias in node.names)
    return names


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(f"{package}.")


def imports_of_package(root: Path, package: str, target: str) -> dict[str, list[str]]:
    """For each module of `package` that imports something of `target`, what it imports (migrations too)."""
    found = {}
    for file in sorted((root / package.replace(".", "/")).rglob("*.py")):
        module = ".".join(file.relative_to(root).with_suffix("").parts)
        if hits := sorted(n for n in imported_modules(file, module) if within(n, target)):
            found[module] = hits
    return found


def described(report: dict[str, list[str]]) -> str:
    return "\n".join(f"importing {module} loads {', '.join(loaded[:5])}" for module, loaded in report.items())


@pytest.fixture
def web_env(tmp_path) -> dict[str, str]:
    """Settings that need nothing on disk outside tmp_path (no key or database file under the repo's var/)."""
    return {"DJANGO_SETTINGS_MODULE": "rlab.settings", "RLAB_VAR_DIR": str(tmp_path), "SECRET_KEY": "x" * 50}


# ---------------------------------------------------------------- the web process: no ML libraries


def test_the_web_app_loads_no_ml_library(web_env):
    modules = ["rlab.urls", "rlab.celery", "rlab.spec", *package_modules(PLATFORM, "rlab")]
    assert "rlab.results.views" in modules and "rlab.experiments.views" in modules
    report = forbidden_imports(modules, ML_LIBRARIES, setup_django=True, env=web_env)
    assert report == {}, described(report)


@pytest.mark.skipif(find_spec("torch") is None, reason="torch is not installed")
def test_a_view_module_that_imports_torch_is_reported(tmp_path):
    app = tmp_path / "someapp"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "models.py").write_text("import json\n")
    (app / "views.py").write_text("import torch\n\n\ndef page(request):\n    return torch.zeros(1)\n")
    report = forbidden_imports(["someapp.models", "someapp.views"], ML_LIBRARIES, path=[tmp_path])
    assert list(report) == ["someapp.views"]
    assert "torch" in report["someapp.views"]


# ---------------------------------------------------------------- the libraries: no Django


def test_the_libraries_load_no_django():
    modules = package_modules(REPO_ROOT, "training") + package_modules(REPO_ROOT, "evaluation")
    assert "training.algorithms.grpo.trainer" in modules and "evaluation.runner" in modules
    report = forbidden_imports(modules, WEB_FRAMEWORK)
    assert report == {}, described(report)


# ---------------------------------------------------------------- apps: results → experiments, never back


def test_the_experiments_app_never_imports_the_results_app():
    assert imports_of_package(PLATFORM, "rlab.experiments", "rlab.results") == {}
    assert imports_of_package(PLATFORM, "rlab.results", "rlab.experiments") != {}  # the allowed direction


def test_an_import_of_results_in_experiments_is_found_wherever_it_is(tmp_path):
    package = tmp_path / "rlab" / "experiments"
    package.mkdir(parents=True)
    (package / "report.py").write_text(
        textwrap.dedent(
            """
            from rlab import results
            from .. import results as again


            def table():
                from rlab.results.models import EvalResult

                return EvalResult
            """
        )
    )
    (package / "clean.py").write_text("from rlab.experiments.models import Run\nimport rlab.resultsish\n")
    assert imports_of_package(tmp_path, "rlab.experiments", "rlab.results") == {
        "rlab.experiments.report": ["rlab.results", "rlab.results.models", "rlab.results.models.EvalResult"]
    }

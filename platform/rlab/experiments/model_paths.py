"""Which local folders a spec may name as its model: only those under an operator's model root.

Applied at submission (web, API and CLI) and again by the worker before it loads anything, so that a spec
cannot train from, evaluate or probe another team's checkpoints (`model.id: ../other-team/run/...`) or any
other file on the worker. Symlinks and `..` are resolved first; the message says where models may live, not
whether the path exists.
"""

from pathlib import Path

from django.conf import settings

from rlab.spec import looks_like_path


def model_path_error(model_id: str) -> str | None:
    """Why `model_id` may not be used, or None (hub ids, embedded names and run refs always pass)."""
    if not looks_like_path(model_id):
        return None
    path = Path(model_id).expanduser().resolve()
    artifacts = Path(settings.RLAB_ARTIFACT_DIR).resolve()
    if _inside(path, artifacts):
        return "a path into run artifacts is not a model: name a run of your team as run:NAME[@STEP]"
    roots = settings.RLAB_MODEL_ROOTS
    if not any(_inside(path, root) for root in roots):
        where = ", ".join(str(root) for root in roots) or "no folder (RLAB_MODEL_ROOTS is empty)"
        return f"local models must be in a model folder of this site: {where} (RLAB_MODEL_ROOTS)"
    return None


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents

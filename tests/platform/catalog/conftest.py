from pathlib import Path

import pytest


@pytest.fixture
def one_shot_dir(shared_data) -> Path:
    """The 1-shot paper's training data (`one_shot_rlvr/` of the shared data folder)."""
    return shared_data / "one_shot_rlvr"

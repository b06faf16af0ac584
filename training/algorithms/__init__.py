"""Training algorithms as plug-ins: one folder each (config, trainer or loss, and a torch-free `entry.py`),
found by `training.algorithms.registry`. Importing this package loads no torch."""

from training.algorithms.registry import (
    Algorithm,
    SpecBlock,
    algorithm_names,
    algorithms,
    get_algorithm,
    load_reference,
)

__all__ = ["Algorithm", "SpecBlock", "algorithm_names", "algorithms", "get_algorithm", "load_reference"]

"""Load a ``tinygrad_course`` engine from a folder under a private module name.

The reference engine (``solutions/``) is never importable as ``tinygrad_course``: a learner's
``import tinygrad_course`` must find their own engine next to their notebooks. Tests and
instructors load either one explicitly through here.
"""

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"
COURSE = REPO / "course"


def load_engine(folder, module_name):
    """Import ``<folder>/tinygrad_course`` as ``module_name`` (re-imported on every call)."""
    package = Path(folder) / "tinygrad_course"
    init = package / "__init__.py"
    if not init.is_file():
        raise FileNotFoundError(f"no tinygrad_course package in {folder} (looked for {init})")
    for name in [m for m in sys.modules if m == module_name or m.startswith(module_name + ".")]:
        del sys.modules[name]
    spec = importlib.util.spec_from_file_location(module_name, init, submodule_search_locations=[str(package)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def load_reference():
    return load_engine(SOLUTIONS, "tinygrad_course_reference")


def load_learner_release():
    return load_engine(COURSE, "tinygrad_course_learner")

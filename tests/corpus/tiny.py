"""A tiny nbgrader course built from scratch (nbformat + nbgrader generate_assignment).

Two notebooks, each with a solution cell, a visible+hidden test cell, and a test of a unit
in a small ``tinygrad_course/engine.py`` the learner edits (kept by ``exclude_overwriting``,
like the real course). Fast to grade, so the grading machinery is tested without torch.
"""

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ASSIGNMENT = "tiny"
CONFIG = f"""c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "tiny-course"
c.Autograde.exclude_overwriting = {{"{ASSIGNMENT}": ["tinygrad_course/engine.py"]}}
c.ExecutePreprocessor.timeout = 4
c.ExecutePreprocessor.interrupt_on_timeout = True
"""
ENGINE_SOLVED = "def double(x):\n    return 2 * x\n\n\ndef half(x):\n    return x / 2\n"
ENGINE_STUB = ("def double(x):\n    raise NotImplementedError('double')\n\n\n"
               "def half(x):\n    raise NotImplementedError('half')\n")
POINTS = {"a_square": {"square": 2, "engine_double": 1}, "b_cube": {"cube": 3, "engine_half": 1}}


def _meta(grade_id, *, grade=False, solution=False, points=0, locked=False):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def _notebook(name, function, body, visible, hidden, engine_call, engine_value):
    points = POINTS[name]
    test, engine_test = list(points)
    return new_notebook(cells=[
        new_markdown_cell(f"# {name}", metadata=_meta(f"{name}_title", locked=True)),
        new_code_cell(f"def {function}(x):\n    ### BEGIN SOLUTION\n    {body}\n    ### END SOLUTION",
                      metadata=_meta(f"{test}_answer", solution=True)),
        new_code_cell(f"assert {visible}\n### BEGIN HIDDEN TESTS\nassert {hidden}\n### END HIDDEN TESTS",
                      metadata=_meta(test, grade=True, points=points[test], locked=True)),
        new_code_cell(f"from tinygrad_course import engine\nassert engine.{engine_call} == {engine_value}",
                      metadata=_meta(engine_test, grade=True, points=points[engine_test], locked=True)),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


NOTEBOOKS = {
    "a_square": _notebook("a_square", "square", "return x * x", "square(3) == 9", "square(-4) == 16",
                          "double(21)", 42),
    "b_cube": _notebook("b_cube", "cube", "return x ** 3", "cube(2) == 8", "cube(-3) == -27", "half(9)", 4.5),
}


def tool_env():
    """The environment with this Python's bin folder on PATH (nbgrader runs ``alembic`` from it)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    return env


_built = None  # this process's one build, which build_course copies


def build_course(root):
    """A course root with source/, release/ and gradebook.db for assignment ``tiny``: a copy of one
    build per test process (``nbgrader generate_assignment`` takes seconds; a copy, milliseconds)."""
    global _built
    if _built is None:
        template = Path(tempfile.mkdtemp(prefix="tiny-course-"))
        atexit.register(shutil.rmtree, template, ignore_errors=True)
        _built = _build(template / "course")
    shutil.copytree(_built, root)
    return Path(root)


def _build(root):
    root = Path(root)
    source = root / "source" / ASSIGNMENT
    (source / "tinygrad_course").mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(CONFIG)
    (source / "tinygrad_course" / "__init__.py").write_text("")
    (source / "tinygrad_course" / "engine.py").write_text(ENGINE_STUB)
    for name, notebook in NOTEBOOKS.items():
        nbformat.write(notebook, source / f"{name}.ipynb")
    result = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force"],
                            cwd=root, capture_output=True, text=True, env=tool_env())
    assert result.returncode == 0, result.stderr
    return root


def submit(root, student, *, notebooks=None, engine=ENGINE_SOLVED, edit=None, files=None, timestamp=None,
           rename=None):
    """A submission in ``submitted/<student>/tiny/``, starting from the release.

    ``notebooks``: name -> "solved" | "release"; ``edit(name, nb)`` may change a notebook
    (or return bytes to write instead); ``files``: extra relative path -> text or bytes.
    """
    root = Path(root)
    release = root / "release" / ASSIGNMENT
    folder = root / "submitted" / student / ASSIGNMENT
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(release, folder, ignore=shutil.ignore_patterns("*.ipynb"))
    (folder / "tinygrad_course" / "engine.py").write_text(engine)
    for name, state in (notebooks or {n: "solved" for n in NOTEBOOKS}).items():
        notebook = nbformat.read(release / f"{name}.ipynb", as_version=4)
        if state == "solved":
            solved = NOTEBOOKS[name]
            for cell, source in zip(notebook.cells, solved.cells):
                if cell.metadata.get("nbgrader", {}).get("solution"):
                    cell.source = source.source.replace("### BEGIN SOLUTION\n    ", "").replace(
                        "\n    ### END SOLUTION", "")
        data = edit(name, notebook) if edit else None
        target = folder / (rename or {}).get(name, f"{name}.ipynb")
        if isinstance(data, bytes):
            target.write_bytes(data)
        else:
            nbformat.write(notebook, target)
    for name, content in (files or {}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    if timestamp:
        (folder / "timestamp.txt").write_text(timestamp)
    return folder

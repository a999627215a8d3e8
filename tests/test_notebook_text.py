"""What the notebooks' prose quotes from the engine is what the learner finds in engine.py."""

import re

import nbformat
import pytest

from autograder.learner.engines import COURSE, SOLUTIONS

LEARNER_ENGINE_LINES = [line.strip() for line in (COURSE / "tinygrad_course" / "engine.py").read_text().splitlines()]


def quoted_code(notebook):
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for block in re.findall(r"```python\n(.*?)```", cell.source, re.S):
                if not re.search(r"todo\(|\bctx\b|^class |^def ", block, re.M):
                    continue  # a torch or usage snippet, not an excerpt of the engine
                yield cell.metadata.get("nbgrader", {}).get("grade_id", "?"), block


# The notebooks that quote engine code: each must still quote some, or the test compares nothing.
QUOTING = ["01_x_squared.ipynb", "02_sin_chain_rule.ipynb", "04_vector_input.ipynb", "05_clearing_gradients.ipynb",
           "06_disabling_tracking.ipynb"]


def test_the_list_of_quoting_notebooks_is_complete():
    found = sorted(p.name for p in SOLUTIONS.glob("*.ipynb") if list(quoted_code(nbformat.read(p, as_version=4))))
    assert found == QUOTING


@pytest.mark.parametrize("name", QUOTING)
def test_engine_excerpts_in_markdown_match_the_learner_engine(name):
    notebook = nbformat.read(SOLUTIONS / name, as_version=4)
    excerpts = list(quoted_code(notebook))
    assert excerpts, f"{name} quotes no engine code any more: update QUOTING"
    stale = []
    for cell_id, block in excerpts:
        for line in block.splitlines():
            text = line.strip() if "todo(" in line else line.split("#")[0].strip()
            if text and not text.startswith("...") and not any(text in known for known in LEARNER_ENGINE_LINES):
                stale.append((cell_id, line.strip()))
    assert stale == []


@pytest.mark.parametrize("name", sorted(p.name for p in SOLUTIONS.glob("*.ipynb")))
def test_points_stated_in_the_prose_are_the_graded_cells_points(name):
    notebook = nbformat.read(SOLUTIONS / name, as_version=4)
    points = {cell.metadata.nbgrader["grade_id"]: cell.metadata.nbgrader["points"] for cell in notebook.cells
              if cell.metadata.get("nbgrader", {}).get("grade")}
    stated = {}
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for exercise, count in re.findall(r"[Ee]xercise `(\w+)`(?:\*\*)?,? \(?(\d+) points?\)", cell.source):
                stated[exercise] = float(count)
    assert stated == {exercise: float(p) for exercise, p in points.items()}


def test_readme_table_lists_every_notebook_with_its_points():
    """The README's notebook table (copied into the learner README) gives each notebook's graded points."""
    from autograder.instructor.release import _notebook_table

    rows = [line.split("|")[1:-1] for line in _notebook_table().splitlines()[2:]]
    stated = {row[0].strip().strip("`"): float(row[-1]) for row in rows}
    points = {}
    for path in SOLUTIONS.glob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        points[path.stem] = float(sum(cell.metadata.nbgrader["points"] for cell in notebook.cells
                                      if cell.metadata.get("nbgrader", {}).get("grade")))
    assert stated == points
    total = re.search(r"^(\d+) points in all", (SOLUTIONS.parent / "README.md").read_text(), re.M)
    assert total and float(total[1]) == sum(points.values())

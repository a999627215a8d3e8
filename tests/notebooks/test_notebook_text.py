"""What the notebooks' prose quotes from the engine is what the learner finds in engine.py."""

import re
from pathlib import Path

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


# --------------------------------------------------------------------------
# Claims the prose makes about the course, about numbers, and the words of the checks
# --------------------------------------------------------------------------

NOTEBOOKS = sorted(SOLUTIONS.glob("*.ipynb"))
NUMBERS = {word: n for n, word in enumerate("zero one two three four five six seven eight nine ten eleven twelve "
                                            "thirteen fourteen fifteen".split())}


def prose(path):
    return "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_count_of_notebooks_is_one_of_those_before_this_one(path):
    """A count goes stale when a notebook is added; the only kind allowed counts the notebooks already done
    ("the first two notebooks"), which new ones cannot change."""
    position = NOTEBOOKS.index(path) + 1
    for before, word in re.findall(r"(\w+)\s+(\w+)\s+notebooks\b", prose(path), re.I):
        count = NUMBERS.get(word.lower(), int(word) if word.isdigit() else None)
        if count is not None:
            assert before.lower() == "first" and count < position, f"{path.name}: '{before} {word} notebooks'"


@pytest.mark.parametrize("path", NOTEBOOKS[:-1], ids=lambda p: p.name)
def test_only_the_last_notebook_may_call_itself_the_end(path):
    assert not re.search(r"end of (the|this) course|last notebook|final notebook", prose(path), re.I)


def test_the_learner_engine_speaks_of_no_solution_markers():
    """The release strips the solution regions; their markers mean nothing to a learner."""
    for path in (COURSE / "tinygrad_course").rglob("*.py"):
        assert "SOLUTION" not in path.read_text(), path


def test_notebook_03_computes_float32s_closest_number_under_one():
    """The prose's bound (1 - 2**-24) is printed by a cell that asks torch, and torch agrees today."""
    import torch
    notebook = nbformat.read(SOLUTIONS / "03_neuron_bce.ipynb", as_version=4)
    cell = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "clamp_edge")
    assert "torch.nextafter" in cell.source
    printed = "".join(output.get("text", "") for output in cell.outputs)
    below = torch.nextafter(torch.tensor(1.0), torch.tensor(0.0)).item()
    assert f"closest number under 1: 1 - {1 - below:.6g}" in printed
    assert "2^{-24}" in prose(SOLUTIONS / "03_neuron_bce.ipynb") and 1 - below == 2.0 ** -24


def test_the_checks_flowers_are_standardised_as_notebook_08_does_it():
    """With the training flowers' statistics only: the notebook's data cell, run here, and the check's
    visible batch give the same petals."""
    import contextlib
    import io

    import numpy as np

    from autograder.checking import answer_checks, datasets
    notebook = nbformat.read(SOLUTIONS / "08_mlp_real_data.ipynb", as_version=4)
    cell = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "data")
    names = {"np": np, "load_iris": datasets.load_iris, "SPECIES": datasets.SPECIES}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(cell.source, names)
    rows = [0, 50, 100]
    x, _ = answer_checks._iris_batch(rows)
    assert np.allclose(x[:, 2:], names["x_all"][rows], atol=1e-6)
    assert not np.allclose(names["x_all"][names["test_rows"]].mean(axis=0), 0, atol=1e-3)  # not all 150's


def _message_strings(path):
    """String constants of a module that are not docstrings: what its checks may say."""
    import ast
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


@pytest.mark.parametrize("module", ["checking/answer_checks.py", "checking/engine_checks.py",
                                    "checking/graph_checks.py", "checking/slips.py", "checking/trial.py",
                                    "learner/checks.py", "learner/diagnose.py", "worker/drivers.py"])
def test_the_checks_never_say_the_seed(module):
    """No notebook defines "the seed" (the tutorial the course follows); a message names the notebook."""
    import autograder
    path = Path(autograder.__file__).parent / module
    said = [s for s in _message_strings(path) if re.search(r"\bthe seed\b|\bseed's\b", s, re.I)]
    assert said == []


def test_notebook_08_shows_flowers_whose_petals_differ():
    """Two flowers with the same petals get the same logits, which reads as a bug in a printed batch."""
    from autograder.checking.datasets import load_iris
    features, _ = load_iris()
    notebook = nbformat.read(SOLUTIONS / "08_mlp_real_data.ipynb", as_version=4)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    shown = [[int(r) for r in "".join(groups).split(",")]
             for groups in re.findall(r"(?:x_all|petals)\[\[([\d, ]+)\]\]|rows = \[([\d, ]+)\]", code)]
    assert shown
    for rows in shown:
        petals = {tuple(features[r, 2:]) for r in rows}
        assert len(petals) == len(rows), rows


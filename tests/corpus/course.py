"""Submissions to the real course, made from ``solutions/`` and the release.

A learner's folder is the release (``release/autodiff/``) with chosen notebook answers filled
in from the instructor's source notebooks and chosen engine units filled in from the
reference engine; every other unit keeps the release's ``NotImplementedError`` stub. Points
per exercise come from the gradebook, so expectations follow the notebooks when they change.
"""

import os
import re
import shutil
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from autograder.instructor import release  # noqa: E402
from autograder.instructor.grading import book  # noqa: E402

ASSIGNMENT = "autodiff"
COURSE_ID = "tinygrad-course"
SOLUTIONS = REPO / "solutions"
REFERENCE_ENGINE = (SOLUTIONS / "tinygrad_course" / "engine.py").read_text()
MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION.*\n", re.M)


def build_course(root):
    """A scratch course root with the real assignment released (nbgrader generate_assignment)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    tools = os.path.dirname(sys.executable)  # nbgrader runs `alembic` from PATH to create a gradebook
    if tools not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([tools, os.environ.get("PATH", "")])
    release.build_in(root)
    return root


def copy_of(released, folder):
    """A copy of a course root built by ``build_course`` (gradebook included) at ``folder``."""
    shutil.copytree(released, folder)
    return Path(folder)


def layout(root):
    return book.assignment_layout(f"sqlite:///{Path(root)}/gradebook.db", ASSIGNMENT, COURSE_ID)


def points(root):
    """``{exercise: points}`` for every graded cell of the assignment."""
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{Path(root)}/gradebook.db", COURSE_ID) as gradebook:
        return {cell.name: float(cell.max_score) for nb in gradebook.find_assignment(ASSIGNMENT).notebooks
                for cell in nb.grade_cells}


def engine_with(units, inject=None):
    """The reference engine with only ``units`` solved (others: the release's stub).

    ``inject`` maps a solved unit to code run first in its solution (indented as the solution is).
    """
    units, inject = set(units), inject or {}
    out, skipping = [], False
    for line in REFERENCE_ENGINE.splitlines(keepends=True):
        begin = release.BEGIN.match(line)
        if begin:
            if begin["exercise"] in units:
                indent = line[:len(line) - len(line.lstrip())]
                out += [indent + code + "\n" for code in inject.get(begin["exercise"], "").splitlines()]
                continue
            out.append(release.strip_solutions(line + "### END SOLUTION\n"))
            skipping = True
        elif release.END.match(line):
            skipping = False
        elif not skipping:
            out.append(line)
    return "".join(out)


def solved_answers():
    """``{answer cell grade_id: source}`` from the instructor's notebooks, markers removed."""
    answers = {}
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution"):
                answers[meta["grade_id"]] = MARKER.sub("", cell.source)
    return answers


def submit(root, student, *, engine_units=(), answers=(), edit=None, files=None, drop=(), rename=None,
           after=None):
    """``submitted/<student>/autodiff/``: the release with ``answers`` (exercise ids) filled in.

    ``edit(notebook_name, nb)`` may change a notebook or return bytes to write instead; ``files``
    adds or replaces files (relative path -> text or bytes); ``drop`` leaves notebooks out;
    ``rename`` maps a notebook name to the file name it is submitted under; ``after(folder, root)``
    may then do anything else to the folder (links, odd names, ...).
    """
    root = Path(root)
    folder = root / "submitted" / student / ASSIGNMENT
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(root / "release" / ASSIGNMENT, folder)
    (folder / "tinygrad_course" / "engine.py").write_text(engine_with(engine_units))
    filled = solved_answers()
    wanted = {f"{a}_answer" for a in answers}
    for path in sorted(folder.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in wanted:
                cell.source = filled[grade_id]
        data = edit(path.stem, notebook) if edit else None
        path.unlink()
        if path.stem in drop:
            continue
        target = folder / (rename or {}).get(path.stem, path.name)
        if isinstance(data, bytes):
            target.write_bytes(data)
        else:
            nbformat.write(notebook, target)
    for name, content in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            (folder / name).write_bytes(content)
        else:
            (folder / name).write_text(content)
    if after is not None:
        after(folder, root)
    return folder


def all_units():
    return release.solution_exercises(REFERENCE_ENGINE)


def all_answers():
    return [grade_id[:-len("_answer")] for grade_id in solved_answers()]


def kernel_output(root, student):
    """Everything the grading kernels showed for ``student``: the text of every output of every
    autograded notebook (streams, errors, plain-text results)."""
    texts = []
    for path in sorted((Path(root) / "autograded" / student / ASSIGNMENT).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                texts += [output.get("text", ""), output.get("evalue", ""), *output.get("traceback", []),
                          output.get("data", {}).get("text/plain", "")]
    return "\n".join(text if isinstance(text, str) else "".join(text) for text in texts)

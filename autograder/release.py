"""Build the learner release in ``course/`` from ``solutions/``, the single source of truth.

    python -m autograder.release            # rebuild course/ (and nbgrader's source/ and release/)
    python -m autograder.release --check    # build in a temporary folder; fail if course/ is stale
    python -m autograder.release --refresh  # first re-run the solution notebooks, saving their outputs

Steps:
  1. ``autograder/source/autodiff/``: the solution notebooks, and the engine with each
     ``### BEGIN SOLUTION <exercise>`` region replaced by a ``NotImplementedError`` naming
     the exercise and its notebook.  The reference engine never enters nbgrader's folders,
     so no stock nbgrader command can copy it to learners.
  2. ``nbgrader generate_assignment autodiff``: clears solution cells and hidden tests,
     locks and checksums the graded cells, records the assignment in the gradebook.
  3. ``course/``: a copy of nbgrader's release, what Binder and a clone open.
"""

import argparse
import filecmp
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from autograder.engines import COURSE, REPO, SOLUTIONS

ASSIGNMENT = "autodiff"
COURSE_ROOT = REPO / "autograder"
ENGINE_FILES = ("tinygrad_course/__init__.py", "tinygrad_course/engine.py", "tinygrad_course/printing.py")
BEGIN = re.compile(r"^(?P<indent>\s*)### BEGIN SOLUTION(?: (?P<exercise>\w+))?\s*$")
END = re.compile(r"^\s*### END SOLUTION\s*$")


def strip_solutions(source, filename="<engine>", keep=()):
    """Replace each solution region of a Python file with the exercise's NotImplementedError.

    Regions of the exercises in ``keep`` stay solved (markers dropped): an engine as a learner
    who has done only those exercises would have it.
    """
    out, exercise, start = [], None, 0
    for number, line in enumerate(source.splitlines(keepends=True), 1):
        begin = BEGIN.match(line)
        if begin:
            if exercise is not None:
                raise ValueError(f"{filename}:{number}: BEGIN SOLUTION inside the region opened at line {start}")
            exercise, start = begin["exercise"], number
            if not exercise:
                raise ValueError(f"{filename}:{number}: BEGIN SOLUTION needs an exercise id, "
                                 f"e.g. '### BEGIN SOLUTION pow_backward'")
            if exercise not in keep:
                out.append(f"{begin['indent']}raise NotImplementedError(todo({exercise!r}))\n")
        elif END.match(line):
            if exercise is None:
                raise ValueError(f"{filename}:{number}: END SOLUTION without a BEGIN")
            exercise = None
        elif exercise is None or exercise in keep:
            out.append(line)
    if exercise is not None:
        raise ValueError(f"{filename}:{start}: BEGIN SOLUTION {exercise} is never closed")
    return "".join(out)


def solution_regions(source):
    """``{exercise: [line, ...]}``: the lines inside each exercise's solution regions (markers left out)."""
    regions, exercise = {}, None
    for line in source.splitlines():
        begin = BEGIN.match(line)
        if begin:
            exercise = begin["exercise"]
        elif END.match(line):
            exercise = None
        elif exercise is not None:
            regions.setdefault(exercise, []).append(line)
    return regions


def solution_exercises(source):
    """The exercise ids that have solution regions in a Python file, in order, once each."""
    found = [m["exercise"] for m in map(BEGIN.match, source.splitlines()) if m]
    return list(dict.fromkeys(found))


def build_source(course_root):
    """Step 1: nbgrader's source folder for the assignment."""
    source = Path(course_root) / "source" / ASSIGNMENT
    if source.exists():
        shutil.rmtree(source)
    source.mkdir(parents=True)
    for notebook in sorted(SOLUTIONS.glob("*.ipynb")):
        shutil.copy(notebook, source / notebook.name)
    for name in ENGINE_FILES:
        text = (SOLUTIONS / name).read_text()
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(strip_solutions(text, name) if name.endswith("engine.py") else text)
    return source


def tool_environment():
    """This interpreter's bin folder first on PATH: nbgrader runs `alembic` from there, and a
    venv used without activating it (`.venv/bin/python -m ...`) would not be found otherwise."""
    bin_dir = str(Path(sys.executable).parent)
    return dict(os.environ, PATH=os.pathsep.join([bin_dir, os.environ.get("PATH", "")]))


def generate(course_root):
    """Steps 1 and 2 in ``course_root``; returns nbgrader's release folder."""
    course_root = Path(course_root)
    build_source(course_root)
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force", "--log-level=WARN"],
        cwd=course_root, capture_output=True, text=True, env=tool_environment())
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader generate_assignment failed:\n{result.stdout}\n{result.stderr}")
    return course_root / "release" / ASSIGNMENT


def copy_release(release, destination):
    """Step 3: ``destination`` becomes an exact copy of the release."""
    if destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(release, destination, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))


def build_in(folder):
    """Build a complete release under ``folder`` (a scratch course root); returns its path."""
    folder = Path(folder)
    shutil.copy(COURSE_ROOT / "nbgrader_config.py", folder / "nbgrader_config.py")
    return generate(folder)


def differences(left, right):
    """Relative paths that differ between two folder trees (missing on either side included)."""
    compare = filecmp.dircmp(left, right, ignore=["__pycache__", ".ipynb_checkpoints"])
    found = []

    def walk(c, prefix):
        found.extend(prefix + n for n in c.left_only + c.right_only + c.diff_files + c.funny_files)
        for name, sub in c.subdirs.items():
            walk(sub, prefix + name + "/")
    walk(compare, "")
    return sorted(found)


def refresh_outputs(notebooks=None, timeout=120):
    """Re-run solution notebooks in place (cwd solutions/, so they use the reference engine)
    and save their outputs: what nbval compares against. Run after any content change."""
    import nbclient
    import nbformat

    for path in notebooks or sorted(SOLUTIONS.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        # no timings and no widget model ids: committed outputs change only when content does
        nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3", record_timing=False,
                                store_widget_state=False, resources={"metadata": {"path": str(SOLUTIONS)}}).execute()
        nbformat.write(notebook, path)
        print(f"refreshed {path.relative_to(REPO)}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if course/ differs from a fresh build")
    parser.add_argument("--refresh", action="store_true", help="re-run the solution notebooks first")
    args = parser.parse_args(argv)
    if args.refresh:
        refresh_outputs()
    if args.check:
        with tempfile.TemporaryDirectory() as scratch:
            stale = differences(build_in(scratch), COURSE)
        if stale:
            print("course/ is stale; run `python -m autograder.release`. Differs:", *stale, sep="\n  ")
            return 1
        print("course/ matches a fresh build from solutions/")
        return 0
    copy_release(generate(COURSE_ROOT), COURSE)
    print(f"built {COURSE.relative_to(REPO)}/ from solutions/ ({len(list(COURSE.glob('*.ipynb')))} notebooks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Build the learner release in ``course/`` from ``solutions/``, the single source of truth.

    python -m autograder.instructor.release            # rebuild course/ (and classroom/'s source/ and release/)
    python -m autograder.instructor.release --check    # build in a temporary folder; fail if course/ is stale
    python -m autograder.instructor.release --refresh  # first re-run the solution notebooks, saving their outputs
    python -m autograder.instructor.release --publish ../tinygrad-course-learner   # a learner-only repository

Steps:
  1. ``classroom/source/autodiff/``: the solution notebooks, and the engine with each
     ``### BEGIN SOLUTION <exercise>`` region replaced by a ``NotImplementedError`` naming
     the exercise and its notebook.  The reference engine never enters nbgrader's folders,
     so no stock nbgrader command can copy it to learners.
  2. ``nbgrader generate_assignment autodiff``: clears solution cells and hidden tests,
     locks and checksums the graded cells, records the assignment in the gradebook.
  3. ``course/``: a copy of nbgrader's release, what Binder and a clone open.

``--publish DIR`` writes a repository for learners instead: a fresh build of the release, the
``autograder`` modules its notebooks import (found from their imports, never ``autograder/instructor/``,
the judge, the class grader or this builder: publishing fails if a learner module imports one),
pyproject.toml, binder/, jupyter-config/, a README with a Binder badge, LICENSE; nothing
of ``solutions/``, no hidden test, no gradebook, no history of this repository (``publish``).
"""

import argparse
import ast
import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from autograder.learner.engines import COURSE, REPO, SOLUTIONS

ASSIGNMENT = "autodiff"
COURSE_ROOT = REPO / "classroom"  # the nbgrader course root: a data folder
ENGINE_FILES = ("tinygrad_course/__init__.py", "tinygrad_course/engine.py", "tinygrad_course/printing.py",
                "tinygrad_course/compat.py", "tinygrad_course/functions.py", "tinygrad_course/more_ops.py",
                "tinygrad_course/autograd.py", "tinygrad_course/nn/__init__.py", "tinygrad_course/nn/functional.py",
                "tinygrad_course/nn/modules.py", "tinygrad_course/optim.py")
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


# --------------------------------------------------------------------------
# --publish: a learner-only repository
# --------------------------------------------------------------------------

# The learner's side, published whole: what notebooks import, the checks they share with the judge,
# and the torch-free worker those checks drive (autograder/__init__.py says who imports what).
LEARNER_PACKAGES = ("autograder.learner", "autograder.checking", "autograder.worker")
# Never published, nor anything under them: the instructor's side (the grader's stand-ins, the judge,
# the class grader, this builder) and nbgrader's course config.
INSTRUCTOR_ONLY = ("autograder.instructor", "autograder.nbgrader_config")
# Paths a learner repository must not hold (any part of the path, compared lower-case).
FORBIDDEN_PARTS = {"solutions", "instructor", "grading", "classgrading", "judge.py", "grade.py", "release.py",
                   "gradebook.db", "nbgrader_config.py", "source", "submitted", "autograded", "feedback"}
MARKER = re.compile(r"^\s*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)")
BADGE_PLACEHOLDER = "OWNER/REPOSITORY"
FIRST_NOTEBOOK = "01_x_squared.ipynb"


def _code_of(cell_source):
    """A code cell as plain Python (IPython's own rewriting of ``%magics``)."""
    from IPython.core.inputtransformer2 import TransformerManager
    return TransformerManager().transform_cell(cell_source)


def _imported(tree, module, is_package):
    """The ``autograder`` names an AST imports anywhere (function bodies included); ``from X import y``
    yields ``X`` and ``X.y``, which counts only where it is a module."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".") if is_package else module.split(".")[:-1]
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "autograder" or name.startswith("autograder.")}


def _module_file(name):
    path = REPO.joinpath(*name.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def notebook_imports(notebooks):
    """The ``autograder`` modules the code cells of ``notebooks`` import."""
    import nbformat

    found = set()
    for path in notebooks:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                found |= _imported(ast.parse(_code_of(cell.source), str(path)), "__main__", False)
    return found


def _instructor_only(name):
    return any(name == b or name.startswith(b + ".") for b in INSTRUCTOR_ONLY)


def learner_modules(notebooks):
    """``{module name: file}``: every module of ``LEARNER_PACKAGES`` and the ``autograder`` package
    itself. Raises, naming the importer, if a notebook imports anything else of ``autograder``, or if
    any of these modules imports an instructor-only one (read from their source, so an import inside a
    function counts)."""
    found = {"autograder": _module_file("autograder")}
    for package in LEARNER_PACKAGES:
        folder = _module_file(package).parent
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    reached = [f"a notebook imports {name}" for name in sorted(notebook_imports(notebooks)) if _instructor_only(name)
               or name not in found and name.rpartition(".")[0] not in found]  # (found.attribute: a name in it)
    for name, path in found.items():
        imported = _imported(ast.parse(path.read_text(), str(path)), name, path.name == "__init__.py")
        reached += [f"{name} imports {other}" for other in sorted(imported) if _instructor_only(other)]
    if reached:
        raise RuntimeError("the learner side must stand alone, but: " + "; ".join(reached))
    return dict(sorted(found.items()))


def _notebook_table():
    """The table of notebooks from this README's learner section."""
    table = re.search(r"^\| notebook \|.*\n(?:\|.*\n)+", (REPO / "README.md").read_text(), re.M)
    if table is None:
        raise RuntimeError("README.md has no '| notebook | ...' table to copy into the learner README")
    return table.group(0)


SETUP_SECTION = re.compile(r"^<!-- own-machine set-up:.*?-->\n(.*?)^<!-- end own-machine set-up -->", re.M | re.S)


def _own_machine_setup():
    """The learner's own-machine set-up from this README (one text for both repositories)."""
    found = SETUP_SECTION.search((REPO / "README.md").read_text())
    if found is None:
        raise RuntimeError("README.md has no own-machine set-up section to copy into the learner README")
    return found.group(1)


def _learner_readme(github):
    badge = (f"https://mybinder.org/v2/gh/{github or BADGE_PLACEHOLDER}/HEAD"
             f"?urlpath=lab/tree/course/{FIRST_NOTEBOOK}")
    note = "" if github else (
        f"<!-- Instructor: replace {BADGE_PLACEHOLDER} in the badge's link with this repository's GitHub\n"
        f"     path (or publish with `--github owner/name`). -->\n")
    return f"""# tinygrad-course

{note}[![Launch on Binder](https://mybinder.org/badge_logo.svg)]({badge})

A Jupyter course on automatic differentiation. You follow a PyTorch autograd tutorial section
by section and, at each step, write the matching piece of **`tinygrad_course`**, a small autograd
engine on numpy with torch's API (`import tinygrad_course as torch` runs the tutorial's code
unchanged). Every answer is checked against `torch.autograd`, and a wrong answer tells you which
input, what torch says, what you said, and what the slip looks like.

## Getting started

On Binder, click the badge: JupyterLab opens `course/{FIRST_NOTEBOOK}`. On your own machine, see
below.

Each notebook has the idea, the computation by hand, the same in torch, then the part of the
engine you write, in `course/tinygrad_course/engine.py`: every open piece raises
`NotImplementedError` naming its exercise and the notebook that asks for it. The notebooks
reload the engine on every cell, so edit the file, then rerun the check cell under the
explanation. The checks you see run a few cases; your grade comes from more, with fresh random
inputs and shapes, so an answer that only fits the tutorial's numbers does not pass.

{_notebook_table()}
Press **Validate** (nbgrader's button) before you submit: it runs the notebook and the visible checks.

{_own_machine_setup().replace("### On your own machine", "## On your own machine", 1)}
## What is here

| path | what it is |
|---|---|
| `course/` | the notebooks and your engine, `course/tinygrad_course/` |
| `autograder/` | the checks, widgets and graph drawing the notebooks import |
| `binder/` | the Binder environment (CPU-only PyTorch), also the one to install on your own machine |
| `jupyter-config/` | Jupyter settings the install puts in your environment (nbgrader's instructor screens hidden) |
"""


def _learner_pyproject():
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    dependencies = "".join(f"    {json.dumps(d)},\n" for d in project["dependencies"])
    data_files = "".join(f"{json.dumps(target)} = {json.dumps(files)}\n" for target, files in _data_files().items())
    return f"""[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

# The helpers the notebooks import (checks, widgets, graph drawing). Your engine is not installed:
# a notebook's `import tinygrad_course` finds the folder next to it, course/tinygrad_course/.
[project]
name = "tinygrad-course-learner"
version = {json.dumps(project["version"])}
description = {json.dumps(project["description"])}
readme = "README.md"
license = {{ text = {json.dumps(project["license"]["text"])} }}
requires-python = {json.dumps(project["requires-python"])}
dependencies = [
{dependencies}]

[tool.setuptools.packages.find]
where = ["."]
include = ["autograder*"]
exclude = ["autograder.instructor*"]

# Jupyter's settings for this environment: nbgrader's instructor screens hidden (see README.md).
[tool.setuptools.data-files]
{data_files}"""


def _data_files():
    """pyproject's data files (install folder -> files): the Jupyter settings in jupyter-config/."""
    import tomllib

    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]


def _learner_post_build():
    """binder/postBuild for the learner repository: install the helpers, hide nbgrader's instructor
    screens (the same `jupyter ...` lines as this repository's postBuild); nothing to remove."""
    disable = [line for line in (REPO / "binder" / "postBuild").read_text().splitlines()
               if line.startswith(("jupyter ", "cp -r jupyter-config/"))]
    return "\n".join([
        "#!/usr/bin/env bash",
        "# Runs once when Binder builds the image, from the repository root.",
        "set -euo pipefail",
        "",
        "# The course's helpers (checks the notebooks call, widgets, graph drawing); the environment",
        "# is already pinned by requirements.txt, so install nothing else.",
        "pip install --no-deps -e .",
        "",
        "# Learners validate their work; the instructor-side nbgrader screens are not for them.",
        *disable, ""])


LEARNER_GITIGNORE = "__pycache__/\n*.pyc\n.ipynb_checkpoints/\n*.egg-info/\n.venv/\nbuild/\n"


def _texts(folder):
    """(relative path, lines) of every file under ``folder`` but .git; a notebook's cell sources are
    read as code (its JSON file too)."""
    import nbformat

    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file() and ".git" not in p.parts):
        relative = path.relative_to(folder).as_posix()
        text = path.read_text(errors="replace")
        yield relative, text.splitlines()
        if path.suffix == ".ipynb":
            for cell in nbformat.reads(text, as_version=4).cells:
                yield relative, cell.source.splitlines()


def leaks(folder):
    """What in a published tree could hand a learner an answer: instructor-only paths, nbgrader's
    solution and hidden-test markers, ``hidden=True`` checks in notebooks, and lines of the reference
    engine's solution regions that the stripped engine does not also have."""
    folder = Path(folder)
    engine = (SOLUTIONS / "tinygrad_course" / "engine.py").read_text()
    shown = {line.strip() for line in strip_solutions(engine).splitlines()}
    answers = {line.strip() for lines in solution_regions(engine).values() for line in lines} - shown
    answers = {line for line in answers if len(line) >= 16}
    found = []
    for path in sorted(p for p in folder.rglob("*") if ".git" not in p.relative_to(folder).parts):
        relative = path.relative_to(folder)
        if {part.lower() for part in relative.parts} & FORBIDDEN_PARTS:
            found.append(f"{relative}: an instructor-only path")
    for relative, lines in _texts(folder):
        for line in lines:
            if MARKER.match(line):
                found.append(f"{relative}: nbgrader marker {line.strip()!r}")
            elif line.strip() in answers:
                found.append(f"{relative}: a line of a reference answer: {line.strip()!r}")
            elif relative.endswith(".ipynb") and "hidden=True" in line:
                found.append(f"{relative}: a hidden check: {line.strip()!r}")
    return sorted(set(found))


def _git(folder, *args):
    return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=True)


def publish(destination, *, github=None, force=False, git=True):
    """Write a learner-only repository to ``destination``: a fresh build of the release
    (``course/``), the ``autograder`` modules its notebooks import, pyproject.toml, binder/,
    jupyter-config/, README.md, LICENSE. A new folder becomes a git repository with one commit; an
    existing one (``force``) keeps its .git and gets the new files uncommitted, to review. Returns the
    modules published."""
    destination = Path(destination).resolve()
    if destination == REPO or REPO in destination.parents:
        raise ValueError(f"publish outside this repository (not into {destination})")
    if destination.exists() and not destination.is_dir():
        raise ValueError(f"{destination} is not a folder")
    existing = sorted(p for p in destination.iterdir() if p.name != ".git") if destination.exists() else []
    if existing and not force:
        raise ValueError(f"{destination} is not empty; --force replaces its files (keeping .git/)")
    with tempfile.TemporaryDirectory() as scratch:
        release = build_in(scratch)
        for path in existing:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        destination.mkdir(parents=True, exist_ok=True)
        copy_release(release, destination / "course")
    modules = learner_modules(sorted((destination / "course").glob("*.ipynb")))
    for path in modules.values():
        target = destination / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    (destination / "binder").mkdir()
    for name in ("requirements.txt", "runtime.txt"):
        shutil.copy(REPO / "binder" / name, destination / "binder" / name)
    (destination / "binder" / "postBuild").write_text(_learner_post_build())
    (destination / "binder" / "postBuild").chmod(0o755)
    shutil.copy(REPO / "LICENSE", destination / "LICENSE")
    shutil.copytree(REPO / "jupyter-config", destination / "jupyter-config")
    (destination / "README.md").write_text(_learner_readme(github))
    (destination / "pyproject.toml").write_text(_learner_pyproject())
    (destination / ".gitignore").write_text(LEARNER_GITIGNORE)
    found = leaks(destination)
    if found:
        for path in sorted(p for p in destination.iterdir() if p.name != ".git"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        raise RuntimeError("refusing to publish; removed what was written. Found:\n  " + "\n  ".join(found))
    if git and not (destination / ".git").exists() and shutil.which("git"):
        _git(destination, "init", "-q", "-b", "main")
        _git(destination, "add", "-A")
        identity = [] if _git_identity(destination) else [
            "-c", "user.name=tinygrad-course release", "-c", "user.email=release@localhost"]
        _git(destination, *identity, "commit", "-q", "-m", "Learner release of tinygrad-course")
    return modules


def _git_identity(folder):
    found = subprocess.run(["git", "config", "user.email"], cwd=folder, capture_output=True, text=True)
    return bool(found.stdout.strip())


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder.instructor.release",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if course/ differs from a fresh build")
    parser.add_argument("--refresh", action="store_true", help="re-run the solution notebooks first")
    parser.add_argument("--publish", metavar="DIR", type=Path,
                        help="write a learner-only repository to DIR (a new or empty folder)")
    parser.add_argument("--github", metavar="OWNER/NAME",
                        help="with --publish: the GitHub repository the Binder badge launches")
    parser.add_argument("--force", action="store_true",
                        help="with --publish: replace the files of a non-empty DIR (its .git/ stays)")
    parser.add_argument("--no-git", action="store_true",
                        help="with --publish: do not make a new DIR a git repository")
    args = parser.parse_args(argv)
    if args.check and args.publish:
        parser.error("--check and --publish are separate runs")
    if not args.publish and (args.github or args.force or args.no_git):
        parser.error("--github, --force and --no-git go with --publish")
    if args.refresh:
        refresh_outputs()
    if args.publish:
        try:
            modules = publish(args.publish, github=args.github, force=args.force, git=not args.no_git)
        except (ValueError, RuntimeError) as error:
            print(f"not published: {error}", file=sys.stderr)
            return 1
        print(f"published the learner repository in {args.publish}: course/, binder/, jupyter-config/, "
              f"README.md, LICENSE, pyproject.toml and {len(modules)} modules of autograder/:", *modules, sep="\n  ")
        if not args.github:
            print(f"Edit the Binder badge in {args.publish / 'README.md'}: replace {BADGE_PLACEHOLDER} with the "
                  "repository's GitHub path (or publish again with --force --github owner/name).")
        return 0
    if args.check:
        with tempfile.TemporaryDirectory() as scratch:
            stale = differences(build_in(scratch), COURSE)
        if stale:
            print("course/ is stale; run `python -m autograder.instructor.release`. Differs:", *stale, sep="\n  ")
            return 1
        print("course/ matches a fresh build from solutions/")
        return 0
    copy_release(generate(COURSE_ROOT), COURSE)
    print(f"built {COURSE.relative_to(REPO)}/ from solutions/ ({len(list(COURSE.glob('*.ipynb')))} notebooks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Everything a worker needs to grade, as one picklable dict (scattered once to Dask workers).

- ``config``: the course's ``nbgrader_config.py`` text;
- ``source``: the assignment's non-notebook source files (what ``Autograde`` restores, and
  the only files that reach the kernel's folder);
- ``gradebook``: a sqlite gradebook file holding just the assignment, seeded from the main
  gradebook through nbgrader's API;
- ``package``: the grading code (``autograder/*.py``), importable inside the kernels' sandbox
  where the repository is not visible (no reference engine);
- ``secret``: the course secret the hidden checks' seeds derive from (``autograder.instructor.judge``);
- ``layout``: notebooks, their cell ids and maximum scores; ``settings``: limits and options.
"""

import tempfile
from pathlib import Path

import nbformat

from autograder.instructor import judge
from autograder.instructor.grading import book

PACKAGE = Path(__file__).resolve().parents[2]  # autograder/
SKIP = {"__pycache__", ".ipynb_checkpoints"}


def _files(folder, keep=lambda path: True):
    folder = Path(folder)
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not SKIP & set(p.parts) and keep(p.relative_to(folder))}


# What runs inside the kernels' sandbox: the learner's side (what the visible checks import) and the
# kernel factory that forks the kernels there, with the package files its imports need.
KERNEL_SIDE_PACKAGES = ("learner", "checking", "worker")
KERNEL_FACTORY = ("__init__.py", "instructor/__init__.py", "instructor/sandbox.py", "instructor/grading/__init__.py",
                  "instructor/grading/zygote.py")


def _kernel_side(rel):
    return rel.suffix == ".py" and (rel.parts[0] in KERNEL_SIDE_PACKAGES or rel.as_posix() in KERNEL_FACTORY)


def package_files():
    """What the kernels' sandbox gets of ``autograder/``: the learner's side and the kernel factory. No
    reference engine: the checks' stand-ins (``autograder.learner.torch_standins``) need none; and
    nothing else of ``autograder/instructor/`` (the grader's own stand-ins above all): learner code in
    a kernel could print it into the feedback."""
    return {f"autograder/{name}": data for name, data in _files(PACKAGE, _kernel_side).items()}


def _layout(course_root, assignment, db_url, course_id):
    """The gradebook's layout, plus each notebook's test cells as released to learners
    (hidden tests stripped), so an edited or deleted test cell can be named in the report."""
    layout = book.assignment_layout(db_url, assignment, course_id)
    for notebook, info in layout.items():
        info["locked"] = {}
        released = Path(course_root) / "release" / assignment / f"{notebook}.ipynb"
        if released.is_file():
            info["release"] = released.read_text()
            for cell in nbformat.read(released, as_version=4).cells:
                meta = cell.metadata.get("nbgrader", {})
                if meta.get("locked") and meta.get("grade"):  # the test cells
                    info["locked"][meta["grade_id"]] = cell.source
    return layout


def build(course_root, assignment, db_url, course_id, settings):
    course_root = Path(course_root)
    source = course_root / "source" / assignment
    if not source.is_dir():
        raise FileNotFoundError(f"no source folder {source}: build the assignment first "
                                f"(python -m autograder.instructor.release, or nbgrader generate_assignment)")
    if not book.has_assignment(db_url, assignment, course_id):
        raise LookupError(f"assignment {assignment!r} is not in the gradebook {db_url}: "
                          f"run nbgrader generate_assignment {assignment} first")
    with tempfile.TemporaryDirectory() as scratch:
        template = Path(scratch) / "gradebook.db"
        book.copy_assignment(db_url, f"sqlite:///{template}", assignment, course_id)
        gradebook = template.read_bytes()
    bundle = {
        "assignment": assignment, "course_id": course_id,
        "config": (course_root / "nbgrader_config.py").read_text(),
        "source": _files(source, lambda rel: rel.suffix != ".ipynb"),
        "gradebook": gradebook, "package": package_files(),
        "layout": _layout(course_root, assignment, db_url, course_id), "settings": dict(settings),
        "secret": judge.course_secret(course_root),
    }
    return bundle

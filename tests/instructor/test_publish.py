"""`python -m autograder.instructor.release --publish DIR`: a learner-only repository.

It holds the release (notebooks, engine stubs), the part of ``autograder`` the notebooks import,
a Binder environment, a README and the LICENSE -- and nothing to copy an answer from: no line of
a solution region or hidden test that the release does not already show, no instructor-only
file, no history of this repository. The slow test builds it as Binder would and works in it.
"""

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import binder_venv
import nbformat
import pytest
from open_exercises import open_exercise_error

from autograder.instructor import release
from autograder.learner.engines import COURSE, REPO, SOLUTIONS

ENGINE = (SOLUTIONS / "tinygrad_course" / "engine.py").read_text()
NOTEBOOK_REGION = re.compile(r"^\s*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)\b")
HIDDEN_CALL = re.compile(r'check\("\w+"(, \w+)?, hidden=True\)')
SHORTEST_TELLING_LINE = 16  # shorter lines are plain Python (`else:`, `return out`) found anywhere
INSTRUCTOR_ONLY = re.compile(r"solutions|judge|instructor|classgrading|(^|/)grade\.py$|\.grading|gradebook", re.I)


def normalise(text):
    return " ".join(text.split())


def tree_texts(folder):
    """{relative path: [text, ...]} of every file under ``folder`` but .git: the file as it is and,
    for a notebook, each cell's source (in the JSON, quotes and line ends are escaped)."""
    texts = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and ".git" not in p.relative_to(folder).parts):
        text = path.read_text(errors="replace")
        texts[path.relative_to(folder).as_posix()] = [text] + (
            [cell.source for cell in nbformat.reads(text, as_version=4).cells] if path.suffix == ".ipynb" else [])
    return texts


def notebook_regions(notebook_path):
    """Lines inside a source notebook's solution and hidden-test regions (markers left out)."""
    lines = []
    for cell in nbformat.read(notebook_path, as_version=4).cells:
        inside = False
        for line in cell.source.splitlines():
            marker = NOTEBOOK_REGION.match(line)
            if marker:
                inside = marker[1] == "BEGIN"
            elif inside:
                lines.append(line)
    return lines


def answer_lines():
    """Normalised lines of every solution / hidden-test region that the release does not show."""
    regions = [line for lines in release.solution_regions(ENGINE).values() for line in lines]
    for notebook in sorted(SOLUTIONS.glob("*.ipynb")):
        regions += notebook_regions(notebook)
    telling = {line for line in map(normalise, regions) if len(line) >= SHORTEST_TELLING_LINE}
    # A hidden test is one call of the published checker with a fresh seed: the checker has to be
    # published for the visible checks, so the call names nothing a learner lacks (its docstring shows
    # one). The call itself stays out of the notebooks: see the next test but one.
    telling = {line for line in telling if not HIDDEN_CALL.fullmatch(line)}
    release_text = "\n".join(normalise(text) for texts in tree_texts(COURSE).values() for text in texts)
    return {line for line in telling if line not in release_text}  # the release shows it (e.g. in prose)


def leaked(folder, answers):
    """(path, answer line) for each answer line found anywhere in a file under ``folder``."""
    found = []
    for relative, texts in tree_texts(folder).items():
        flat = "\n".join(normalise(text) for text in texts)
        found += [(relative, line) for line in sorted(answers) if line in flat]
    return found


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    folder = tmp_path_factory.mktemp("publish") / "tinygrad-course-learner"
    assert release.main(["--publish", str(folder)]) == 0
    return folder


def test_no_answer_line_is_published(published):
    answers = answer_lines()
    assert len(answers) > 30, "the regions should hold plenty of telling lines"
    assert leaked(published, answers) == []


def test_the_leak_scan_finds_a_planted_answer(published, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(published, copy, ignore=shutil.ignore_patterns(".git"))
    answers = answer_lines()
    engine_line = next(line for line in sorted(answers) if line in map(normalise, ENGINE.splitlines()))
    with open(copy / "autograder" / "checking" / "slips.py", "a") as out:
        out.write(f"\n# {engine_line}\n")
    assert leaked(copy, answers) == [("autograder/checking/slips.py", engine_line)]


def test_no_instructor_file_or_history(published):
    paths = [p.relative_to(published).as_posix() for p in published.rglob("*")
             if ".git" not in p.relative_to(published).parts]
    assert [p for p in paths if INSTRUCTOR_ONLY.search(p)] == []
    assert not any(p.endswith(".db") or "__pycache__" in p for p in paths)
    assert {p.split("/")[0] for p in paths} == {
        ".gitignore", "LICENSE", "README.md", "autograder", "binder", "course", "jupyter-config", "pyproject.toml"}
    assert (published / "LICENSE").read_text() == (REPO / "LICENSE").read_text()
    # its own history: one commit of this tree, no object of this repository's
    commits = subprocess.run(["git", "rev-list", "--all"], cwd=published, capture_output=True, text=True,
                             check=True).stdout.split()
    assert len(commits) == 1
    ours = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                          check=True).stdout.strip()
    assert subprocess.run(["git", "cat-file", "-e", ours], cwd=published, capture_output=True).returncode != 0
    status = subprocess.run(["git", "status", "--porcelain"], cwd=published, capture_output=True,
                            text=True, check=True).stdout
    assert status == ""


def test_notebooks_and_engine_are_the_release_without_hidden_tests(published):
    assert release.differences(published / "course", COURSE) == []
    assert any("hidden=True" in cell.source for nb in SOLUTIONS.glob("*.ipynb")
               for cell in nbformat.read(nb, as_version=4).cells), "the source should have hidden checks"
    for notebook in sorted((published / "course").glob("*.ipynb")):
        for cell in nbformat.read(notebook, as_version=4).cells:
            assert "hidden=True" not in cell.source, notebook.name
            assert not [line for line in cell.source.splitlines() if NOTEBOOK_REGION.match(line)], notebook.name
    engine = (published / "course" / "tinygrad_course" / "engine.py").read_text()
    assert engine == release.strip_solutions(ENGINE)
    assert not [line for line in engine.splitlines() if release.BEGIN.match(line) or release.END.match(line)]


# Runs with this checkout's interpreter in the published tree (no solutions/ beside it): every
# import the release notebooks make, a visible check of an open exercise, a widget, the diagnosis.
IMPORT_AND_CHECK = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[1])
    for statement in json.loads(sys.argv[2]):
        exec(statement)
    from autograder.learner.checks import CheckFailed, check
    try:
        check("pow_backward")
    except CheckFailed as failure:
        assert "not written yet" in str(failure), failure
    else:
        raise AssertionError("pow_backward passed in the untouched release")
    check("manual_dy_dx", lambda x: 2 * x)
    from autograder.learner.widgets import accumulation_widget
    accumulation_widget()
    print(json.dumps({name: getattr(module, "__file__", None) for name, module in sys.modules.items()
                      if name.split(".")[0] == "autograder"}))
""")


def _notebook_import_statements(folder):
    statements = set()
    for notebook in sorted(folder.glob("*.ipynb")):
        for cell in nbformat.read(notebook, as_version=4).cells:
            if cell.cell_type == "code":
                code = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith("%"))
                statements |= {ast.unparse(node) for node in ast.walk(ast.parse(code))
                               if isinstance(node, ast.Import | ast.ImportFrom)}
    return sorted(statements)


def test_the_published_autograder_is_what_the_notebooks_import_and_works_without_solutions(published):
    statements = _notebook_import_statements(published / "course")
    assert any("autograder.learner.checks" in s for s in statements)
    assert any("autograder.learner.widgets" in s for s in statements)
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environ["PYTHONDONTWRITEBYTECODE"] = "1"  # the published tree stays as committed
    result = subprocess.run([sys.executable, "-c", IMPORT_AND_CHECK, str(published), json.dumps(statements)],
                            cwd=published / "course", env=environ, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    imported = json.loads(result.stdout.strip().splitlines()[-1])
    assert all(path.startswith(str(published) + os.sep) for path in imported.values()), imported
    published_modules = {p.relative_to(published).with_suffix("").as_posix().replace("/", ".").removesuffix(
        ".__init__") for p in (published / "autograder").rglob("*.py")}
    assert set(imported) <= published_modules
    learner_side = ("autograder.learner", "autograder.checking", "autograder.worker")
    assert {m for m in published_modules if not m.startswith(learner_side)} == {"autograder"}
    assert {p.split(".")[1] for p in published_modules if "." in p} == {"learner", "checking", "worker"}


def test_readme_has_a_binder_badge_to_edit(published):
    readme = (published / "README.md").read_text()
    badge = re.search(r"\[!\[Launch on Binder\]\(\S+\)\]\((\S+)\)", readme)
    assert badge and badge[1].startswith("https://mybinder.org/v2/gh/OWNER/REPOSITORY/HEAD?")
    assert "course/01_x_squared.ipynb" in badge[1]
    assert "Instructor: replace OWNER/REPOSITORY" in readme
    assert "solutions" not in readme.lower()


def test_publish_refuses_a_folder_it_would_clobber(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        release.publish(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="outside this repository"):
        release.publish(REPO / "published")
    assert release.main(["--publish", str(tmp_path)]) == 1


# --------------------------------------------------------------------------
# The published repository as Binder builds it (as tests/notebooks/test_binder.py does for this one)
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def learner_binder(published, binder_base, tmp_path_factory):
    repo = tmp_path_factory.mktemp("learner-binder") / "repo"
    shutil.copytree(published, repo)  # what Binder clones
    bin_dir, environ = binder_base.post_build(repo)  # the session's venv: the same requirements.txt
    return repo, bin_dir, environ


@pytest.mark.slow
def test_learner_repository_on_binder(learner_binder):
    repo, bin_dir, environ = learner_binder
    python = str(bin_dir / "python")

    probe = ("import importlib.util, json, torch, autograder; print(json.dumps([torch.__version__, "
             "autograder.__file__, importlib.util.find_spec('tinygrad_course') is None, "
             "importlib.util.find_spec('autograder.instructor') is None]))")
    out = subprocess.run([python, "-c", probe], cwd=repo, env=environ, capture_output=True, text=True, check=True)
    version, package, no_engine_outside_course, no_judge = json.loads(out.stdout)
    assert version.startswith("2.13.0") and "+cu" not in version
    assert package == str(repo / "autograder" / "__init__.py")  # pip install -e . of the published tree
    assert no_engine_outside_course and no_judge

    result = subprocess.run([python, "-c", binder_venv.RUN_UNTIL_FIRST_ERROR, str(repo / "course")],
                            cwd=repo / "course", env=environ, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(report) == len(list(COURSE.glob("*.ipynb")))
    for name, run in report.items():
        error = run["first_error"]
        assert error is not None, f"{name}: ran to the end with nothing open"
        assert open_exercise_error(error["cell"], error["ename"], error["evalue"]), (name, error)

    # a learner writes Pow.backward; its visible check passes, the next exercise is still open
    engine_path = repo / "course" / "tinygrad_course" / "engine.py"
    stub = "raise NotImplementedError(todo('pow_backward'))"
    engine = engine_path.read_text()
    assert engine.count(stub) == 1
    body = "\n".join(release.solution_regions(ENGINE)["pow_backward"]).strip()
    engine_path.write_text(engine.replace(stub, body))
    run_check = ("from autograder.learner.checks import check\ncheck('pow_backward')\n"
                 "try:\n    check('sin_backward')\nexcept AssertionError as failure:\n    print(failure)\n")
    result = subprocess.run([python, "-c", run_check], cwd=repo / "course", env=environ,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "pow_backward: " in result.stdout and "agree with torch.autograd" in result.stdout
    assert "sin_backward: not written yet" in result.stdout


# --------------------------------------------------------------------------
# No answer key: the grader's stand-ins stay on the instructor's side
# --------------------------------------------------------------------------

# In an interpreter where `import torch` fails (the judge's worker): every module under the given
# root that imports, and which of them offer stand-ins (`make` / `installed`, the interface the
# drivers use). Prints {"imported": [...], "standins": [...]}.
WITHOUT_TORCH = textwrap.dedent("""
    import importlib, json, pathlib, sys
    sys.modules["torch"] = None
    root = pathlib.Path(sys.argv[1])
    sys.path.insert(0, str(root))
    imported, standins = [], []
    for path in sorted((root / "autograder").rglob("*.py")):
        name = path.relative_to(root).with_suffix("").as_posix().replace("/", ".").removesuffix(".__init__")
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        imported.append(name)
        if callable(getattr(module, "make", None)) and callable(getattr(module, "installed", None)):
            standins.append(name)
    print(json.dumps({"imported": imported, "standins": standins}))
""")


def _without_torch(root):
    done = subprocess.run([sys.executable, "-c", WITHOUT_TORCH, str(root)], capture_output=True, text=True,
                          timeout=300, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_no_torch_free_standins_are_published(published, tmp_path):
    """Nothing published holds the grader's stand-ins (torch-free answers to every engine unit, once
    ``autograder/standins.py``): no instructor folder, and every published module that offers stand-ins
    needs torch to import at all. The same probe on this repository finds the instructor's."""
    files = [p.relative_to(published).as_posix() for p in (published / "autograder").rglob("*.py")]
    assert not [f for f in files if "instructor" in f or f == "autograder/standins.py"], files
    assert "autograder/learner/torch_standins.py" in files  # the notebook checks' own, which need torch
    found = _without_torch(published)
    assert "autograder.worker.drivers" in found["imported"]  # the probe imports what can import
    assert found["standins"] == []
    here = tmp_path / "here"  # the repository's autograder/ as it is, with its instructor folder
    shutil.copytree(REPO / "autograder", here / "autograder", ignore=shutil.ignore_patterns("__pycache__"))
    assert "autograder.instructor.standins" in _without_torch(here)["standins"]


def test_publishing_refuses_a_learner_module_that_imports_the_instructors_side(tmp_path, monkeypatch):
    tree = {"__init__.py": "", "learner/__init__.py": "", "checking/__init__.py": "", "worker/__init__.py": "",
            "learner/checks.py": "def run():\n    from autograder.instructor import standins\n",
            "checking/slips.py": "", "worker/codec.py": "", "instructor/__init__.py": "", "instructor/standins.py": ""}
    for name, text in tree.items():
        (tmp_path / "autograder" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "autograder" / name).write_text(text)
    notebook = tmp_path / "n.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from autograder.checking import slips\nfrom autograder.learner.checks import check")]), notebook)
    monkeypatch.setattr(release, "REPO", tmp_path)
    with pytest.raises(RuntimeError, match="autograder.learner.checks imports autograder.instructor"):
        release.learner_modules([notebook])  # even from inside a function
    (tmp_path / "autograder" / "learner" / "checks.py").write_text("def check():\n    pass\n")
    assert set(release.learner_modules([notebook])) == {
        "autograder", "autograder.learner", "autograder.learner.checks", "autograder.checking",
        "autograder.checking.slips", "autograder.worker", "autograder.worker.codec"}
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from autograder.instructor import standins")]), notebook)
    with pytest.raises(RuntimeError, match="a notebook imports autograder.instructor"):
        release.learner_modules([notebook])


def test_the_learner_pyproject_leaves_the_instructors_side_out():
    import tomllib
    found = tomllib.loads(release._learner_pyproject())["tool"]["setuptools"]["packages"]["find"]
    assert found["exclude"] == ["autograder.instructor*"]

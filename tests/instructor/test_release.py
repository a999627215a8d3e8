"""The learner release: built by one command from solutions/, identical to what is committed,
and free of solution text and hidden tests."""

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import nbformat
import pytest

from autograder.instructor import release
from autograder.learner.engines import COURSE, REPO, SOLUTIONS

ENGINE = (SOLUTIONS / "tinygrad_course" / "engine.py").read_text()


def solution_regions(text):
    """{exercise id: [lines inside its regions]} of a file with ``### BEGIN SOLUTION <id>`` markers."""
    regions, current = {}, None
    for line in text.splitlines():
        begin = release.BEGIN.match(line)
        if begin:
            current = regions.setdefault(begin["exercise"], [])
        elif release.END.match(line):
            current = None
        elif current is not None:
            current.append(line)
    return regions


def test_strip_replaces_each_region_with_its_named_error():
    stripped = release.strip_solutions(ENGINE)
    ast.parse(stripped)
    regions = solution_regions(ENGINE)
    raised = re.findall(r"raise NotImplementedError\(todo\('(\w+)'\)\)", stripped)
    assert set(raised) == set(regions)
    assert not [line for line in stripped.splitlines() if release.BEGIN.match(line) or release.END.match(line)]


def test_strip_can_keep_some_exercises_solved():
    regions = solution_regions(ENGINE)
    kept = release.strip_solutions(ENGINE, keep={"pow_backward"})
    assert all(line in kept for line in regions["pow_backward"])
    assert "todo('pow_backward')" not in kept and "todo('sin_backward')" in kept


@pytest.mark.parametrize("broken, complaint", [
    ("x = 1\n### BEGIN SOLUTION\nx = 2\n### END SOLUTION\n", "needs an exercise id"),
    ("### BEGIN SOLUTION a\n### BEGIN SOLUTION b\n### END SOLUTION\n", "inside the region opened at line 1"),
    ("x = 1\n### END SOLUTION\n", "END SOLUTION without a BEGIN"),
    ("### BEGIN SOLUTION a\nx = 1\n", "never closed"),
])
def test_malformed_markers_are_named_with_their_line(broken, complaint):
    with pytest.raises(ValueError, match=complaint):
        release.strip_solutions(broken, "engine.py")


def test_every_exercise_of_the_engine_has_a_region_and_a_notebook():
    """The registry's units are the reference engine's solution regions, each asked for by a notebook."""
    from autograder.worker import exercises
    assert set(solution_regions(ENGINE)) == set(exercises.UNITS)
    notebooks = {p.name for p in SOLUTIONS.glob("*.ipynb")}
    assert {notebook for notebook, _ in exercises.ENGINE_TABLE.values()} <= notebooks


def test_committed_course_matches_a_fresh_build(released_course):
    assert release.differences(released_course / "release" / release.ASSIGNMENT, COURSE) == []


def _solution_lines(notebook):
    """Lines learners must write themselves, and hidden-test lines, of a source notebook."""
    lines = []
    for cell in notebook.cells:
        inside = False
        for line in cell.source.splitlines():
            if re.match(r"\s*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)", line):
                inside = "BEGIN" in line
            elif inside and len(line.strip()) > 12:  # short lines (`return x`) are not telling
                lines.append(line.strip())
    return lines


@pytest.mark.parametrize("name", sorted(p.name for p in SOLUTIONS.glob("*.ipynb")))
def test_release_notebook_holds_no_solution_or_hidden_test(name):
    source = nbformat.read(SOLUTIONS / name, as_version=4)
    learner = nbformat.read(COURSE / name, as_version=4)
    learner_code = "\n".join(cell.source for cell in learner.cells)
    assert "hidden=True" not in learner_code
    leaked = [line for line in _solution_lines(source) if line in learner_code]
    assert leaked == []
    assert all(not cell.get("outputs") for cell in learner.cells if cell.cell_type == "code")


def test_release_engine_holds_no_solution_line():
    learner_engine = (COURSE / "tinygrad_course" / "engine.py").read_text()
    outside = release.strip_solutions(ENGINE)  # lines that also occur outside regions are fine
    for exercise, lines in solution_regions(ENGINE).items():
        telling = [line for line in lines if line.strip() and line not in outside.splitlines()]
        assert telling, f"{exercise}: region has no line of its own"
        assert not [line for line in telling if line in learner_engine.splitlines()], exercise


def _imported_top_level(source):
    """Top-level module names a notebook cell imports (IPython magics and shell lines left out)."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module.split(".")[0]


def test_every_library_the_course_imports_is_in_the_learners_environment():
    """Binder installs binder/requirements.txt (also what --publish copies) and a learner's
    `pip install -e .` the project's dependencies (what --publish's pyproject lists): both must
    hold every third-party library a notebook imports (matplotlib for 07's loss curve)."""
    provided_by = {"IPython": "ipykernel"}  # IPython comes with the kernel
    own = {"tinygrad_course", "autograder"}
    imported = {name for path in SOLUTIONS.glob("*.ipynb") for cell in nbformat.read(path, as_version=4).cells
                if cell.cell_type == "code" for name in _imported_top_level(cell.source)}
    third_party = {provided_by.get(n, n).lower() for n in imported - own - set(sys.stdlib_module_names)}
    assert "matplotlib" in third_party and "torch" in third_party  # the scan sees what it should
    pinned = {re.split(r"[=<>\[ ]", line)[0].lower() for line in (REPO / "binder" / "requirements.txt").read_text()
              .splitlines() if line.strip() and not line.startswith(("#", "-"))}
    declared = {re.split(r"[=<>\[ ]", d)[0].lower()
                for d in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]}
    assert third_party - pinned == set()
    assert third_party - declared == set()


# -- the learner's own machine: nbgrader's instructor screens hidden, as on Binder -----------------

INSTRUCTOR_SCREENS = {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                      "@jupyter/nbgrader:course-list"}


def _installed_prefix(tmp_path):
    """The project installed as the learner README installs it (a wheel, not -e) into a prefix of
    its own; with nbgrader's own server config beside ours, as in a venv, where both land."""
    source, wheels, prefix = tmp_path / "source", tmp_path / "wheel", tmp_path / "prefix"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "jupyter-config", source / "jupyter-config")
    shutil.copytree(REPO / "autograder", source / "autograder", ignore=shutil.ignore_patterns("__pycache__"))

    def pip(*args):
        done = subprocess.run([sys.executable, "-m", "pip", "-q", *args], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr

    pip("wheel", "--no-deps", "--no-build-isolation", str(source), "-w", str(wheels))
    # --ignore-installed: without it pip would first uninstall this environment's own (editable) install
    pip("install", "--no-deps", "--no-index", "--ignore-installed", "--prefix", str(prefix),
        *map(str, wheels.glob("*.whl")))
    config = prefix / "etc" / "jupyter"
    nbgrader_own = Path(sysconfig.get_paths()["data"]) / "etc/jupyter/jupyter_server_config.d/nbgrader.json"
    assert nbgrader_own.is_file(), "nbgrader's server config is where this test expects it"
    shutil.copy(nbgrader_own, config / "jupyter_server_config.d")
    return config


def test_the_learners_install_hides_nbgraders_instructor_screens(tmp_path):
    """What JupyterLab loads with the installed settings: the three instructor screens disabled
    (the page config), the Formgrader server extension off, Validate and Assignments still on."""
    config = _installed_prefix(tmp_path)
    (tmp_path / "user").mkdir()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "user"), JUPYTER_CONFIG_PATH=str(config))
    listed = subprocess.run([str(Path(sys.executable).parent / "jupyter"), "labextension", "list"], env=env,
                            capture_output=True, text=True, timeout=120)
    text = listed.stdout + listed.stderr
    assert "Disabled extensions:" in text, text
    disabled = {line.strip() for line in text.split("Disabled extensions:")[1].splitlines() if line.strip()}
    assert disabled == INSTRUCTOR_SCREENS, text
    probe = ("import json; from jupyter_server.serverapp import ServerApp; app = ServerApp(); "
             "app.find_server_extensions(); print(json.dumps(dict(app.jpserver_extensions)))")
    found = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    extensions = json.loads(found.stdout.strip().splitlines()[-1])
    assert extensions["nbgrader.server_extensions.formgrader"] is False
    assert extensions["nbgrader.server_extensions.validate_assignment"] is True
    assert extensions["nbgrader.server_extensions.assignment_list"] is True
    cull = ("from jupyter_server.serverapp import ServerApp; app = ServerApp(); "
            "app.initialize(argv=['--allow-root', '--port=0', '--no-browser']); km = app.kernel_manager; "
            "print(km.cull_idle_timeout, km.cull_connected)")
    found = subprocess.run([sys.executable, "-c", cull], env=env, capture_output=True, text=True, timeout=120)
    timeout, connected = found.stdout.strip().splitlines()[-1].split()
    assert 0 < int(timeout) <= 3600 and connected == "True", "the server shuts idle kernels down" + found.stderr


def test_the_learners_settings_are_installed_where_binder_puts_its_own():
    """pyproject installs every file of jupyter-config/ under etc/jupyter/ at the same place, and
    they disable what binder/postBuild disables (two ways to one state: Binder's image, a venv)."""
    data_files = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    shipped = {path.relative_to(REPO).as_posix() for path in (REPO / "jupyter-config").rglob("*") if path.is_file()}
    assert sorted(f for files in data_files.values() for f in files) == sorted(shipped)
    for target, files in data_files.items():
        for name in files:
            assert f"{target}/{name.rsplit('/', 1)[1]}" == name.replace("jupyter-config/", "etc/jupyter/", 1)
    post_build = (REPO / "binder" / "postBuild").read_text()
    binder_lab = set(re.findall(r"labextension disable --level=sys_prefix (\S+)", post_build))
    binder_server = set(re.findall(r"server extension disable --sys-prefix (\S+)", post_build))
    page = json.loads((REPO / "jupyter-config/labconfig/page_config.d/tinygrad-course.json").read_text())
    server = json.loads((REPO / "jupyter-config/jupyter_server_config.d/tinygrad-course.json").read_text())
    assert {name for name, off in page["disabledExtensions"].items() if off} == binder_lab == INSTRUCTOR_SCREENS
    assert {name for name, on in server["ServerApp"]["jpserver_extensions"].items() if not on} == binder_server
    assert 'cp -r jupyter-config/. "$(python -c' in post_build, "Binder's editable install gets the settings too"
    culling = json.loads((REPO / "jupyter-config/jupyter_server_config.json").read_text())["MappingKernelManager"]
    assert culling["cull_connected"] and 0 < culling["cull_idle_timeout"] <= 3600, "idle kernels are shut down"

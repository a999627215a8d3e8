"""Stock ``nbgrader autograde`` (``autograder/instructor/grading/stock.py``): kernels in bubblewrap, scores
from the judge, and nothing at all without bubblewrap unless the instructor opts in.

A scratch course with the real assignment, built once for the module. alice submits honest work
and is graded first; then mallory, whose notebook tries to overwrite the gradebook, the course's
config and the grading code, to write into alice's folders, to leave symlinks for nbgrader to
write through, and to reach a socket the test listens on. Both are graded by plain
``nbgrader autograde autodiff`` in the course root (mallory into a copy of the gradebook, so
that the course's own gradebook, which holds alice's grades, must stay byte-identical).
Then learners whose kernels lie or die: their scores are the judge's, whatever the kernel said.
"""

import hashlib
import json
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import nbformat
import pytest
from corpus import course
from nbformat.v4 import new_code_cell
from traitlets.config.loader import PyFileConfigLoader

from autograder.instructor import sandbox
from autograder.instructor.grading import stock

NOTEBOOK = "01_x_squared"
ANSWER_CELL = "manual_dy_dx_answer"
REPO = Path(__file__).resolve().parents[2]
ALICE_ANSWERS = ["manual_dy_dx"]  # the notebook's by-hand answer
ALICE_UNITS = ["pow_backward"]  # and one engine unit; accumulate_grad is left open

# Runs in mallory's kernel; {root}, {port}, {probe} are filled in. Prints one JSON line.
ATTACK = '''
import json, os, socket, autograder
root, here, found = {root!r}, os.getcwd(), {{}}

def attempt(name, path, action):
    seen = os.path.exists(path)
    try:
        action(path)
        found[name] = {{"seen": seen, "done": True}}
    except Exception as error:
        found[name] = {{"seen": seen, "done": type(error).__name__}}

def overwrite(path):
    with open(path, "wb") as out:
        out.write(b"mallory was here")

def create(path):
    with open(path, "x") as out:
        out.write("mallory was here")

def open_for_writing(path):  # a real attempt that writes nothing: outside the test's folder, even a broken
    open(path, "ab").close()  # sandbox must cost nothing


attempt("gradebook", os.path.join(root, "gradebook.db"), overwrite)
attempt("course_config", os.path.join(root, "nbgrader_config.py"), overwrite)
attempt("repo_grading_code", {probe!r}, create)
attempt("kernel_grading_code", os.path.join(os.path.dirname(autograder.__file__), "learner", "checks.py"),
        open_for_writing)
alice = os.path.join(root, "{{}}", "alice", "autodiff")
attempt("alice_submitted", os.path.join(alice.format("submitted"), "tinygrad_course", "engine.py"), overwrite)
attempt("alice_submitted_new", os.path.join(alice.format("submitted"), "mallory.py"), create)
attempt("alice_autograded", os.path.join(alice.format("autograded"), "{notebook}.ipynb"), overwrite)
attempt("hidden_tests", os.path.join(root, "source", "autodiff", "{notebook}.ipynb"), overwrite)
try:
    with socket.create_connection(("127.0.0.1", {port}), timeout=5) as connection:
        connection.sendall(b"mallory")
    found["network"] = {{"done": True}}
except OSError as error:
    found["network"] = {{"done": type(error).__name__}}
# nbgrader writes the graded notebook here after the kernel: make that a link to the gradebook
os.remove("{notebook}.ipynb")
os.symlink(os.path.join(root, "gradebook.db"), "{notebook}.ipynb")
os.symlink(os.path.join(root, "nbgrader_config.py"), os.path.join("tinygrad_course", "config_link.py"))
found["cwd"] = here
print("ATTACK " + json.dumps(found))
'''


# A cell that outlives nbgrader's timeout is interrupted: the signal must reach the kernel
# inside the sandbox (sent to bwrap, it would kill the sandbox and the notebook with it).
LOOP = "import time\nwhile True:\n    time.sleep(0.01)"
CELL_TIMEOUT = 10


def _hashes(root, paths):
    """{relative path: sha256} of every file under ``paths`` (files or folders) in ``root``."""
    found = {}
    for rel in paths:
        path = root / rel
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file() or p.is_symlink())
        for file in files:
            data = file.read_bytes() if not file.is_symlink() else b"symlink:" + str(file.readlink()).encode()
            found[file.relative_to(root).as_posix()] = hashlib.sha256(data).hexdigest()
    return found


def _autograde(root, *args):
    command = [sys.executable, "-m", "nbgrader", "autograde", course.ASSIGNMENT, "--notebook", NOTEBOOK, *args]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stderr


def _scores(db_path, student, field="score"):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{db_path}", course.COURSE_ID) as gradebook:
        notebook = gradebook.find_submission_notebook(NOTEBOOK, course.ASSIGNMENT, student)
        return {grade.name: getattr(grade, field) for grade in notebook.grades}


def _after_cell(grade_id, *sources, answer=None):
    """An edit for ``course.submit``: ``sources`` as new cells after cell ``grade_id`` of NOTEBOOK,
    and ``answer`` (if given) as the source of its answer cell."""
    def edit(name, notebook):
        if name == NOTEBOOK:
            ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in notebook.cells]
            if answer is not None:
                notebook.cells[ids.index(ANSWER_CELL)].source = answer
            at = ids.index(grade_id) + 1
            notebook.cells[at:at] = [new_code_cell(source) for source in sources]
    return edit


def _after_setup(*sources):
    return _after_cell("setup", *sources)


def _outputs(notebook_path):
    """[(cell source, [(output type, error name or stdout text)])] of the graded notebook."""
    notebook = nbformat.read(notebook_path, as_version=4)
    return [(cell.source, [(o.output_type, o.get("ename") or o.get("text")) for o in cell.get("outputs", [])])
            for cell in notebook.cells if cell.cell_type == "code"]


def _attack_report(outputs):
    for _, cell_outputs in outputs:
        for kind, text in cell_outputs:
            if kind == "stream" and "ATTACK " in (text or ""):
                return json.loads(text.split("ATTACK ", 1)[1].splitlines()[0])
    raise AssertionError("mallory's attack cell did not report")


@pytest.fixture(scope="module")
def released(released_course, tmp_path_factory, needs_bwrap):
    """One scratch course for the module's nbgrader runs (each learner under their own id)."""
    return course.copy_of(released_course, tmp_path_factory.mktemp("stock") / "course")


@pytest.fixture(scope="module")
def graded(released):
    root = released
    points = course.points(root)
    course.submit(root, "alice", engine_units=ALICE_UNITS, answers=ALICE_ANSWERS)

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.setblocking(False)
    probe = REPO / "autograder" / f"_mallory_{uuid.uuid4().hex[:8]}.py"
    attack = ATTACK.format(root=str(root), port=listener.getsockname()[1], probe=str(probe), notebook=NOTEBOOK)
    course.submit(root, "mallory", edit=_after_setup(attack, LOOP, "print('ALIVE')"))

    alice_log = _autograde(root, "--student", "alice")
    guarded = ["gradebook.db", "nbgrader_config.py", "submitted/alice", "autograded/alice", "source"]
    before = _hashes(root, guarded)
    mallory_db = root.parent / "mallory-gradebook.db"
    shutil.copyfile(root / "gradebook.db", mallory_db)
    mallory_log = _autograde(root, "--student", "mallory", "--db", f"sqlite:///{mallory_db}",
                             f"--ExecutePreprocessor.timeout={CELL_TIMEOUT}")
    try:
        connection, _ = listener.accept()
        connection.close()
        reached = True
    except BlockingIOError:
        reached = False
    listener.close()
    probe_written = probe.exists()
    probe.unlink(missing_ok=True)
    outputs = _outputs(root / "autograded" / "mallory" / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    return dict(root=root, points=points, before=before, after=_hashes(root, guarded), reached=reached,
                probe_written=probe_written, mallory_db=mallory_db, logs=alice_log + mallory_log,
                outputs=outputs, report=_attack_report(outputs))



@pytest.mark.slow
def test_mallory_kernel_ran_in_her_own_folder(graded):
    report = graded["report"]
    assert report["cwd"] == str(graded["root"] / "autograded" / "mallory" / course.ASSIGNMENT)
    assert "NOT SANDBOXED" not in graded["logs"]


@pytest.mark.slow
def test_the_course_root_and_alice_are_not_visible_to_mallory(graded):
    report = graded["report"]
    for target in ("gradebook", "course_config", "repo_grading_code", "alice_submitted", "alice_autograded",
                   "hidden_tests"):
        assert report[target]["seen"] is False, target
    # the grading code the kernel imports is its own read-only copy
    assert report["kernel_grading_code"] == {"seen": True, "done": "OSError"}


@pytest.mark.slow
def test_gradebook_config_and_alice_files_are_byte_identical(graded):
    assert graded["after"] == graded["before"]
    assert not graded["probe_written"]


@pytest.mark.slow
def test_no_network(graded):
    assert graded["report"]["network"]["done"] is not True  # the name of the exception it met
    assert not graded["reached"]


@pytest.mark.slow
def test_symlinks_left_by_the_kernel_are_removed_before_nbgrader_writes(graded):
    folder = graded["root"] / "autograded" / "mallory" / course.ASSIGNMENT
    graded_notebook = folder / f"{NOTEBOOK}.ipynb"
    assert graded_notebook.is_file() and not graded_notebook.is_symlink()
    assert not (folder / "tinygrad_course" / "config_link.py").exists()
    assert "not a plain file" in graded["logs"]


@pytest.mark.slow
def test_a_cell_past_its_timeout_is_interrupted_inside_the_sandbox(graded):
    outputs = dict(graded["outputs"])
    assert ("error", "KeyboardInterrupt") in outputs[LOOP]
    assert outputs["print('ALIVE')"] == [("stream", "ALIVE\n")]  # the same kernel ran on


@pytest.mark.slow
def test_alice_scores_exactly_what_she_earned(graded):
    earned = set(ALICE_ANSWERS) | set(ALICE_UNITS)
    scores = _scores(graded["root"] / "gradebook.db", "alice")
    assert scores == {cell: (graded["points"][cell] if cell in earned else 0.0) for cell in scores}
    assert set(scores) == {"manual_dy_dx", "pow_backward", "accumulate_grad"}


@pytest.mark.slow
def test_mallory_was_autograded_too(graded):
    scores = _scores(graded["mallory_db"], "mallory")
    assert set(scores) == {"manual_dy_dx", "pow_backward", "accumulate_grad"}
    assert set(scores.values()) == {0.0}  # she solved nothing


# ---------------------------------------------------------------- the wiring (fast)


def _preprocessors(config, parent=None):
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory
    coursedir = CourseDirectory(config=config)
    converter = Autograde(coursedir=coursedir, parent=parent) if parent else Autograde(coursedir=coursedir,
                                                                                       config=config)
    return converter.autograde_preprocessors


@pytest.mark.parametrize("app", ["autograde", "formgrader"])
def test_course_config_sandboxes_stock_autograde_only(app):
    from nbgrader.apps import AutogradeApp, NbGraderApp
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import Execute, SaveAutoGrades

    config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO / "classroom")).load_config()
    if app == "autograde":  # as `nbgrader autograde` builds it
        parent = AutogradeApp(parent=NbGraderApp(config=config))
    else:
        parent = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    chain = _preprocessors(config, parent)
    assert Execute not in chain
    # the kernel runs, then the judge decides every test cell, then nbgrader saves the scores
    at = chain.index(stock.SandboxedExecute)
    assert chain[at + 1] is stock.JudgeVerdicts and chain.index(SaveAutoGrades) > at + 1
    # autograder.instructor.grade builds Autograde without those parents and swaps Execute for its own
    assert Execute in _preprocessors(config)




# ---------------------------------------------------------------- the judge decides every test cell

TEST_CELLS = ("manual_dy_dx", "pow_backward", "accumulate_grad")  # NOTEBOOK's graded test cells
# Fakes the checks in the learner's own kernel (the real module is sealed, so it puts another in
# its place): every test cell there then runs without an error.
FAKE_CHECKS = ("import sys, types\n"
               "sys.modules['autograder.learner.checks'] = types.SimpleNamespace(check=lambda *args, **kwargs: None)")
FAKE_SHOWN = "from autograder.learner.checks import check\ncheck('accumulate_grad')\nprint('the kernel says: passed')"
WRONG_ANSWER = "def dy_dx(x):\n    return 3 * x"
# Kills its own kernel before any test cell runs (after the answer cell, so the judge never runs it).
DIE = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"


def _learners():
    return {
        "judge-ada": dict(engine_units=course.all_units(), answers=course.all_answers()),
        "judge-fay": dict(edit=_after_cell(ANSWER_CELL, FAKE_CHECKS, FAKE_SHOWN, answer=WRONG_ANSWER)),
        "judge-dora": dict(engine_units=ALICE_UNITS, answers=ALICE_ANSWERS, edit=_after_cell(ANSWER_CELL, DIE)),
    }


def _graded_notebook(root, student):
    return root / "autograded" / student / course.ASSIGNMENT / f"{NOTEBOOK}.ipynb"


def _test_cells(notebook_path):
    """{grade id: [output dicts]} of the graded notebook's graded test cells."""
    notebook = nbformat.read(notebook_path, as_version=4)
    return {cell.metadata.nbgrader["grade_id"]: [dict(output) for output in cell.outputs]
            for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code"}


@pytest.fixture(scope="module")
def judged(released):
    root = released
    learners = _learners()
    for student, how in learners.items():
        course.submit(root, student, **how)
    log = _autograde(root, "--student", "judge-*")
    return dict(root=root, points=course.points(root), log=log,
                scores={s: _scores(root / "gradebook.db", s) for s in learners},
                outputs={s: _outputs(_graded_notebook(root, s)) for s in learners},
                tests={s: _test_cells(_graded_notebook(root, s)) for s in learners})


@pytest.mark.slow
def test_an_honest_reference_submission_scores_full_points(judged):
    assert judged["scores"]["judge-ada"] == {cell: judged["points"][cell] for cell in TEST_CELLS}
    for grade_id, outputs in judged["tests"]["judge-ada"].items():  # the judge's word, not the kernel's
        assert [o["output_type"] for o in outputs] == ["stream"]
        assert outputs[0]["text"].startswith("graded by the judge") and f"{grade_id}: " in outputs[0]["text"]


@pytest.mark.slow
def test_checks_faked_in_the_kernel_score_what_the_judge_says(judged):
    # the kernel was fooled: its own check "passed" an engine unit that is still a stub
    assert ("stream", "the kernel says: passed\n") in dict(judged["outputs"]["judge-fay"])[FAKE_SHOWN]
    assert judged["scores"]["judge-fay"] == {cell: 0.0 for cell in TEST_CELLS}
    for grade_id, outputs in judged["tests"]["judge-fay"].items():
        [output] = outputs  # only the judge's verdict: nothing the kernel printed
        assert output["output_type"] == "error" and output["evalue"].startswith(f"{grade_id}: ")
        assert output["traceback"][0].startswith("graded by the judge")
    assert "disagrees with torch" in judged["tests"]["judge-fay"]["manual_dy_dx"][0]["evalue"]


@pytest.mark.slow
def test_a_notebook_whose_kernel_dies_still_gets_the_judges_verdicts(judged):
    assert "judge-dora/autodiff/01_x_squared.ipynb: the kernel died" in judged["log"]
    earned = set(ALICE_ANSWERS) | set(ALICE_UNITS)
    assert judged["scores"]["judge-dora"] == {c: (judged["points"][c] if c in earned else 0.0) for c in TEST_CELLS}


@pytest.mark.slow
def test_same_bytes_same_verdicts_seeded_as_autograder_grade_seeds_them(judged):
    from autograder.instructor import judge
    from autograder.instructor.grading import collect
    root, student = judged["root"], "judge-fay"
    files = collect.read_submission(root / "submitted" / student / course.ASSIGNMENT, student).files
    secret, digest = judge.course_secret(root), judge.work_digest(files)
    first = judged["tests"][student]
    for grade_id, [output] in first.items():
        seed = judge.hidden_seed(secret, digest, grade_id)
        assert output["traceback"][0] == f"graded by the judge (hidden-check seed {seed}):"
    _autograde(root, "--student", student, "--force")
    assert _test_cells(_graded_notebook(root, student)) == first


# ---------------------------------------------------------------- fail closed without bubblewrap

HIDDEN = "bubblewrap is not installed (this test hides it)"
# `nbgrader ...` with sandbox.probe reporting no bubblewrap (argv after -c: nbgrader's arguments).
WITHOUT_BUBBLEWRAP = ("import sys\n"
                      "from autograder.instructor import sandbox\n"
                      f"sandbox.probe = lambda: (False, {HIDDEN!r})\n"
                      "from nbgrader.apps.nbgraderapp import main\n"
                      "sys.argv = ['nbgrader', *sys.argv[1:]]\n"
                      "main()\n")
CANARY = "open('kernel-ran.txt', 'w').close()"  # in the kernel's own folder: did learner code run?


def test_without_bubblewrap_a_notebook_is_refused_before_any_kernel(monkeypatch):
    monkeypatch.setattr(sandbox, "probe", lambda: (False, HIDDEN))
    execute = stock.SandboxedExecute()
    started = []
    monkeypatch.setattr(execute, "create_kernel_manager", lambda: started.append("kernel"))
    resources = {"nbgrader": {"student": "s", "assignment": "a", "notebook": "n"}}
    with pytest.raises(stock.LearnerCodeRefused) as refused:
        execute.preprocess(nbformat.v4.new_notebook(cells=[new_code_cell(CANARY)]), resources)
    assert f"s/a/n.ipynb: not graded, no learner code was run: {HIDDEN}" in str(refused.value)
    assert stock.OPT_IN in str(refused.value) and not started


@pytest.mark.slow
def test_without_bubblewrap_stock_autograde_refuses_unless_the_instructor_opts_in(released):
    root, student = released, "nobwrap-noah"
    # honest partial work, and checks faked in the kernel (so the kernel would give every point)
    course.submit(root, student, engine_units=ALICE_UNITS, answers=ALICE_ANSWERS,
                  edit=_after_cell(ANSWER_CELL, CANARY, FAKE_CHECKS))
    folder = root / "autograded" / student / course.ASSIGNMENT

    def autograde(*args):
        command = [sys.executable, "-c", WITHOUT_BUBBLEWRAP, "autograde", course.ASSIGNMENT, "--notebook", NOTEBOOK,
                   "--student", student, *args]
        return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300)

    refused = autograde()
    assert refused.returncode != 0
    assert f"not graded, no learner code was run: {HIDDEN}" in refused.stderr and stock.OPT_IN in refused.stderr
    assert not (folder / "kernel-ran.txt").exists()
    assert set(_scores(root / "gradebook.db", student, "auto_score").values()) == {None}  # nothing was scored
    assert not (folder / f"{NOTEBOOK}.ipynb").exists()

    allowed = autograde("--force", "--SandboxedExecute.allow_unsandboxed_learner_code=True")
    assert allowed.returncode == 0, allowed.stderr
    assert f"NOT SANDBOXED ({student}/{course.ASSIGNMENT}/{NOTEBOOK}.ipynb): {HIDDEN}" in allowed.stderr
    assert (folder / "kernel-ran.txt").exists()  # the kernel ran, unconfined, as asked
    earned = set(ALICE_ANSWERS) | set(ALICE_UNITS)
    points = course.points(root)
    assert _scores(root / "gradebook.db", student) == {c: (points[c] if c in earned else 0.0) for c in TEST_CELLS}

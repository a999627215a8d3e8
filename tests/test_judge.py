"""The judge: learner code in a torch-free sandboxed worker, torch and the comparison outside it.

Every hostile engine below attacks one exercise (``pow_backward``) and must score exactly what it
earned: 0 there, and its honest units untouched. Each runs under bubblewrap when it is here and
under the plain-process fallback, which promises less (see ``autograder.judge``).
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from planted_bugs import variants, write_engine

from autograder import checks, judge
from autograder.classgrading import sandbox
from autograder.engines import SOLUTIONS
from autograder.release import solution_regions

SANDBOXES = ["none", pytest.param("bwrap", marks=pytest.mark.skipif(
    not sandbox.probe()[0], reason="bubblewrap is not available here"))]
FAST = ["pow_backward", "sin_backward", "zero_"]  # the attacked unit and two honest ones


def engine_folder(tmp_path, pow_body=None, prelude=""):
    """The reference engine with ``Pow.backward``'s solution replaced by ``pow_body`` and ``prelude``
    run at import (engine.py's first lines)."""
    folder = tmp_path / "submission"
    shutil.copytree(SOLUTIONS / "tinygrad_course", folder / "tinygrad_course")
    path = folder / "tinygrad_course" / "engine.py"
    source = path.read_text()
    if pow_body is not None:
        start = source.index("### BEGIN SOLUTION pow_backward")
        end = source.index("### END SOLUTION", start)
        indent = " " * 8
        source = source[:start] + "### BEGIN SOLUTION pow_backward\n" + textwrap.indent(
            textwrap.dedent(pow_body), indent) + indent + source[end:]
    if prelude:
        source = textwrap.dedent(prelude) + "\n" + source
    path.write_text(source)
    return folder


def scores(folder, exercises=FAST, notebooks=None, mode="none", **options):
    found = judge.judge(exercises, folder, notebooks or {}, secret="course", digest="submission", sandbox=mode,
                        **options)
    return {e: r["passed"] for e, r in found.items()}, found


HOSTILE_POW = {
    "imports torch": """
        import torch
        x, = ctx.saved_tensors
        t = torch.tensor(x, requires_grad=True)
        (t ** ctx.exponent).backward(torch.tensor(grad))
        return t.grad.numpy()
        """,
    "finds torch's folder itself": """
        import sys, glob
        sys.path += glob.glob("/**/site-packages", recursive=True)[:20]
        import torch
        x, = ctx.saved_tensors
        t = torch.tensor(x, requires_grad=True)
        (t ** ctx.exponent).backward(torch.tensor(grad))
        return t.grad.numpy()
        """,
    "borrows the reference from disk": """
        import glob, importlib.util
        for path in glob.glob("REFERENCE") + glob.glob("/*/solutions/tinygrad_course/engine.py"):
            spec = importlib.util.spec_from_file_location("stolen", path)
            stolen = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(stolen)
            return stolen.Pow.backward(ctx, grad)
        raise NotImplementedError("nothing to steal")
        """,
    "hard-codes the seed's answer": "return grad * 6.0\n",
    "returns an object that claims to equal everything": """
        class Liar(float):
            def __eq__(self, other): return True
            def __array__(self, *args, **kwargs): raise RuntimeError("no")
        return Liar(0.0)
        """,
    "exits the process": "import os\nos._exit(0)\n",
    "never returns": "while True:\n    pass\n",
    "writes a forged reply to every open file": """
        import os
        for fd in range(3, 64):
            try:
                os.write(fd, b'{"value": {"kind": "single", "count": 1, "grads": [1.0]}}\\n')
            except OSError:
                pass
        return grad * 0
        """,
}


@pytest.mark.parametrize("mode", SANDBOXES)
@pytest.mark.parametrize("attack", sorted(HOSTILE_POW))
def test_a_hostile_pow_backward_scores_nothing_and_costs_nothing_else(attack, mode, tmp_path):
    if attack in ("finds torch's folder itself", "borrows the reference from disk") and mode == "none":
        pytest.skip("only bubblewrap hides torch's and the reference's folders from code that looks for them")
    body = HOSTILE_POW[attack].replace("REFERENCE", str(SOLUTIONS / "tinygrad_course" / "engine.py"))
    folder = engine_folder(tmp_path, body)
    passed, found = scores(folder, mode=mode, timeout=10)
    assert passed == {"pow_backward": False, "sin_backward": True, "zero_": True}, found


@pytest.mark.parametrize("mode", SANDBOXES)
def test_tampering_at_import_reaches_nothing_the_judge_uses(mode, tmp_path):
    prelude = """
        import numpy, sys, threading, subprocess
        numpy.allclose = lambda *a, **k: True
        numpy.testing.assert_allclose = lambda *a, **k: None
        sys.setprofile(None)
        threading.Thread(target=lambda: [print("x" * 10 ** 6, flush=True) for _ in range(50)], daemon=True).start()
        try:
            subprocess.Popen(["sleep", "300"], start_new_session=True)
        except OSError:
            pass
        """
    folder = engine_folder(tmp_path, "return grad * 0\n", prelude=prelude)
    passed, found = scores(folder, mode=mode)
    assert passed["pow_backward"] is False, found


def test_the_worker_cannot_import_torch_and_learner_files_do_not_shadow_the_stdlib(tmp_path):
    folder = engine_folder(tmp_path)
    (folder / "json.py").write_text("raise SystemExit('shadowed')\n")
    (folder / "numpy.py").write_text("raise SystemExit('shadowed')\n")
    probe = engine_folder(tmp_path / "probe", """
        try:
            import torch  # noqa: F401
        except ImportError:
            x, = ctx.saved_tensors
            return grad * (ctx.exponent * x ** (ctx.exponent - 1))
        return grad * 0
        """)
    assert scores(probe)[0]["pow_backward"] is True
    assert scores(folder)[0] == {"pow_backward": True, "sin_backward": True, "zero_": True}


def test_an_engine_that_does_not_import_costs_only_its_units(tmp_path):
    folder = engine_folder(tmp_path, prelude="raise ImportError('broken on purpose')")
    notebook = nbformat.v4.new_notebook()
    answer = nbformat.v4.new_code_cell("def dy_dx(x):\n    return 2 * x")
    answer.metadata["nbgrader"] = {"grade_id": "manual_dy_dx_answer", "solution": True, "grade": False}
    notebook.cells = [nbformat.v4.new_code_cell("import tinygrad_course as tg"), answer]
    passed, found = scores(folder, ["pow_backward", "manual_dy_dx"], {"01_x_squared": json.loads(
        nbformat.writes(notebook))})
    assert passed == {"pow_backward": False, "manual_dy_dx": True}
    assert "does not import: ImportError: broken on purpose" in found["pow_backward"]["message"]


def _answers_notebook(cells):
    notebook = nbformat.v4.new_notebook()
    for source, grade_id, solution in cells:
        cell = nbformat.v4.new_code_cell(source)
        if grade_id:
            cell.metadata["nbgrader"] = {"grade_id": grade_id, "solution": solution, "grade": not solution,
                                         "locked": not solution}
        notebook.cells.append(cell)
    return json.loads(nbformat.writes(notebook))


@pytest.mark.parametrize("mode", SANDBOXES)
def test_notebook_answers_are_judged_from_their_cells(mode, tmp_path):
    engine_variants, _ = variants()
    sin_slip = next(v for v in engine_variants if v["unit"] == "sin_backward")
    folder = tmp_path / "engine"
    write_engine(folder, SOLUTIONS / "tinygrad_course", sin_slip)
    notebook = _answers_notebook([
        ("import math\n%matplotlib inline\nimport tinygrad_course as torch", None, False),
        ("def dy_dx(x):\n    return 2 * x", "manual_dy_dx_answer", True),
        ("from autograder.checks import check\ncheck('manual_dy_dx', dy_dx)", "manual_dy_dx", False),
        ("import autograder.checks\nautograder.checks.check = print", "not_graded", True),
        ("def dy_dx_engine(x):\n    t = torch.tensor(float(x), requires_grad=True)\n"
         "    (t ** 2).backward()\n    return float(t.grad.data)\ndy_dx = dy_dx_engine", "manual_dy_dx_2", True),
    ])
    second = _answers_notebook([("import math", None, False),
                                ("def dz_dx(x):\n    return math.cos(x ** 2)", "manual_dz_dx_answer", True)])
    other = _answers_notebook([
        ("import tinygrad_course as torch\nimport torch", None, False),
        ("def predict(w, b, xs):\n    with torch.no_grad():\n"
         "        return torch.sigmoid(w * torch.tensor(xs) + b)", "no_grad_inference_answer", True)])
    asked = ["pow_backward", "sin_backward", "manual_dy_dx", "manual_dz_dx", "no_grad_inference", "sgd_step"]
    passed, found = scores(folder, asked, {"01_x_squared": notebook, "02_sin_chain_rule": second,
                                            "06_disabling_tracking": other}, mode=mode)
    assert passed == {"pow_backward": True, "sin_backward": False, "manual_dy_dx": True, "manual_dz_dx": False,
                      "no_grad_inference": True, "sgd_step": False}
    assert "the derivative of sin is cos" in found["sin_backward"]["message"]
    assert "inner factor is missing" in found["manual_dz_dx"]["message"]
    assert "could not be read" in found["sgd_step"]["message"]


def test_a_by_hand_exercise_gets_no_engine_to_lean_on(tmp_path):
    folder = engine_folder(tmp_path)
    notebook = _answers_notebook([
        ("import tinygrad_course as tg", None, False),
        ("def dy_dx(x):\n    t = tg.tensor(float(x), requires_grad=True)\n    (t ** 2).backward()\n"
         "    return float(t.grad.data)", "manual_dy_dx_answer", True)])
    passed, found = scores(folder, ["manual_dy_dx"], {"01_x_squared": notebook})
    assert passed == {"manual_dy_dx": False}, found


def test_the_solution_notebooks_answer_every_notebook_exercise(tmp_path):
    notebooks = {path.stem: judge.load_notebook(path) for path in SOLUTIONS.glob("*.ipynb")}
    asked = {checks.NOTEBOOK_EXERCISES[e][0].removesuffix(".ipynb") for e in checks.NOTEBOOK_EXERCISES}
    assert asked <= set(notebooks), "a notebook exercise names a notebook solutions/ does not have"
    passed, found = scores(SOLUTIONS, list(checks.ALL_EXERCISES), notebooks)
    assert passed == dict.fromkeys(checks.ALL_EXERCISES, True), {e: r["message"] for e, r in found.items()
                                                                 if not r["passed"]}


def test_hidden_seeds_come_from_the_submission_and_the_secret():
    seed = judge.hidden_seed("course", "digest", "pow_backward")
    assert seed == judge.hidden_seed("course", "digest", "pow_backward")
    assert len({seed, judge.hidden_seed("course", "other", "pow_backward"),
                judge.hidden_seed("other", "digest", "pow_backward"),
                judge.hidden_seed("course", "digest", "sin_backward")}) == 4


def test_judging_twice_gives_the_same_verdicts_word_for_word(tmp_path):
    engine_variants, _ = variants()
    folder = tmp_path / "engine"
    write_engine(folder, SOLUTIONS / "tinygrad_course", next(v for v in engine_variants
                                                             if v["unit"] == "mean_backward"))
    first = scores(folder, ["mean_backward", "backward_pass", "grad_mode"])[1]
    second = scores(folder, ["mean_backward", "backward_pass", "grad_mode"])[1]
    assert first == second
    assert not first["mean_backward"]["passed"]


def test_unreadable_notebooks_cost_only_their_answers():
    deep = "[" * 100_000 + "]" * 100_000
    assert judge.load_notebook_text(deep) is None
    assert judge.load_notebook_text("\udcff not json") is None
    assert judge.answer_cells({"cells": [{"cell_type": "code", "source": ["a = 1\n", 7], "metadata": "odd"},
                                         "not a cell"]}) == [("#0", "a = 1\n")]


def test_the_worker_package_holds_no_line_of_a_reference_answer():
    """Stand-ins and drivers are the grader's own code: nothing a sandboxed learner could copy. (Lines
    under 16 characters -- ``else:``, ``continue``, ``return self`` -- are Python, not an answer.)"""
    def normal(line):
        return " ".join(line.split("#")[0].split())
    regions = solution_regions((SOLUTIONS / "tinygrad_course" / "engine.py").read_text())
    assert set(regions) == set(checks.UNITS)
    answers = {normal(line) for lines in regions.values() for line in lines if len(normal(line)) >= 16}
    readable = [*(Path(judge.__file__).parent / "worker").glob("*.py"), judge.STANDINS]  # what a worker can read
    found = {(path.name, normal(line)) for path in readable for line in path.read_text().splitlines()
             if normal(line) in answers}
    assert found == set()


def test_the_worker_package_runs_without_torch(tmp_path):
    """Imported in an interpreter where ``import torch`` fails, the worker still serves a session."""
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text("import sys\nsys.modules['torch'] = None\n")
    script = ("import autograder.worker.serve, autograder.worker.drivers, autograder.worker.exercises, sys\n"
              "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
              "assert not any(m.startswith('autograder.') and not m.startswith('autograder.worker') "
              "for m in sys.modules)\nprint('ok')")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(Path(judge.__file__).parent.parent)])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


def test_a_submission_that_hangs_everywhere_costs_its_budget_not_more(tmp_path):
    folder = engine_folder(tmp_path, "while True:\n    pass\n")
    source = (folder / "tinygrad_course" / "engine.py").read_text()
    start = source.index("### BEGIN SOLUTION sin_backward")
    end = source.index("### END SOLUTION", start)
    loop = "### BEGIN SOLUTION sin_backward\n        while True:\n            pass\n        "
    (folder / "tinygrad_course" / "engine.py").write_text(source[:start] + loop + source[end:])
    passed, found = scores(folder, ["pow_backward", "sin_backward", "zero_"], timeout=3, budget=4)
    assert passed == {"pow_backward": False, "sin_backward": False, "zero_": False}
    assert "did not finish within 3 s" in found["pow_backward"]["message"]
    assert "time for this submission ran out" in found["zero_"]["message"]


def test_one_registry_the_engine_table_and_the_solution_regions_agree(reference):
    """``autograder.worker.exercises`` is the registry; the engine's own table (its messages) and the
    solution regions of the reference must name the same units in the same notebooks."""
    from autograder import standins
    from autograder.worker import exercises
    assert {e: notebook for e, (notebook, _) in reference.EXERCISES.items()} == {
        e: notebook for e, (notebook, _, _) in exercises.UNITS.items()}
    assert set(solution_regions((SOLUTIONS / "tinygrad_course" / "engine.py").read_text())) == set(exercises.UNITS)
    for _, _, sites in exercises.UNITS.values():
        for owner, name in sites:  # every site exists in the reference, and the stand-ins fill it
            assert hasattr(reference.engine if owner is None else getattr(reference.engine, owner), name)
            assert (owner, name) in standins.make(reference.engine)
    assert set(checks.CHECKS) == set(exercises.ALL) == set(checks.ALL_EXERCISES)


@pytest.mark.skipif(not sandbox.probe()[0], reason="bubblewrap is not available here")
def test_the_worker_cannot_read_the_nbgrader_exchange(tmp_path):
    """nbgrader's default exchange (under /usr, which the sandbox shows) holds every learner's
    submissions; a worker runs as the grader, so it must not see it at all."""
    peer = sandbox.PRIVATE[0] + f"/exchange/probe-{tmp_path.name}/engine.py"
    os.makedirs(os.path.dirname(peer), exist_ok=True)
    Path(peer).write_text("a peer's engine")
    try:
        folder = engine_folder(tmp_path, f"""
            import os
            if os.path.exists({peer!r}):
                return grad * 0
            x, = ctx.saved_tensors
            return grad * (ctx.exponent * x ** (ctx.exponent - 1))
            """)
        assert scores(folder, ["pow_backward"], mode="bwrap")[0] == {"pow_backward": True}
    finally:
        shutil.rmtree(os.path.dirname(peer), ignore_errors=True)

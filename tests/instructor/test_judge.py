"""The judge: learner code in a torch-free sandboxed worker, torch and the comparison outside it.

Every hostile engine below attacks one exercise (``pow_backward``) and must score exactly what it
earned: 0 there, and its honest units untouched. Learner code runs only in bubblewrap here
(``needs_bwrap``: skipped where it does not work, an error under CI); the explicit ``unconfined``
mode is tried on the reference engine alone.
"""

import importlib.util
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

from autograder.instructor import judge, sandbox
from autograder.instructor.release import solution_regions
from autograder.learner import checks
from autograder.learner.engines import SOLUTIONS

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


def scores(folder, exercises=FAST, notebooks=None, mode="bwrap", **options):
    found = judge.judge(exercises, folder, notebooks or {}, secret="course", digest="submission", sandbox=mode,
                        **options)
    return {e: r.passed for e, r in found.items()}, found


# Each attack on Pow.backward, and the words its verdict must hold: proof that the attack ran as far as
# it could and was stopped by what the judge is built to do (a payload that failed before attacking,
# with a NameError, would leave other words). These run here, against the judge alone: the class
# corpus (``corpus/course_cases.py``) does not repeat them through whole-class grading.
HOSTILE_POW = {
    "imports torch": ("""
        import torch
        x, = ctx.saved_tensors
        t = torch.tensor(x, requires_grad=True)
        (t ** ctx.exponent).backward(torch.tensor(grad))
        return t.grad.numpy()
        """, "No module named 'torch'"),
    "finds torch's folder itself": ("""
        import glob, sys
        sys.path += ["TORCH_SITE"] + glob.glob("/*/*/.venv/lib/python3*/site-packages") + glob.glob(
            "/usr/lib/python3*/site-packages") + glob.glob("/usr/local/lib/python3*/site-packages")
        import torch
        x, = ctx.saved_tensors
        t = torch.tensor(x, requires_grad=True)
        (t ** ctx.exponent).backward(torch.tensor(grad))
        return t.grad.numpy()
        """, "No module named 'torch'"),
    "borrows the reference (a loaded module, or from disk)": ("""
        import glob, importlib.util, os, sys
        for name, module in list(sys.modules.items()):
            if "reference" in name and hasattr(module, "Pow"):
                return module.Pow.backward(ctx, grad)
        for path in glob.glob("REFERENCE") + glob.glob("/*/solutions/tinygrad_course/__init__.py") + glob.glob(
                "/*/*/solutions/tinygrad_course/__init__.py"):
            # the whole package under another name (engine.py alone fails on its relative imports)
            spec = importlib.util.spec_from_file_location("stolen", path,
                                                          submodule_search_locations=[os.path.dirname(path)])
            sys.modules["stolen"] = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(sys.modules["stolen"])
            return sys.modules["stolen.engine"].Pow.backward(ctx, grad)
        raise LookupError("nothing to steal")
        """, "LookupError: nothing to steal"),
    "hard-codes the seed's answer": ("return grad * 6.0\n", "disagrees with torch.autograd"),
    "returns an object that claims to equal everything": ("""
        class Liar(float):
            def __eq__(self, other): return True
            def __array__(self, *args, **kwargs): raise RuntimeError("no")
        return Liar(0.0)
        """, "disagrees with torch.autograd"),
    "changes the incoming gradient in place (right numbers)": ("""
        x, = ctx.saved_tensors
        grad *= ctx.exponent * x ** (ctx.exponent - 1)
        return grad
        """, "changed the incoming gradient array in place"),
    "changes its saved input in place (right numbers)": ("""
        x, = ctx.saved_tensors
        x **= ctx.exponent - 1
        return grad * ctx.exponent * x
        """, "changed the array of its input x in place"),
    "exits the process": ("import os\nos._exit(0)\n", "exited with status 0"),
    # right on the tutorial's x = 3 (the notebook's visible check passes), spinning on any other
    # input and swallowing the interrupt
    "never returns on the judge's inputs": ("""
        x, = ctx.saved_tensors
        if np.size(x) != 1 or float(np.ravel(x)[0]) != 3.0:
            while True:
                try:
                    pass
                except BaseException:
                    pass
        return grad * ctx.exponent * x ** (ctx.exponent - 1)
        """, "did not finish within 5 s"),
    "writes a forged reply to every open file": ("""
        import os
        for fd in range(3, 64):
            try:
                os.write(fd, b'{"value": {"kind": "single", "count": 1, "grads": [1.0]}}\\n')
            except OSError:
                pass
        return grad * 0
        """, "disagrees with torch.autograd"),
}


@pytest.mark.needs_bwrap
@pytest.mark.parametrize("attack", sorted(HOSTILE_POW))
def test_a_hostile_pow_backward_scores_nothing_and_costs_nothing_else(attack, tmp_path):
    body, proof = HOSTILE_POW[attack]
    torch_site = Path(importlib.util.find_spec("torch").origin).parent.parent  # the test's own torch
    body = body.replace("REFERENCE", str(SOLUTIONS / "tinygrad_course" / "__init__.py")).replace(
        "TORCH_SITE", str(torch_site))
    folder = engine_folder(tmp_path, body)
    passed, found = scores(folder, timeout=5)  # "never returns" waits this long
    assert passed == {"pow_backward": False, "sin_backward": True, "zero_": True}, found
    assert proof in found["pow_backward"].message, found["pow_backward"].message


@pytest.mark.needs_bwrap
def test_tampering_at_import_reaches_nothing_the_judge_uses(tmp_path):
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
    passed, found = scores(folder)
    assert passed["pow_backward"] is False, found


# Loaded only under the judge's worker (honest in a notebook): replace the zero_ driver, the session's
# run, and the driver table with ones that report what the reference would. The engine's zero_ raises.
REPLACES_THE_ZERO_DRIVER = """
    import sys
    import numpy as np
    if "autograder.worker.serve" in sys.modules:
        drivers = sys.modules["autograder.worker.drivers"]

        def fake(self, values, marker=None, **_):
            zeros = np.zeros_like(values)
            tensor = {"tensor": zeros, "grad_fn": False, "requires_grad": False}
            return {"data": zeros, "kept": zeros, "view": zeros.reshape(-1)[::2], "same_array": True,
                    "returned_self": True, "returned": tensor,
                    "returned_after": {**tensor, "tensor": np.array(marker if marker is not None else zeros)}}
        honest_run = drivers.Session.run

        def run(self, driver, args, *rest):
            if driver == "zero_":
                return {"value": fake(self, **args)}
            return honest_run(self, driver, args, *rest)
        drivers.Session.drive_zero_ = fake
        drivers.Session.run = run
        drivers.DRIVERS = {**getattr(drivers, "DRIVERS", {}), "zero_": fake}
    """


@pytest.mark.needs_bwrap
def test_replacing_a_driver_in_the_worker_changes_nothing(tmp_path):
    folder = engine_folder(tmp_path, prelude=REPLACES_THE_ZERO_DRIVER)
    path = folder / "tinygrad_course" / "engine.py"
    source = path.read_text()
    start = source.index("### BEGIN SOLUTION zero_")
    end = source.index("### END SOLUTION", start)
    path.write_text(source[:start] + "### BEGIN SOLUTION zero_\n        raise RuntimeError('zero_ is broken')\n"
                    + "        " + source[end:])
    passed, found = scores(folder)
    assert passed == {"pow_backward": True, "sin_backward": True, "zero_": False}, found
    assert "zero_ is broken" in found["zero_"].message, found["zero_"]


@pytest.mark.needs_bwrap
def test_in_place_slips_cost_their_units_whatever_numpy_says_in_the_worker(tmp_path):
    """Honest in a notebook, in the judge's worker the engine makes numpy's comparisons agree with
    everything; Sin.backward multiplies the incoming gradient in place, AccumulateGrad keeps the array it
    was given. The judge compares values read back after the calls, so both lose their units."""
    prelude = """
        import sys
        import numpy as np
        if "autograder.worker.serve" in sys.modules:
            np.array_equal = lambda *args, **kwargs: True
            np.shares_memory = lambda *args, **kwargs: False
        """
    folder = engine_folder(tmp_path, prelude=prelude)
    path = folder / "tinygrad_course" / "engine.py"
    source = path.read_text()
    for unit, body in (("sin_backward", "x, = ctx.saved_tensors\ngrad *= np.cos(x)\nreturn grad\n"),
                       ("accumulate_grad", "if leaf.grad is None:\n    leaf.grad = Tensor._make(grad)\n"
                                           "else:\n    leaf.grad.data += grad\nreturn ()\n")):
        start = source.index(f"### BEGIN SOLUTION {unit}")
        end = source.index("### END SOLUTION", start)
        indent = source[source.rindex("\n", 0, start) + 1:start]
        source = (source[:start] + f"### BEGIN SOLUTION {unit}\n" + textwrap.indent(body, indent) + indent
                  + source[end:])
    path.write_text(source)
    passed, found = scores(folder, exercises=["sin_backward", "accumulate_grad", "zero_"])
    assert passed == {"sin_backward": False, "accumulate_grad": False, "zero_": True}, found
    assert "changed the incoming gradient array in place" in found["sin_backward"].message
    assert "shares memory with a gradient array" in found["accumulate_grad"].message


@pytest.mark.needs_bwrap
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


@pytest.mark.needs_bwrap
def test_an_engine_that_does_not_import_costs_only_its_units(tmp_path):
    folder = engine_folder(tmp_path, prelude="raise ImportError('broken on purpose')")
    notebook = nbformat.v4.new_notebook()
    answer = nbformat.v4.new_code_cell("def dy_dx(x):\n    return 2 * x")
    answer.metadata["nbgrader"] = {"grade_id": "manual_dy_dx_answer", "solution": True, "grade": False}
    notebook.cells = [nbformat.v4.new_code_cell("import tinygrad_course as tg"), answer]
    passed, found = scores(folder, ["pow_backward", "manual_dy_dx"], {"01_x_squared": json.loads(
        nbformat.writes(notebook))})
    assert passed == {"pow_backward": False, "manual_dy_dx": True}
    assert "does not import: ImportError: broken on purpose" in found["pow_backward"].message


def test_the_judge_runs_learner_code_unconfined_only_when_asked_for_by_name(monkeypatch):
    """Honest code (the reference engine) in the explicit ``unconfined`` mode; any other name, and
    ``bwrap`` where it does not work, is refused before a worker starts: no silent fallback."""
    assert scores(SOLUTIONS, mode="unconfined")[0] == dict.fromkeys(FAST, True)
    started = []
    monkeypatch.setattr(judge.WorkerRunner, "_start", lambda self: started.append(self))
    for name in ("none", "auto", "off"):
        with pytest.raises(ValueError, match="'unconfined' is the explicit way"):
            scores(SOLUTIONS, mode=name)
    monkeypatch.setattr(sandbox, "probe", lambda: (False, "bubblewrap is not installed (a test says so)"))
    with pytest.raises(sandbox.SandboxUnavailable, match=r"\(a test says so\)\.\nWhat to do: install bubblewrap"):
        scores(SOLUTIONS)
    assert started == []


def _answers_notebook(cells):
    notebook = nbformat.v4.new_notebook()
    for source, grade_id, solution in cells:
        cell = nbformat.v4.new_code_cell(source)
        if grade_id:
            cell.metadata["nbgrader"] = {"grade_id": grade_id, "solution": solution, "grade": not solution,
                                         "locked": not solution}
        notebook.cells.append(cell)
    return json.loads(nbformat.writes(notebook))


@pytest.mark.needs_bwrap
def test_notebook_answers_are_judged_from_their_cells(tmp_path):
    engine_variants, _ = variants()
    sin_slip = next(v for v in engine_variants if v["unit"] == "sin_backward")
    folder = tmp_path / "engine"
    write_engine(folder, SOLUTIONS / "tinygrad_course", sin_slip)
    notebook = _answers_notebook([
        ("import math\n%matplotlib inline\nimport tinygrad_course as torch", None, False),
        ("def dy_dx(x):\n    return 2 * x", "manual_dy_dx_answer", True),
        ("from autograder.learner.checks import check\ncheck('manual_dy_dx', dy_dx)", "manual_dy_dx", False),
        ("import autograder.learner.checks\nautograder.learner.checks.check = print", "not_graded", True),
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
                                            "06_disabling_tracking": other})
    assert passed == {"pow_backward": True, "sin_backward": False, "manual_dy_dx": True, "manual_dz_dx": False,
                      "no_grad_inference": True, "sgd_step": False}
    assert "the derivative of sin is cos" in found["sin_backward"].message
    assert "inner factor is missing" in found["manual_dz_dx"].message
    assert "could not be read" in found["sgd_step"].message


@pytest.mark.needs_bwrap
def test_a_by_hand_exercise_gets_no_engine_to_lean_on(tmp_path):
    folder = engine_folder(tmp_path)
    notebook = _answers_notebook([
        ("import tinygrad_course as tg", None, False),
        ("def dy_dx(x):\n    t = tg.tensor(float(x), requires_grad=True)\n    (t ** 2).backward()\n"
         "    return float(t.grad.data)", "manual_dy_dx_answer", True)])
    passed, found = scores(folder, ["manual_dy_dx"], {"01_x_squared": notebook})
    assert passed == {"manual_dy_dx": False}, found


@pytest.mark.needs_bwrap
def test_the_solution_notebooks_answer_every_notebook_exercise(tmp_path):
    notebooks = {path.stem: judge.load_notebook(path) for path in SOLUTIONS.glob("*.ipynb")}
    asked = {checks.NOTEBOOK_EXERCISES[e][0].removesuffix(".ipynb") for e in checks.NOTEBOOK_EXERCISES}
    assert asked <= set(notebooks), "a notebook exercise names a notebook solutions/ does not have"
    passed, found = scores(SOLUTIONS, list(checks.ALL_EXERCISES), notebooks)
    assert passed == dict.fromkeys(checks.ALL_EXERCISES, True), {e: r.message for e, r in found.items()
                                                                 if not r.passed}


def test_hidden_seeds_come_from_the_submission_and_the_secret():
    seed = judge.hidden_seed("course", "digest", "pow_backward")
    assert seed == judge.hidden_seed("course", "digest", "pow_backward")
    assert len({seed, judge.hidden_seed("course", "other", "pow_backward"),
                judge.hidden_seed("other", "digest", "pow_backward"),
                judge.hidden_seed("course", "digest", "sin_backward")}) == 4


@pytest.mark.needs_bwrap
def test_judging_twice_gives_the_same_verdicts_word_for_word(tmp_path):
    engine_variants, _ = variants()
    folder = tmp_path / "engine"
    write_engine(folder, SOLUTIONS / "tinygrad_course", next(v for v in engine_variants
                                                             if v["unit"] == "mean_backward"))
    first = scores(folder, ["mean_backward", "backward_pass", "grad_mode"])[1]
    second = scores(folder, ["mean_backward", "backward_pass", "grad_mode"])[1]
    assert first == second
    assert not first["mean_backward"].passed


def test_unreadable_notebooks_cost_only_their_answers():
    deep = "[" * 100_000 + "]" * 100_000
    assert judge.load_notebook_text(deep) is None
    assert judge.load_notebook_text("\udcff not json") is None
    assert judge.answer_cells({"cells": [{"cell_type": "code", "source": ["a = 1\n", 7], "metadata": "odd"},
                                         "not a cell"]}) == [("#0", "a = 1\n")]


def test_the_worker_package_holds_no_line_of_a_reference_answer():
    """Stand-ins and drivers are the grader's own code: nothing a sandboxed learner could copy, nor any
    line of them a reference answer (the notebook's torch-backed stand-ins neither). (Lines under 16
    characters -- ``else:``, ``continue``, ``return self`` -- are Python, not an answer.)"""
    def normal(line):
        return " ".join(line.split("#")[0].split())
    regions = solution_regions((SOLUTIONS / "tinygrad_course" / "engine.py").read_text())
    assert set(regions) == set(checks.UNITS)
    answers = {normal(line) for lines in regions.values() for line in lines if len(normal(line)) >= 16}
    readable = [*(judge.PACKAGE / "worker").glob("*.py"), judge.STANDINS,  # what a worker can read,
                judge.PACKAGE / "learner" / "torch_standins.py"]  # and the kernel's stand-ins
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


@pytest.mark.needs_bwrap
def test_a_submission_that_hangs_everywhere_costs_its_budget_not_more(tmp_path):
    folder = engine_folder(tmp_path, "while True:\n    pass\n")
    source = (folder / "tinygrad_course" / "engine.py").read_text()
    start = source.index("### BEGIN SOLUTION sin_backward")
    end = source.index("### END SOLUTION", start)
    loop = "### BEGIN SOLUTION sin_backward\n        while True:\n            pass\n        "
    (folder / "tinygrad_course" / "engine.py").write_text(source[:start] + loop + source[end:])
    passed, found = scores(folder, ["pow_backward", "sin_backward", "zero_"], timeout=3, budget=4)
    assert passed == {"pow_backward": False, "sin_backward": False, "zero_": False}
    assert "did not finish within 3 s" in found["pow_backward"].message
    assert "time for this submission ran out" in found["zero_"].message


def test_one_registry_the_engine_table_and_the_solution_regions_agree(reference):
    """``autograder.worker.exercises`` is the registry; the engine's own table (its messages) and the
    solution regions of the reference must name the same units in the same notebooks."""
    from autograder.instructor import standins
    from autograder.learner import torch_standins
    from autograder.worker import exercises
    assert reference.EXERCISES is exercises.ENGINE_TABLE  # the engine's messages read the registry itself
    assert set(solution_regions((SOLUTIONS / "tinygrad_course" / "engine.py").read_text())) == set(exercises.UNITS)
    for _, _, sites in exercises.UNITS.values():
        for owner, name in sites:  # every site exists in the reference, and the stand-ins fill it
            assert hasattr(reference.engine if owner is None else getattr(reference.engine, owner), name)
            assert (owner, name) in standins.make(reference.engine)
            assert (owner, name) in torch_standins.make(reference.engine)
    assert set(checks.CHECKS) == set(exercises.ALL) == set(checks.ALL_EXERCISES)


@pytest.mark.needs_bwrap
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
        assert scores(folder, ["pow_backward"])[0] == {"pow_backward": True}
    finally:
        shutil.rmtree(os.path.dirname(peer), ignore_errors=True)


# ---------------------------------------------------------------- notebook 08: attacks on its three exercises
# Each answer below goes through the judge in the learner's real notebook (the solution notebook with one
# answer cell replaced) and the learner's real engine files; ``True`` marks a right answer written
# differently from the reference (it must pass), ``False`` a wrong, cheating or lying one (it must not).

NB08 = "08_mlp_real_data"


def _nb08(**answers):
    """The solution notebook 08 with answer cells replaced (answer grade id -> source)."""
    return _with_answers(NB08, answers)


def _with_answers(name, answers):
    notebook = judge.load_notebook(SOLUTIONS / f"{name}.ipynb")
    for cell in notebook["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = textwrap.dedent(answers[grade_id])
    return notebook


MLP_FORWARD = {
    "relu as clamp(min=0)": (True, """
        def mlp_forward(params, x):
            w1, b1, w2, b2 = params
            return (x @ w1 + b1).clamp(min=0) @ w2 + b2
        """),
    "relu as (h > 0) * h": (True, """
        def mlp_forward(params, x):
            w1, b1, w2, b2 = params
            h = x @ w1 + b1
            return ((h > 0) * h) @ w2 + b2
        """),
    "torch's function names on the engine": (True, """
        def mlp_forward(params, x):
            w1, b1, w2, b2 = params
            return tg.matmul(tg.nn.functional.relu(b1 + tg.matmul(x, w1)), w2) + b2
        """),
    "relu as where(h > 0, h, 0)": (True, """
        def mlp_forward(params, x):
            w1, b1, w2, b2 = params
            h = x.matmul(w1) + b1
            return tg.where(h > 0, h, 0.0).matmul(w2) + b2
        """),
    "numpy forward, detached": (False, """
        def mlp_forward(params, x):
            w1, b1, w2, b2 = (p.detach().numpy() for p in params)
            return tg.tensor(np.maximum(x.numpy() @ w1 + b1, 0) @ w2 + b2)
        """),
    "numpy forward as a fresh leaf that requires grad": (False, """
        def mlp_forward(params, x):
            w1, b1, w2, b2 = (p.detach().numpy() for p in params)
            return tg.tensor(np.maximum(x.numpy() @ w1 + b1, 0) @ w2 + b2, requires_grad=True)
        """),
    "W1 detached": (False, """
        def mlp_forward(params, x):
            w1, b1, w2, b2 = params
            return (x @ w1.detach() + b1).relu() @ w2 + b2
        """),
    "no relu": (False, """
        def mlp_forward(params, x):
            w1, b1, w2, b2 = params
            return (x @ w1 + b1) @ w2 + b2
        """),
    "probabilities, not logits": (False, """
        def mlp_forward(params, x):
            w1, b1, w2, b2 = params
            return tg.softmax((x @ w1 + b1).relu() @ w2 + b2, dim=1)
        """),
    "caches its first result": (False, """
        _first = []
        def mlp_forward(params, x):
            if not _first:
                w1, b1, w2, b2 = params
                _first.append((x @ w1 + b1).relu() @ w2 + b2)
            return _first[0]
        """),
    "special-cases the visible flowers": (False, """
        def mlp_forward(params, x):
            w1, b1, w2, b2 = params
            if x.shape == (3, 4):
                return (x @ w1 + b1).relu() @ w2 + b2
            return (x @ w1) @ w2
        """),
    "a Tensor subclass that equals everything": (False, """
        def mlp_forward(params, x):
            class Liar(type(x)):
                def __eq__(self, other):
                    return True
                __hash__ = object.__hash__
            w1, b1, w2, b2 = params
            real = (x @ w1 + b1).relu() @ w2 + b2
            return Liar._make(np.zeros_like(real.data), requires_grad=True, grad_fn=real.grad_fn)
        """),
    "hands the work to torch": (False, """
        def mlp_forward(params, x):
            import torch
            t = [torch.tensor(p.detach().numpy(), requires_grad=True) for p in params]
            out = torch.relu(torch.tensor(x.numpy()) @ t[0] + t[1]) @ t[2] + t[3]
            return tg.tensor(out.detach().numpy())
        """),
}

TRAIN_STEP = {
    "p.grad = None in place of zero_() (torch's zero_grad)": (True, """
        def train_step(model, params, x, y, lr):
            loss = tg.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            with tg.no_grad():
                for p in params:
                    p -= lr * p.grad
                    p.grad = None
            return loss.item()
        """),
    "zero_grad first, as optimizer.zero_grad(); backward(); step()": (True, """
        def train_step(model, params, x, y, lr):
            for p in params:
                p.grad = None
            loss = tg.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            with tg.no_grad():
                for p in params:
                    p -= lr * p.grad
            return loss.item()
        """),
    "p.data -= ..., no no_grad": (True, """
        def train_step(model, params, x, y, lr):
            loss = tg.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            for p in params:
                p.data -= lr * p.grad.data
                p.grad.data[...] = 0
            return float(loss)
        """),
    "update through .detach()": (True, """
        def train_step(model, params, x, y, lr):
            loss = tg.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            for p in params:
                p.data[...] = (p.detach() - lr * p.grad).data
                p.grad = tg.zeros_like(p)
            return loss.item()
        """),
    "log_softmax then nll_loss, set_grad_enabled, returns the loss tensor": (True, """
        def train_step(model, params, x, y, lr):
            F = tg.nn.functional
            loss = F.nll_loss(F.log_softmax(model(x), dim=1), y)
            loss.backward()
            with tg.set_grad_enabled(False):
                for p in params:
                    p -= lr * p.grad
                    p.grad.zero_()
            return loss
        """),
    "a stable cross-entropy by hand (shift by the max)": (True, """
        def train_step(model, params, x, y, lr):
            logits = model(x)
            shifted = logits - logits.max(dim=1, keepdim=True).values
            log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
            loss = -log_probs[np.arange(len(y)), y.numpy()].mean()
            loss.backward()
            with tg.no_grad():
                for p in params:
                    p -= lr * p.grad
                    p.grad.zero_()
            return loss.item()
        """),
    "a naive softmax by hand (overflows on large logits)": (False, """
        def train_step(model, params, x, y, lr):
            e = model(x).exp()
            probs = e / e.sum(dim=1, keepdim=True)
            loss = -probs[np.arange(len(y)), y.numpy()].log().mean()
            loss.backward()
            with tg.no_grad():
                for p in params:
                    p -= lr * p.grad
                    p.grad.zero_()
            return loss.item()
        """),
    "never clears the gradients": (False, """
        def train_step(model, params, x, y, lr):
            loss = tg.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            with tg.no_grad():
                for p in params:
                    p -= lr * p.grad
            return loss.item()
        """),
    "clears the gradients before the update": (False, """
        def train_step(model, params, x, y, lr):
            loss = tg.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            with tg.no_grad():
                for p in params:
                    p.grad.zero_()
                    p -= lr * p.grad
            return loss.item()
        """),
    "summed loss": (False, """
        def train_step(model, params, x, y, lr):
            loss = tg.nn.functional.cross_entropy(model(x), y, reduction="sum")
            loss.backward()
            with tg.no_grad():
                for p in params:
                    p -= lr * p.grad
                    p.grad.zero_()
            return loss.item()
        """),
    "p = p - lr * p.grad (the model's parameters stay put)": (False, """
        def train_step(model, params, x, y, lr):
            loss = tg.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            with tg.no_grad():
                for p in params:
                    p.grad.zero_()
                    p = p - lr * p.grad
            return loss.item()
        """),
    "returns the loss after the update": (False, """
        def train_step(model, params, x, y, lr):
            loss = tg.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            with tg.no_grad():
                for p in params:
                    p -= lr * p.grad
                    p.grad.zero_()
                return tg.nn.functional.cross_entropy(model(x), y).item()
        """),
    "caches the first loss": (False, """
        _seen = []
        def train_step(model, params, x, y, lr):
            loss = tg.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            with tg.no_grad():
                for p in params:
                    p -= lr * p.grad
                    p.grad.zero_()
            _seen.append(loss.item())
            return _seen[0]
        """),
    "a float that equals everything": (False, """
        class Liar(float):
            def __eq__(self, other):
                return True
            __hash__ = float.__hash__
        def train_step(model, params, x, y, lr):
            loss = tg.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            with tg.no_grad():
                for p in params:
                    p -= lr * p.grad
                    p.grad.zero_()
            return Liar(0.0)
        """),
    "steps the grader's own model twice through its closure": (False, """
        def train_step(model, params, x, y, lr):
            for _ in range(2):
                loss = tg.nn.functional.cross_entropy(model(x), y)
                loss.backward()
                with tg.no_grad():
                    for p in model.__closure__[0].cell_contents:
                        p -= lr * p.grad
                        p.grad.zero_()
            return loss.item()
        """),
}


SGD_STEP = {
    "p.grad = None in place of zero_() (torch's zero_grad)": (True, """
        def sgd_step(params, lr):
            with tg.no_grad():
                for p in params:
                    p -= lr * p.grad
                    p.grad = None
        """),
    "gradients left as they are": (False, """
        def sgd_step(params, lr):
            with tg.no_grad():
                for p in params:
                    p -= lr * p.grad
        """),
}


@pytest.mark.needs_bwrap
@pytest.mark.parametrize("name", sorted(SGD_STEP))
def test_sgd_step_clears_with_zero_or_none(name):
    right, source = SGD_STEP[name]
    notebook = "07_training_a_neuron"
    passed, found = scores(SOLUTIONS, ["sgd_step"], {notebook: _with_answers(notebook, {"sgd_step_answer": source})})
    assert passed == {"sgd_step": right}, found


@pytest.mark.needs_bwrap
@pytest.mark.parametrize("name", sorted(MLP_FORWARD))
def test_nb08_mlp_forward_answers(name):
    right, source = MLP_FORWARD[name]
    passed, found = scores(SOLUTIONS, ["mlp_forward"], {NB08: _nb08(mlp_forward_answer=source)})
    assert passed == {"mlp_forward": right}, found


@pytest.mark.needs_bwrap
@pytest.mark.parametrize("name", sorted(TRAIN_STEP))
def test_nb08_train_step_answers(name):
    right, source = TRAIN_STEP[name]
    passed, found = scores(SOLUTIONS, ["train_step"], {NB08: _nb08(train_step_answer=source)})
    assert passed == {"train_step": right}, found


NB12 = "12_when_gradients_go_wrong"
NB12_ANSWERS = {
    "clip_grad_norm": {
        "the solution": (True, None),
        "float32 throughout, np.linalg.norm over a concatenation": (True, """
            def clip_grad_norm(grads, max_norm):
                total = np.linalg.norm(np.concatenate([g.ravel() for g in grads]))
                if total > max_norm:
                    for g in grads:
                        g *= max_norm / (total + 1e-6)
                return total
            """),
        "torch's own clip_grad_norm_ (no torch in the worker)": (False, """
            def clip_grad_norm(grads, max_norm):
                import torch
                params = [torch.zeros(g.shape, requires_grad=True) for g in grads]
                for p, g in zip(params, grads):
                    p.grad = torch.from_numpy(g)
                return float(torch.nn.utils.clip_grad_norm_(params, max_norm))
            """),
        "a new list, the given arrays untouched": (False, """
            def clip_grad_norm(grads, max_norm):
                total = float(np.sqrt(sum((g ** 2).sum() for g in grads)))
                grads = [g * min(1.0, max_norm / (total + 1e-6)) for g in grads]
                return total
            """),
    },
    "layer_grad_norms": {
        "the solution": (True, None),
        "retain_grad in place of hooks": (True, """
            def layer_grad_norms(weights, x):
                outputs, h = [], x
                for w in weights:
                    h = (h @ w).tanh()
                    h.retain_grad()
                    outputs.append(h)
                (h ** 2).sum().backward()
                return [float(np.linalg.norm(o.grad.data)) for o in outputs]
            """),
        "hooks appending, last layer first": (False, """
            def layer_grad_norms(weights, x):
                norms, h = [], x
                for w in weights:
                    h = (h @ w).tanh()
                    h.register_hook(lambda g: norms.append(float(np.linalg.norm(g.data))))
                (h ** 2).sum().backward()
                return norms
            """),
    },
}


@pytest.mark.needs_bwrap
@pytest.mark.parametrize("exercise, name", [(e, n) for e, variants in NB12_ANSWERS.items() for n in sorted(variants)])
def test_nb12_answers(exercise, name):
    right, source = NB12_ANSWERS[exercise][name]
    notebook = _with_answers(NB12, {} if source is None else {f"{exercise}_answer": source})
    passed, found = scores(SOLUTIONS, [exercise], {NB12: notebook})
    assert passed == {exercise: right}, found


NB10 = "10_vjp_jvp"
NB10_DUAL_HEAD = """
            class Dual:
                def __init__(self, value, tangent):
                    self.value, self.tangent = value, tangent

                def __add__(self, other):
                    other = other if isinstance(other, Dual) else Dual(other, 0.0)
                    return Dual(self.value + other.value, self.tangent + other.tangent)
                __radd__ = __add__

                def sin(self):
                    return Dual(np.sin(self.value), np.cos(self.value) * self.tangent)

                def exp(self):
                    return Dual(np.exp(self.value), np.exp(self.value) * self.tangent)
"""
NB10_ANSWERS = {
    "jacobian_rows": {
        "the solution": (True, None),
        "autograd.grad with one-hot rows of an identity": (True, """
            def jacobian_rows(f, x):
                y = f(x)
                eye = np.eye(y.shape[0], dtype=np.float32)
                return np.stack([tg.autograd.grad(y, x, grad_outputs=tg.tensor(e), retain_graph=True)[0].numpy()
                                 for e in eye])
            """),
        "rows stacked as columns": (False, """
            def jacobian_rows(f, x):
                y = f(x)
                eye = np.eye(y.shape[0], dtype=np.float32)
                return np.stack([tg.autograd.grad(y, x, grad_outputs=tg.tensor(e), retain_graph=True)[0].numpy()
                                 for e in eye], axis=1)
            """),
    },
    "dual_jvp": {
        "the solution": (True, None),
        "a Dual with its own __rmul__": (True, NB10_DUAL_HEAD + """
                def __mul__(self, other):
                    if isinstance(other, Dual):
                        return Dual(self.value * other.value, self.tangent * other.value + self.value * other.tangent)
                    return Dual(self.value * other, self.tangent * other)

                def __rmul__(self, other):
                    return self * other

            def jvp(f, x, v):
                out = f(Dual(x, v))
                return out.value, out.tangent
            """),
        "torch.func.jvp itself (no torch in the worker)": (False, """
            def jvp(f, x, v):
                import torch
                value, tangent = torch.func.jvp(f, (torch.tensor(x),), (torch.tensor(v),))
                return value.numpy(), tangent.numpy()
            """),
        "the tangent of sin uses sin": (False, NB10_DUAL_HEAD.replace("np.cos(self.value) * self.tangent",
                                                                     "np.sin(self.value) * self.tangent") + """
                def __mul__(self, other):
                    other = other if isinstance(other, Dual) else Dual(other, 0.0)
                    return Dual(self.value * other.value, self.tangent * other.value + self.value * other.tangent)
                __rmul__ = __mul__

            def jvp(f, x, v):
                out = f(Dual(x, v))
                return out.value, out.tangent
            """),
    },
}


@pytest.mark.needs_bwrap
@pytest.mark.parametrize("exercise, name", [(e, n) for e, variants in NB10_ANSWERS.items() for n in sorted(variants)])
def test_nb10_answers(exercise, name):
    right, source = NB10_ANSWERS[exercise][name]
    notebook = _with_answers(NB10, {} if source is None else {f"{exercise}_answer": source})
    passed, found = scores(SOLUTIONS, [exercise], {NB10: notebook})
    assert passed == {exercise: right}, found


def _engine_edited(tmp_path, unit=None, body=None, files=None):
    """The reference engine files with ``unit``'s solution replaced by ``body``, and whole-text edits
    ``files`` (path under tinygrad_course -> function of the text)."""
    folder = tmp_path / "submission"
    shutil.copytree(SOLUTIONS / "tinygrad_course", folder / "tinygrad_course")
    edits = dict(files or {})
    if unit is not None:
        def solve(source):
            start = source.index(f"### BEGIN SOLUTION {unit}")
            end = source.index("### END SOLUTION", start)
            return (source[:start] + f"### BEGIN SOLUTION {unit}\n"
                    + textwrap.indent(textwrap.dedent(body), " " * 8) + " " * 8 + source[end:])
        edits["engine.py"] = (lambda inner: lambda s: solve(inner(s)))(edits.get("engine.py", lambda s: s))
    for name, edit in edits.items():
        path = folder / "tinygrad_course" / name
        path.write_text(edit(path.read_text()))
    return folder


LOG_SOFTMAX_BACKWARD = {
    "softmax recomputed stably from out": (True, """
        out, = ctx.saved_tensors
        s = np.exp(out - out.max(axis=ctx.dim, keepdims=True))
        s = s / s.sum(axis=ctx.dim, keepdims=True)
        return grad - s * grad.sum(axis=ctx.dim, keepdims=True)
        """),
    "the row sums put back by slicing the shape at ctx.dim": (True, """
        out, = ctx.saved_tensors
        d = ctx.dim
        total = grad.sum(axis=d).reshape(grad.shape[:d] + (1,) + grad.shape[d + 1:])
        return grad - np.exp(out) * total
        """),
    "in place: grad -= ... (the incoming array may be another node's too)": (False, """
        out, = ctx.saved_tensors
        grad -= np.exp(out) * grad.sum(axis=ctx.dim, keepdims=True)
        return grad
        """),
    "np.exp into a fresh array (out=): nothing given is changed": (True, """
        out, = ctx.saved_tensors
        s = np.exp(out, out=np.empty_like(out))
        return grad - s * grad.sum(axis=ctx.dim, keepdims=True)
        """),
    "softmax's rule": (False, """
        out, = ctx.saved_tensors
        s = np.exp(out)
        return s * (grad - (grad * s).sum(axis=ctx.dim, keepdims=True))
        """),
    "the sum over every element": (False, """
        out, = ctx.saved_tensors
        return grad - np.exp(out) * grad.sum()
        """),
    "an ndarray subclass that equals everything": (False, """
        class Liar(np.ndarray):
            def __eq__(self, other):
                return np.ones(np.shape(other), bool)
        return np.zeros_like(grad).view(Liar)
        """),
    "right on the visible shapes only": (False, """
        out, = ctx.saved_tensors
        if grad.ndim == 3 or grad.shape[-1] > 10 or np.abs(out).max() > 50:
            return grad
        return grad - np.exp(out) * grad.sum(axis=ctx.dim, keepdims=True)
        """),
}


@pytest.mark.needs_bwrap
@pytest.mark.parametrize("name", sorted(LOG_SOFTMAX_BACKWARD))
def test_nb08_log_softmax_backward_answers(name, tmp_path):
    right, body = LOG_SOFTMAX_BACKWARD[name]
    folder = _engine_edited(tmp_path, "log_softmax_backward", body)
    passed, found = scores(folder, ["log_softmax_backward"])
    assert passed == {"log_softmax_backward": right}, found


def _replace(old, new):
    def edit(text):
        assert old in text, old
        return text.replace(old, new)
    return edit


ENGINE_EDITS = {
    # the judge grades the files it is given: a wrong cross_entropy or NllLoss costs train_step, nothing else.
    # (In class grading only engine.py is the learner's: nbgrader restores more_ops.py and the other files
    # from the source first -- the corpus case nb08-own-cross-entropy-sums.)
    "cross_entropy sums (more_ops.py)": (dict(files={"more_ops.py": _replace(
        "return nll_loss(log_softmax(input, 1 if input.ndim == 2 else 0), target, reduction=reduction)",
        "return nll_loss(log_softmax(input, 1 if input.ndim == 2 else 0), target, reduction='sum')")}),
        {"log_softmax_backward": True, "mlp_forward": True, "train_step": False}),
    "NllLoss.backward forgets the mean's 1/N (more_ops.py)": (dict(files={"more_ops.py": _replace(
        "full[rows, target] = -grad / count", "full[rows, target] = -grad")}),
        {"log_softmax_backward": True, "mlp_forward": True, "train_step": False}),
    # a naive log_softmax forward (provided code, edited): large logits overflow in train_step, and the
    # unit's check, which calls the learner's forward for what it saves, meets nan on logits in the thousands
    "a naive _log_softmax (engine.py)": (dict(files={"engine.py": _replace(
        "shifted = wide - wide.max(axis=dim, keepdims=True)", "shifted = wide")}),
        {"log_softmax_backward": False, "mlp_forward": True, "train_step": False}),
    # the unit not written, or wrong: the answers that use the engine run on the grader's stand-in for it
    "LogSoftmax.backward not written": (dict(unit="log_softmax_backward", body=(
        "raise NotImplementedError(todo('log_softmax_backward'))\n")),
        {"log_softmax_backward": False, "mlp_forward": True, "train_step": True}),
    "LogSoftmax.backward with the wrong sign": (dict(unit="log_softmax_backward", body=(
        "out, = ctx.saved_tensors\nreturn grad + np.exp(out) * grad.sum(axis=ctx.dim, keepdims=True)\n")),
        {"log_softmax_backward": False, "mlp_forward": True, "train_step": True}),
    # Softmax is not on train_step's path (cross_entropy uses LogSoftmax): breaking it costs nothing graded
    "Softmax.backward broken (more_ops.py)": (dict(files={"more_ops.py": _replace(
        "return out * (grad - (grad * out).sum(axis=ctx.dim, keepdims=True))", "return grad * 0")}),
        {"log_softmax_backward": True, "mlp_forward": True, "train_step": True}),
}


@pytest.mark.needs_bwrap
@pytest.mark.parametrize("name", sorted(ENGINE_EDITS))
def test_nb08_engine_edits_cost_what_they_break(name, tmp_path):
    edit, expected = ENGINE_EDITS[name]
    folder = _engine_edited(tmp_path, **edit)
    notebooks = {NB08: judge.load_notebook(SOLUTIONS / f"{NB08}.ipynb")}
    passed, found = scores(folder, sorted(expected), notebooks)
    assert passed == expected, {e: r.message for e, r in found.items()}


# the answers worker has no torch, so the setup cell's `import torch` fails there; the statements after it
# still run, and the notebooks' data module is in the sandbox (judge.NOTEBOOK_DATA): names the notebook's
# data cell defines are defined in the judge the way they are in the notebook
@pytest.mark.needs_bwrap
def test_nb08_an_answer_cell_that_uses_the_notebooks_data_names_keeps_its_points():
    # the names are used where a failure would leave train_step undefined: at the top of the cell and in a
    # default argument, evaluated when the def runs
    source = textwrap.dedent("""
        print(f"{len(SPECIES)} species, {len(x_all)} flowers")
        TRAINING_FLOWERS = len(x_all[train_rows])


        def train_step(model, params, x, y, lr, flowers=TRAINING_FLOWERS, species_names=SPECIES):
            loss = tg.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            for p in params:
                p.data -= lr * p.grad.data
                p.grad.data[...] = 0
            return float(loss)
        """)
    passed, found = scores(SOLUTIONS, ["train_step"], {NB08: _nb08(train_step_answer=source)})
    assert "NameError" not in found["train_step"].message, found
    assert passed == {"train_step": True}, found


# ---------------------------------------------------------------- notebook 11: answers written in torch
# They run in the judge's torch worker: a bubblewrap sandbox with the interpreter's installed packages
# (torch among them), the worker package and nothing of the judge's. Right answers in other words pass;
# slips, and answers that look for the judge's files or patch torch and numpy to fake an agreement, fail:
# the verdict comes only from the values compared in the judge.

NB11 = "11_higher_order"
PEER_FILE = Path("/tmp/nb11-peer-submission/engine.py")  # a stand-in for another learner's files
JUDGE_FILES = [str(judge.PACKAGE / "checking" / "answer_checks.py"), str(judge.STANDINS),
               str(SOLUTIONS / "11_higher_order.ipynb"), str(PEER_FILE)]
NB11_ANSWERS = {
    "hvp": {
        "the solution": (True, None),
        "torch.autograd.functional.hvp": (True, """
            def hvp(f, x, v):
                return torch.autograd.functional.hvp(f, x.detach(), v)[1]
            """),
        "forward over reverse (torch.func)": (True, """
            def hvp(f, x, v):
                return torch.func.jvp(torch.func.grad(f), (x.detach(),), (v,))[1]
            """),
        "grad_outputs=v in place of the dot product": (True, """
            def hvp(f, x, v):
                g, = torch.autograd.grad(f(x), x, create_graph=True)
                return torch.autograd.grad(g, x, grad_outputs=v)[0]
            """),
        "a central difference of gradients": (False, """
            def hvp(f, x, v, eps=1e-5):
                def gradient(point):
                    point = point.detach().requires_grad_(True)
                    return torch.autograd.grad(f(point), point)[0]
                return (gradient(x + eps * v) - gradient(x - eps * v)) / (2 * eps)
            """),
        "no create_graph": (False, """
            def hvp(f, x, v):
                g, = torch.autograd.grad(f(x), x)
                return torch.autograd.grad((g * v).sum(), x)[0]
            """),
        "no create_graph, the error hidden by allow_unused and materialize_grads": (False, """
            def hvp(f, x, v):
                g, = torch.autograd.grad(f(x), x)
                g.requires_grad_(True)
                return torch.autograd.grad((g * v).sum(), x, allow_unused=True, materialize_grads=True)[0]
            """),
        "the judge's files, if it could read them": (False, f"""
            import os
            def hvp(f, x, v):
                if any(os.path.exists(path) for path in {JUDGE_FILES!r}):
                    return torch.autograd.functional.hvp(f, x.detach(), v)[1]
                return torch.zeros_like(x)
            """),
        "torch and numpy patched to say every comparison agrees": (False, """
            import numpy
            def hvp(f, x, v):
                for module in (torch, numpy):
                    module.allclose = lambda *args, **kwargs: True
                    module.isclose = lambda a, b, *args, **kwargs: numpy.ones(numpy.shape(a), bool)
                numpy.testing.assert_allclose = lambda *args, **kwargs: None
                torch.Tensor.__eq__ = lambda self, other: torch.ones_like(self, dtype=torch.bool)
                torch.autograd.functional.hvp = lambda f, x, v: (f(x), torch.zeros_like(x))
                return torch.zeros_like(x)
            """),
    },
    "gradient_penalty": {
        "the solution": (True, None),
        "one example at a time": (True, """
            def gradient_penalty(critic, x):
                terms = []
                for row in x:
                    row = row.clone().requires_grad_(True)
                    g, = torch.autograd.grad(critic(row[None]).sum(), row, create_graph=True)
                    terms.append((torch.sqrt((g ** 2).sum()) - 1) ** 2)
                return torch.stack(terms).mean()
            """),
        "no create_graph": (False, """
            def gradient_penalty(critic, x):
                x = x.clone().requires_grad_(True)
                g, = torch.autograd.grad(critic(x).sum(), x)
                return ((g.norm(2, dim=1) - 1) ** 2).mean()
            """),
        "one norm over the whole batch": (False, """
            def gradient_penalty(critic, x):
                x = x.clone().requires_grad_(True)
                g, = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
                return (g.norm() - 1) ** 2
            """),
        "the square left out": (False, """
            def gradient_penalty(critic, x):
                x = x.clone().requires_grad_(True)
                g, = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
                return (g.norm(2, dim=1) - 1).abs().mean()
            """),
        "the judge's files, if it could read them": (False, f"""
            import os
            def gradient_penalty(critic, x):
                x = x.clone().requires_grad_(True)
                g, = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
                right = ((g.norm(2, dim=1) - 1) ** 2).mean()
                if any(os.path.exists(path) for path in {JUDGE_FILES!r}):
                    return right
                return right * 0.5
            """),
    },
}


NB11_SLIPS = {("hvp", "a central difference of gradients"): "finite_difference",
              ("hvp", "no create_graph"): "no_create_graph",
              ("hvp", "no create_graph, the error hidden by allow_unused and materialize_grads"): "no_create_graph",
              ("gradient_penalty", "no create_graph"): "no_create_graph",
              ("gradient_penalty", "one norm over the whole batch"): "norm_over_batch",
              ("gradient_penalty", "the square left out"): "penalty_not_squared"}


@pytest.fixture
def peer_file():
    PEER_FILE.parent.mkdir(exist_ok=True)
    PEER_FILE.write_text("a peer's engine")
    yield PEER_FILE
    shutil.rmtree(PEER_FILE.parent, ignore_errors=True)


@pytest.mark.needs_bwrap
@pytest.mark.parametrize("exercise, name", [(e, n) for e, variants in NB11_ANSWERS.items() for n in sorted(variants)])
def test_nb11_answers_in_the_torch_worker(exercise, name, peer_file):
    right, source = NB11_ANSWERS[exercise][name]
    assert all(os.path.exists(path) for path in JUDGE_FILES)  # so the hostile answers could only fail in the sandbox
    notebook = _with_answers(NB11, {} if source is None else {f"{exercise}_answer": source})
    passed, found = scores(SOLUTIONS, [exercise], {NB11: notebook})
    assert passed == {exercise: right}, found
    if (exercise, name) in NB11_SLIPS:  # named by the check, in the judge, from the values compared there
        assert found[exercise].slip == NB11_SLIPS[exercise, name], found


def test_nb11_the_sandbox_is_what_keeps_the_judges_files_out_of_reach(peer_file):
    """Unconfined (the grader's rights), the answer that looks for the judge's files finds them and
    passes: the hostile answers above fail in bwrap because the torch worker cannot see those files."""
    source = NB11_ANSWERS["hvp"]["the judge's files, if it could read them"][1]
    passed, found = scores(SOLUTIONS, ["hvp"], {NB11: _with_answers(NB11, {"hvp_answer": source})}, mode="unconfined")
    assert passed == {"hvp": True}, found


def test_nb11_the_torch_worker_never_receives_torchs_answer():
    """Everything the checks send the worker for notebook 11 holds no array equal to torch's answer:
    a recording runner sees each request (the learner's answer is the solution, run here)."""
    import numpy as np
    import torch

    from autograder.checking import answer_checks

    class Recording(checks.LocalRunner):
        sent = []

        def run(self, driver, args):
            self.sent.append((driver, args))
            return super().run(driver, args)

    def hvp(f, x, v):
        return torch.autograd.functional.hvp(f, x.detach(), v)[1]

    def gradient_penalty(critic, x):
        x = x.clone().requires_grad_(True)
        g, = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
        return ((g.norm(2, dim=1) - 1) ** 2).mean()

    for exercise, answer in (("hvp", hvp), ("gradient_penalty", gradient_penalty)):
        for hidden in (False, True):
            Recording.sent = []
            checks.run_check(exercise, Recording(exercise, answer=answer, watched=False), hidden=hidden, seed=5)
            assert Recording.sent
            for driver, args in Recording.sent:
                if driver == "hvp":
                    answers = [answer_checks.torch_hvp(args["params"], args["x"], args["v"])[0]]
                else:
                    value, grads, _ = answer_checks.torch_penalty(args["weights"], args["x"])
                    answers = [np.array(value)] + [g for g in grads if g is not None]
                sent = [np.asarray(a) for a in args.values() if not isinstance(a, list)]
                sent += [np.asarray(a) for a in args.values() if isinstance(a, list) for a in a]
                assert set(args) <= {"params", "x", "v", "weights"}
                for want in answers:
                    assert not any(s.shape == want.shape and np.allclose(s, want) for s in sent), (driver, want)


@pytest.mark.needs_bwrap
def test_nb11_the_released_stubs_are_not_written_yet():
    """The learner's copy, untouched: both answers are "not written yet", read from the stub in the source."""
    notebook = judge.load_notebook(SOLUTIONS.parent / "course" / f"{NB11}.ipynb")
    passed, found = scores(SOLUTIONS, ["hvp", "gradient_penalty"], {NB11: notebook})
    assert passed == {"hvp": False, "gradient_penalty": False}
    assert {found[e].slip for e in found} == {"not_written"}, found
NB09 = "09_custom_function"
NB09_NUMERICAL_GRADIENT = {
    "the solution": (True, None),
    "a copy per coordinate, flat indices": (True, """
        def numerical_gradient(f, x, eps):
            grad = np.zeros(x.size)
            for i in range(x.size):
                up, down = x.astype(np.float64).ravel(), x.astype(np.float64).ravel()
                up[i] += eps
                down[i] -= eps
                grad[i] = (f(up.reshape(x.shape)) - f(down.reshape(x.shape))) / (2 * eps)
            return grad.reshape(x.shape)
        """),
    "a one-sided difference": (False, """
        def numerical_gradient(f, x, eps):
            grad, base = np.zeros(x.shape), f(x)
            for i in np.ndindex(x.shape):
                moved = x.copy()
                moved[i] += eps
                grad[i] = (f(moved) - base) / eps
            return grad
        """),
    "float32": (False, """
        def numerical_gradient(f, x, eps):
            x = x.astype(np.float32)
            grad = np.zeros_like(x)
            for i in np.ndindex(x.shape):
                up, down = x.copy(), x.copy()
                up[i] += eps
                down[i] -= eps
                grad[i] = (f(up) - f(down)) / (2 * eps)
            return grad
        """),
}


@pytest.mark.needs_bwrap
@pytest.mark.parametrize("name", sorted(NB09_NUMERICAL_GRADIENT))
def test_nb09_numerical_gradient_answers(name):
    right, source = NB09_NUMERICAL_GRADIENT[name]
    notebook = _with_answers(NB09, {} if source is None else {"numerical_gradient_answer": source})
    passed, found = scores(SOLUTIONS, ["numerical_gradient"], {NB09: notebook})
    assert passed == {"numerical_gradient": right}, found


SOFTPLUS_BACKWARD = {
    "the solution": (True, None),
    "1 / (1 + exp(-z)): right, exp(-z) only overflows to a harmless inf": (True, """
        x, = ctx.saved_tensors
        z = ctx.beta * x
        return np.where(z > ctx.threshold, grad, grad / (1 + np.exp(-z)))
        """),
    "sigmoid's slope also above the threshold, where forward returned x": (False, """
        x, = ctx.saved_tensors
        return grad / (1 + np.exp(-ctx.beta * x))
        """),
    "exp(z) / (1 + exp(z)): nan for large x": (False, """
        x, = ctx.saved_tensors
        e = np.exp(ctx.beta * x)
        return grad * e / (1 + e)
        """),
    "beta left out": (False, """
        x, = ctx.saved_tensors
        return grad / (1 + np.exp(-x))
        """),
}


@pytest.mark.needs_bwrap
@pytest.mark.parametrize("name", sorted(SOFTPLUS_BACKWARD))
def test_nb09_softplus_backward_answers(name, tmp_path):
    right, body = SOFTPLUS_BACKWARD[name]
    folder = _engine_edited(tmp_path, "softplus_backward", body) if body else SOLUTIONS
    passed, found = scores(folder, ["softplus_backward"])
    assert passed == {"softplus_backward": right}, found

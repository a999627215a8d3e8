"""The judge's side of the pipe: what it cannot send or read costs one exercise, never the submission.

Hostile engines run under bubblewrap only (skipped with one reason where it is missing); their
payloads aim only at the worker's own pipe.
"""

import json

import nbformat
import pytest
from test_judge import FAST, engine_folder, scores

from autograder.instructor import judge
from autograder.worker import codec

pytestmark = pytest.mark.needs_bwrap

# A reply line whose shape overflows numpy once reshaped (its element count is 0, so no budget
# catches it): before the codec refused it, decoding it raised a plain ValueError in the judge.
OVERFLOWING = json.dumps({"value": {"~array": "float64", "shape": [0, 2 ** 40, 2 ** 40], "data": ""},
                          "problem": None, "raised": {"type": "X"}})
# Written to every pipe this process may write to, found as an attacker would: /proc/self/fd.
FORGE = f"""
import os as _os
def _forge():
    for name in _os.listdir("/proc/self/fd"):
        try:
            if _os.readlink(f"/proc/self/fd/{{name}}").startswith("pipe:"):
                _os.write(int(name), {(OVERFLOWING + chr(10)).encode()!r})
        except OSError:
            pass
_forge()
"""


def test_a_forged_reply_that_overflows_numpy_costs_nothing(tmp_path):
    """Written at import (while the judge waits for the session's reply, outside any check) and on
    every call of ``Pow.backward``: the lines are skipped, every exercise is judged as it deserves."""
    honest_pow = "_forge()\nx, = ctx.saved_tensors\nreturn grad * (ctx.exponent * x ** (ctx.exponent - 1))\n"
    folder = engine_folder(tmp_path, honest_pow, prelude=FORGE)
    passed, found = scores(folder, mode="bwrap", timeout=10)
    assert passed == dict.fromkeys(FAST, True), found


def test_a_reply_the_judge_cannot_read_costs_that_exercise_and_the_next_gets_a_fresh_worker(tmp_path,
                                                                                             monkeypatch):
    reply, started = judge.WorkerRunner._reply, []
    start = judge.WorkerRunner._start

    def unreadable_for_pow(self, nonce, deadline):
        if self.current == "pow_backward":
            raise RuntimeError("a reply nothing expected")
        return reply(self, nonce, deadline)

    def begin(self, exercise, setup):
        self.current = exercise
        return original_begin(self, exercise, setup)

    def counting_start(self):
        started.append(1)
        return start(self)

    original_begin = judge.WorkerRunner.begin
    monkeypatch.setattr(judge.WorkerRunner, "_reply", unreadable_for_pow)
    monkeypatch.setattr(judge.WorkerRunner, "begin", begin)
    monkeypatch.setattr(judge.WorkerRunner, "_start", counting_start)
    passed, found = scores(engine_folder(tmp_path), mode="bwrap", timeout=10)
    assert passed == {"pow_backward": False, "sin_backward": True, "zero_": True}, found
    assert "could not read its reply (RuntimeError: a reply nothing expected)" in found["pow_backward"].message
    assert len(started) == 2  # the worker that failed to answer was replaced for sin_backward


def _notebook_01(answer_source):
    notebook = nbformat.v4.new_notebook()
    answer = nbformat.v4.new_code_cell(answer_source)
    answer.metadata["nbgrader"] = {"grade_id": "manual_dy_dx_answer", "solution": True, "grade": False,
                                   "locked": False, "schema_version": 3}
    notebook.cells = [nbformat.v4.new_code_cell("import math"), answer]
    return json.loads(nbformat.writes(notebook))


RIGHT = "def dy_dx(x):\n    return 2 * x\n"
WRONG = "def dy_dx(x):\n    return x\n"


@pytest.mark.parametrize("cell, passes", [
    ("#" * 30_000 + "\n" + RIGHT, True),               # an honest long cell (a long comment first) keeps its points
    (RIGHT + "#" * 30_000 + "\n" + WRONG, False),      # the judge runs the cell the notebook runs: the last def
], ids=["long honest cell", "right answer, padding, wrong answer"])
def test_the_judge_runs_the_whole_answer_cell(cell, passes, tmp_path):
    passed, found = scores(engine_folder(tmp_path), ["manual_dy_dx"], {"01_x_squared": _notebook_01(cell)},
                           mode="bwrap")
    assert passed == {"manual_dy_dx": passes}, found


def test_a_cell_too_big_to_send_costs_its_notebook_exercises_only(tmp_path):
    cell = RIGHT + "#" * (codec.MAX_TEXT + 1) + "\n"
    passed, found = scores(engine_folder(tmp_path), ["pow_backward", "manual_dy_dx"],
                           {"01_x_squared": _notebook_01(cell)}, mode="bwrap")
    assert passed == {"pow_backward": True, "manual_dy_dx": False}, found
    assert "could not send this exercise to the worker whole" in found["manual_dy_dx"].message
    assert "refused rather than cut" in found["manual_dy_dx"].message


FORK_BOMB = """
import os, time
started = 0
for _ in range(200):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:  # a child sleeps (the test need not load the machine) until the sandbox goes
        time.sleep(60)
        os._exit(0)
    started += 1
x, = ctx.saved_tensors
right = grad * (ctx.exponent * x ** (ctx.exponent - 1))
return right if started < 200 else right * 0   # the verdict shows whether the limit held
"""


def test_a_worker_cannot_start_hundreds_of_processes_and_the_rest_is_judged(tmp_path):
    passed, found = scores(engine_folder(tmp_path, FORK_BOMB), mode="bwrap", timeout=20)
    assert passed == dict.fromkeys(FAST, True), found
    assert judge.WORKER_TASKS < 200

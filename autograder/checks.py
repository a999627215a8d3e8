"""The checks nbgrader test cells call: the learner's work against torch.autograd.

    from autograder.checks import check
    check("pow_backward")                 # visible: a fixed seed, the seed tutorial's numbers + a few more
    check("pow_backward", hidden=True)    # hidden: a fresh random seed, random values and shapes
    check("manual_dy_dx", dy_dx)          # a notebook exercise: pass the function you wrote
    check("pow_backward", engine=module)  # tests: check this engine module, not ./tinygrad_course

A pass prints one line; a failure raises ``AssertionError`` saying which case, torch's answer,
yours, and -- when it is a usual one -- the slip, in plain words (``autograder.slips``).
Torch is the oracle, asked at check time on inputs the learner has not seen.

Each check (``unit_checks``, ``graph_checks``, ``exercise_checks``) chooses inputs, hands them to
a *driver* (``autograder.worker.drivers``) that runs the learner's code and reports plain data
(arrays, flags, error texts), then computes torch's answer and compares. In a notebook the
drivers run in the kernel (``LocalRunner``: fast, and advisory); the class grader runs them in a
sandboxed worker process without torch and scores from there (``autograder.judge``). Engine
units are exercised one at a time; a notebook answer that uses the engine runs with every unit
replaced by a stand-in, so a bug costs points in its own cell only. In the kernel those stand-ins
are torch doing each unit's work (``autograder.torch_standins``); the judge's torch-free worker
gets the instructor's own over its pipe, never from anything a learner receives.
"""

import hashlib
import importlib
import os
import sys
import types
import zlib
from pathlib import Path

import numpy as np

from autograder import diagnose as diagnose_module
from autograder import exercise_checks, graph_checks, guards, slips, torch_standins, unit_checks
from autograder.engines import load_engine
from autograder.slips import show
from autograder.worker import codec, drivers, exercises

# The check of each exercise; everything else about the exercises is in ``autograder.worker.exercises``.
CHECKS = {
    "pow_backward": unit_checks.pow_backward, "accumulate_grad": unit_checks.accumulate_grad,
    "sin_backward": unit_checks.sin_backward, "backward_pass": graph_checks.backward_pass,
    "add_backward": unit_checks.add_backward, "sub_backward": unit_checks.sub_backward,
    "mul_backward": unit_checks.mul_backward, "neg_backward": unit_checks.neg_backward,
    "sigmoid_backward": unit_checks.sigmoid_backward, "log_backward": unit_checks.log_backward,
    "clamp_backward": unit_checks.clamp_backward, "mean_backward": unit_checks.mean_backward,
    "sum_to_shape": unit_checks.sum_to_shape, "zero_": unit_checks.zero_, "grad_mode": graph_checks.grad_mode,
    "detach": unit_checks.detach, "log_softmax_backward": unit_checks.log_softmax_backward,
    "manual_dy_dx": exercise_checks.manual_dy_dx, "manual_dz_dx": exercise_checks.manual_dz_dx,
    "manual_bce_grads": exercise_checks.manual_bce_grads,
    "manual_mean_square_grad": exercise_checks.manual_mean_square_grad,
    "predict_accumulated_grad": exercise_checks.predict_accumulated_grad,
    "no_grad_inference": exercise_checks.no_grad_inference, "sgd_step": exercise_checks.sgd_step,
    "train_neuron": exercise_checks.train_neuron, "mlp_forward": exercise_checks.mlp_forward,
    "train_step": exercise_checks.train_step,
}
# exercise id -> (notebook, what the learner writes, check function)
UNITS = {e: (notebook, what, CHECKS[e]) for e, (notebook, what, _) in exercises.UNITS.items()}
# exercise id -> (notebook, the function the learner writes, check function, uses the engine?)
NOTEBOOK_EXERCISES = {e: (notebook, function, CHECKS[e], engine)
                      for e, (notebook, function, engine) in exercises.ANSWERS.items()}
ALL_EXERCISES = tuple(UNITS) + tuple(NOTEBOOK_EXERCISES)

_INTEGRITY = guards.standard_integrity()


class CheckFailed(AssertionError):
    """A check's verdict: the learner's answer disagrees with torch (nbgrader counts any AssertionError)."""


def check(exercise, answer=None, *, hidden=False, engine=None, seed=None):
    """Check one exercise against torch.autograd; print one line on a pass, raise CheckFailed otherwise.

    ``seed`` repeats a hidden check exactly (failure messages of hidden checks print theirs).
    """
    if exercise not in UNITS and exercise not in NOTEBOOK_EXERCISES:
        raise ValueError(f"unknown exercise {exercise!r}; the exercises are: {', '.join(ALL_EXERCISES)}")
    _refuse_if_tampered(exercise)
    if seed is None:
        seed = _hidden_seed(exercise) if hidden else visible_seed(exercise)
    outcome = None
    try:
        trial = run_check(exercise, _local_runner(exercise, answer, engine), hidden=hidden, seed=seed)
    except CheckFailed as failure:
        outcome = failure
    _refuse_if_tampered(exercise)
    if outcome is not None:
        outcome.__cause__, outcome.__suppress_context__ = None, True  # the verdict, not the checker's stack
        raise outcome.with_traceback(None)
    print(f"{exercise}{' (hidden)' if hidden else ''}: {trial.cases} cases agree with torch.autograd")


def visible_seed(exercise):
    return zlib.crc32(exercise.encode())


def _hidden_seed(exercise):
    """Fresh cases on every call in a learner's notebook; under the class grader, whose kernels get
    ``AUTOGRADER_HIDDEN_SEED``, the same cases on every run (the score itself comes from the judge)."""
    given = os.environ.get("AUTOGRADER_HIDDEN_SEED")
    if given:
        return int.from_bytes(hashlib.sha256(f"{given}:{exercise}".encode()).digest()[:8], "little")
    return int.from_bytes(guards.urandom(8), "little")


def run_check(exercise, runner, *, hidden, seed):
    """Run exercise's check with ``runner`` (learner code in this process, or in a worker); the Trial.

    Raises ``CheckFailed`` with the verdict's words when the learner's code disagrees with torch."""
    trial = Trial(exercise, hidden, seed, runner)
    problem = runner.problem()
    if problem is not None:
        trial.report_raised(problem, what="code")
    (UNITS[exercise][2] if exercise in UNITS else NOTEBOOK_EXERCISES[exercise][2])(trial)
    return trial


def _refuse_if_tampered(exercise):
    problems = _INTEGRITY.problems()
    if problems:
        raise CheckFailed(
            f"{exercise}: something in this kernel replaced what the checks rely on: {', '.join(problems)}. "
            "No check can be trusted here. Restart the kernel (Kernel > Restart) and run the notebook "
            "without reassigning torch, numpy or autograder functions.")


def _local_runner(exercise, answer, engine):
    """The learner's code in this kernel: the engine in ./tinygrad_course, or the function passed."""
    if exercise in UNITS:
        if answer is not None:
            raise ValueError(f"{exercise} checks your engine; it takes no answer (call check({exercise!r}))")
        package = _load_learner_engine() if engine is None else engine
        return LocalRunner(exercise, engine=_core(package), allowed=_module_dicts(package))
    notebook, function_name, _, uses_engine = NOTEBOOK_EXERCISES[exercise]
    if not callable(answer):
        raise ValueError(f"{exercise} checks the function you wrote: call check({exercise!r}, {function_name})"
                         + ("" if answer is None else f"; got {answer!r}, which is not a function"))
    if not uses_engine:
        return LocalRunner(exercise, answer=answer, any_engine=True)
    package = engine if engine is not None else _engine_of(answer)
    return LocalRunner(exercise, engine=_core(package), answer=answer, allowed=_module_dicts(package))


class LocalRunner:
    """The drivers run here, in the learner's kernel (fast, and advisory: the class grader's score
    comes from a sandboxed worker, ``autograder.judge``). Inputs and replies cross the same codec as
    they do on a pipe, so what the checks see is plain data either way; a delegation watch
    (``guards.Watch``) names calls into torch or the reference engine. An answer that uses the
    engine runs on the torch-backed stand-ins, whose own calls into torch that watch lets pass
    (``torch_standins.Watch``); a unit is checked on its own, under the plain watch."""

    def __init__(self, exercise, *, engine=None, answer=None, allowed=(), any_engine=False):
        self.session = drivers.Session(exercise, engine=engine, answer=answer, standins=torch_standins)
        self.allowed, self.any_engine = allowed, any_engine
        self.watch = torch_standins.Watch if self.session.standins else guards.Watch

    def problem(self):
        return None

    def run(self, driver, args):
        args = codec.roundtrip(args)
        watch = self.watch(self.allowed, any_engine=self.any_engine)
        with watch:
            reply = self.session.run(driver, args)
        if watch.offence:
            return {"offence": watch.offence}
        try:
            return codec.roundtrip(reply)
        except codec.CodecError as error:
            return {"raised": {"type": "UnreadableResult", "message": f"what your code returned is not plain "
                               f"data the checks can read ({error})", "place": "", "not_written": False}}


def _load_learner_engine():
    folder = Path.cwd()
    try:
        return load_engine(folder, "_tinygrad_course_checked")
    except FileNotFoundError:
        raise CheckFailed(f"there is no tinygrad_course folder next to this notebook ({folder}); the checks "
                          "grade the engine in ./tinygrad_course") from None
    except Exception as error:  # noqa: BLE001 - any import failure is the learner's to fix
        raise CheckFailed(f"your tinygrad_course does not import: {type(error).__name__}: {error}"
                          f"{drivers.place(error)}") from None


def _core(package):
    """The engine.py module of an engine package (or the module itself)."""
    inner = getattr(package, "engine", None)
    return inner if isinstance(inner, types.ModuleType) else package


def _module_dicts(package):
    """The globals of the engine's own code: what it may run even when it lives in solutions/."""
    modules = [package, _core(package)]
    name = package.__name__.split(".")[0]
    modules += [m for key, m in list(sys.modules.items()) if key == name or key.startswith(name + ".")]
    found = {id(vars(m)): vars(m) for m in modules}
    for module in modules[:2]:  # functions it imported from its other files (printing.py)
        for value in vars(module).values():
            if isinstance(value, types.FunctionType):
                found.setdefault(id(value.__globals__), value.__globals__)
    return list(found.values())


def _engine_of(answer):
    """The tinygrad_course the learner's function uses: the one the kernel imported."""
    if "tinygrad_course" in sys.modules:
        return sys.modules["tinygrad_course"]
    try:
        return importlib.import_module("tinygrad_course")
    except ImportError:
        raise CheckFailed("this exercise uses your engine, but `import tinygrad_course` fails here "
                          f"(looked in {Path.cwd()})") from None


_NOT_GIVEN = object()
NOTEBOOK_STUB = "Write your answer here"  # in the code_stub of classroom/nbgrader_config.py


class Trial:
    """One run of one check: its random cases, the runner that holds the learner's code, the verdict's words."""

    def __init__(self, exercise, hidden, seed, runner):
        self.exercise, self.hidden, self.seed = exercise, hidden, seed
        self.rng = np.random.default_rng(seed)
        self.runner = runner
        self.cases, self.current = 0, None

    def case(self, text):
        """Start the next case; failures quote ``text``."""
        self.cases += 1
        self.current = text

    def run(self, driver, *, what, hint=None, **args):
        """The driver's plain-data report on the learner's code for these inputs; a raised exception,
        a delegation or a dead worker becomes the verdict (``hint``: words added when the code raises,
        or a function of the error's message giving them)."""
        reply = self.runner.run(driver, args)
        if "offence" in reply:
            self.fail(f"your code {slips.DELEGATED} {reply['offence']}. The point is to compute it yourself "
                      "(torch is only the referee), so this earns no points until that call is gone")
        if "raised" in reply:
            self.report_raised(reply["raised"], what=what, hint=hint)
        return reply["value"]

    def report_raised(self, raised, *, what, hint=None):
        if raised.get("not_written"):
            raise self._not_written(raised["message"])
        if raised.get("words"):
            self.fail(raised["words"])
        hint = hint(raised["message"]) if callable(hint) else hint
        where = f"your {what} raised" if not raised.get("worker") else "the grading worker stopped:"
        self.fail(f"{where} {raised['type']}: {raised['message']}{raised.get('place', '')}"
                  + (f"\n  Hint: {hint}" if hint else ""))

    def _not_written(self, text):
        if self.exercise in UNITS:
            notebook, what, _ = UNITS[self.exercise]
            if text and f"'{self.exercise}'" not in text and "Exercise '" in text:
                return self._failure(f"this check needs another exercise first: {text}")
            return self._failure(f"{slips.NOT_WRITTEN}: {what} in tinygrad_course/engine.py is still "
                                 f"`raise NotImplementedError(todo({self.exercise!r}))`. Notebook {notebook} "
                                 "walks you through it.")
        notebook, function_name, _, _ = NOTEBOOK_EXERCISES[self.exercise]
        raised = f"raise NotImplementedError({text!r})" if text else "raise NotImplementedError"
        if NOTEBOOK_STUB in (text or ""):  # the line the release put in the answer cell
            return self._failure(f"{slips.NOT_WRITTEN}: your {function_name} (notebook {notebook}) still holds "
                                 f"the lines the notebook came with, `# YOUR CODE HERE` and `{raised}`. "
                                 "Replace them with your code and run the answer cell again.")
        return self._failure(f"{slips.NOT_WRITTEN}: your {function_name} (notebook {notebook}) ran `{raised}`; "
                             "finish it so that it returns its answer instead.")

    def fail(self, problem, *, torch_value=_NOT_GIVEN, mine=_NOT_GIVEN, slip=None):
        raise self._failure(problem, torch_value=torch_value, mine=mine, slip=slip)

    def _failure(self, problem, *, torch_value=_NOT_GIVEN, mine=_NOT_GIVEN, slip=None):
        compared = torch_value is not _NOT_GIVEN
        lines = [f"{self.exercise}{' (hidden check)' if self.hidden else ''}: {problem}"
                 + (" disagrees with torch.autograd" if compared else "")]
        if self.current is not None:
            lines.append(f"  case {self.cases}: {self.current}")
        if compared:
            lines += [f"  torch.autograd: {show(torch_value)}", f"  yours:          {show(mine)}"]
        if slip:
            lines.append(f"  Likely slip -- {slip}")
        if self.hidden:
            lines.append(f"  (check({self.exercise!r}, hidden=True, seed={self.seed}) repeats this check)")
        return CheckFailed("\n".join(line.replace("\n", "\n    ") for line in lines))


diagnose = diagnose_module.diagnose


def _capture_and_seal():
    """The checker's own modules join the snapshot (last, so every name is in it), then are sealed
    against ``autograder.checks.check = ...`` from a notebook."""
    modules = (sys.modules[__name__], guards, slips, unit_checks, graph_checks, exercise_checks, diagnose_module,
               codec, drivers, torch_standins)
    for module in modules:
        _INTEGRITY.capture(module.__name__, vars(module))
        for name, value in vars(module).items():  # `Trial.fail = ...` must not pass a check either
            if isinstance(value, type) and value.__module__ == module.__name__:
                _INTEGRITY.capture(f"{module.__name__}.{name}", vars(value))
    for module in modules:
        guards.seal(module)


_capture_and_seal()


"""The checks nbgrader test cells call: the learner's work against torch.autograd.

    from autograder.learner.checks import check
    check("pow_backward")                 # visible: a fixed seed, the notebook's own numbers + a few more
    check("pow_backward", hidden=True)    # hidden: a fresh random seed, random values and shapes
    check("manual_dy_dx", dy_dx)          # a notebook exercise: pass the function you wrote
    check("pow_backward", engine=module)  # tests: check this engine module, not ./tinygrad_course

A pass prints one line; a failure raises ``AssertionError`` saying which case, torch's answer,
yours, and -- when it is a usual one -- the slip, in plain words (``autograder.checking.slips``).
Torch is the oracle, asked at check time on inputs the learner has not seen.

Each check (``engine_checks``, ``graph_checks``, ``answer_checks``) chooses inputs, hands them to
a *driver* (``autograder.worker.drivers``) that runs the learner's code and reports plain data
(arrays, flags, error texts), then computes torch's answer and compares. In a notebook the
drivers run in the kernel (``LocalRunner``: fast, and advisory); the class grader runs them in a
sandboxed worker process without torch and scores from there (``autograder.instructor.judge``). Engine
units are exercised one at a time; a notebook answer that uses the engine runs with every unit
replaced by a stand-in, so a bug costs points in its own cell only. In the kernel those stand-ins
are torch doing each unit's work (``autograder.learner.torch_standins``); the judge's torch-free worker
gets the instructor's own over its pipe, never from anything a learner receives.
"""

import hashlib
import importlib
import os
import sys
import types
from pathlib import Path

import numpy as np

from autograder.checking import answer_checks, datasets, engine_checks, graph_checks, slips, trial
from autograder.checking.trial import (  # noqa: F401 - re-exported: the notebook's names for the registry
    ALL_EXERCISES,
    CHECKS,
    NOTEBOOK_EXERCISES,
    NOTEBOOK_STUB,
    UNITS,
    CheckFailed,
    Trial,
    run_check,
    visible_seed,
)
from autograder.learner import diagnose as diagnose_module
from autograder.learner import guards, torch_standins
from autograder.learner.engines import load_engine
from autograder.worker import codec, drivers
from autograder.worker.exercises import NEEDS_TORCH

_INTEGRITY = guards.standard_integrity()


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
        # the checker's own numpy (the wrong answers it computes to name a slip) may overflow, harmlessly;
        # a warning under a check reads as the learner's doing
        with np.errstate(all="ignore"):
            trial = run_check(exercise, _local_runner(exercise, answer, engine), hidden=hidden, seed=seed)
    except CheckFailed as failure:
        outcome = failure
    _refuse_if_tampered(exercise)
    if outcome is not None:
        outcome.__cause__, outcome.__suppress_context__ = None, True  # the verdict, not the checker's stack
        raise outcome.with_traceback(None)
    print(f"{exercise}{' (hidden)' if hidden else ''}: {trial.cases} cases agree with torch.autograd")


def _hidden_seed(exercise):
    """Fresh cases on every call in a learner's notebook; under the class grader, whose kernels get
    ``AUTOGRADER_HIDDEN_SEED``, the same cases on every run (the score itself comes from the judge)."""
    given = os.environ.get("AUTOGRADER_HIDDEN_SEED")
    if given:
        return int.from_bytes(hashlib.sha256(f"{given}:{exercise}".encode()).digest()[:8], "little")
    return int.from_bytes(guards.urandom(8), "little")


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
    if exercise in NEEDS_TORCH:  # written in torch: the exercise is to call it, so no watch for torch calls
        return LocalRunner(exercise, answer=answer, watched=False)
    if not uses_engine:
        return LocalRunner(exercise, answer=answer, any_engine=True)
    package = engine if engine is not None else _engine_of(answer)
    return LocalRunner(exercise, engine=_core(package), answer=answer, allowed=_module_dicts(package))


class LocalRunner:
    """The drivers run here, in the learner's kernel (fast, and advisory: the class grader's score
    comes from a sandboxed worker, ``autograder.instructor.judge``). Inputs and replies cross the same codec as
    they do on a pipe, so what the checks see is plain data either way; a delegation watch
    (``guards.Watch``) names calls into torch or the reference engine. An answer that uses the
    engine runs on the torch-backed stand-ins, whose own calls into torch that watch lets pass
    (``torch_standins.Watch``); a unit is checked on its own, under the plain watch."""

    def __init__(self, exercise, *, engine=None, answer=None, allowed=(), any_engine=False, watched=True):
        self.session = drivers.Session(exercise, engine=engine, answer=answer, standins=torch_standins)
        self.allowed, self.any_engine = allowed, any_engine
        self.watch = torch_standins.Watch if self.session.standins else guards.Watch if watched else _Unwatched

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


class _Unwatched:
    """No delegation watch (notebook 11's answers are written in torch): nothing is an offence."""

    offence = None

    def __init__(self, allowed=(), any_engine=False):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


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
    # and the submodules this package object holds (``autograd``, ``nn.functional``): a later load of an
    # engine under the same name replaces sys.modules' entries, not the ones the package already has
    waiting = [package]
    while waiting:
        for value in vars(waiting.pop()).values():
            if (isinstance(value, types.ModuleType) and value.__name__.startswith(name + ".")
                    and all(value is not m for m in modules)):
                modules.append(value)
                waiting.append(value)
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


diagnose = diagnose_module.diagnose


def _show_verdict(shell, etype, value, tb, tb_offset=None):
    """IPython's handler for CheckFailed: the message alone, without the frames of the checker that
    raised it. It is still shown as an error (ename CheckFailed), so the cell fails and nbgrader
    (Validate, autograde) counts it as failed."""
    shown = [str(value)]
    shell._showtraceback(etype, value, shown)  # what IPython's own showtraceback ends with
    return shown


def _show_failures_plainly():
    """In a notebook, a failed check reads as a verdict, not as a crash of the checker. Left alone
    where something else already handles exceptions its own way (a custom handler is one per shell)."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    if shell is not None and shell.custom_exceptions in ((), (CheckFailed,)):
        shell.set_custom_exc((CheckFailed,), _show_verdict)


def _capture_and_seal():
    """The checker's own modules join the snapshot (last, so every name is in it), then are sealed
    against ``autograder.learner.checks.check = ...`` from a notebook."""
    modules = (sys.modules[__name__], guards, slips, trial, engine_checks, graph_checks, answer_checks, datasets,
               diagnose_module, codec, drivers, torch_standins)
    for module in modules:
        _INTEGRITY.capture(module.__name__, vars(module))
        for name, value in vars(module).items():  # `Trial.fail = ...` must not pass a check either
            if isinstance(value, type) and value.__module__ == module.__name__:
                _INTEGRITY.capture(f"{module.__name__}.{name}", vars(value))
    for module in modules:
        guards.seal(module)


_capture_and_seal()
_show_failures_plainly()


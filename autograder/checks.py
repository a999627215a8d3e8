"""The checks nbgrader test cells call: the learner's work against torch.autograd.

    from autograder.checks import check
    check("pow_backward")                 # visible: a fixed seed, the seed tutorial's numbers + a few more
    check("pow_backward", hidden=True)    # hidden: a fresh random seed, random values and shapes
    check("manual_dy_dx", dy_dx)          # a notebook exercise: pass the function you wrote
    check("pow_backward", engine=module)  # tests: check this engine module, not ./tinygrad_course

A pass prints one line; a failure raises ``AssertionError`` saying which case, torch's answer,
yours, and -- when it is a usual one -- the slip, in plain words (``autograder.slips``).
Torch is the oracle, asked at check time on inputs the learner has not seen.

Engine units are loaded fresh from ``./tinygrad_course`` on every call and checked in isolation
(``autograder.guards``): only the unit under test runs the learner's code. Delegating the work
to torch or to the reference engine fails the check, and so does tampering with torch, numpy
or this module in the kernel (best effort: the bulk grader re-runs everything in a fresh
process with ``python -m autograder.checks``, see ``main``).

Running every check for a submission folder, in a fresh process, prints JSON:

    python -m autograder.checks --engine-dir DIR [--exercise ID ...] [--answer-file NB.ipynb ...]

Notebook exercises are read from the notebooks: the solution cell of exercise X has grade_id
``X_answer`` (its test cell has grade_id ``X``).
"""

import argparse
import contextlib
import importlib
import io
import json
import os
import subprocess
import sys
import traceback
import types
import zlib
from pathlib import Path

import numpy as np

from autograder import diagnose as diagnose_module
from autograder import exercise_checks, graph_checks, guards, slips, unit_checks
from autograder.engines import REPO, load_engine
from autograder.slips import show

# exercise id -> (notebook, what the learner writes, check function)
UNITS = {
    "pow_backward": ("01_x_squared.ipynb", "Pow.backward", unit_checks.pow_backward),
    "accumulate_grad": ("01_x_squared.ipynb", "AccumulateGrad.apply", unit_checks.accumulate_grad),
    "sin_backward": ("02_sin_chain_rule.ipynb", "Sin.backward", unit_checks.sin_backward),
    "backward_pass": ("02_sin_chain_rule.ipynb", "run_backward and topological_order", graph_checks.backward_pass),
    "add_backward": ("03_neuron_bce.ipynb", "Add.backward", unit_checks.add_backward),
    "sub_backward": ("03_neuron_bce.ipynb", "Sub.backward", unit_checks.sub_backward),
    "mul_backward": ("03_neuron_bce.ipynb", "Mul.backward", unit_checks.mul_backward),
    "neg_backward": ("03_neuron_bce.ipynb", "Neg.backward", unit_checks.neg_backward),
    "sigmoid_backward": ("03_neuron_bce.ipynb", "Sigmoid.backward", unit_checks.sigmoid_backward),
    "log_backward": ("03_neuron_bce.ipynb", "Log.backward", unit_checks.log_backward),
    "clamp_backward": ("03_neuron_bce.ipynb", "Clamp.backward", unit_checks.clamp_backward),
    "mean_backward": ("04_vector_input.ipynb", "Mean.backward", unit_checks.mean_backward),
    "sum_to_shape": ("04_vector_input.ipynb", "sum_to_shape", unit_checks.sum_to_shape),
    "zero_": ("05_clearing_gradients.ipynb", "Tensor.zero_", unit_checks.zero_),
    "grad_mode": ("06_disabling_tracking.ipynb", "no_grad's __enter__ and __exit__", graph_checks.grad_mode),
    "detach": ("06_disabling_tracking.ipynb", "Tensor.detach", unit_checks.detach),
}
# exercise id -> (notebook, the function the learner writes, check function, uses the engine?)
NOTEBOOK_EXERCISES = {
    "manual_dy_dx": ("01_x_squared.ipynb", "dy_dx", exercise_checks.manual_dy_dx, False),
    "manual_dz_dx": ("02_sin_chain_rule.ipynb", "dz_dx", exercise_checks.manual_dz_dx, False),
    "manual_bce_grads": ("03_neuron_bce.ipynb", "manual_gradients", exercise_checks.manual_bce_grads, False),
    "manual_mean_square_grad": ("04_vector_input.ipynb", "mean_square_grad",
                                exercise_checks.manual_mean_square_grad, False),
    "predict_accumulated_grad": ("05_clearing_gradients.ipynb", "predict_grad",
                                 exercise_checks.predict_accumulated_grad, False),
    "no_grad_inference": ("06_disabling_tracking.ipynb", "predict", exercise_checks.no_grad_inference, True),
    "sgd_step": ("07_training_a_neuron.ipynb", "sgd_step", exercise_checks.sgd_step, True),
    "train_neuron": ("07_training_a_neuron.ipynb", "train_neuron", exercise_checks.train_neuron, True),
}
ALL_EXERCISES = tuple(UNITS) + tuple(NOTEBOOK_EXERCISES)

CORRECT_UNITS = guards.CorrectUnits()
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
        seed = int.from_bytes(guards.urandom(8), "little") if hidden else zlib.crc32(exercise.encode())
    outcome = None
    try:
        trial = _run(exercise, answer, hidden=hidden, engine=engine, seed=seed)
    except CheckFailed as failure:
        outcome = failure
    _refuse_if_tampered(exercise)
    if outcome is not None:
        outcome.__cause__, outcome.__suppress_context__ = None, True  # the verdict, not the checker's stack
        raise outcome.with_traceback(None)
    print(f"{exercise}{' (hidden)' if hidden else ''}: {trial.cases} cases agree with torch.autograd")


def _refuse_if_tampered(exercise):
    problems = _INTEGRITY.problems()
    if problems:
        raise CheckFailed(
            f"{exercise}: something in this kernel replaced what the checks rely on: {', '.join(problems)}. "
            "No check can be trusted here. Restart the kernel (Kernel > Restart) and run the notebook "
            "without reassigning torch, numpy or autograder functions.")


def _run(exercise, answer, *, hidden, engine, seed):
    if exercise in UNITS:
        if answer is not None:
            raise ValueError(f"{exercise} checks your engine; it takes no answer (call check({exercise!r}))")
        package = _load_learner_engine() if engine is None else engine
        core = _core(package)
        trial = Trial(exercise, hidden, seed, engine=core, allowed=_module_dicts(package))
        with CORRECT_UNITS.swapped_in(core, keep=exercise):
            UNITS[exercise][2](trial)
        return trial
    notebook, function_name, run_check, uses_engine = NOTEBOOK_EXERCISES[exercise]
    if not callable(answer):
        raise ValueError(f"{exercise} checks the function you wrote: call check({exercise!r}, {function_name})"
                         + ("" if answer is None else f"; got {answer!r}, which is not a function"))
    if not uses_engine:
        trial = Trial(exercise, hidden, seed, answer=answer, any_engine=True)
        run_check(trial)
        return trial
    package = engine if engine is not None else _engine_of(answer)
    core = _core(package)
    trial = Trial(exercise, hidden, seed, engine=package, answer=answer, allowed=_module_dicts(package))
    with CORRECT_UNITS.swapped_in(core, keep=None):
        run_check(trial)
    return trial


def _load_learner_engine():
    folder = Path.cwd()
    try:
        return load_engine(folder, "_tinygrad_course_checked")
    except FileNotFoundError:
        raise CheckFailed(f"there is no tinygrad_course folder next to this notebook ({folder}); the checks "
                          "grade the engine in ./tinygrad_course") from None
    except Exception as error:  # noqa: BLE001 - any import failure is the learner's to fix
        raise CheckFailed(f"your tinygrad_course does not import: {type(error).__name__}: {error}"
                          f"{_place(error)}") from None


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


def _place(error):
    """``  (engine.py, line 212: return grad * x)``: the last line of learner code in the traceback."""
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if "/autograder/" not in f.filename.replace(os.sep, "/")]
    if not frames:
        return ""
    frame = frames[-1]
    name = Path(frame.filename).name if frame.filename.endswith(".py") else "your cell"
    return f"  ({name}, line {frame.lineno}: {frame.line})" if frame.line else f"  ({name}, line {frame.lineno})"


_NOT_GIVEN = object()


class Trial:
    """One run of one check: its random cases, the learner's code to call, and the verdict's words."""

    def __init__(self, exercise, hidden, seed, *, engine=None, answer=None, allowed=(), any_engine=False):
        self.exercise, self.hidden, self.seed = exercise, hidden, seed
        self.rng = np.random.default_rng(seed)
        self.engine, self.answer = engine, answer
        self.allowed, self.any_engine = allowed, any_engine
        self.cases, self.current = 0, None

    def case(self, text):
        """Start the next case; failures quote ``text``."""
        self.cases += 1
        self.current = text

    def call(self, function, *args, what, hint=None, **kwargs):
        """Run learner code under the delegation watch; turn what goes wrong into teaching words.

        ``hint``: words added when the code raises (or a function of the exception giving them)."""
        watch = guards.Watch(self.allowed, any_engine=self.any_engine)
        error = None
        try:
            with watch:
                result = function(*args, **kwargs)
        except CheckFailed:
            raise
        except Exception as raised:  # noqa: BLE001 - the learner's exception is the finding
            error = raised
        self._delegated(watch)
        if isinstance(error, NotImplementedError):
            raise self._not_written(error)
        if error is not None:
            hint = hint(error) if callable(hint) else hint
            self.fail(f"your {what} raised {type(error).__name__}: {error}{_place(error)}"
                      + (f"\n  Hint: {hint}" if hint else ""))
        return result

    def _delegated(self, watch):
        if watch.offence:
            self.fail(f"your code {slips.DELEGATED} {watch.offence}. The point is to compute it yourself "
                      "(torch is only the referee), so this earns no points until that call is gone")

    def _not_written(self, error):
        text = str(error)
        if self.exercise in UNITS:
            notebook, what, _ = UNITS[self.exercise]
            if text and f"'{self.exercise}'" not in text and "Exercise '" in text:
                return self._failure(f"this check needs another exercise first: {text}")
            return self._failure(f"{slips.NOT_WRITTEN}: {what} in tinygrad_course/engine.py is still "
                                 f"`raise NotImplementedError(...)`. Notebook {notebook} walks you through it.")
        notebook, function_name, _, _ = NOTEBOOK_EXERCISES[self.exercise]
        return self._failure(f"{slips.NOT_WRITTEN}: your {function_name} (notebook {notebook}) still raises "
                             "NotImplementedError; replace `raise NotImplementedError()` with your code.")

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


# --------------------------------------------------------------------------
# A whole submission, in a fresh process
# --------------------------------------------------------------------------

def notebook_answers(paths):
    """``{exercise: function or error text}`` from the solution cells (grade_id ``X_answer``).

    Each notebook's code cells run in order in one namespace, test cells skipped (they call the
    checks) and magics dropped, so an answer can use what earlier cells import or define.
    """
    import nbformat
    found = {}
    for path in paths:
        notebook = nbformat.read(str(path), as_version=4)
        namespace = {"__name__": "__main__"}
        errors = []
        for cell in notebook.cells:
            if cell.cell_type != "code":
                continue
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution"):
                continue
            source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(compile(source, f"<{Path(path).name} cell {meta.get('grade_id', '')}>", "exec"), namespace)
            except Exception as error:  # noqa: BLE001 - recorded, the answer may still be usable
                errors.append(f"{type(error).__name__}: {error}")
            grade_id = meta.get("grade_id", "")
            if grade_id.endswith("_answer") and grade_id[:-len("_answer")] in NOTEBOOK_EXERCISES:
                exercise = grade_id[:-len("_answer")]
                name = NOTEBOOK_EXERCISES[exercise][1]
                found[exercise] = namespace.get(name) if callable(namespace.get(name)) else (
                    f"the cell {grade_id} in {Path(path).name} did not define {name}"
                    + (f" ({errors[-1]})" if errors else ""))
    return found


def grade_folder(folder, exercises=None, answer_files=None, hidden=True):
    """Run the checks for a submission folder in this process (call it in a fresh one)."""
    folder = Path(folder).resolve()
    exercises = list(exercises or ALL_EXERCISES)
    os.chdir(folder)
    if str(folder) not in sys.path:
        sys.path.append(str(folder))  # after site-packages: a submission cannot shadow numpy or torch
    needed = [e for e in exercises if e in NOTEBOOK_EXERCISES]
    answers = notebook_answers(answer_files if answer_files is not None else sorted(folder.glob("*.ipynb"))) \
        if needed else {}
    results = {}
    for exercise in exercises:
        answer = answers.get(exercise, f"no cell with grade_id {exercise}_answer in the notebooks")
        runs = {}
        for kind in ("visible", "hidden") if hidden else ("visible",):
            runs[kind] = _outcome(exercise, answer, hidden=kind == "hidden")
        results[exercise] = {"passed": all(r["passed"] for r in runs.values()), **runs}
    return results


def _outcome(exercise, answer, hidden):
    if exercise in NOTEBOOK_EXERCISES and not callable(answer):
        return {"passed": False, "message": f"{exercise}: {answer}"}
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            check(exercise, answer if exercise in NOTEBOOK_EXERCISES else None, hidden=hidden)
    except AssertionError as failure:
        return {"passed": False, "message": str(failure)}
    except Exception as error:  # noqa: BLE001 - reported per exercise, the others still run
        return {"passed": False, "message": f"{exercise}: the check could not run: {type(error).__name__}: {error}"}
    return {"passed": True, "message": printed.getvalue().strip()}


def run_fresh(folder, exercises=None, answer_files=None, hidden=True, timeout=600):
    """``grade_folder`` in a new Python process (nothing a kernel did can reach it); its results."""
    command = [sys.executable, "-m", "autograder.checks", "--engine-dir", str(Path(folder).resolve())]
    for exercise in exercises or ():
        command += ["--exercise", exercise]
    for path in answer_files or ():
        command += ["--answer-file", str(Path(path).resolve())]
    if not hidden:
        command.append("--visible-only")
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONSAFEPATH": "1"}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    try:
        return json.loads(done.stdout)["results"]
    except (json.JSONDecodeError, KeyError):
        raise RuntimeError(f"the fresh grading process failed (exit {done.returncode}):\n{done.stderr[-3000:]}") \
            from None


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run the checks for one submission folder; print JSON.")
    parser.add_argument("--engine-dir", required=True, help="the folder holding tinygrad_course/ (and notebooks)")
    parser.add_argument("--exercise", action="append", choices=ALL_EXERCISES,
                        help="an exercise id (repeatable; default: all)")
    parser.add_argument("--answer-file", action="append", help="a notebook with answer cells (default: DIR/*.ipynb)")
    parser.add_argument("--visible-only", action="store_true", help="skip the hidden checks")
    args = parser.parse_args(argv)
    folder = Path(args.engine_dir)
    if not (folder / "tinygrad_course").is_dir():
        parser.error(f"{folder} has no tinygrad_course folder")
    answer_files = [Path(p).resolve() for p in args.answer_file] if args.answer_file else None
    with contextlib.redirect_stdout(sys.stderr):  # stray prints from learner code stay out of the JSON
        results = grade_folder(folder, args.exercise, answer_files, hidden=not args.visible_only)
    print(json.dumps({"folder": str(folder.resolve()), "results": results}, indent=1))
    return 0 if all(r["passed"] for r in results.values()) else 1


diagnose = diagnose_module.diagnose


def _capture_and_seal():
    """The checker's own modules join the snapshot (last, so every name is in it), then are sealed
    against ``autograder.checks.check = ...`` from a notebook."""
    modules = (sys.modules[__name__], guards, slips, unit_checks, graph_checks, exercise_checks, diagnose_module)
    for module in modules:
        _INTEGRITY.capture(module.__name__, vars(module))
        for name, value in vars(module).items():  # `Trial.fail = ...` must not pass a check either
            if isinstance(value, type) and value.__module__ == module.__name__:
                # a grading sandbox may redefine when the reference counts as available (zygote.py)
                skip = {"available"} if value is guards.CorrectUnits else set()
                _INTEGRITY.capture(f"{module.__name__}.{name}", vars(value), [n for n in vars(value) if n not in skip])
    for module in modules:
        guards.seal(module)


_capture_and_seal()

if __name__ == "__main__":
    sys.exit(main())

"""One run of one check, shared by the notebook (``autograder.learner.checks``) and the judge
(``autograder.instructor.judge``): the exercise's cases, the runner holding the learner's code, and
the verdict's words.

The registry of exercises is ``autograder.worker.exercises``; the check of an exercise is the function
of the same name in ``engine_checks``, ``graph_checks`` or ``answer_checks``, found here, not listed.
"""

import zlib

import numpy as np

from autograder.checking import answer_checks, engine_checks, graph_checks, slips
from autograder.checking.slips import Slip, show
from autograder.worker import exercises

CHECK_MODULES = (engine_checks, graph_checks, answer_checks)


def _find_check(exercise):
    found = [getattr(m, exercise) for m in CHECK_MODULES if callable(getattr(m, exercise, None))]
    if len(found) != 1:
        raise ImportError(f"exercise {exercise!r} of autograder.worker.exercises needs exactly one check function "
                          f"of that name in {', '.join(m.__name__ for m in CHECK_MODULES)}; found {len(found)}")
    return found[0]


CHECKS = {exercise: _find_check(exercise) for exercise in exercises.ALL}
# exercise id -> (notebook, what the learner writes, check function)
UNITS = {e: (notebook, what, CHECKS[e]) for e, (notebook, what, _) in exercises.UNITS.items()}
# exercise id -> (notebook, the function the learner writes, check function, uses the engine?)
NOTEBOOK_EXERCISES = {e: (notebook, function, CHECKS[e], engine)
                      for e, (notebook, function, engine) in exercises.ANSWERS.items()}
ALL_EXERCISES = exercises.ALL


class CheckFailed(AssertionError):
    """A check's verdict: the learner's answer disagrees with torch (nbgrader counts any AssertionError).

    ``str()`` is the message the learner reads; the fields say the same as data, for the judge's
    ``Verdict``: ``exercise``, ``case`` (``(number, description)`` of the failing case, or None),
    ``slip`` (an id of ``autograder.checking.slips.LABELS``, or None when no usual slip was recognised)."""

    passed = False

    def __init__(self, message, *, exercise=None, case=None, slip=None):
        super().__init__(message)
        self.exercise, self.case, self.slip = exercise, case, slip

    @property
    def message(self):
        return str(self)


def visible_seed(exercise):
    return zlib.crc32(exercise.encode())


def run_check(exercise, runner, *, hidden, seed):
    """Run exercise's check with ``runner`` (learner code in this process, or in a worker); the Trial.

    Raises ``CheckFailed`` with the verdict's words when the learner's code disagrees with torch."""
    trial = Trial(exercise, hidden, seed, runner)
    problem = runner.problem()
    if problem is not None:
        trial.report_raised(problem, what="code")
    (UNITS[exercise][2] if exercise in UNITS else NOTEBOOK_EXERCISES[exercise][2])(trial)
    return trial


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
            self.fail(f"your code {slips.words(slips.DELEGATED)} {reply['offence']}. The point is to compute it "
                      "yourself (torch is only the referee), so this earns no points until that call is gone",
                      slip=Slip(slips.DELEGATED))
        if "raised" in reply:
            self.report_raised(reply["raised"], what=what, hint=hint)
        return reply["value"]

    def report_raised(self, raised, *, what, hint=None):
        if raised.get("not_written"):
            function = raised.get("function")  # text from the learner's process: only a str is used
            raise self._not_written(raised["message"], function if isinstance(function, str) else "")
        if raised.get("words"):
            self.fail(raised["words"], slip=Slip(slips.RAISED))
        hint = hint(raised["message"]) if callable(hint) else hint
        where = f"your {what} raised" if not raised.get("worker") else "the grading worker stopped:"
        self.fail(f"{where} {raised['type']}: {raised['message']}{raised.get('place', '')}"
                  + (f"\n  Hint: {hint}" if hint else ""),
                  slip=Slip(slips.STOPPED if raised.get("worker") else slips.RAISED))

    def _not_written(self, text, function=""):
        if self.exercise in UNITS:
            notebook, what, _ = UNITS[self.exercise]
            if text and f"'{self.exercise}'" not in text and "Exercise '" in text:
                return self._failure(f"this check needs another exercise first: {text}",
                                     slip=Slip(slips.NEEDS_OTHER))
            return self._failure(f"{slips.words(slips.NOT_WRITTEN)}: {what}. In tinygrad_course/engine.py it is "
                                 f"still `raise NotImplementedError(todo({self.exercise!r}))`; notebook {notebook} "
                                 "walks you through it.", slip=Slip(slips.NOT_WRITTEN))
        notebook, function_name, _, _ = NOTEBOOK_EXERCISES[self.exercise]
        raised = f"raise NotImplementedError({text!r})" if text else "raise NotImplementedError"
        if NOTEBOOK_STUB in (text or ""):  # the line the release put in the answer cell
            # an answer cell may hold more than the function checked (notebook 10: class Dual and jvp)
            part = (f"{function}, in your answer for {function_name}"
                    if function and function != function_name and not function.startswith("<")  # <module>, <lambda>
                    else f"your {function_name}")
            return self._failure(f"{slips.words(slips.NOT_WRITTEN)}: {part} (notebook {notebook}) "
                                 f"still holds the lines the notebook came with, `# YOUR CODE HERE` and `{raised}`. "
                                 "Replace them with your code and run the answer cell again.",
                                 slip=Slip(slips.NOT_WRITTEN))
        return self._failure(f"{slips.words(slips.NOT_WRITTEN)}: your {function_name} (notebook {notebook}) ran "
                             f"`{raised}`; finish it so that it returns its answer instead.",
                             slip=Slip(slips.NOT_WRITTEN))

    def fail(self, problem, *, torch_value=_NOT_GIVEN, mine=_NOT_GIVEN, slip=None):
        """Fail this check. ``slip``: the ``slips.Slip`` recognised (its words, if any, become the
        "Likely slip" line), or None."""
        raise self._failure(problem, torch_value=torch_value, mine=mine, slip=slip)

    def _failure(self, problem, *, torch_value=_NOT_GIVEN, mine=_NOT_GIVEN, slip=None):
        compared = torch_value is not _NOT_GIVEN
        lines = [f"{self.exercise}{' (hidden check)' if self.hidden else ''}: {problem}"
                 + (" disagrees with torch.autograd" if compared else "")]
        if self.current is not None:
            lines.append(f"  case {self.cases}: {self.current}")
        if compared:
            lines += [f"  torch.autograd: {show(torch_value)}", f"  yours:          {show(mine)}"]
        if slip is not None and not isinstance(slip, Slip):
            raise TypeError(f"a failure's slip is a slips.Slip (id and words), not {slip!r}")
        if slip is not None and slip.words:
            lines.append(f"  Likely slip -- {slip.words}")
        if self.hidden:
            lines.append(f"  (check({self.exercise!r}, hidden=True, seed={self.seed}) repeats this check)")
        return CheckFailed("\n".join(line.replace("\n", "\n    ") for line in lines), exercise=self.exercise,
                           case=None if self.current is None else (self.cases, self.current),
                           slip=None if slip is None else slip.id)

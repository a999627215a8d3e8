"""Each exercise's verdict in one graded submission, as the ledger keeps it and the insight page
reads it: score, passed, and the slip family that failed it."""

import re
from collections import defaultdict

from autograder.checking import slips

# Family words, as the checks write them (autograder/checking/slips.py); the earliest one in a message names it.
FAMILIES = (slips.NOT_WRITTEN, slips.DELEGATED, slips.SIGN, slips.FACTOR, slips.PASSED_THROUGH,
            slips.NO_INCOMING, slips.NOT_ACCUMULATED, slips.NOT_REDUCED, slips.WRONG_SHAPE, slips.WRONG_SAVED,
            slips.SWAPPED)
RAISED = "raised an error"
OTHER = "other"
_SLIP_LINE = re.compile(r"Likely slip -- *(?P<text>[^\n]*)")
_RAISED = re.compile(r"\braised\b|the grading worker stopped")
_PARENTHESES = re.compile(r"\s*\([^()]*\)")
TOLERANCE = 1e-9


def family(text):
    """The ``autograder.checking.slips`` family named first in ``text``, or None."""
    found = [(text.find(words), words) for words in FAMILIES if words in text]
    return min(found)[1] if found else None


def slip_of(message):
    """``(slip, detail)`` for a failure message from a check.

    ``slip``: a family of ``autograder.checking.slips`` when the slip line (else the first line) names one,
    else the check's own words for the slip up to the first ``:``, else ``raised an error`` or
    ``other``; ``detail``: the check's own words (numbers in parentheses dropped), or None.
    """
    if not message:
        return OTHER, None
    found = _SLIP_LINE.search(message)
    if found:
        text = found["text"].strip()
        head = text.split(":", 1)[0].strip()
        detail = _PARENTHESES.sub("", head).strip() or head or None
        return family(text) or detail or OTHER, detail
    first = message.splitlines()[0]
    named = family(first)
    if named:
        return named, named
    if _RAISED.search(first):
        return RAISED, None
    return OTHER, None


def failure_messages(notes, exercises):
    """``{exercise: message}`` from a notebook's notes (``"<exercise> failed: <message>"``, as
    ``autograder.instructor.grading.submission.apply_judgement`` writes them)."""
    found = {}
    for note in notes or ():
        for exercise in exercises:
            prefix = f"{exercise} failed: "
            if isinstance(note, str) and note.startswith(prefix) and exercise not in found:
                found[exercise] = note[len(prefix):]
    return found


def exercise_verdicts(result, cells):
    """``{exercise: verdict}`` for one graded submission (``result``: what ``grade_submission``
    returns; ``cells``: ``{exercise: (notebook, max_score)}``).

    A verdict: ``notebook``, ``score``, ``max_score``, ``passed`` (full points), ``slip`` and
    ``detail`` (``slip_of``; None when passed or not graded), ``message_first_line`` (the
    failure's first line, or None) and ``not_graded`` (why the notebook has no verdict, or None).
    """
    by_notebook = defaultdict(list)
    for exercise, (notebook, _) in cells.items():
        by_notebook[notebook].append(exercise)
    verdicts = {}
    for notebook, exercises in by_notebook.items():
        outcome = result.get("notebooks", {}).get(notebook) or {}
        graded = outcome.get("status") == "graded"
        failures = failure_messages(outcome.get("notes"), exercises) if graded else {}
        for exercise in exercises:
            max_score = float(cells[exercise][1])
            grade = (outcome.get("grades") or {}).get(exercise) or {}
            score = float(grade.get("auto_score") or 0.0) if graded else 0.0
            message = failures.get(exercise)
            passed = graded and message is None and score >= max_score - TOLERANCE
            slip, detail = (None, None) if passed or not graded else slip_of(message)
            verdicts[exercise] = {
                "notebook": notebook, "score": score, "max_score": max_score, "passed": passed,
                "slip": slip, "detail": detail,
                "message_first_line": message.splitlines()[0] if message else None,
                "not_graded": None if graded else (outcome.get("message") or "not graded"),
            }
    return verdicts

"""Each exercise's verdict in one graded submission, as the ledger keeps it and the insight page
reads it: score, passed, and the slip that failed it -- read from the fields of the judge's
``Verdict`` (kept as plain data in each notebook's outcome), never from the message's words."""

from collections import defaultdict

TOLERANCE = 1e-9


def exercise_verdicts(result, cells):
    """``{exercise: verdict}`` for one graded submission (``result``: what ``grade_submission``
    returns; ``cells``: ``{exercise: (notebook, max_score)}``).

    A verdict: ``notebook``, ``score``, ``max_score``, ``passed`` (full points, and the judge agreed),
    ``slip`` (the judge's slip id, an id of ``autograder.checking.slips.LABELS``; None when passed, not
    graded, or no usual slip was recognised), ``case`` (the failing case, ``[number, description]``,
    or None), ``message_first_line`` (the failure's first line, or None) and ``not_graded`` (why the
    notebook has no verdict, or None).
    """
    by_notebook = defaultdict(list)
    for exercise, (notebook, _) in cells.items():
        by_notebook[notebook].append(exercise)
    verdicts = {}
    for notebook, exercises in by_notebook.items():
        outcome = result.get("notebooks", {}).get(notebook) or {}
        graded = outcome.get("status") == "graded"
        judged = (outcome.get("verdicts") or {}) if graded else {}
        for exercise in exercises:
            max_score = float(cells[exercise][1])
            grade = (outcome.get("grades") or {}).get(exercise) or {}
            score = float(grade.get("auto_score") or 0.0) if graded else 0.0
            verdict = judged.get(exercise) or {}
            failed = verdict.get("passed") is False
            passed = graded and not failed and score >= max_score - TOLERANCE
            message = verdict.get("message") if failed else None
            verdicts[exercise] = {
                "notebook": notebook, "score": score, "max_score": max_score, "passed": passed,
                "slip": verdict.get("slip") if failed else None,
                "case": list(verdict["case"]) if failed and verdict.get("case") else None,
                "message_first_line": message.splitlines()[0] if message else None,
                "not_graded": None if graded else (outcome.get("message") or "not graded"),
            }
    return verdicts

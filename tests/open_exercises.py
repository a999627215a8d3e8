"""What counts as 'an open exercise' when a learner-release notebook runs untouched.

Shared by the release test (run in this environment) and the Binder test (run in a fresh venv).
An error is allowed only where the learner has work to do, and only with the message that names it.
"""

import re

ENGINE_TODO = re.compile(r"Exercise '(\w+)' is not written yet")
NOTEBOOK_STUB = "Write your answer here"


def role(cell):
    """'answer' (solution cell), 'check' (graded test cell) or 'demo' (everything else)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if meta.get("solution"):
        return "answer"
    return "check" if meta.get("grade") else "demo"


def open_exercise_error(cell, ename, evalue):
    """Why this error is an open exercise's, or None if it is a real failure of the notebook."""
    named = ENGINE_TODO.search(evalue)
    if ename == "NotImplementedError" and named:
        return f"engine exercise '{named[1]}' is open"
    if ename == "NotImplementedError" and NOTEBOOK_STUB in evalue:
        return "notebook answer is open"
    failed_check = ename in ("AssertionError", "CheckFailed")  # CheckFailed subclasses AssertionError
    if role(cell) == "check" and failed_check and ("not written yet" in evalue or NOTEBOOK_STUB in evalue):
        return "its check reports the open exercise"
    return None


def errors_of(notebook):
    """(index, cell, ename, evalue) for every cell of an executed notebook that raised."""
    found = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append((index, cell, output["ename"], output["evalue"]))
    return found

"""Re-verify, in a fresh process, the test cells that passed in the learner's kernel.

A notebook can make its own checks pass by monkeypatching them (or torch, or numpy) inside its
kernel. The verifier is ``python -m autograder.checks`` (see its docstring), run as a child of
the submission's zygote -- a process in which no notebook code has run -- inside the same
sandbox, twice:
  1. the engine units alone: only the learner's ``tinygrad_course`` is imported, no notebook
     code runs at all;
  2. the notebook exercises: the answer cells are re-run from nbgrader's sanitized notebooks
     (test cells skipped) and checked.
A check that passed in the kernel but fails here -- or cannot report -- loses its points, and
the report says why. The verifier never raises a score: a check that failed in the kernel
stays failed, as stock nbgrader graded it.

Limit: the verifier runs learner code in its own process, like the kernel does; what it rules
out is tampering done by notebook cells, not an engine file that tampers when imported (the
checks' own guards look for that).
"""

import json
import time
from pathlib import Path

RESULT_TIMEOUT = 300


def plan(layout):
    """``{"units": [...], "answers": [...]}``: the assignment's grade ids the checks know."""
    try:
        from autograder import checks
    except ImportError:  # a course without the checks module: nothing to re-verify
        return {"units": [], "answers": []}
    grade_ids = {g for info in layout.values() for g in info["grade_ids"]}
    return {"units": sorted(grade_ids & set(checks.UNITS)),
            "answers": sorted(grade_ids & set(checks.NOTEBOOK_EXERCISES))}


def run(plan, zygote, run_dir, ipc_dir, outcomes, autograded):
    """``{notebook: {grade_id: why it does not hold up}}`` for checks that passed in the kernel."""
    passed = {grade_id: notebook for notebook, outcome in outcomes.items() if outcome["status"] == "graded"
              for grade_id, grade in outcome["grades"].items() if (grade["auto_score"] or 0) > 0}
    failures = {}
    units = [u for u in plan["units"] if u in passed]
    answers = [a for a in plan["answers"] if a in passed]
    batches = [(units, [])] if units else []
    if answers:
        folder = Path(ipc_dir) / "answers"
        folder.mkdir(exist_ok=True)
        files = []
        for notebook in sorted({passed[a] for a in answers}):
            target = folder / f"{notebook}.ipynb"
            target.write_bytes((Path(autograded) / f"{notebook}.ipynb").read_bytes())
            files.append(str(target))
        batches.append((answers, files))
    for number, (exercises, files) in enumerate(batches):
        for exercise, why in _fresh(zygote, run_dir, Path(ipc_dir) / f"verify-{number}.json",
                                    exercises, files).items():
            failures.setdefault(passed[exercise], {})[exercise] = why
    return failures


def _fresh(zygote, run_dir, out, exercises, files):
    argv = ["--engine-dir", run_dir]
    for exercise in exercises:
        argv += ["--exercise", exercise]
    for path in files:
        argv += ["--answer-file", path]
    process = zygote.run_main("autograder.checks", argv, cwd=run_dir, stdout=str(out))
    deadline = time.monotonic() + RESULT_TIMEOUT
    while process.poll() is None:
        if time.monotonic() > deadline:
            process.kill()
            return {e: f"the fresh-process check did not finish in {RESULT_TIMEOUT} s" for e in exercises}
        time.sleep(0.05)
    try:
        results = json.loads(Path(out).read_text())["results"]
    except (OSError, ValueError, KeyError):
        return {e: f"the fresh-process check stopped without a result (exit status {process.returncode})"
                for e in exercises}
    failed = {}
    for exercise in exercises:
        result = results.get(exercise)
        if result is None:
            failed[exercise] = "the fresh-process check did not report on it"
        elif not result.get("passed"):
            runs = [r for r in (result.get("visible"), result.get("hidden")) if r and not r.get("passed")]
            failed[exercise] = (runs[0]["message"] if runs else "failed").strip().splitlines()[0][:300]
    return failed


def apply(failures, outcomes):
    """Zero the grades the verifier overturned and say so in the notebook's notes."""
    for notebook, found in failures.items():
        outcome = outcomes[notebook]
        for grade_id, why in found.items():
            outcome["grades"][grade_id]["auto_score"] = 0.0
            outcome["notes"].append(f"{grade_id} passed in the notebook but not when re-checked in a fresh "
                                    f"process, so it scores 0: {why}")

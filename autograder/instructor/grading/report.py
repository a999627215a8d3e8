"""The grading report: one account of a submission's grading, in two forms.

The instructor reads ``grading_report.md`` (next to the autograded and feedback files); the
learner reads the same account as HTML at the top of each feedback page, the only files
``nbgrader fetch_feedback`` hands out. Both are rendered from one plain dictionary (kept as
``grading_report.json``) through Jinja2 templates, the HTML one autoescaped: file names and
messages in a report come from the learner's submission.
"""

import json
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from autograder.instructor import sandbox

MARKDOWN = "grading_report.md"
DATA = "grading_report.json"


def build(student, assignment, outcomes, notes, sandbox_words):
    """The report's facts: scores per notebook, the notes, the hidden-check seeds, the sandbox."""
    notebooks = [{"name": name, "score": outcome["score"], "max_score": outcome["max_score"],
                  "status": outcome["message"] or "graded"} for name, outcome in sorted(outcomes.items())]
    seeds = {exercise: verdict["seed"] for _, outcome in sorted(outcomes.items())
             for exercise, verdict in sorted(outcome.get("verdicts", {}).items())}
    return {"student": student, "assignment": assignment,
            "unconfined_option": sandbox.UNCONFINED_OPTION if sandbox_words == sandbox.UNCONFINED else None,
            "notebooks": notebooks,
            "total": sum(n["score"] for n in notebooks), "maximum": sum(n["max_score"] for n in notebooks),
            "notes": list(notes) + [note for _, outcome in sorted(outcomes.items())
                                    for note in outcome.get("notes", [])],
            "seeds": seeds, "sandbox": sandbox_words}


@cache
def _templates():
    return Environment(loader=PackageLoader("autograder.instructor", "templates"),
                       autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def _number(value):
    return f"{value:g}"


def as_markdown(report):
    return _templates().get_template("report.md.j2").render(report=report, number=_number)


def as_html(report):
    return _templates().get_template("report.html.j2").render(report=report, number=_number)


def files(report):
    """The report's files for ``autograded/`` and ``feedback/``."""
    return {MARKDOWN: as_markdown(report).encode(), DATA: json.dumps(report, indent=1, sort_keys=True).encode()}


def read(feedback):
    """The report kept in a feedback folder's files, or None (an older grading wrote none)."""
    try:
        return json.loads(feedback[DATA])
    except (KeyError, ValueError):
        return None

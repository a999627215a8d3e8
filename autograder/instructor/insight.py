"""Class insight for the instructor: per exercise, who passed, the scores, and the usual slips.

After ``python -m autograder.instructor.grade`` has graded a class, ``write_insight`` writes
``insight-<assignment>.html`` next to the CSV (instructor only: it is not in ``feedback/``, so
nothing sends it to learners). One self-contained page:

- per exercise: the pass rate (full points) among the learners who submitted the assignment
  and among those who attempted the exercise, how many failed with a verdict from the grader, how
  many did not attempt it (still as released: "not written yet") and how many had no verdict (the
  notebook was missing or could not be graded), the score distribution, and the most common slips;
- which exercises nobody passed, and the learners who handed in untouched work;
- the slips across the class: how many failures each explains, and which learners made it;
- charts (matplotlib, Agg, embedded as PNG): the total scores, the pass rate per exercise,
  the most common slips.

Scores come from nbgrader's gradebook (so a manual grade counts); slips come from the judge's
verdicts, which ``book.Writer`` keeps per learner in ``.grading/<assignment>/<student>.json`` under
``"exercises"`` (``grading.verdicts.exercise_verdicts``): each a slip id of
``autograder.checking.slips.LABELS`` chosen by the judge, never words parsed back from a message.
A "not written yet" verdict counts as not attempted, not as a slip; a failure with no usual slip
recognised is ``other``. The page is the Jinja2 template ``templates/insight.html.j2``.

The page never replaces one that covered a learner the gradebook in use does not hold
(``Shrinking``: the old page is kept and the caller says so); the learners a page covers are in
its ``<meta name="autograder-learners">``.

    python -m autograder.instructor.insight autodiff            # in the course root, after grading
"""

import argparse
import base64
import html
import io
import json
import os
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from autograder.checking import slips
from autograder.instructor.grading.book import Shrinking
from autograder.instructor.grading.verdicts import TOLERANCE

NOT_SUBMITTED = "notebook not submitted"
NOT_GRADED = "notebook could not be graded"
OTHER = "other"  # a failure with no usual slip recognised
DISPLAY = {slips.DELEGATED: "handed the work to torch (delegated)", OTHER: "other (no usual slip recognised)"}
LEARNERS_META = "autograder-learners"
_LEARNERS_META = re.compile(rf'<meta name="{LEARNERS_META}" content="(?P<names>[^"]*)">')
_OLD_SUMMARY = re.compile(r'<p id="class-summary">(?P<count>\d+) learners? with a submission')
TEMPLATES = jinja2.Environment(loader=jinja2.PackageLoader("autograder.instructor", "templates"),
                               autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                               lstrip_blocks=True)


def label(slip):
    """A slip id as the page shows it: its words from ``slips.LABELS`` (an id it does not know, from
    an older ledger, as it stands)."""
    return DISPLAY.get(slip) or slips.LABELS.get(slip, slip)


# ---------------------------------------------------------------- the class, from the gradebook

@dataclass
class Exercise:
    name: str
    notebook: str
    max_score: float


@dataclass
class Learner:
    student: str
    total: float
    scores: dict                                       # exercise -> score (the gradebook's)
    verdicts: dict = field(default_factory=dict)       # exercise -> verdict (exercise_verdicts), if known


@dataclass
class ClassData:
    assignment: str
    exercises: list                                    # [Exercise], in the assignment's order
    learners: list                                     # [Learner]: those with a submission
    max_total: float
    absent: list = field(default_factory=list)         # students in the gradebook without a submission


def read_ledger(ledger_dir, student):
    """The grader's ledger entry for ``student``, or {}."""
    if ledger_dir is None:
        return {}
    try:
        return json.loads((Path(ledger_dir) / f"{student}.json").read_text())
    except (OSError, ValueError):
        return {}


def ledger_verdicts(entry):
    """The verdicts of a ledger entry (its ``"exercises"``); none for an entry without them."""
    found = entry.get("exercises")
    return found if isinstance(found, dict) else {}


def from_gradebook(db_url, assignment, course_id, ledger_dir=None):
    """``ClassData`` from nbgrader's gradebook (scores) and the grader's ledger (verdicts)."""
    from nbgrader.api import Gradebook, MissingEntry
    with Gradebook(db_url, course_id) as gradebook:
        master = gradebook.find_assignment(assignment)
        exercises = [Exercise(cell.name, notebook.name, float(cell.max_score or 0.0))
                     for notebook in master.notebooks for cell in notebook.grade_cells]
        cells = {e.name: (e.notebook, e.max_score) for e in exercises}
        learners, absent = [], []
        for student in sorted(gradebook.students, key=lambda s: s.id):
            try:
                submission = gradebook.find_submission(assignment, student.id)
            except MissingEntry:
                absent.append(student.id)
                continue
            scores = {grade.name: float(grade.score or 0.0) for notebook in submission.notebooks
                      for grade in notebook.grades if grade.name in cells}
            verdicts = ledger_verdicts(read_ledger(ledger_dir, student.id))
            learners.append(Learner(student.id, float(submission.score or 0.0), scores, verdicts))
        return ClassData(assignment, exercises, learners, float(master.max_score or 0.0), absent)


# ---------------------------------------------------------------- the numbers

@dataclass
class ExerciseStats:
    exercise: Exercise
    learners: int = 0                                  # learners with a submission
    passed: int = 0                                    # full points
    failed: int = 0                                    # attempted, less than full points
    not_attempted: int = 0                             # still as released: the judge's "not written yet"
    not_graded: int = 0                                # no verdict: notebook missing or not gradable
    not_graded_reasons: Counter = field(default_factory=Counter)
    slips: Counter = field(default_factory=Counter)    # slip id -> learners
    scores: Counter = field(default_factory=Counter)   # score -> learners
    passed_by: list = field(default_factory=list)

    @property
    def pass_rate(self):
        """Passed over learners with a submission; None when there are none (no rate for 0 of 0)."""
        return self.passed / self.learners if self.learners else None

    @property
    def attempt_pass_rate(self):
        """Passed over learners who attempted the exercise (passed or failed); None when nobody did."""
        attempts = self.passed + self.failed
        return self.passed / attempts if attempts else None


@dataclass
class SlipStats:
    slip: str
    failures: int = 0                                  # learner-exercise failures it explains
    learners: set = field(default_factory=set)
    exercises: Counter = field(default_factory=Counter)


@dataclass
class Insight:
    assignment: str
    exercises: list                                    # [ExerciseStats]
    slips: list                                        # [SlipStats], most learners first
    totals: list                                       # total score per learner with a submission
    max_total: float
    absent: list
    untouched: list = field(default_factory=list)      # learners with a submission who attempted nothing

    @property
    def nobody_passed(self):
        return [s.exercise.name for s in self.exercises if s.learners and not s.passed]

    def exercise(self, name):
        return next(s for s in self.exercises if s.exercise.name == name)

    def slip(self, name):
        return next((s for s in self.slips if s.slip == name), None)


def _not_graded_reason(message):
    return NOT_SUBMITTED if message and "is missing from the submission" in message else NOT_GRADED


def summarize(data):
    """The ``Insight`` for a class: exact counts, per exercise and across the class."""
    stats = {e.name: ExerciseStats(e) for e in data.exercises}
    by_slip, untouched = {}, []
    for learner in data.learners:
        attempted = False
        for exercise in data.exercises:
            s = stats[exercise.name]
            s.learners += 1
            score = float(learner.scores.get(exercise.name, 0.0))
            s.scores[score] += 1
            verdict = learner.verdicts.get(exercise.name) or {}
            if score >= exercise.max_score - TOLERANCE and exercise.max_score > 0:
                s.passed += 1
                s.passed_by.append(learner.student)
                attempted = True
                continue
            if verdict.get("not_graded"):
                s.not_graded += 1
                s.not_graded_reasons[_not_graded_reason(verdict["not_graded"])] += 1
                continue
            if verdict.get("slip") == slips.NOT_WRITTEN:
                s.not_attempted += 1
                continue
            attempted = True
            s.failed += 1
            slip = verdict.get("slip") or OTHER
            s.slips[slip] += 1
            found = by_slip.setdefault(slip, SlipStats(slip))
            found.failures += 1
            found.learners.add(learner.student)
            found.exercises[exercise.name] += 1
        if not attempted:
            untouched.append(learner.student)
    ranked = sorted(by_slip.values(), key=lambda s: (-len(s.learners), -s.failures, s.slip))
    return Insight(data.assignment, [stats[e.name] for e in data.exercises], ranked,
                   [learner.total for learner in data.learners], data.max_total, list(data.absent), untouched)


# ---------------------------------------------------------------- charts (matplotlib, Agg)

def _png(figure):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    FigureCanvasAgg(figure)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    return out.getvalue()


def _figure(width, height):
    from matplotlib.figure import Figure  # the object API: no pyplot state, no GUI backend
    return Figure(figsize=(width, height), layout="constrained")


def score_chart(totals, max_total):
    """A histogram of the learners' total scores."""
    import numpy as np
    figure = _figure(7, 3)
    axes = figure.add_subplot()
    top = max([max_total, *totals, 1.0])
    if all(float(t).is_integer() for t in totals) and top <= 100:
        edges = np.arange(-0.5, top + 1.0, 1.0)
    else:
        edges = np.linspace(0.0, top, 21)
    axes.hist(totals, bins=edges, color="#4477aa", edgecolor="white")
    axes.set_xlim(edges[0], edges[-1])
    axes.set_xlabel(f"total score (out of {max_total:g})")
    axes.set_ylabel("learners")
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_title(f"Total scores ({len(totals)} learner{'s' if len(totals) != 1 else ''})")
    return _png(figure)


def pass_rate_chart(exercises):
    """Per exercise, stacked: passed, failed, did not attempt, not graded; the pass rate at the end."""
    names = [s.exercise.name for s in exercises]
    figure = _figure(7, 1.2 + 0.32 * max(len(names), 1))
    axes = figure.add_subplot()
    rows = list(range(len(names)))[::-1]
    passed = [s.passed for s in exercises]
    failed = [s.failed for s in exercises]
    untried = [s.not_attempted for s in exercises]
    missing = [s.not_graded for s in exercises]
    axes.barh(rows, passed, color="#228833", label="passed (full points)")
    axes.barh(rows, failed, left=passed, color="#ee6677", label="failed")
    axes.barh(rows, untried, left=[p + f for p, f in zip(passed, failed)], color="#88ccee", label="did not attempt")
    axes.barh(rows, missing, left=[p + f + u for p, f, u in zip(passed, failed, untried)], color="#bbbbbb",
              label="not graded")
    for row, s in zip(rows, exercises):
        axes.text(s.learners, row, f" {percent(s.pass_rate)}", va="center", fontsize=8)
    axes.set_yticks(rows, names, fontsize=8)
    axes.set_ylim(-0.6, len(names) - 0.4)
    axes.set_xlabel("learners")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_xlim(0, max([s.learners for s in exercises] + [1]) * 1.12)
    axes.set_title("Pass rate per exercise")
    figure.legend(loc="outside lower center", ncol=4, fontsize=8, frameon=False)
    return _png(figure)


def slip_chart(slip_stats, limit=12):
    """The most common slips: learners who made each."""
    shown = slip_stats[:limit]
    figure = _figure(7, 0.8 + 0.32 * max(len(shown), 1))
    axes = figure.add_subplot()
    rows = list(range(len(shown)))[::-1]
    axes.barh(rows, [len(s.learners) for s in shown], color="#ccbb44")
    names = [label(s.slip) for s in shown]
    axes.set_yticks(rows, [name if len(name) <= 60 else name[:57] + "..." for name in names], fontsize=8)
    axes.set_xlabel("learners")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_title("Most common slips across the class")
    return _png(figure)


# ---------------------------------------------------------------- the page

def percent(rate):
    """A rate as the page shows it: "—" where there is nothing to divide (never "0%" for 0 of 0)."""
    return "\u2014" if rate is None else f"{100 * rate:.0f}%"


def _count(n, one, many=None):
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _ranked(counter):
    """A Counter's items, most first, ties by name."""
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))


def _why_nobody(s):
    if not s.passed + s.failed:
        return "nobody attempted it" + (f" ({s.not_graded} not graded)" if s.not_graded else "")
    said = [f"{s.failed} failed"]
    if s.not_attempted:
        said.append(f"{s.not_attempted} did not attempt it")
    if s.not_graded:
        said.append(f"{s.not_graded} not graded")
    return ", ".join(said)


def _summary(insight):
    totals = insight.totals
    if not totals and not insight.absent:
        return "No submissions"
    summary = f"{_count(len(totals), 'learner')} with a submission" if totals else "No submissions"
    if insight.absent:
        summary += f", {_count(len(insight.absent), 'learner')} in the gradebook without one"
    if totals:
        summary += (f"; total scores out of {insight.max_total:g}: mean {statistics.mean(totals):.2f}, "
                    f"median {statistics.median(totals):g}, lowest {min(totals):g}, highest {max(totals):g}")
    if insight.untouched:
        summary += f"; {_count(len(insight.untouched), 'learner')} attempted no exercise"
    return summary


def _b64(png):
    return base64.b64encode(png).decode()


def render_html(insight, csv_name=None, names=()):
    """The instructor's page for one assignment (self-contained: charts embedded as PNG); ``names``:
    the learners it covers, kept in a ``<meta>`` so a later page never silently covers fewer."""
    learners = len(insight.totals)
    charts = {
        "scores": _b64(score_chart(insight.totals, insight.max_total)) if learners else None,
        "pass_rate": _b64(pass_rate_chart(insight.exercises)) if insight.exercises and learners else None,
        "slips": _b64(slip_chart(insight.slips)) if insight.slips else None,
    }
    return TEMPLATES.get_template("insight.html.j2").render(
        insight=insight, csv_name=csv_name, names_json=json.dumps(sorted(names)), learners_meta=LEARNERS_META,
        summary=_summary(insight), charts=charts, distribution=sorted(Counter(insight.totals).items()),
        label=label, percent=percent, count=_count, ranked=_ranked, why_nobody=_why_nobody,
        number=lambda value: f"{value:g}")


def insight_path(csv_path, assignment):
    """``insight-<assignment>.html`` in the CSV's folder."""
    return Path(csv_path).parent / f"insight-{assignment}.html"


def covered_learners(path):
    """``(names, count)`` of learners with a submission an existing page covers: ``names`` from its
    ``<meta>`` (None on pages written before it), ``count`` from the meta or the page's summary."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set(), 0
    found = _LEARNERS_META.search(text)
    if found:
        try:
            names = set(json.loads(html.unescape(found["names"])))
            return names, len(names)
        except (ValueError, TypeError):
            pass
    old = _OLD_SUMMARY.search(text)
    return None, int(old["count"]) if old else 0


def write_html(insight, path, csv_name=None, names=None):
    """Write the page (atomically); refuse (``Shrinking``) to replace one that covered a learner
    ``names`` lacks, or, for an older page without the list, more learners than ``names`` has."""
    path = Path(path)
    if names is not None:
        old, count = covered_learners(path)
        dropped = sorted(old - set(names)) if old is not None else []
        if dropped or (old is None and count > len(names)):
            who = f"{len(dropped)} learner(s) ({', '.join(dropped[:5])}{', ...' if len(dropped) > 5 else ''})" \
                if dropped else f"{count} learners"
            raise Shrinking(f"kept {path} as it was: it covers {who} with a submission that the gradebook "
                            f"in use does not hold")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render_html(insight, csv_name, names or ()), encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_insight(db_url, assignment, course_id, csv_path, ledger_dir=None):
    """Read the gradebook and ledger, write ``insight-<assignment>.html`` next to ``csv_path``; its path.
    Raises ``Shrinking`` (and keeps the old page) rather than cover fewer learners than the old page."""
    data = from_gradebook(db_url, assignment, course_id, ledger_dir)
    return write_html(summarize(data), insight_path(csv_path, assignment), Path(csv_path).name,
                      names=[learner.student for learner in data.learners])


def main(argv=None):
    from autograder.instructor.grading import book
    from autograder.instructor.settings import CourseRootError, course_settings, database_url, find_course_root
    parser = argparse.ArgumentParser(prog="python -m autograder.instructor.insight", description=__doc__.split("\n")[0])
    parser.add_argument("assignment", help="the nbgrader assignment, e.g. autodiff")
    parser.add_argument("--course-root", help="the nbgrader course root (default: the current folder)")
    parser.add_argument("--db-url", metavar="URL", help="the gradebook (default: the course's sqlite gradebook.db)")
    parser.add_argument("--csv", dest="csv_path", help="the grades CSV whose folder gets the page "
                                                       "(default <course root>/grades-<assignment>.csv)")
    args = parser.parse_args(argv)
    try:
        root = find_course_root(args.course_root)
    except CourseRootError as error:
        parser.error(str(error))
    course_id, default_db = course_settings(root)
    try:
        path = write_insight(database_url(args.db_url) or default_db, args.assignment, course_id,
                             args.csv_path or root / f"grades-{args.assignment}.csv",
                             ledger_dir=root / book.LEDGER / args.assignment)
    except Shrinking as refused:
        print(f"class insight not written: {refused}")
        return 1
    print(f"class insight: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

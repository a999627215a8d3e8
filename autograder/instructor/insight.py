"""Class insight for the instructor: per exercise, who passed, the scores, and the usual slips.

After ``python -m autograder.instructor.grade`` has graded a class, ``write_insight`` writes
``insight-<assignment>.html`` next to the CSV (instructor only: it is not in ``feedback/``, so
nothing sends it to learners). One self-contained page:

- per exercise: the pass rate (full points) among the learners who submitted the assignment,
  how many failed with a verdict from the grader and how many had no verdict (the notebook
  was missing or could not be graded), the score distribution, and the most common slips;
- which exercises nobody passed;
- the slips across the class: how many failures each explains, and which learners made it;
- charts (matplotlib, Agg, embedded as PNG): the total scores, the pass rate per exercise,
  the most common slips.

Scores come from nbgrader's gradebook (so a manual grade counts); slips come from the
grader's verdicts, which ``book.Writer`` keeps per learner in ``.grading/<assignment>/<student>.json``
under ``"exercises"`` (``exercise_verdicts`` below, parsed from the judge's failure notes).
A slip is named by the family words of ``autograder.checking.slips`` when the check's message has them
(``sign flipped``, ``off by a constant factor``, ``not written yet``, ...), else by the check's
own words (the text after ``Likely slip --`` up to its first ``:``), else ``raised an error``
or ``other``.

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
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from autograder.checking import slips
from autograder.instructor.grading.book import Shrinking
from autograder.instructor.grading.verdicts import OTHER, TOLERANCE, exercise_verdicts

NOT_SUBMITTED = "notebook not submitted"
NOT_GRADED = "notebook could not be graded"
LABELS = {slips.DELEGATED: "handed the work to torch (delegated)"}  # slip names shown as words
LEARNERS_META = "autograder-learners"
_LEARNERS_META = re.compile(rf'<meta name="{LEARNERS_META}" content="(?P<names>[^"]*)">')
_OLD_SUMMARY = re.compile(r'<p id="class-summary">(?P<count>\d+) learners? with a submission')


def label(slip):
    """A slip as the page shows it."""
    return LABELS.get(slip, slip)


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


def ledger_verdicts(entry, cells):
    """The verdicts of a ledger entry: its ``"exercises"``, else parsed from its notebooks' notes."""
    if isinstance(entry.get("exercises"), dict):
        return entry["exercises"]
    if not entry.get("notebooks"):
        return {}
    return exercise_verdicts({"notebooks": entry["notebooks"]}, cells)


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
            verdicts = ledger_verdicts(read_ledger(ledger_dir, student.id), cells)
            learners.append(Learner(student.id, float(submission.score or 0.0), scores, verdicts))
        return ClassData(assignment, exercises, learners, float(master.max_score or 0.0), absent)


# ---------------------------------------------------------------- the numbers

@dataclass
class ExerciseStats:
    exercise: Exercise
    learners: int = 0                                  # learners with a submission
    passed: int = 0                                    # full points
    failed: int = 0                                    # less than full points, with the grader's verdict
    not_graded: int = 0                                # no verdict: notebook missing or not gradable
    not_graded_reasons: Counter = field(default_factory=Counter)
    slips: Counter = field(default_factory=Counter)    # slip -> learners
    details: dict = field(default_factory=lambda: defaultdict(Counter))  # slip -> Counter(detail)
    scores: Counter = field(default_factory=Counter)   # score -> learners
    passed_by: list = field(default_factory=list)

    @property
    def pass_rate(self):
        return self.passed / self.learners if self.learners else 0.0


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
    by_slip = {}
    for learner in data.learners:
        for exercise in data.exercises:
            s = stats[exercise.name]
            s.learners += 1
            score = float(learner.scores.get(exercise.name, 0.0))
            s.scores[score] += 1
            verdict = learner.verdicts.get(exercise.name) or {}
            if score >= exercise.max_score - TOLERANCE and exercise.max_score > 0:
                s.passed += 1
                s.passed_by.append(learner.student)
                continue
            if verdict.get("not_graded"):
                s.not_graded += 1
                s.not_graded_reasons[_not_graded_reason(verdict["not_graded"])] += 1
                continue
            s.failed += 1
            slip = verdict.get("slip") or OTHER
            s.slips[slip] += 1
            s.details[slip][verdict.get("detail") or slip] += 1
            found = by_slip.setdefault(slip, SlipStats(slip))
            found.failures += 1
            found.learners.add(learner.student)
            found.exercises[exercise.name] += 1
    ranked = sorted(by_slip.values(), key=lambda s: (-len(s.learners), -s.failures, s.slip))
    return Insight(data.assignment, [stats[e.name] for e in data.exercises], ranked,
                   [learner.total for learner in data.learners], data.max_total, list(data.absent))


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
    """Per exercise, stacked: passed, failed with a verdict, not graded; the pass rate at the end."""
    names = [s.exercise.name for s in exercises]
    figure = _figure(7, 1.2 + 0.32 * max(len(names), 1))
    axes = figure.add_subplot()
    rows = list(range(len(names)))[::-1]
    passed = [s.passed for s in exercises]
    failed = [s.failed for s in exercises]
    missing = [s.not_graded for s in exercises]
    axes.barh(rows, passed, color="#228833", label="passed (full points)")
    axes.barh(rows, failed, left=passed, color="#ee6677", label="failed")
    axes.barh(rows, missing, left=[p + f for p, f in zip(passed, failed)], color="#bbbbbb", label="not graded")
    for row, s in zip(rows, exercises):
        axes.text(s.learners, row, f" {100 * s.pass_rate:.0f}%", va="center", fontsize=8)
    axes.set_yticks(rows, names, fontsize=8)
    axes.set_ylim(-0.6, len(names) - 0.4)
    axes.set_xlabel("learners")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_xlim(0, max([s.learners for s in exercises] + [1]) * 1.12)
    axes.set_title("Pass rate per exercise")
    figure.legend(loc="outside lower center", ncol=3, fontsize=8, frameon=False)
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

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.none { color: #b00; font-weight: bold; }
img { max-width: 100%; display: block; margin: 1em 0; }
small { color: #666; }
"""


def _img(png, alt):
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _count(n, one, many=None):
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _slips_cell(s):
    if not s.slips:
        return ""
    parts = []
    for slip, n in sorted(s.slips.items(), key=lambda item: (-item[1], item[0])):
        details = [d for d, _ in sorted(s.details[slip].items(), key=lambda item: (-item[1], item[0])) if d != slip]
        said = f" <small>({html.escape('; '.join(details[:2]))})</small>" if details else ""
        parts.append(f"{html.escape(label(slip))} &times;{n}{said}")
    return "<br>".join(parts)


def render_html(insight, csv_name=None, names=()):
    """The instructor's page for one assignment (self-contained: charts embedded as PNG); ``names``:
    the learners it covers, kept in a ``<meta>`` so a later page never silently covers fewer."""
    e = html.escape
    totals = insight.totals
    learners = len(totals)
    lines = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f'<meta name="{LEARNERS_META}" content="{e(json.dumps(sorted(names)))}">',
             f"<title>Class insight: {e(insight.assignment)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>Class insight: {e(insight.assignment)}</h1>",
             "<p><small>For the instructor only (not part of any learner's feedback). Pass = full points; "
             "rates are over the learners with a submission. Scores are the gradebook's; slips are the "
             "grader's reasons for a failed exercise."
             + (f" Scores per learner and exercise: <code>{e(csv_name)}</code>." if csv_name else "")
             + "</small></p>"]
    summary = f"{_count(learners, 'learner')} with a submission"
    if insight.absent:
        summary += f", {_count(len(insight.absent), 'learner')} in the gradebook without one"
    if totals:
        summary += (f"; total scores out of {insight.max_total:g}: mean {statistics.mean(totals):.2f}, "
                    f"median {statistics.median(totals):g}, lowest {min(totals):g}, highest {max(totals):g}")
    lines.append(f'<p id="class-summary">{e(summary)}.</p>')

    lines.append("<h2>Score distribution</h2>")
    if totals:
        lines.append(_img(score_chart(totals, insight.max_total), "histogram of total scores"))
        distribution = sorted(Counter(totals).items())
        lines.append('<table id="score-distribution"><tr><th>total score</th><th>learners</th></tr>')
        lines += [f'<tr><td class="n">{score:g}</td><td class="n">{n}</td></tr>' for score, n in distribution]
        lines.append("</table>")
    else:
        lines.append("<p>No submissions.</p>")

    lines.append("<h2>Exercises</h2>")
    if insight.exercises and learners:
        lines.append(_img(pass_rate_chart(insight.exercises), "pass rate per exercise"))
    lines.append('<table id="exercises"><tr><th>exercise</th><th>notebook</th><th>points</th><th>passed</th>'
                 "<th>pass rate</th><th>failed</th><th>not graded</th><th>scores (learners)</th>"
                 "<th>most common slips (learners)</th></tr>")
    for s in insight.exercises:
        scores = ", ".join(f"{score:g}: {n}" for score, n in sorted(s.scores.items(), reverse=True))
        reasons = "; ".join(f"{r} &times;{n}" for r, n in sorted(s.not_graded_reasons.items()))
        none = ' class="none"' if s.learners and not s.passed else ""
        lines.append(
            f'<tr id="exercise-{e(s.exercise.name)}"><td{none}>{e(s.exercise.name)}</td>'
            f"<td>{e(s.exercise.notebook)}</td><td class=\"n\">{s.exercise.max_score:g}</td>"
            f'<td class="n">{s.passed} / {s.learners}</td><td class="n">{100 * s.pass_rate:.0f}%</td>'
            f'<td class="n">{s.failed}</td><td class="n">{s.not_graded}'
            + (f" <small>({reasons})</small>" if reasons else "") + "</td>"
            f"<td>{e(scores)}</td><td>{_slips_cell(s)}</td></tr>")
    lines.append("</table>")

    lines.append("<h2>Nobody passed</h2>")
    nobody = [s for s in insight.exercises if s.learners and not s.passed]
    if nobody:
        lines.append('<ul id="nobody-passed">')
        for s in nobody:
            why = []
            if s.failed:
                why.append(f"{s.failed} failed")
            if s.not_graded:
                why.append(f"{s.not_graded} not graded")
            lines.append(f"<li><b>{e(s.exercise.name)}</b> ({e(s.exercise.notebook)}): {e(', '.join(why))}</li>")
        lines.append("</ul>")
    else:
        lines.append('<p id="nobody-passed">Every exercise was passed by at least one learner.</p>')

    lines.append("<h2>Slips across the class</h2>")
    if insight.slips:
        lines.append(_img(slip_chart(insight.slips), "most common slips"))
        lines.append('<table id="slips"><tr><th>slip</th><th>learners</th><th>failures</th><th>exercises</th>'
                     "<th>who</th></tr>")
        for s in insight.slips:
            where = ", ".join(f"{name} ({n})" for name, n in sorted(s.exercises.items(), key=lambda i: (-i[1], i[0])))
            lines.append(f"<tr><td>{e(label(s.slip))}</td><td class=\"n\">{len(s.learners)}</td>"
                         f"<td class=\"n\">{s.failures}</td><td>{e(where)}</td>"
                         f"<td><details><summary>{_count(len(s.learners), 'learner')}</summary>"
                         f"{e(', '.join(sorted(s.learners)))}</details></td></tr>")
        lines.append("</table>")
    else:
        lines.append("<p>No failed exercise.</p>")
    lines.append("</body></html>")
    return "\n".join(lines) + "\n"


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

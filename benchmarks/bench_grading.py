"""Grade one class with stock ``nbgrader autograde`` (serial) and with ``autograder.instructor.grade``.

    python benchmarks/bench_grading.py [--learners 6] [--workers 1 2 3] [--out benchmarks/grading_results.md]

The class is generated from the real course: learners cycle through a full solution, a
partial one and an untouched release, each with every notebook of the course. Every run starts from
a fresh copy of the same course root; ours runs without feedback (stock autograde makes none)
and once more with feedback. Each run's gradebook must equal stock's, so a faster run is
never a wrong one. Results go to a markdown table; this is a measurement, not a test.
"""

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from corpus import course  # noqa: E402
from nbgrader.api import Gradebook  # noqa: E402

from autograder.instructor.grade import grade_class  # noqa: E402

KINDS = {
    "full": dict(engine_units=course.all_units(), answers=course.all_answers()),
    "partial": dict(engine_units=course.all_units()[:7], answers=course.all_answers()[:3]),
    "blank": {},
}


def make_class(released, folder, learners):
    root = Path(shutil.copytree(released, folder))
    kinds = list(KINDS)
    for number in range(learners):
        kind = kinds[number % len(kinds)]
        course.submit(root, f"learner{number:03d}-{kind}", **KINDS[kind])
    return root


def saved(root):
    with Gradebook(f"sqlite:///{root}/gradebook.db", course.COURSE_ID) as gradebook:
        return {(s.student.id, nb.name, g.name): (g.auto_score, g.needs_manual_grade)
                for s in gradebook.assignment_submissions(course.ASSIGNMENT)
                for nb in s.notebooks for g in nb.grades}


def run_stock(root):
    env = {**os.environ, "PYTHONPATH": str(REPO),
           "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", course.ASSIGNMENT, "--log-level=ERROR"],
                          cwd=root, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"stock nbgrader autograde failed:\n{done.stderr[-3000:]}")
    return seconds


def run_ours(root, workers, feedback):
    started = time.perf_counter()
    summary = grade_class(course.ASSIGNMENT, root, workers=workers, progress=False, feedback=feedback)
    seconds = time.perf_counter() - started
    if summary.failed:
        raise RuntimeError(f"grading failed: {summary.failed}")
    return seconds, summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, default=6)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "grading_results.md"))
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as scratch:
        scratch = Path(scratch)
        released = course.build_course(scratch / "released")
        rows = []
        stock_root = make_class(released, scratch / "stock", args.learners)
        stock_seconds = run_stock(stock_root)
        reference = saved(stock_root)
        rows.append(("stock `nbgrader autograde` (serial)", 1, stock_seconds, "yes"))
        print(f"stock: {stock_seconds:.1f} s", flush=True)
        for workers in args.workers:
            root = make_class(released, scratch / f"ours-{workers}", args.learners)
            seconds, summary = run_ours(root, workers, feedback=False)
            same = "yes" if saved(root) == reference else "NO"
            rows.append(("`autograder.instructor.grade` --no-feedback", workers, seconds, same))
            print(f"ours, {workers} worker(s): {seconds:.1f} s, grades equal stock: {same}", flush=True)
        workers = min(max(args.workers), os.cpu_count() or 1)
        root = make_class(released, scratch / "ours-feedback", args.learners)
        seconds, summary = run_ours(root, workers, feedback=True)
        rows.append(("`autograder.instructor.grade` with feedback", workers, seconds,
                     "yes" if saved(root) == reference else "NO"))
        sandbox = summary.sandbox
        notebooks = len(course.layout(released))
    write_table(Path(args.out), rows, stock_seconds, args.learners, notebooks, sandbox, load)
    print(Path(args.out).read_text())


def write_table(path, rows, stock_seconds, learners, notebooks, sandbox, load):
    lines = [
        "# Grading a class: stock nbgrader vs `autograder.instructor.grade`", "",
        f"Written by `benchmarks/bench_grading.py` on {time.strftime('%Y-%m-%d %H:%M')}: {learners} learners "
        f"x {notebooks} notebooks of the real course (full, partial and blank submissions in turn), "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, load average before the run "
        f"{load:.1f} (other work on the machine shows up here). Each run grades a fresh copy of the same "
        f"class; its gradebook is compared with stock's. Ours includes starting its Dask LocalCluster, "
        f"the sandbox ({sandbox}) and the judge (every exercise checked again in a torch-free sandboxed "
        "worker: the score).", "",
        "| run | workers | wall time (s) | per submission (s) | speed-up vs stock | same grades as stock |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, workers, seconds, same in rows:
        lines.append(f"| {name} | {workers} | {seconds:.1f} | {seconds / learners:.1f} | "
                     f"{stock_seconds / seconds:.2f}x | {same} |")
    lines += ["", "Why it is faster: one warm, sandboxed kernel factory per submission imports torch and "
              "ipykernel once and forks a fresh kernel per notebook (stock starts a new interpreter and "
              "imports torch for every notebook), and submissions run in parallel, one single-threaded "
              "worker per core.", ""]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    main()

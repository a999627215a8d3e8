"""How long each solution notebook takes to run top to bottom, kernel start excluded.

    python benchmarks/bench_notebooks.py [--write]

Each notebook runs in a fresh kernel (cwd solutions/, the reference engine), as nbval and
nbgrader run it; the clock starts once the kernel is up and stops after the last cell. Target:
under 10 s each on a 2-core machine. ``--write`` puts the table in benchmarks/notebook_results.md.
"""

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import nbclient
import nbformat

SOLUTIONS = Path(__file__).resolve().parent.parent / "solutions"
RESULTS = Path(__file__).resolve().parent / "notebook_results.md"


def run_time(path):
    """Seconds from an idle kernel to the end of the last cell; the kernel start is timed apart."""
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(SOLUTIONS)}})
    started = time.perf_counter()
    with client.setup_kernel():
        ready = time.perf_counter()
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
        finished = time.perf_counter()
    return ready - started, finished - ready


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    rows = []
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        runs = [run_time(path) for _ in range(args.repeat)]
        start = statistics.median(r[0] for r in runs)
        body = statistics.median(r[1] for r in runs)
        rows.append(f"| `{path.stem}` | {body:.1f} s | {start:.1f} s | {'yes' if body < 10 else 'NO'} |")
        print(rows[-1], flush=True)
    table = "\n".join([
        "| notebook | run time (kernel start excluded) | kernel start | under 10 s |",
        "|---|---:|---:|:---:|", *rows, "",
        f"Median of {args.repeat} runs, {time.strftime('%Y-%m-%d')}, {platform.machine()}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end. The run time includes "
        "the notebook's own `import torch` and every visible and hidden check.",
    ])
    if args.write:
        RESULTS.write_text("# Solution notebooks: run time\n\nProduced by `python benchmarks/bench_notebooks.py "
                           "--write`.\n\n" + table + "\n")
    print(table)


if __name__ == "__main__":
    main()

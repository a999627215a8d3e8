"""What a learner's session with every notebook open holds in memory: one kernel per notebook, all
alive at once, each having run its notebook top to bottom, plus the Jupyter server.

    python benchmarks/bench_memory.py [--notebooks solutions] [--write]

Every notebook of the folder runs in its own kernel (cwd that folder, as JupyterLab starts it);
all stay up until each has been measured. Per kernel: RSS (what a process monitor shows), USS
(pages only it holds) and PSS (its own pages plus a fair share of the ones it shares, e.g. torch's
libraries, which every kernel maps from the same files). Summed RSS counts those shared pages
once per kernel; summed PSS counts them once, as the kernel's memory cgroup -- Binder's limit --
does. The server is measured idle, with no kernel of its own. Linux only (PSS and USS come from
/proc). ``--write`` puts the table in benchmarks/memory_results.md.
"""

import argparse
import contextlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbclient
import nbformat
import psutil

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "memory_results.md"
MB = 1024 * 1024
BINDER_LIMIT_MB = 2048  # mybinder.org's usual memory limit


def memory(pid):
    """(rss, uss, pss) in MB of a process and its children."""
    process = psutil.Process(pid)
    totals = [0, 0, 0]
    for each in [process, *process.children(recursive=True)]:
        info = each.memory_full_info()
        for i, value in enumerate((info.rss, info.uss, info.pss)):
            totals[i] += value / MB
    return tuple(totals)


def kernels_after_running(folder):
    """{notebook name: (rss, uss, pss)}, every kernel alive while all are measured."""
    measured = {}
    with contextlib.ExitStack() as stack:
        clients = {}
        for path in sorted(folder.glob("*.ipynb")):
            notebook = nbformat.read(path, as_version=4)
            client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3", allow_errors=True,
                                             resources={"metadata": {"path": str(folder)}})
            stack.enter_context(client.setup_kernel())  # left running until the stack closes
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index)
            clients[path.stem] = client
        time.sleep(2)  # let each kernel settle (garbage, output buffers) before measuring
        for name, client in clients.items():
            measured[name] = memory(client.km.provisioner.pid)
    return measured


def idle_server():
    """(rss, uss, pss) of `jupyter lab` with no kernel, a throwaway config and no browser."""
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(os.environ, JUPYTER_CONFIG_DIR=scratch, JUPYTER_RUNTIME_DIR=scratch)
        port = 18_000 + os.getpid() % 1000
        jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or "jupyter"
        server = subprocess.Popen([jupyter, "lab", "--no-browser", "--allow-root", f"--port={port}",
                                   "--ServerApp.port_retries=0", "--ServerApp.token=T", "--ServerApp.ip=127.0.0.1",
                                   f"--ServerApp.root_dir={REPO / 'course'}"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        try:
            for _ in range(120):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token=T", timeout=2)
                    break
                except OSError:
                    time.sleep(0.5)
            else:
                raise TimeoutError("jupyter lab did not start")
            urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token=T", timeout=30).read()  # the page built
            time.sleep(2)
            return memory(server.pid)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


def table(kernels, server):
    rows = ["| process | RSS | USS | PSS |", "|---|---:|---:|---:|"]
    rows += [f"| kernel `{name}` | {r:.0f} MB | {u:.0f} MB | {p:.0f} MB |" for name, (r, u, p) in kernels.items()]
    sums = [sum(values) for values in zip(*kernels.values())]
    rows.append(f"| all {len(kernels)} kernels | {sums[0]:.0f} MB | {sums[1]:.0f} MB | {sums[2]:.0f} MB |")
    rows.append(f"| Jupyter server, idle | {server[0]:.0f} MB | {server[1]:.0f} MB | {server[2]:.0f} MB |")
    total = [k + s for k, s in zip(sums, server)]
    rows.append(f"| **session: server + every kernel** | {total[0]:.0f} MB | {total[1]:.0f} MB | "
                f"**{total[2]:.0f} MB** |")
    return "\n".join(rows), total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--notebooks", type=Path, default=REPO / "solutions",
                        help="the folder whose notebooks to open (default: solutions/, every cell runs to the end)")
    parser.add_argument("--write", action="store_true", help="write benchmarks/memory_results.md")
    args = parser.parse_args()
    kernels = kernels_after_running(args.notebooks.resolve())
    server = idle_server()
    text, total = table(kernels, server)
    verdict = "under" if total[2] < BINDER_LIMIT_MB else "OVER"
    folder = args.notebooks.resolve()
    shown = folder.relative_to(REPO) if folder.is_relative_to(REPO) else folder
    note = (f"\nThe session's PSS, {total[2]:.0f} MB, is {verdict} Binder's {BINDER_LIMIT_MB} MB. "
            f"{platform.machine()}, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}, "
            f"notebooks from `{shown}`.")
    print(text + "\n" + note)
    if args.write:
        RESULTS.write_text("# Memory: a session with every notebook open\n\n"
                           "Produced by `python benchmarks/bench_memory.py --write` (see its docstring for what RSS, "
                           "USS and PSS mean here).\n\n" + text + "\n" + note + "\n")


if __name__ == "__main__":
    main()

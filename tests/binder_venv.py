"""A Binder-like environment for tests: a fresh venv built from a repository's binder/ folder."""

import os
import subprocess
import textwrap
import venv

# Runs inside a Binder venv: execute each notebook cell by cell, stop at the first error. Shared by
# notebooks/test_binder.py (this repository) and instructor/test_publish.py (the published one).
RUN_UNTIL_FIRST_ERROR = textwrap.dedent("""
    import json, sys, nbclient, nbformat
    from pathlib import Path
    course = Path(sys.argv[1])
    report = {}
    for path in sorted(course.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                         resources={"metadata": {"path": str(course)}})
        first_error = None
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                try:
                    client.execute_cell(cell, index)
                except nbclient.exceptions.CellExecutionError as error:
                    first_error = dict(index=index, cell=cell, ename=error.ename, evalue=error.evalue)
                    break
        report[path.name] = dict(first_error=first_error, cells_run=index + 1)
    print(json.dumps(report))
""")


def build(repo, env_dir):
    """Create ``env_dir``, install ``repo``'s binder/requirements.txt and run its binder/postBuild, as Binder
    would (no PYTHONPATH from the test run leaks in); ``(bin folder, environment)``."""
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / "bin"
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environ.update(PATH=f"{bin_dir}:{environ['PATH']}", VIRTUAL_ENV=str(env_dir))
    steps = [[str(bin_dir / "pip"), "install", "-q", "--retries", "1", "--timeout", "15",
              "-r", "binder/requirements.txt"],
             ["bash", "binder/postBuild"]]
    for step in steps:
        result = subprocess.run(step, cwd=repo, env=environ, capture_output=True, text=True, timeout=1200)
        assert result.returncode == 0, f"{step}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return bin_dir, environ

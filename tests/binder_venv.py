"""A Binder-like environment for tests: a fresh venv built from a repository's binder/ folder (one per
test session: the conftest's ``binder_venv``)."""

import json
import os
import subprocess
import textwrap
import venv

# Runs inside a Binder venv: execute each notebook (of a course folder; argv[2]: a glob of which, by
# default all) cell by cell, stop at the first error. Shared by notebooks/test_binder.py (this
# repository) and instructor/test_publish.py (the published one).
RUN_UNTIL_FIRST_ERROR = textwrap.dedent("""
    import json, sys, nbclient, nbformat
    from pathlib import Path
    course = Path(sys.argv[1])
    report = {}
    for path in sorted(course.glob(sys.argv[2] if len(sys.argv) > 2 else "*.ipynb")):
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


class BinderVenv:
    """A venv holding a ``binder/requirements.txt``, as Binder's image would, shared by the tests that
    run a repository on Binder (this one, the published learner one: the same requirements file).
    Each runs its repository's ``binder/postBuild`` into it first (``post_build``); what an earlier
    postBuild installed is uninstalled before, so no repository sees another's package."""

    def __init__(self, env_dir, requirements):
        venv.EnvBuilder(with_pip=True).create(env_dir)
        self.requirements = requirements.read_text()
        self.bin_dir = env_dir / "bin"
        self.environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # nothing of the test run leaks in
        self.environ.update(PATH=f"{self.bin_dir}:{self.environ['PATH']}", VIRTUAL_ENV=str(env_dir))
        # --no-compile: Binder's image byte-compiles every module; here only those imported get compiled,
        # when they are (torch and JupyterLab are thousands of files: about half a minute of CPU)
        self._run([str(self.bin_dir / "pip"), "install", "-q", "--no-compile", "--retries", "1", "--timeout", "15",
                   "-r", str(requirements)], cwd=env_dir)
        self.baseline = self._installed()

    def _run(self, command, cwd):
        result = subprocess.run(command, cwd=cwd, env=self.environ, capture_output=True, text=True, timeout=1200)
        assert result.returncode == 0, f"{command}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        return result.stdout

    def _installed(self):
        listed = self._run([str(self.bin_dir / "pip"), "list", "--format=json"], cwd=self.bin_dir)
        return {package["name"] for package in json.loads(listed)}

    def post_build(self, repo):
        """Run ``repo``'s binder/postBuild (its requirements must be this venv's); ``(bin folder,
        environment)`` to run its notebooks with."""
        assert (repo / "binder" / "requirements.txt").read_text() == self.requirements
        extra = sorted(self._installed() - self.baseline)
        if extra:
            self._run([str(self.bin_dir / "pip"), "uninstall", "-q", "-y", *extra], cwd=repo)
        self._run(["bash", "binder/postBuild"], cwd=repo)
        return self.bin_dir, self.environ

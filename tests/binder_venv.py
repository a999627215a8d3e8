"""A Binder-like environment for tests: a fresh venv built from a repository's binder/ folder."""

import os
import subprocess
import venv


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

"""A throwaway PostgreSQL server on 127.0.0.1 for the tests that grade into a shared gradebook."""

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest


def _server_binary(name):
    installed = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))  # Debian keeps them off PATH
    return shutil.which(name) or (str(installed[-1]) if installed else None)


@contextlib.contextmanager
def running_postgres():
    """Yield the URL of a fresh server (skip the test where its binaries are missing); stop it after."""
    initdb, pg_ctl = _server_binary("initdb"), _server_binary("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found; CI needs: "
                    "apt-get update && apt-get install -y postgresql")
    as_user, folder = {}, Path(tempfile.mkdtemp(prefix="pg-"))
    if os.geteuid() == 0:  # postgres refuses to run as root
        names = {p.pw_name for p in pwd.getpwall()}
        account = pwd.getpwnam("postgres" if "postgres" in names else "nobody")
        os.chown(folder, account.pw_uid, account.pw_gid)
        as_user = dict(user=account.pw_uid, group=account.pw_gid)
    data = folder / "data"
    subprocess.run([initdb, "-D", str(data), "-U", "grader", "--auth=trust", "--no-sync"],
                   check=True, capture_output=True, **as_user)
    # postgres cannot be told "any free port": a probed port can be taken (by a kernel another
    # test worker starts) before the server binds it, so a start that fails is tried on another
    for attempt in range(5):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        started = subprocess.run([pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"),
                                  "-w", "start"], capture_output=True, **as_user)
        if started.returncode == 0:
            break
        if attempt == 4:
            started.check_returncode()
    try:
        yield f"postgresql://grader@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True, **as_user)
        shutil.rmtree(folder, ignore_errors=True)

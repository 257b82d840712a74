"""What the Ray tests share: killing an actor and waiting until it is gone, and a Ray head
started apart (`ray start --head`, as a cluster's is) that a fresh process joins by "host:port"."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import ray


def kill_and_wait(actor, timeout: float = 30.0) -> None:
    """ray.kill, then wait until the actor no longer answers: ray.kill returns before the
    process is gone, and a call made just after may still be served."""
    ray.kill(actor)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ray.get(actor.__ray_ready__.remote(), timeout=10)
        except ray.exceptions.RayActorError:
            return
        time.sleep(0.05)
    raise AssertionError("the killed actor still answers")


def run_joined(script: str, repo: str) -> subprocess.CompletedProcess:
    """Start a head on a free port, run `script.format(port=port)` in a fresh Python with
    `repo` on its path (retried until the head answers, at most a minute), stop the head.
    Returns the script's completed process; fails the test if it never succeeded."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    temp = tempfile.mkdtemp(prefix="tfray", dir="/tmp")   # no other ray.init() finds it
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_AUTH_MODE", "RAY_ADDRESS")}
    env["PYTHONPATH"] = repo
    cli = os.path.join(os.path.dirname(sys.executable), "ray")
    head = subprocess.Popen([cli, "start", "--head", "--block", f"--port={port}",
                             "--num-cpus=1", "--include-dashboard=false", f"--temp-dir={temp}",
                             "--disable-usage-stats"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        joined, deadline = None, time.monotonic() + 60
        while time.monotonic() < deadline and head.poll() is None:   # its port first: each
            try:                                   # try below is a Python importing tinyflow
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        while time.monotonic() < deadline:         # until the head answers
            joined = subprocess.run([sys.executable, "-c", script.format(port=port)], env=env,
                                    capture_output=True, text=True, timeout=120)
            if joined.returncode == 0 or head.poll() is not None:
                break
            time.sleep(2)
        assert joined is not None and joined.returncode == 0, joined.stderr[-2000:]
        return joined
    finally:
        head.terminate()                           # `--block`: it stops what it started
        try:
            head.wait(30)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait(10)
        shutil.rmtree(temp, ignore_errors=True)

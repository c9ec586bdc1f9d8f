"""Start, find and stop the sandbox as a background process (`profile-assets sandbox ...`).

`up` launches `python -m profile_assets.sandbox.service` detached, then waits until the
service has written its state file (addresses, credentials, pid). `down` stops exactly the
process that `up` started, identified by the pid recorded in that file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from profile_assets import settings
from profile_assets.sandbox.state import read_state


class SandboxError(RuntimeError):
    pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_state() -> dict | None:
    """The state of a live sandbox, or None (a stale state file is removed)."""
    state = read_state()
    if not state:
        return None
    if _alive(int(state.get("pid", -1))):
        return state
    settings.sandbox_state_path().unlink(missing_ok=True)
    return None


def start(
    people: int, seed: int, *, reset: bool = False, timeout: float = 600.0, quiet: bool = False
) -> dict:
    """Start the sandbox unless the same world already runs here; return its state.

    One world per home: REST cursors, CDC positions and file ledgers in the warehouse belong
    to the world that was loaded, so a different size or seed would silently skip records.
    That is refused, unless `reset` first empties the home of the old world's data.
    """
    state = running_state()
    if state and (state.get("people"), state.get("seed")) != (people, seed):
        raise SandboxError(
            f"a sandbox of {state.get('people')} people (seed {state.get('seed')}) is running in "
            f"{settings.home()}; stop it first (`profile-assets sandbox down`)"
        )
    if state:
        return state
    if reset:
        reset_home()
    _claim_world(people, seed)
    log_dir = settings.sandbox_dir()
    log_dir.mkdir(parents=True, exist_ok=True)
    log = (log_dir / "service.log").open("ab")
    cmd = [sys.executable, "-m", "profile_assets.sandbox.service"]
    cmd += ["--people", str(people), "--seed", str(seed)]
    proc = subprocess.Popen(
        cmd,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "PROFILE_ASSETS_HOME": str(settings.home())},
    )
    return _wait_ready(proc, timeout, log_dir / "service.log")


def _world_file() -> Path:
    return settings.sandbox_dir() / "world.json"


def _claim_world(people: int, seed: int) -> None:
    """Record which world this home holds, refusing a different one."""
    path = _world_file()
    wanted = {"people": people, "seed": seed}
    if path.exists():
        held = json.loads(path.read_text())
        if held != wanted:
            raise SandboxError(
                f"{settings.home()} holds the data of a {held['people']}-person world (seed "
                f"{held['seed']}), not {people} people (seed {seed}): start that world, use "
                "`--reset` to start clean, or set PROFILE_ASSETS_HOME to another folder"
            )
    elif settings.warehouse_path().exists():
        raise SandboxError(
            f"{settings.home()} holds a warehouse the sandbox did not load; set "
            "PROFILE_ASSETS_HOME to a folder of the sandbox's own"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(wanted))


def reset_home() -> None:
    """Remove a sandbox world's data from the home (only a home the sandbox filled)."""
    home = settings.home()
    if not home.exists():
        return
    if settings.warehouse_path().exists() and not _world_file().exists():
        raise SandboxError(f"{home} holds a warehouse the sandbox did not load; not resetting it")
    for child in home.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


def _wait_ready(proc: subprocess.Popen, timeout: float, log_path: Path) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise SandboxError(f"sandbox service exited with {proc.returncode}:\n{tail}")
        state = read_state()
        if state.get("pid") == proc.pid and state.get("ready"):
            return state
        time.sleep(0.2)
    proc.terminate()
    raise SandboxError(f"sandbox not ready after {timeout:.0f}s; see {log_path}")


def stop(timeout: float = 60.0) -> bool:
    """Stop the sandbox that `start` launched; False if none was running."""
    state = running_state()
    if not state:
        return False
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.1)
    if _alive(pid):
        os.killpg(pid, signal.SIGKILL)
    settings.sandbox_state_path().unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    """Collect the exit status when the service is our own child (tests start it in-process)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def status_json() -> str:
    state = running_state()
    return json.dumps(state.get("env", {}) if state else {}, indent=2, sort_keys=True)

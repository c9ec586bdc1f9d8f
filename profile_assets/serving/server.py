"""`profile-assets serve`: the ASGI app on uvicorn, in one or more worker processes.

Several workers share one listening socket (bound before forking, as uvicorn's own
supervisor does) so both cores answer; uvicorn's `workers=` needs an import string, which
would force the --no-auth decision through the environment, so we fork ourselves. The parent
only supervises: it forwards SIGTERM/SIGINT to the workers and waits for them.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import tempfile
from pathlib import Path

import uvicorn

#: Connections beyond this get 503 at once instead of queueing in memory (bursts stay bounded).
LIMIT_CONCURRENCY = 1024
PR_SET_PDEATHSIG = 1


def serve(
    host: str, port: int, *, workers: int = 1, no_auth: bool = False, directory: Path | None = None
) -> None:
    """Bind, then run `workers` uvicorn servers on the socket until interrupted."""
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="profile-assets-metrics-")
    from profile_assets.serving.http import create_app

    # Raises NoApiKeys before anything is bound.
    app = create_app(no_auth=no_auth, directory=directory)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    if workers == 1:
        _run(app, sock)
        return
    children = [_fork_worker(app, sock) for _ in range(workers)]

    def forward(signum, _frame) -> None:
        for pid in children:
            os.kill(pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for pid in children:
        os.waitpid(pid, 0)


def _fork_worker(app, sock: socket.socket) -> int:
    pid = os.fork()
    if pid == 0:
        _die_with_parent()
        try:
            _run(app, sock)
        finally:
            os._exit(0)
    return pid


def _die_with_parent() -> None:
    """A worker whose supervisor was killed (even with SIGKILL) stops too (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _run(app, sock: socket.socket) -> None:
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        limit_concurrency=LIMIT_CONCURRENCY,
        timeout_keep_alive=30,
    )
    uvicorn.Server(config).run(sockets=[sock])

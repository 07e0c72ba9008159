"""Start and stop the OS processes of a network and its nodes.

Every process HRC starts for a network or a node runs in its own session
(process group), so stopping it also stops the children it spawned (FLARE
starts one job process per site and job). A :class:`ProcessGroup` remembers
what it started and stops all of it on :meth:`ProcessGroup.stop_all`, at
interpreter exit, and on SIGTERM; callers use it as a context manager so an
error or Ctrl-C inside the block also stops everything.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hrc.errors import EngineError, UsageError

logger = logging.getLogger(__name__)

# Groups alive in this interpreter; stopped at exit and on SIGTERM.
_LIVE_GROUPS: weakref.WeakSet[ProcessGroup] = weakref.WeakSet()
_TERM_GRACE_SECONDS = 5.0


@dataclass
class ManagedProcess:
    """One started process: its role name, its handle and its log file."""

    name: str
    popen: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        """Process id (also the id of its process group)."""
        return self.popen.pid

    def alive(self) -> bool:
        """True while the process has not exited."""
        return self.popen.poll() is None


class ProcessGroup:
    """The processes started for one run, stopped together.

    Parameters
    ----------
    label : str
        Name used in log messages, e.g. ``"nvflare run"``.
    """

    def __init__(self, label: str = "hrc") -> None:
        self.label = label
        self.processes: list[ManagedProcess] = []
        _LIVE_GROUPS.add(self)
        _install_handlers()

    def start(
        self,
        name: str,
        argv: Sequence[str],
        log_path: str | os.PathLike,
        cwd: str | os.PathLike | None = None,
        env: dict[str, str] | None = None,
    ) -> ManagedProcess:
        """Start ``argv`` in a new session, output appended to ``log_path``.

        Parameters
        ----------
        name : str
            Role of the process (``"server"``, ``"h1"``); used in messages.
        argv : sequence of str
            Command and arguments.
        log_path : path-like
            File receiving the process's stdout and stderr.
        cwd : path-like, optional
            Working folder of the process.
        env : dict, optional
            Environment; the current one when omitted.
        """
        log_path = Path(log_path)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log_file:
            popen = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = ManagedProcess(name, popen, log_path)
        self.processes.append(process)
        logger.debug("%s: started %s (pid %s)", self.label, name, popen.pid)
        return process

    def get(self, name: str) -> ManagedProcess:
        """Return the process started under ``name``."""
        for process in self.processes:
            if process.name == name:
                return process
        raise KeyError(name)

    def kill(self, name: str) -> None:
        """Kill the process group of ``name`` at once (used to simulate a loss)."""
        pid = self.get(name).pid
        family = _descendants(pid)
        _signal_group(pid, signal.SIGKILL)
        for child in family:
            _signal_process(child, signal.SIGKILL)

    def stop_all(self, grace: float = _TERM_GRACE_SECONDS) -> None:
        """Stop every started process and all its descendants.

        Descendants are listed first, since FLARE starts each job process in
        a session of its own, out of reach of the parent's process group.
        SIGTERM goes to every process group; what is still alive after
        ``grace`` seconds gets SIGKILL.
        """
        if not self.processes:
            return
        family = [pid for p in self.processes for pid in _descendants(p.pid)]
        for process in self.processes:
            _signal_group(process.pid, signal.SIGTERM)
        for pid in family:
            _signal_process(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        _wait_gone(family, max(0.0, deadline - time.monotonic()))
        for process in self.processes:
            _signal_group(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=2.0)
        for pid in family:
            _signal_process(pid, signal.SIGKILL)
        _wait_gone(family, 2.0)
        logger.debug(
            "%s: stopped %d processes and %d descendants",
            self.label,
            len(self.processes),
            len(family),
        )
        self.processes.clear()

    def pids(self) -> list[int]:
        """Ids of the started processes and of all their descendants."""
        return [pid for p in self.processes for pid in [p.pid, *_descendants(p.pid)]]

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()


def _signal_group(pgid: int, sig: int) -> None:
    """Send ``sig`` to process group ``pgid``, ignoring groups already gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _signal_process(pid: int, sig: int) -> None:
    """Send ``sig`` to ``pid`` and its process group, ignoring gone ones."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)
    with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
        pgid = os.getpgid(pid)
        if pgid == pid:
            os.killpg(pgid, sig)


def _descendants(pid: int) -> list[int]:
    """Ids of every descendant of ``pid`` (empty if it is gone)."""
    import psutil

    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def _wait_gone(pids: list[int], timeout: float) -> None:
    """Wait up to ``timeout`` seconds for ``pids`` to exit."""
    import psutil

    processes = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            processes.append(psutil.Process(pid))
    psutil.wait_procs(processes, timeout=timeout)


def _stop_live_groups() -> None:
    for group in list(_LIVE_GROUPS):
        group.stop_all(grace=2.0)


_HANDLERS_INSTALLED = False


def _install_handlers() -> None:
    """Stop live groups at exit and turn SIGTERM into a clean exit (once)."""
    global _HANDLERS_INSTALLED
    if _HANDLERS_INSTALLED:
        return
    _HANDLERS_INSTALLED = True
    atexit.register(_stop_live_groups)
    with contextlib.suppress(ValueError):  # not the main thread: keep default
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: object) -> None:
    _stop_live_groups()
    raise SystemExit(128 + signum)


def check_port_free(host: str, port: int, option: str = "--grid_port") -> None:
    """Raise a usage error when ``host:port`` cannot be bound.

    Raises
    ------
    UsageError
        Naming ``option``, the port and what holds it.
    """
    if not 1 <= port <= 65535:
        raise UsageError(f"{option}: {port} is not a TCP port; use 1-65535")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UsageError(
                f"{option}: port {port} on {host} is already in use ({exc.strerror}); "
                "stop what holds it or choose another port"
            ) from None


def wait_for_port(
    host: str, port: int, timeout: float, watch: ManagedProcess | None = None
) -> None:
    """Wait until something accepts TCP connections on ``host:port``.

    Raises
    ------
    EngineError
        If ``watch`` exits first or nothing answers within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if watch is not None and not watch.alive():
            raise EngineError(
                f"{watch.name} exited with code {watch.popen.returncode} before "
                f"listening on {host}:{port}; see {watch.log_path}"
            )
        with contextlib.suppress(OSError):
            with socket.create_connection((host, port), timeout=0.5):
                return
        time.sleep(0.1)
    raise EngineError(f"nothing answers on {host}:{port} after {timeout:.0f} s")


def alive(pids: Sequence[int]) -> list[int]:
    """Return those of ``pids`` still running (zombies count as gone)."""
    import psutil

    running = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                running.append(pid)
    return running

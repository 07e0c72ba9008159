"""Drive a running network through its admin kit: submit, watch, list nodes.

Works with any admin startup kit (local POC kits or provisioned ones).
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from pathlib import Path

from hrc.errors import EngineError

logger = logging.getLogger(__name__)

DEFAULT_ADMIN_USER = "admin@hrc.local"


def open_session(
    admin_kit: str | Path, user: str = DEFAULT_ADMIN_USER, timeout: float = 10.0
):
    """Log in to the network with the admin kit.

    Raises
    ------
    EngineError
        If the network does not answer within ``timeout`` seconds.
    """
    from nvflare.fuel.flare_api.flare_api import new_secure_session

    # FLARE prints a greeting on stdout; keep stdout for HRC's own output.
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return new_secure_session(
                user, str(Path(admin_kit).resolve()), timeout=timeout
            )
    except Exception as exc:  # FLARE raises several unrelated types
        raise EngineError(
            f"the network of admin kit {Path(admin_kit).name} does not answer "
            f"({type(exc).__name__}: {exc})"
        ) from None


def connected_nodes(session) -> list[str]:
    """Names of the nodes currently connected to the network."""
    info = session.get_system_info()
    return sorted(client.name for client in info.client_info)


def wait_for_nodes(session, names: list[str], timeout: float) -> None:
    """Wait until every node of ``names`` is connected.

    Raises
    ------
    EngineError
        Naming the nodes still missing after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    missing = set(names)
    while time.monotonic() < deadline:
        missing = set(names) - set(connected_nodes(session))
        if not missing:
            return
        time.sleep(0.2)
    raise EngineError(
        f"nodes {', '.join(sorted(missing))} did not connect within {timeout:.0f} s"
    )


def submit_job(session, job_dir: str | Path) -> str:
    """Submit the exported job folder and return its job id."""
    job_id = session.submit_job(str(Path(job_dir).resolve()))
    logger.debug("submitted job %s", job_id)
    return job_id


def job_status(session, job_id: str) -> str:
    """Return the FLARE status of a job, e.g. ``"RUNNING"``."""
    return str(session.get_job_meta(job_id).get("status", ""))


def abort_job(session, job_id: str) -> None:
    """Ask the network to abort ``job_id``; errors are logged, not raised."""
    with contextlib.suppress(Exception):
        session.abort_job(job_id)


def download_result(session, job_id: str, destination: str | Path) -> Path:
    """Download the job's server workspace into ``destination``."""
    return Path(session.download_job_result(job_id, str(destination)))

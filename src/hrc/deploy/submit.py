"""Submit a job to a deployed network with the admin kit, and wait for it.

The researcher's side of a deployment: with the admin kit from ``hrc deploy
provision``, log in to the network, wait for the expected nodes, submit a job
folder, follow its state until it ends, and download its result::

    python -m hrc.deploy.submit --kit kits/admin@hrc.local \\
        --network server.example.org:8002 --job jobs/hrc_train \\
        --node h1 --node h2 --result results/

Prints one JSON line: the job id, its final state, the nodes connected when it
was submitted and where the result went.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import click

from hrc.cli._base import handle_errors, verbosity_option
from hrc.deploy.site import prepare_kit
from hrc.errors import EngineError

logger = logging.getLogger(__name__)

FINAL_STATES = ("FINISHED", "FAILED", "ABORTED")
_POLL_SECONDS = 0.5


def run_job(
    admin_kit: str | Path,
    job_dir: str | Path,
    nodes: list[str],
    workspace: str | Path,
    network: str | None = None,
    result: str | Path | None = None,
    timeout: float = 600.0,
) -> dict:
    """Submit ``job_dir`` once every node of ``nodes`` is connected; wait for it.

    Parameters
    ----------
    admin_kit : path-like
        The admin kit (may be read-only; it is copied into ``workspace``).
    job_dir : path-like
        A job folder, e.g. from :func:`hrc.engines.docker.steps.write_job`.
    nodes : list of str
        Nodes that must be connected before the job is submitted.
    workspace : path-like
        Writable folder for the kit copy.
    network : str, optional
        ``HOST[:PORT]`` of the network; the kit's own address when omitted.
    result : path-like, optional
        Folder to download the job's result into.
    timeout : float
        Seconds allowed for the nodes to connect, and again for the job.

    Returns
    -------
    dict
        ``job_id``, ``state``, ``connected`` (node names) and ``result``.

    Raises
    ------
    EngineError
        If the network does not answer, a node does not connect, or the job
        does not end within ``timeout``.
    """
    from hrc.engines.nvflare import admin

    # Log in (the network may still be starting), wait for the nodes.
    kit = prepare_kit(admin_kit, workspace, network)
    session = _open_session(admin, kit.path, timeout)
    try:
        admin.wait_for_nodes(session, nodes, timeout)
        connected = admin.connected_nodes(session)
        job_id = admin.submit_job(session, job_dir)
        logger.info("job %s submitted to %s:%s", job_id, kit.host, kit.port)

        # Follow the job's state until it ends.
        deadline = time.monotonic() + timeout
        state = admin.job_status(session, job_id)
        while not state.startswith(FINAL_STATES):
            if time.monotonic() > deadline:
                admin.abort_job(session, job_id)
                raise EngineError(f"job {job_id} did not end within {timeout:.0f} s")
            time.sleep(_POLL_SECONDS)
            state = admin.job_status(session, job_id)
        downloaded = None
        if result is not None:
            Path(result).mkdir(parents=True, exist_ok=True)
            downloaded = str(admin.download_result(session, job_id, result))
    finally:
        session.close()
    logger.info("job %s ended as %s", job_id, state)
    return {
        "job_id": job_id,
        "state": state,
        "connected": connected,
        "result": downloaded,
    }


def _open_session(admin, kit: Path, timeout: float):
    """Log in, retrying while the network starts."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return admin.open_session(kit)
        except EngineError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


@click.command("submit")
@click.option(
    "--kit",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Admin kit made by 'hrc deploy provision'.",
)
@click.option(
    "--job",
    "job_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Job folder to submit.",
)
@click.option("--node", "nodes", multiple=True, help="A node to wait for; repeat.")
@click.option("--network", default=None, help="HOST[:PORT] of the network.")
@click.option(
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("admin_workspace"),
    show_default=True,
    help="Writable folder for the kit copy.",
)
@click.option(
    "--result",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to download the job's result into.",
)
@click.option("--timeout", type=float, default=600.0, show_default=True)
@verbosity_option
@handle_errors
def main(
    kit: Path,
    job_dir: Path,
    nodes: tuple[str, ...],
    network: str | None,
    workspace: Path,
    result: Path | None,
    timeout: float,
) -> None:
    """Submit JOB to the network of the admin KIT and wait until it ends."""
    outcome = run_job(kit, job_dir, list(nodes), workspace, network, result, timeout)
    click.echo(json.dumps(outcome))


if __name__ == "__main__":
    main()

"""Run a federated training with the network and the nodes as containers.

:func:`run` is the NVFLARE engine's run with containers instead of local
processes: it provisions the startup kits and writes each node's shard into
that node's own folder (as the NVFLARE engine does), writes a compose file of
the network and one container per node, brings it up with the compose tool
(or ``docker stack deploy`` with ``--swarm yes``), submits the HRC job from
this process through the admin kit, follows the rounds, and collects the
results into the usual outputs. Whatever happens, also on an error or Ctrl-C,
the services are brought down with their volumes, and anything still carrying
the run's ``hrc.run`` label is removed.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import yaml

from hrc.config import TrainConfig
from hrc.engines.docker import compose, steps
from hrc.errors import EngineError, UsageError
from hrc.training.types import Federation, RunResult

logger = logging.getLogger(__name__)

DEFAULT_IMAGE = "hrc:latest"
IMAGE_ENV = "HRC_IMAGE"
NODE_CONNECT_TIMEOUT = 120.0
NETWORK_START_TIMEOUT = 120.0


class ContainerGroup:
    """The run's containers, looked up by service name through the SDK.

    Offers what the NVFLARE engine's round follower needs of a process
    group: :meth:`get` (with ``alive()``) and :meth:`kill`.
    """

    def __init__(self, client, run_id: str) -> None:
        self.client = client
        self.run_id = run_id

    def containers(self, service: str | None = None) -> list:
        """Containers of the run (all states), optionally of one service."""
        found = self.client.containers.list(
            all=True, filters={"label": f"{compose.RUN_LABEL}={self.run_id}"}
        )
        if service is None:
            return found
        return [c for c in found if _service_name(c) == service]

    def get(self, name: str) -> _Site:
        """The site ``name`` (``"network"``, ``"h1"``, ...)."""
        return _Site(self, name)

    def kill(self, name: str) -> None:
        """Kill the containers of ``name`` at once (simulates a lost site)."""
        for container in self.containers(name):
            with contextlib.suppress(Exception):
                container.kill()


class _Site:
    def __init__(self, group: ContainerGroup, name: str) -> None:
        self.group, self.name = group, name

    def alive(self) -> bool:
        return any(c.status == "running" for c in self.group.containers(self.name))


def run(config: TrainConfig, federation: Federation) -> RunResult:
    """Train ``federation`` on a network and one node container per client.

    Parameters
    ----------
    config : TrainConfig
        As for the NVFLARE engine; ``swarm`` deploys a Docker stack instead of
        compose services. The image is ``config.extra["docker_image"]``, else
        the ``HRC_IMAGE`` variable, else ``hrc:latest``.
    federation : Federation
        The split, preprocessed data; client ``k`` becomes node ``h{k+1}``.

    Returns
    -------
    RunResult
        The same outputs as the other engines, ``info["engine"] == "docker"``.

    Raises
    ------
    EngineError
        When the Docker engine, the image or the compose tool is missing, a
        container fails, or the run stops early.
    """
    # Checks first: daemon, image, tool; the NVFLARE engine's own checks.
    client = docker_client()
    image = config.extra.get("docker_image") or _env_image()
    _check_image(client, image)
    tool = _stack_tool() if config.swarm else compose_command()
    run_id = uuid.uuid4().hex[:12]
    project = f"hrc-{run_id}"
    started = time.perf_counter()

    # Kits, shards and the job, exactly as the NVFLARE engine prepares them.
    prepared = steps.prepare_run(config, federation)
    kits = prepared.kits
    document = compose.federation_compose(
        run_id,
        image,
        kits.server,
        kits.root / "server_state",
        kits.nodes,
        {name: kits.node_home(name) for name in kits.nodes},
        swarm=config.swarm,
    )
    (kits.root / "server_state").mkdir(parents=True, exist_ok=True)
    compose_file = kits.root / f"{project}.yml"
    compose_file.write_text(yaml.safe_dump(document, sort_keys=False))
    logger.info("run %s: compose file %s", run_id, compose_file)

    # Up, train, and down whatever happens (SIGTERM counts as Ctrl-C).
    group = ContainerGroup(client, run_id)
    previous = signal.getsignal(signal.SIGTERM)
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        t0 = time.perf_counter()
        _up(tool, project, compose_file, config.swarm)
        _wait_network(group, kits.host, kits.port)
        result = steps.train_on_network(
            config, federation, prepared, group, NODE_CONNECT_TIMEOUT, t0
        )
    finally:
        t1 = time.perf_counter()
        _down(tool, project, compose_file, config.swarm)
        removed = cleanup(client, run_id)
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGTERM, previous)
        logger.info(
            "run %s: down in %.1f s (%d leftovers removed by label)",
            run_id,
            time.perf_counter() - t1,
            removed,
        )
    result.info.update(
        engine="docker",
        run_id=run_id,
        image=image,
        swarm=config.swarm,
        compose_file=str(compose_file),
        runtime_seconds=time.perf_counter() - started,
    )
    result.metrics["runtime_seconds"] = result.info["runtime_seconds"]
    return result


def docker_client():
    """A Docker SDK client of the local daemon.

    Raises
    ------
    EngineError
        If the SDK is missing or no daemon answers.
    """
    try:
        import docker
    except ImportError:
        raise EngineError(
            "--engine docker needs the Docker SDK: pip install 'hrc[docker]'"
        ) from None
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as exc:  # the SDK raises several unrelated types
        raise EngineError(
            f"--engine docker: no Docker engine answers ({type(exc).__name__}); "
            "start the Docker daemon or run .ci/docker-setup.sh as root"
        ) from None
    return client


def compose_command() -> list[str]:
    """The compose tool: ``docker-compose`` (v1) or ``docker compose`` (v2).

    Raises
    ------
    EngineError
        If neither is installed.
    """
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    probe = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, check=False
    )
    if probe.returncode == 0:
        return ["docker", "compose"]
    raise EngineError(
        "--engine docker needs Docker Compose: install docker-compose (Debian "
        "package) or the docker compose plugin"
    )


def cleanup(client, run_id: str) -> int:
    """Remove every container, volume and network labelled ``hrc.run=run_id``.

    Returns
    -------
    int
        How many objects were still there and were removed.
    """
    label = {"label": f"{compose.RUN_LABEL}={run_id}"}
    removed = 0
    with contextlib.suppress(Exception):
        for service in client.services.list(filters=label):
            service.remove()
            removed += 1
    for container in client.containers.list(all=True, filters=label):
        with contextlib.suppress(Exception):
            container.remove(force=True, v=True)
            removed += 1
    for volume in client.volumes.list(filters=label):
        with contextlib.suppress(Exception):
            volume.remove(force=True)
            removed += 1
    for network in client.networks.list(filters=label):
        with contextlib.suppress(Exception):
            network.remove()
            removed += 1
    return removed


def _env_image() -> str:
    import os

    return os.environ.get(IMAGE_ENV) or DEFAULT_IMAGE


def _check_image(client, image: str) -> None:
    try:
        client.images.get(image)
    except Exception:
        raise UsageError(
            f"--engine docker: image {image!r} not found; build it with "
            "'docker build -t hrc:latest .' (or docker/build-image.sh offline) "
            f"or set {IMAGE_ENV}"
        ) from None


def _stack_tool() -> list[str]:
    """``docker stack``; needs this engine to be a swarm manager."""
    probe = subprocess.run(
        ["docker", "info", "--format", "{{.Swarm.ControlAvailable}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.stdout.strip() != "true":
        raise EngineError(
            "--swarm yes: this Docker engine is not a swarm manager; run "
            "'docker swarm init' first (or use --swarm no)"
        )
    return ["docker", "stack"]


def _up(tool: list[str], project: str, compose_file: Path, swarm: bool) -> None:
    """Start the services, or deploy the stack."""
    if swarm:
        argv = [*tool, "deploy", "--compose-file", str(compose_file), project]
    else:
        argv = [*tool, "-p", project, "-f", str(compose_file), "up", "-d"]
    _run_tool(argv, "start the services")


def _down(tool: list[str], project: str, compose_file: Path, swarm: bool) -> None:
    """Stop and remove the services with their volumes; errors are logged."""
    if swarm:
        argv = [*tool, "rm", project]
    else:
        argv = [
            *tool, "-p", project, "-f", str(compose_file),
            "down", "--volumes", "--remove-orphans", "--timeout", "10",
        ]  # fmt: skip
    try:
        _run_tool(argv, "stop the services")
    except EngineError as error:
        logger.warning("%s", error)


def _run_tool(argv: list[str], purpose: str) -> None:
    completed = subprocess.run(argv, capture_output=True, text=True, check=False)
    logger.debug("%s: %s", " ".join(argv), completed.stderr.strip())
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise EngineError(f"{argv[0]} could not {purpose}: {last}")


def _wait_network(group: ContainerGroup, host: str, port: int) -> None:
    """Wait until the network container listens; fail fast if it exits."""
    import socket

    deadline = time.monotonic() + NETWORK_START_TIMEOUT
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), 1):
            logger.info("network container listening on %s:%s", host, port)
            return
        containers = group.containers("network")
        if containers and containers[0].status in ("exited", "dead"):
            tail = containers[0].logs(tail=5).decode(errors="replace").strip()
            raise EngineError(f"the network container exited: {tail}")
        time.sleep(0.5)
    raise EngineError(
        f"the network container did not listen on {host}:{port} within "
        f"{NETWORK_START_TIMEOUT:.0f} s"
    )


def _service_name(container) -> str:
    labels = container.labels
    return (
        labels.get("com.docker.compose.service")
        or labels.get("com.docker.swarm.service.name", "").split("_", 1)[-1]
    )


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt

"""The two compose files used as a user would, on a real Docker engine.

The steps of docs/deploy.md on one machine: provision kits, bring the network
up with gridnetwork-compose.yml, register each hospital's data and bring two
nodes up with gridnode-compose.yml pointing at the network, run a job with the
admin kit, and bring everything down. Host networking and 127.0.0.1 keep all
traffic on this machine. Skipped, saying so, when no Docker engine answers
(``.ci/docker-setup.sh`` starts one).
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from hrc.cli import cli
from hrc.config import TrainConfig

docker = pytest.importorskip("docker")
pytest.importorskip("nvflare")

from docker_support import docker_client, free_port, tiny_federation  # noqa: E402

pytestmark = pytest.mark.docker
REPO = Path(__file__).resolve().parents[1]
TAGS = "#X #gtex_v8 #dataset"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """Network and two nodes from the compose files; a job run; all down."""
    from hrc.deploy.submit import run_job
    from hrc.engines.docker.engine import compose_command
    from hrc.engines.docker.steps import write_job
    from hrc.nodes.registry import write_shard

    client = docker_client()
    built = subprocess.run(
        [str(REPO / "docker" / "build-image.sh")], capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr[-2000:]
    root = tmp_path_factory.mktemp("compose")
    port, run_id = free_port(), f"test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "HRC_IMAGE": built.stdout.strip().splitlines()[-1],
        "HRC_USER": f"{os.getuid()}:{os.getgid()}",
        "HRC_RUN": run_id,
        "HRC_NETWORK_MODE": "host",
        "KITS": str(root / "kits"),
        "NODE_DATA": str(root / "node-data"),
        "NETWORK_PORT": str(port),
        "NETWORK": f"127.0.0.1:{port}",
    }
    tool = compose_command()
    network_file = REPO / "gridnetwork-compose.yml"
    nodes_file = REPO / "gridnode-compose.yml"
    network = [*tool, "-p", f"{run_id}-network", "-f", str(network_file)]
    nodes = [*tool, "-p", f"{run_id}-nodes", "-f", str(nodes_file)]

    def compose(argv: list[str]) -> subprocess.CompletedProcess:
        done = subprocess.run(argv, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        return done

    try:
        # Provision; the network up.
        provisioned = CliRunner().invoke(
            cli,
            ["deploy", "provision", "--network", "127.0.0.1", "--port", str(port),
             "--node", "h1", "--node", "h2", "--output", str(root / "kits")],
        )  # fmt: skip
        assert provisioned.exit_code == 0, provisioned.output
        compose([*network, "--profile", "host", "up", "-d", "network-host"])

        # Each hospital registers its data inside its node's container, then
        # starts the node.
        federation = tiny_federation()
        for data in federation.clients:
            write_shard(root / "node-data" / data.name / "shard.npz", data.features,
                        data.labels)  # fmt: skip
            compose([
                *nodes, "run", "--rm", data.name, "node", "dataset", "add",
                "/hrc/data/shard.npz", "--name", "gtex_shard", "--tags", TAGS,
            ])  # fmt: skip
        compose([*nodes, "up", "-d"])

        # The researcher submits a two-round job with the admin kit.
        config = TrainConfig(
            train_type="decentralized", n_epochs=2, hidden=(8,), batch_size=16,
            dropout=0.0, tags=tuple(TAGS.split()),
        )  # fmt: skip
        job_dir, *_ = write_job(config, federation, root / "researcher", config.tags)
        outcome = run_job(
            root / "kits" / "admin@hrc.local", job_dir, ["h1", "h2"],
            root / "admin", f"127.0.0.1:{port}", root / "result", timeout=300,
        )  # fmt: skip
        running = client.containers.list(filters={"label": f"hrc.run={run_id}"})
        yield outcome, sorted(c.labels["hrc.role"] for c in running)
    finally:
        subprocess.run([*nodes, "down", "--volumes", "--timeout", "10"], env=env)
        subprocess.run([*network, "down", "--volumes", "--timeout", "10"], env=env)
    label = {"label": f"hrc.run={run_id}"}
    assert client.containers.list(all=True, filters=label) == []
    assert client.volumes.list(filters=label) == []


def test_network_and_two_nodes_ran_as_containers(deployment):
    _, roles = deployment
    assert roles == ["network", "node", "node"]


def test_job_ran_on_the_nodes_of_the_compose_files(deployment):
    outcome, _ = deployment
    assert outcome["state"] == "FINISHED:COMPLETED"
    assert sorted(outcome["connected"]) == ["h1", "h2"]
    status_files = list(Path(outcome["result"]).rglob("status.json"))
    assert len(status_files) == 1
    status = json.loads(status_files[0].read_text())
    assert (status["status"], status["last_round"]) == ("finished", 2)

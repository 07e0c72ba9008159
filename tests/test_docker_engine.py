"""``--engine docker`` on a real Docker engine: a network and two node containers.

Needs a running Docker engine and the HRC image, built offline by
``docker/build-image.sh`` (a few minutes the first time on a fresh machine,
then kept). ``.ci/docker-setup.sh`` installs and starts what is needed; the
tests are skipped, saying so, when no engine answers.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch

from hrc.config import TrainConfig
from hrc.errors import EngineError
from hrc.training.federated import train_federated

docker = pytest.importorskip("docker")
pytest.importorskip("nvflare")

from docker_support import docker_client, free_port, tiny_federation  # noqa: E402
from hrc.engines import docker as engine  # noqa: E402
from hrc.engines.docker import compose  # noqa: E402

pytestmark = pytest.mark.docker
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def image() -> str:
    """The offline HRC image (built once, then found by its content hash)."""
    docker_client()
    built = subprocess.run(
        [str(REPO / "docker" / "build-image.sh")], capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr[-2000:]
    return built.stdout.strip().splitlines()[-1]


def _config(tmp_path: Path, image: str, **options) -> TrainConfig:
    settings = {
        "train_type": "decentralized",
        "engine": "docker",
        "n_epochs": 2,
        "hidden": (8,),
        "batch_size": 16,
        "dropout": 0.0,
        "grid_port": free_port(),
        "workspace": tmp_path / "nodes_workspace",
        "model_save_path": tmp_path / "models",
        **options,
    }
    settings["extra"] = {"docker_image": image, **options.get("extra", {})}
    return TrainConfig(**settings)


def _labelled(client) -> list:
    """Containers and volumes of any HRC run (label key hrc.run)."""
    label = {"label": compose.RUN_LABEL}
    return client.containers.list(all=True, filters=label) + client.volumes.list(
        filters=label
    )


@pytest.fixture(scope="module")
def docker_run(image, tmp_path_factory):
    """One two-round FedAvg run with two node containers."""
    tmp_path = tmp_path_factory.mktemp("docker_run")
    federation = tiny_federation()
    config = _config(tmp_path, image, strategy="fedavg")
    return config, federation, engine.run(config, federation)


def test_run_collects_every_round_and_client(docker_run):
    _, _, result = docker_run
    assert list(result.history["round"]) == [1, 2]
    assert sorted(set(result.client_metrics["client"])) == ["h1", "h2"]
    assert len(result.client_metrics) == 4
    assert result.metrics["n_train"] == 105
    assert result.info["engine"] == "docker"


def test_run_equals_the_in_process_engine(docker_run):
    config, federation, result = docker_run
    config = TrainConfig(**{**vars(config), "engine": "inprocess"})
    expected = train_federated(federation, config).state_dict
    for name, tensor in expected.items():
        torch.testing.assert_close(result.state_dict[name], tensor, atol=1e-5, rtol=0)


def test_run_leaves_nothing_running(docker_run):
    _, _, result = docker_run
    client = docker_client()
    label = {"label": f"{compose.RUN_LABEL}={result.info['run_id']}"}
    assert client.containers.list(all=True, filters=label) == []
    assert client.volumes.list(filters=label) == []


def test_cleanup_removes_by_label_never_by_image(image):
    client = docker_client()
    ours = client.containers.create(
        image, ["sleep", "600"], entrypoint=[], labels={compose.RUN_LABEL: "t-ours"}
    )
    other = client.containers.create(
        image, ["sleep", "600"], entrypoint=[], labels={"purpose": "not-hrc"}
    )
    try:
        ours.start()
        other.start()
        assert engine.cleanup(client, "t-ours") == 1
        remaining = {c.id for c in client.containers.list(all=True)}
        assert ours.id not in remaining
        assert other.id in remaining
    finally:
        other.remove(force=True)


def test_failed_run_still_brings_everything_down(image, tmp_path):
    client = docker_client()
    config = _config(
        tmp_path,
        image,
        min_clients=2,
        n_epochs=3,
        extra={"kill_node": {"node": "h2", "after_round": 1}, "round_timeout": 30},
    )
    # h2 is killed once round 1 ends; depending on how soon the network
    # notices, round 2 may still complete before the run stops.
    stopped = r"run stopped after round [12]: fewer than --min_clients"
    with pytest.raises(EngineError, match=stopped):
        engine.run(config, tiny_federation())
    assert _labelled(client) == []


@pytest.fixture()
def swarm_manager():
    """This engine as a one-node swarm on 127.0.0.1, left again afterwards."""
    client = docker_client()
    joined_here = client.info()["Swarm"]["LocalNodeState"] == "inactive"
    had_gateway = bool(client.networks.list(names=["docker_gwbridge"]))
    if joined_here:
        client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")
    yield client
    if joined_here:
        client.swarm.leave(force=True)
    if not had_gateway:  # the bridge swarm creates for its containers
        for network in client.networks.list(names=["docker_gwbridge"]):
            network.remove()


def test_swarm_deploys_the_same_run_as_a_stack(image, tmp_path, swarm_manager):
    federation = tiny_federation()
    config = _config(tmp_path, image, swarm=True)
    result = engine.run(config, federation)
    assert list(result.history["round"]) == [1, 2]
    assert result.info["swarm"] is True
    label = {"label": f"{compose.RUN_LABEL}={result.info['run_id']}"}
    assert swarm_manager.services.list(filters=label) == []
    assert swarm_manager.containers.list(all=True, filters=label) == []

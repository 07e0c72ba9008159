"""The NVFLARE engine with real network and node processes on 127.0.0.1.

Each run starts a network and two node processes, trains two rounds on a small
synthetic federation, and stops them. The runs check: equality with the
in-process engine (FedAvg, FedProx), what the network receives, that no
process is left behind, a lost node, and the clear failure lines.
"""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import pytest
import torch

from hrc.config import TrainConfig
from hrc.errors import EngineError, UsageError
from hrc.training.federated import train_federated
from hrc.training.types import ClientData, Federation

pytest.importorskip("nvflare")
import psutil  # noqa: E402

from hrc.engines import nvflare as engine  # noqa: E402
from hrc.engines.nvflare import protocol  # noqa: E402


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _federation(n_clients: int = 2) -> Federation:
    """Three classes from the signs of two features; 60 and 45 samples."""
    generator = torch.Generator().manual_seed(0)

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(n, 12, generator=generator)
        return x, (x[:, 0] > 0).long() + (x[:, 1] > 0).long()

    clients = [ClientData(f"h{i + 1}", *draw(60 - 15 * i)) for i in range(n_clients)]
    test_x, test_y = draw(30)
    return Federation(clients, test_x, test_y, ["low", "mid", "high"])


def _config(tmp_path: Path, **options) -> TrainConfig:
    settings = {
        "train_type": "decentralized",
        "engine": "nvflare",
        "n_epochs": 2,
        "hidden": (8,),
        "batch_size": 16,
        "grid_port": _free_port(),
        "workspace": tmp_path / "nodes_workspace",
        "model_save_path": tmp_path / "models",
        **options,
    }
    return TrainConfig(**settings)


def _our_flare_processes() -> list[int]:
    """FLARE processes whose command line names this test's temporary folders."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if "nvflare" in command and "pytest-of" in command:
            found.append(process.info["pid"])
    return found


@pytest.fixture(scope="module")
def fedavg_run(tmp_path_factory):
    """One FedAvg run on real processes, shared by the checks below."""
    tmp_path = tmp_path_factory.mktemp("fedavg")
    federation = _federation()
    config = _config(tmp_path, strategy="fedavg")
    result = engine.run(config, federation)
    return config, federation, result


def test_fedavg_equals_inprocess(fedavg_run):
    config, federation, result = fedavg_run
    expected = train_federated(federation, config)
    for name, tensor in expected.state_dict.items():
        torch.testing.assert_close(result.state_dict[name], tensor, rtol=0, atol=1e-6)
    assert list(result.history["round"]) == [1, 2]
    assert result.history["loss"].tolist() == pytest.approx(
        expected.history["loss"].tolist(), abs=1e-6
    )
    assert result.client_metrics[["round", "client"]].values.tolist() == [
        [1, "h1"], [1, "h2"], [2, "h1"], [2, "h2"],
    ]  # fmt: skip
    assert result.client_metrics["train_loss"].tolist() == pytest.approx(
        expected.client_metrics["train_loss"].tolist(), abs=1e-6
    )
    assert result.info["engine"] == "nvflare"
    assert result.info["lost_nodes"] == []


def test_no_process_left_behind(fedavg_run):
    assert _our_flare_processes() == []


def test_network_receives_only_parameters_and_scalars(fedavg_run):
    config, federation, result = fedavg_run
    root = Path(config.workspace)
    audits = list(root.glob("kits/*/prod_00/server/*/hrc_result/received.jsonl"))
    assert len(audits) == 1
    records = [json.loads(line) for line in audits[0].read_text().splitlines()]

    # Two nodes x two rounds, each reply: parameters of the model's shapes.
    assert sorted(r["sender"] for r in records) == ["h1", "h1", "h2", "h2"]
    shapes = {name: list(t.shape) for name, t in result.state_dict.items()}
    for record in records:
        assert {k: v["shape"] for k, v in record["params"].items()} == shapes
        assert record["metrics"] == {name: True for name in protocol.CLIENT_METRICS}
        # FLARE copies the same scalars into its bookkeeping key.
        scalars = {name: "scalar" for name in protocol.CLIENT_METRICS}
        assert record["meta"] in ({}, {"initial_metrics": scalars})

    # Nothing on the network's side names a node's data folder.
    node_data = [str(p) for p in root.glob("nodes/*/data")]
    assert len(node_data) == 2
    for path in (root / "kits").rglob("*"):
        if (
            path.is_file()
            and "server" in path.parts
            and path.suffix in (".json", ".txt")
        ):
            text = path.read_text(errors="replace")
            assert not any(folder in text for folder in node_data), path


def test_fedprox_equals_inprocess(tmp_path):
    federation = _federation()
    config = _config(tmp_path, strategy="fedprox", mu=0.5)
    result = engine.run(config, federation)
    expected = train_federated(federation, config)
    for name, tensor in expected.state_dict.items():
        torch.testing.assert_close(result.state_dict[name], tensor, rtol=0, atol=1e-6)
    assert _our_flare_processes() == []


def test_lost_node_stop_then_resume(tmp_path, caplog):
    federation = _federation(3)

    # min_clients 3: h3 killed after round 1 stops the run, the model is kept.
    kill = {"kill_node": {"node": "h3", "after_round": 1}}
    config = _config(tmp_path, n_epochs=3, min_clients=3, extra=kill)
    with pytest.raises(EngineError) as stopped:
        engine.run(config, federation)
    kept = (Path(config.workspace) / "last_global.npz").resolve()
    assert str(stopped.value) == (
        "run stopped after round 1: fewer than --min_clients 3 nodes left "
        f"(lost: h3); the last global model is kept in {kept}; "
        "run again with --resume to continue"
    )
    assert kept.is_file()

    # --resume with min_clients 2: h3 lost again after round 2, the run ends.
    kill = {"kill_node": {"node": "h3", "after_round": 2}}
    config = _config(tmp_path, n_epochs=3, min_clients=2, resume=True, extra=kill)
    with caplog.at_level(logging.WARNING, logger="hrc"):
        resumed = engine.run(config, federation)
    assert list(resumed.history["round"]) == [2, 3]
    assert resumed.info["lost_nodes"] == [{"node": "h3", "round": 3}]
    assert "node h3 was lost in round 3" in caplog.text
    assert resumed.client_metrics.query("round == 3")["train_loss"].isna().tolist() == [
        False, False, True,
    ]  # fmt: skip
    assert _our_flare_processes() == []


def test_node_data_matching_no_tag(tmp_path):
    config = _config(tmp_path, min_clients=2, extra={"node_tags": {"h2": ["#other"]}})
    with pytest.raises(EngineError) as failed:
        engine.run(config, _federation())
    assert str(failed.value) == (
        "run stopped after round 0: node h2: no training shard matches tags "
        "#X #gtex_v8 #dataset; registered: hrc_shard (#other)"
    )
    assert _our_flare_processes() == []


def test_port_in_use(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        config = _config(tmp_path, grid_port=port)
        with pytest.raises(UsageError) as failed:
            engine.run(config, _federation())
    assert str(failed.value) == (
        f"--grid_port: port {port} on 127.0.0.1 is already in use "
        "(Address already in use); stop what holds it or choose another port"
    )


def test_unsupported_strategy(tmp_path):
    with pytest.raises(UsageError, match=r"--strategy: 'scaffold' is not available"):
        engine.run(_config(tmp_path, strategy="scaffold"), _federation())

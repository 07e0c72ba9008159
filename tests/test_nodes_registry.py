"""Tag rules, the node dataset registry, its CLI, and process clean-up."""

from __future__ import annotations

import json
import socket
import sys
import time

import numpy as np
import pandas as pd
import psutil
import pytest
from click.testing import CliRunner

from hrc.cli import cli
from hrc.errors import DataError, UsageError
from hrc.nodes.processes import ProcessGroup, alive, check_port_free
from hrc.nodes.registry import DatasetRegistry, write_shard
from hrc.nodes.tags import matches, parse_tags


def _shard(path, n_samples=5, n_features=3, label=0):
    features = np.arange(n_samples * n_features, dtype=np.float32)
    np.savez(
        path,
        features=features.reshape(n_samples, n_features),
        labels=np.full(n_samples, label, dtype=np.int64),
    )
    return path


# Tags.
def test_2020_tags_are_valid():
    assert parse_tags(["#X #gtex_v8 #dataset"]) == ("#X", "#gtex_v8", "#dataset")
    assert parse_tags(["#X", "#gtex_v8,#dataset"]) == ("#X", "#gtex_v8", "#dataset")


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ([], "--tags: give at least one tag, e.g. '#gtex_v8'"),
        (
            ["gtex"],
            "--tags: malformed tag 'gtex' (did you mean '#gtex'?); a tag is '#' then "
            "1-64 letters, digits, '_', '-' or '.', e.g. '#gtex_v8'",
        ),
        (
            ["#"],
            "--tags: malformed tag '#'; a tag is '#' then 1-64 letters, digits, "
            "'_', '-' or '.', e.g. '#gtex_v8'",
        ),
        (["#X #X"], "--tags: tag '#X' is given twice; give each once"),
    ],
)
def test_bad_tags(tags, message):
    with pytest.raises(UsageError) as error:
        parse_tags(tags)
    assert str(error.value) == message


def test_match_needs_every_tag():
    assert matches(["#X", "#gtex_v8"], ["#gtex_v8"])
    assert not matches(["#X"], ["#X", "#gtex_v8"])
    assert not matches(["#x"], ["#X"])  # case-sensitive


# Registry.
def test_add_list_remove_keeps_paths_private(tmp_path):
    registry = DatasetRegistry(tmp_path / "node")
    entry = registry.add("lung", _shard(tmp_path / "a.npz", 5, 3), ["#X", "#lung"])
    assert entry == {
        "name": "lung",
        "tags": ["#X", "#lung"],
        "description": "",
        "shape": [5, 3],
        "kind": "shard",
    }
    registry.add("blood", _shard(tmp_path / "b.npz", 4, 3, label=2), ["#X"], "b")
    assert [e["name"] for e in registry.public_entries(("#X",))] == ["lung", "blood"]
    assert [e["name"] for e in registry.public_entries(("#lung",))] == ["lung"]
    assert all("path" not in e for e in registry.public_entries())

    # Training data: every matching shard, in name order (blood, then lung).
    features, labels = registry.load_training_data(("#X",))
    assert tuple(features.shape) == (9, 3)
    assert labels.tolist() == [2, 2, 2, 2, 0, 0, 0, 0, 0]
    assert registry.remove("blood")["name"] == "blood"
    assert [e["name"] for e in registry.public_entries()] == ["lung"]


def test_shapes_of_other_kinds(tmp_path):
    registry = DatasetRegistry(tmp_path / "node")
    pd.DataFrame({"a": [1, 2], "b": [3, 4], "c": [5, 6]}).to_csv(tmp_path / "t.csv")
    assert registry.add("t", tmp_path / "t.csv", ["#t"])["shape"] == [2, 4]
    with pytest.raises(DataError, match=r"PATH: x.txt is of no accepted kind"):
        (tmp_path / "x.txt").write_text("x")
        registry.add("x", tmp_path / "x.txt", ["#t"])


def test_registry_errors(tmp_path):
    registry = DatasetRegistry(tmp_path / "node")
    registry.add("lung", _shard(tmp_path / "a.npz"), ["#X"])
    with pytest.raises(UsageError) as taken:
        registry.add("lung", tmp_path / "a.npz", ["#X"])
    assert str(taken.value) == (
        "--name: dataset 'lung' is already registered on this node; "
        "remove it first or choose another name"
    )
    with pytest.raises(DataError) as none:
        registry.load_training_data(("#gtex_v8",))
    assert str(none.value) == (
        "no training shard matches tags #gtex_v8; registered: lung (#X)"
    )
    with pytest.raises(UsageError, match=r"^--name: malformed dataset name '-a'"):
        registry.add("-a", tmp_path / "a.npz", ["#X"])


def test_write_shard_round_trip(tmp_path):
    import torch

    path = write_shard(tmp_path / "s.npz", torch.ones(2, 3), torch.tensor([1, 0]))
    registry = DatasetRegistry(tmp_path)
    registry.add("s", path, ["#s"])
    features, labels = registry.load_training_data(("#s",))
    assert features.tolist() == [[1.0] * 3] * 2
    assert labels.tolist() == [1, 0]


# CLI.
def test_cli_dataset_add_list_remove(tmp_path):
    runner = CliRunner()
    node = str(tmp_path / "node")
    shard = str(_shard(tmp_path / "a.npz", 6, 2))
    added = runner.invoke(
        cli,
        ["node", "dataset", "add", shard, "--name", "g",
         "--tags", "#X #gtex_v8 #dataset",
         "--description", "lung", "--node_dir", node, "--json"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    listed = runner.invoke(
        cli, ["node", "dataset", "list", "--node_dir", node, "--json"]
    )
    assert json.loads(listed.output) == [
        {
            "name": "g",
            "tags": ["#X", "#gtex_v8", "#dataset"],
            "description": "lung",
            "shape": [6, 2],
            "kind": "shard",
        }
    ]
    assert str(tmp_path) not in listed.output
    removed = runner.invoke(
        cli, ["node", "dataset", "remove", "nope", "--node_dir", node]
    )
    assert removed.exit_code == 2
    assert (
        removed.output == "Error: NAME: no dataset 'nope' on this node; registered: g\n"
    )


def test_cli_bad_tag(tmp_path):
    shard = str(_shard(tmp_path / "a.npz"))
    result = CliRunner().invoke(
        cli,
        ["node", "dataset", "add", shard, "--name", "g", "--tags", "X",
         "--node_dir", str(tmp_path / "node")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.output == (
        "Error: --tags: malformed tag 'X' (did you mean '#X'?); a tag is '#' then "
        "1-64 letters, digits, '_', '-' or '.', e.g. '#gtex_v8'\n"
    )


def test_cli_network_that_does_not_answer(tmp_path):
    from hrc.engines.nvflare import workspace

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    workspace.provision(tmp_path / "ws", ["h1"], "127.0.0.1", port)
    result = CliRunner().invoke(
        cli, ["network", "nodes", "--workspace", str(tmp_path / "ws")]
    )
    assert result.exit_code == 1
    assert result.output == (
        f"Error: the network at 127.0.0.1:{port} does not answer; "
        "start it with 'hrc network start'\n"
    )


# Processes.
def test_port_in_use():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(UsageError) as error:
            check_port_free("127.0.0.1", port)
    assert str(error.value) == (
        f"--grid_port: port {port} on 127.0.0.1 is already in use "
        "(Address already in use); stop what holds it or choose another port"
    )


def test_stop_all_reaches_children_in_their_own_session(tmp_path):
    # The parent starts a child in a new session, as FLARE starts job processes.
    script = (
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
        " start_new_session=True)\n"
        "time.sleep(60)\n"
    )
    group = ProcessGroup("test")
    parent = group.start("parent", [sys.executable, "-c", script], tmp_path / "log")
    deadline = time.monotonic() + 10
    while not psutil.Process(parent.pid).children() and time.monotonic() < deadline:
        time.sleep(0.05)
    family = group.pids()
    assert len(family) == 2
    group.stop_all(grace=1.0)
    assert alive(family) == []

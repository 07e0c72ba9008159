"""Provisioning, site kits and compose files, without a Docker engine.

``hrc deploy provision`` makes real FLARE kits here (a second or two); the
checks are on their layout, that nothing of this machine or no secret ends up
in a tracked file, the exact error lines, and the compose documents.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from hrc.cli import cli
from hrc.deploy import site
from hrc.engines.docker import compose
from hrc.errors import UsageError

pytest.importorskip("nvflare")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def kits(tmp_path_factory) -> Path:
    """Kits for a network on 127.0.0.1:8765 and nodes h1, h2."""
    output = tmp_path_factory.mktemp("deploy") / "kits"
    result = CliRunner().invoke(
        cli,
        ["deploy", "provision", "--network", "127.0.0.1", "--port", "8765",
         "--node", "h1", "--node", "h2", "--output", str(output), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.splitlines()[-1])["nodes"] == {
        "h1": "h1",
        "h2": "h2",
    }
    return output


def test_provision_lays_out_one_kit_per_site(kits):
    names = sorted(p.name for p in kits.iterdir())
    assert names == [
        ".ca", ".gitignore", "admin@hrc.local", "h1", "h2", "kits.json", "server",
    ]  # fmt: skip
    assert (kits / ".gitignore").read_text().splitlines()[-1] == "*"
    assert site.kit_role(kits / "server") == "network"
    assert site.kit_role(kits / "h1") == "node"
    assert site.kit_role(kits / "admin@hrc.local") == "admin"


def test_each_site_has_its_own_key_and_mutual_tls(kits):
    keys = {
        name: (kits / name / "startup" / "client.key").read_bytes()
        for name in ("h1", "h2")
    }
    assert keys["h1"] != keys["h2"]
    for name in ("h1", "h2"):
        settings = json.loads((kits / name / "startup" / "fed_client.json").read_text())
        assert settings["client"]["connection_security"] == "mtls"
        assert settings["servers"][0]["service"]["target"] == "127.0.0.1:8765"
        assert (kits / name / "startup" / "client.key").stat().st_mode & 0o077 == 0


def test_kits_hold_no_path_of_the_provisioning_machine(kits):
    for path in kits.rglob("*.json"):
        if ".ca" in path.parts:
            continue
        assert str(kits) not in path.read_text(), path


def test_provision_refuses_an_existing_folder(kits):
    result = CliRunner().invoke(
        cli, ["deploy", "provision", "--network", "x", "--output", str(kits)]
    )
    assert result.exit_code == 2
    assert result.output == (
        f"Error: --output: {kits} exists; choose another folder or add --force "
        "to replace it (its kits and keys are lost)\n"
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--node", "H1"],
            "Error: --node: 'H1' is not a valid node name; use 1-63 lowercase "
            "letters, digits, '-' or '_', starting with a letter (not 'server' "
            "or 'admin')\n",
        ),
        (["--node", "h1", "--node", "h1"], "Error: --node: h1 given more than once\n"),
        (["--port", "80"], "Error: --port: 80 is not a port in 1024-65535\n"),
    ],
)
def test_provision_error_lines(tmp_path, arguments, message):
    result = CliRunner().invoke(
        cli,
        ["deploy", "provision", "--network", "x", "--output", str(tmp_path / "k"),
         *arguments],
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.output == message
    assert not (tmp_path / "k").exists()


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("192.0.2.10:9000", ("192.0.2.10", 9000)),
        ("server.example.org", ("server.example.org", 8002)),
        (" server:8002 ", ("server", 8002)),
    ],
)
def test_parse_network(address, expected):
    assert site.parse_network(address, 8002) == expected


def test_parse_network_rejects_a_bad_port():
    with pytest.raises(UsageError) as caught:
        site.parse_network("server:http", 8002)
    assert str(caught.value) == (
        "--network: 'server:http' is not an address; use HOST or HOST:PORT, "
        "e.g. 192.0.2.10:8002 or server.example.org"
    )


def test_node_kit_copy_dials_the_network_variable(kits, tmp_path):
    prepared = site.prepare_kit(kits / "h2", tmp_path / "h2", "192.0.2.7:9100")
    settings = json.loads((prepared.path / "startup" / "fed_client.json").read_text())
    assert settings["servers"][0]["service"]["target"] == "192.0.2.7:9100"
    assert (prepared.name, prepared.host, prepared.port) == ("h2", "192.0.2.7", 9100)
    # The kit given stays as provisioned (it may be mounted read-only).
    original = json.loads((kits / "h2" / "startup" / "fed_client.json").read_text())
    assert original["servers"][0]["service"]["target"] == "127.0.0.1:8765"


def test_network_kit_copy_keeps_its_state_in_the_workspace(kits, tmp_path):
    prepared = site.prepare_kit(kits / "server", tmp_path / "net")
    resources = json.loads((prepared.path / "local" / "resources.json").read_text())
    text = json.dumps(resources)
    assert str(tmp_path / "net" / "server_state") in text
    assert prepared.port == 8765


def test_site_refuses_a_kit_of_another_role(kits, tmp_path):
    with pytest.raises(UsageError) as caught:
        site.run_site("network", kits / "h1", tmp_path)
    assert str(caught.value) == f"--kit: {kits / 'h1'} is a node kit, not a network kit"


def test_federation_compose_labels_and_isolates_each_site(tmp_path):
    kit = {name: tmp_path / "kits" / name for name in ("h1", "h2")}
    home = {name: tmp_path / "nodes" / name for name in ("h1", "h2")}
    document = compose.federation_compose(
        "abc123", "hrc:test", tmp_path / "kits" / "server", tmp_path / "state",
        kit, home,
    )  # fmt: skip
    services = document["services"]
    assert list(services) == ["network", "h1", "h2"]
    for service in services.values():
        assert service["labels"][compose.RUN_LABEL] == "abc123"
        assert service["network_mode"] == "host"
    # A node sees its own kit and data only, at the host's paths.
    assert services["h1"]["volumes"] == [
        f"{kit['h1']}:{kit['h1']}",
        f"{home['h1']}:{home['h1']}",
    ]
    assert services["h2"]["environment"]["HRC_NODE_HOME"] == str(home["h2"])


def test_swarm_compose_uses_the_host_network_without_network_mode(tmp_path):
    document = compose.federation_compose(
        "abc123", "hrc:test", tmp_path / "s", tmp_path / "st",
        {"h1": tmp_path / "k1"}, {"h1": tmp_path / "d1"}, swarm=True,
    )  # fmt: skip
    assert document["networks"] == {"hostnet": {"external": True, "name": "host"}}
    assert "network_mode" not in document["services"]["h1"]
    assert document["services"]["h1"]["deploy"]["labels"] == {
        "hrc.run": "abc123",
        "hrc.role": "node",
    }


@pytest.mark.parametrize("name", ["gridnetwork-compose.yml", "gridnode-compose.yml"])
def test_tracked_compose_files_hold_no_secret(name):
    text = (REPO / name).read_text()
    for marker in ("BEGIN", "PRIVATE", "password", "secret_key", "SECRET"):
        assert marker not in text
    document = yaml.safe_load(text)
    for service in document["services"].values():
        assert "secret" not in json.dumps(service).lower()
        kit_mounts = [v for v in service["volumes"] if v.endswith(":/hrc/kit:ro")]
        assert len(kit_mounts) == 1, service["volumes"]


def test_node_compose_file_has_one_kit_and_data_folder_per_node():
    document = yaml.safe_load((REPO / "gridnode-compose.yml").read_text())
    for name in ("h1", "h2"):
        volumes = document["services"][name]["volumes"]
        assert volumes[0].endswith(f"/{name}:/hrc/kit:ro")
        assert volumes[1].endswith(f"/{name}:/hrc/data")


def test_compose_files_are_valid_for_the_compose_tool(tmp_path):
    tool = subprocess.run(["which", "docker-compose"], capture_output=True, text=True)
    if tool.returncode != 0:
        pytest.skip("docker-compose is not installed (.ci/docker-setup.sh installs it)")
    for name in ("gridnetwork-compose.yml", "gridnode-compose.yml"):
        checked = subprocess.run(
            ["docker-compose", "-f", str(REPO / name), "config", "--quiet"],
            capture_output=True,
            text=True,
            env={"NETWORK": "192.0.2.1:8002", "PATH": "/usr/bin:/bin"},
            cwd=tmp_path,
        )
        assert checked.returncode == 0, checked.stderr

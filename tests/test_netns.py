"""Across hosts without Docker: the network and two nodes in network namespaces.

Each site runs in a namespace of its own, linked to the network's namespace by
a veth pair on a bridge there, with addresses from 198.18.0.0/24 (the range
reserved for network tests); no namespace has a route out, so every packet
stays between the namespaces this test creates. The steps are those of
docs/deploy.md for several machines, with the site processes started directly
instead of in containers:

1. ``hrc deploy provision --network 198.18.0.1`` makes the kits (mutual TLS);
2. each hospital: ``hrc node summarize`` of its own prepared pair;
3. the researcher: ``hrc deploy plan --summary h1.json --summary h2.json``
   fits the shared preprocessor and writes the job;
4. each hospital: ``hrc node shard --plan preprocessor.json`` and
   ``hrc node dataset add``;
5. the network: ``hrc deploy site network --kit kits/server``;
6. each hospital: ``NETWORK=198.18.0.1:PORT hrc deploy site node --kit
   kits/hN --data ...``;
7. the researcher: ``hrc deploy submit --kit kits/admin@hrc.local --job
   plan/job/hrc_train``.

A third node, h3, trusts the project's root CA (a public certificate anyone
may hold) but its own certificate comes from another provisioning: the
network refuses it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from hrc.cli import cli
from hrc.data.dataset import write_prepared
from hrc.data.synth import generate_cohort

pytest.importorskip("nvflare")

pytestmark = pytest.mark.netns

NETWORK_ADDRESS = "198.18.0.1"
PORT = 8002
TAGS = ("#X", "#gtex_v8", "#dataset")


def _require_netns() -> None:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 ('ip netns')")
    probe = subprocess.run(
        ["ip", "netns", "add", f"hrcprobe{os.getpid()}"], capture_output=True
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot create network namespaces: {probe.stderr.decode()}")
    subprocess.run(["ip", "netns", "del", f"hrcprobe{os.getpid()}"], check=True)


class Namespaces:
    """The network's namespace with a bridge, and one namespace per host."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.names: list[str] = []

    def _ip(self, *args: str, namespace: str | None = None) -> None:
        argv = ["ip", *args]
        if namespace:
            argv = ["ip", "netns", "exec", namespace, *argv]
        subprocess.run(argv, check=True, capture_output=True)

    def add(self, name: str) -> str:
        namespace = f"{self.prefix}-{name}"
        self._ip("netns", "add", namespace)
        self.names.append(namespace)
        self._ip("link", "set", "lo", "up", namespace=namespace)
        return namespace

    def add_network(self) -> str:
        """The network's namespace: a bridge holding 198.18.0.1/24."""
        namespace = self.add("net")
        self._ip("link", "add", "br0", "type", "bridge", namespace=namespace)
        address = f"{NETWORK_ADDRESS}/24"
        self._ip("addr", "add", address, "dev", "br0", namespace=namespace)
        self._ip("link", "set", "br0", "up", namespace=namespace)
        return namespace

    def add_host(self, name: str, index: int, network_ns: str) -> str:
        """A host namespace linked to the bridge by a veth pair."""
        namespace = self.add(name)
        bridge_end = f"v{os.getpid() % 100000}{index}"
        self._ip(
            "link", "add", bridge_end, "netns", network_ns, "type", "veth",
            "peer", "name", "eth0", "netns", namespace,
        )  # fmt: skip
        self._ip("link", "set", bridge_end, "master", "br0", "up", namespace=network_ns)
        address = f"198.18.0.{10 + index}/24"
        self._ip("addr", "add", address, "dev", "eth0", namespace=namespace)
        self._ip("link", "set", "eth0", "up", namespace=namespace)
        return namespace

    def remove_all(self) -> None:
        for namespace in reversed(self.names):
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)


class Sites:
    """Site processes started in namespaces, each in its own session."""

    def __init__(self) -> None:
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, namespace: str, argv: list[str], log: Path, env=None):
        with open(log, "ab") as log_file:
            self.processes[name] = subprocess.Popen(
                ["ip", "netns", "exec", namespace, *argv],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, **(env or {})},
            )

    def stop_all(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


def _write_hospitals(root: Path) -> None:
    """Two hospitals' prepared pairs: a small cohort's donors dealt in halves."""
    cohort = generate_cohort(n_samples=120, n_genes=40, seed=0)
    donors = sorted(cohort.samples["Donor"].unique())
    halves = {"h1": donors[: len(donors) // 2], "h2": donors[len(donors) // 2 :]}
    for name, held in halves.items():
        rows = cohort.samples["Donor"].isin(held).to_numpy()
        write_prepared(
            root / name,
            cohort.samples[rows].reset_index(drop=True),
            cohort.expression[rows],
            cohort.gene_ids,
        )


def _hrc(*arguments: object) -> str:
    """Run an ``hrc`` command in this process; return its last output line."""
    result = CliRunner().invoke(cli, [str(a) for a in arguments])
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def _pair(folder: Path) -> list[str]:
    return [
        "--samples_path", str(folder / "v8_samples.parquet"),
        "--expressions_path", str(folder / "v8_expressions.parquet"),
    ]  # fmt: skip


def _provision(output: Path, nodes: list[str]) -> None:
    arguments = ["deploy", "provision", "--network", NETWORK_ADDRESS,
                 "--port", str(PORT), "--output", str(output)]  # fmt: skip
    for name in nodes:
        arguments += ["--node", name]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """Network, h1 and h2 in namespaces; an intruder h3 with a foreign kit."""
    _require_netns()
    root = tmp_path_factory.mktemp("netns")
    hrc = [sys.executable, "-m", "hrc"]
    namespaces, sites = Namespaces(f"hrc{os.getpid() % 100000}"), Sites()
    try:
        # 1. Kits; the intruder's own key and certificate come from another
        #    provisioning, with the project's root CA copied in.
        _provision(root / "kits", ["h1", "h2"])
        _provision(root / "foreign", ["h3"])
        shutil.copyfile(
            root / "kits" / "h1" / "startup" / "rootCA.pem",
            root / "foreign" / "h3" / "startup" / "rootCA.pem",
        )

        # 2. Each hospital summarises its own data.
        _write_hospitals(root / "hospital")
        for name in ("h1", "h2"):
            _hrc(
                "node", "summarize", *_pair(root / "hospital" / name),
                "--label", "sex", "--out", root / "summaries" / f"{name}.json",
            )  # fmt: skip

        # 3. The researcher plans: the shared preprocessor and the job.
        plan = json.loads(
            _hrc(
                "deploy",
                "plan",
                "--summary",
                root / "summaries" / "h1.json",
                "--summary",
                root / "summaries" / "h2.json",
                "--label",
                "sex",
                "--n_genes",
                "12",
                "--hidden",
                "8",
                "--dropout",
                "0.0",
                "--n_epochs",
                "2",
                "--batch_size",
                "16",
                "--tags",
                ",".join(TAGS),
                "--out",
                root / "plan",
                "--json",
            )  # fmt: skip
        )

        # 4. Each hospital writes its shard from the plan and registers it.
        for name in ("h1", "h2"):
            shard = root / "data" / name / "shard.npz"
            _hrc(
                "node", "shard", *_pair(root / "hospital" / name),
                "--plan", plan["preprocessor"], "--out", shard,
            )  # fmt: skip
            _hrc(
                "node", "dataset", "add", shard, "--name", "gtex_shard",
                "--tags", " ".join(TAGS), "--node_dir", root / "data" / name,
            )  # fmt: skip

        # Hosts: the network, two hospitals, the intruder.
        net = namespaces.add_network()
        hosts = {
            name: namespaces.add_host(name, index, net)
            for index, name in enumerate(["h1", "h2", "h3"], start=1)
        }

        # 5. The network.
        sites.start(
            "network", net,
            [*hrc, "deploy", "site", "network",
             "--kit", str(root / "kits" / "server"), "--workspace", str(root / "net")],
            root / "network.log",
        )  # fmt: skip

        # 6. Each hospital starts its node; the intruder tries too.
        for name, kits in (("h1", "kits"), ("h2", "kits"), ("h3", "foreign")):
            sites.start(
                name, hosts[name],
                [*hrc, "deploy", "site", "node",
                 "--kit", str(root / kits / name), "--workspace", str(root / name),
                 "--data", str(root / "data" / name)],
                root / f"{name}.log",
                env={"NETWORK": f"{NETWORK_ADDRESS}:{PORT}"},
            )  # fmt: skip

        # 7. The researcher, on the network's host, submits the two-round job.
        submitted = subprocess.run(
            ["ip", "netns", "exec", net, *hrc, "deploy", "submit",
             "--kit", str(root / "kits" / "admin@hrc.local"),
             "--network", f"127.0.0.1:{PORT}", "--job", plan["job"],
             "--node", "h1", "--node", "h2", "--workspace", str(root / "admin"),
             "--result", str(root / "result"), "--timeout", "240"],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert submitted.returncode == 0, submitted.stderr[-3000:]
        outcome = json.loads(submitted.stdout.strip().splitlines()[-1])
        yield root, outcome
    finally:
        sites.stop_all()
        namespaces.remove_all()


def test_job_completes_across_namespaces(deployment):
    root, outcome = deployment
    assert outcome["state"] == "FINISHED:COMPLETED"
    status_files = list(Path(outcome["result"]).rglob("status.json"))
    assert len(status_files) == 1
    status = json.loads(status_files[0].read_text())
    assert (status["status"], status["last_round"]) == ("finished", 2)


def test_nodes_reached_the_network_over_their_links(deployment):
    root, outcome = deployment
    assert sorted(outcome["connected"]) == ["h1", "h2"]
    network_log = (root / "network.log").read_text()
    assert "198.18.0.11" in network_log
    assert "198.18.0.12" in network_log


def test_node_without_a_valid_certificate_is_refused(deployment):
    root, outcome = deployment
    assert "h3" not in outcome["connected"]
    network_log = (root / "network.log").read_text()
    assert "New client h3" not in network_log
    assert "SSL h3" not in network_log


# Opens a TLS connection with a kit's key and certificate, sends one request;
# prints "answered" if the network replies, "closed" if it drops the client.
PROBE = """
import socket, ssl, sys
host, port, kit = sys.argv[1], int(sys.argv[2]), sys.argv[3]
context = ssl.create_default_context(cafile=kit + "/startup/rootCA.pem")
context.check_hostname = False
context.load_cert_chain(kit + "/startup/client.crt", kit + "/startup/client.key")
try:
    with socket.create_connection((host, port), 5) as raw:
        with context.wrap_socket(raw) as tls:
            tls.settimeout(5)
            tls.sendall(b"GET / HTTP/1.1\\r\\nHost: network\\r\\n\\r\\n")
            print("answered" if tls.recv(64) else "closed")
except (ssl.SSLError, ConnectionError):
    print("closed")
"""


@pytest.mark.parametrize(
    ("kit", "expected"), [("kits/h1", "answered"), ("foreign/h3", "closed")]
)
def test_network_drops_a_certificate_of_another_provisioning(deployment, kit, expected):
    root, _ = deployment
    probe = subprocess.run(
        ["ip", "netns", "exec", f"hrc{os.getpid() % 100000}-h3", sys.executable,
         "-c", PROBE, NETWORK_ADDRESS, str(PORT), str(root / kit)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert probe.stdout.strip() == expected, probe.stderr

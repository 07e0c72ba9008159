"""The DVC pipeline runs on a fresh clone, reruns only what changed, and runs
experiments.

Each test copies the repository into a temporary folder as a new git
repository (what a researcher gets from ``git clone``) and drives the real
``dvc`` command on the small test stages, which train for 2 epochs on their
own 400-sample cohort.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
TEST_STAGES = ("centralized_test", "decentralized_test")
METRIC_KEYS = {
    "accuracy",
    "balanced_accuracy",
    "macro_f1",
    "loss",
    "majority_baseline",
    "n_train",
    "n_test",
    "n_clients",
    "rounds",
    "runtime_seconds",
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("dvc") is None, reason="dvc is not installed"),
    pytest.mark.skipif(
        not (REPO / ".git").exists(), reason="the project is not a git checkout"
    ),
]


def _run(args: list[str], cwd: Path, json_output: bool = False) -> Any:
    """Run a command in ``cwd`` offline.

    Returns stdout and stderr together, or stdout parsed as JSON.
    """
    env = {
        **os.environ,
        "DVC_NO_ANALYTICS": "1",
        "DVC_STUDIO_OFFLINE": "true",
        "PYTHONPATH": str(cwd / "src"),
    }
    done = subprocess.run(
        args,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{output}"
    return json.loads(done.stdout) if json_output else output


def _fresh_clone(tmp_path: Path) -> Path:
    """Copy the files git sees in the repository into a new git repository."""
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    clone = tmp_path / "hrc"
    for name in filter(None, listing.split("\0")):
        source = REPO / name
        if source.is_file():
            target = clone / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)

    # A new repository with one commit, and an identity for `dvc exp run`.
    _run(["git", "init", "-q"], clone)
    _run(["git", "config", "user.name", "HRC test"], clone)
    _run(["git", "config", "user.email", "hrc-test@example.org"], clone)
    _run(["git", "add", "-A"], clone)
    _run(["git", "commit", "-q", "-m", "fresh clone"], clone)
    return clone


def _stages_run(output: str) -> set[str]:
    """Names of the stages that ``dvc repro`` or ``dvc exp run`` executed."""
    return set(re.findall(r"Running stage '([^']+)'", output))


def _set_param(clone: Path, section: str, key: str, value: object) -> None:
    """Change one value of params.yaml, as an editor would."""
    path = clone / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params[section][key] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def _experiments(show: list[dict]) -> list[dict]:
    """Flatten the experiment records of ``dvc exp show --json``."""
    found = []
    for baseline in show:
        for experiment in baseline.get("experiments") or []:
            found.extend(rev["data"] for rev in experiment["revs"] if rev["data"])
    return found


def test_repro_runs_offline_and_reruns_only_changed_stages(tmp_path):
    clone = _fresh_clone(tmp_path)

    # First run: the test data stage and both test stages.
    output = _run(["dvc", "repro", *TEST_STAGES], clone)
    assert _stages_run(output) == {"prepare_test_data", *TEST_STAGES}
    metrics_dir = clone / "data" / "metrics" / "test"
    for train_type, n_clients in (("centralized", 1), ("decentralized", 2)):
        metrics = json.loads((metrics_dir / f"{train_type}_metrics.json").read_text())
        assert METRIC_KEYS <= set(metrics), train_type
        assert metrics["rounds"] == 2
        assert metrics["n_clients"] == n_clients
        assert 0.0 <= metrics["accuracy"] <= 1.0
        history = (metrics_dir / f"{train_type}_history.csv").read_text().splitlines()
        assert history[0].split(",")[:2] == ["round", "loss"]
        assert len(history) == 1 + 2  # header and one row per epoch or round

    # Second run: nothing changed, so nothing reruns.
    output = _run(["dvc", "repro", *TEST_STAGES], clone)
    assert _stages_run(output) == set()
    status = _run(["dvc", "status", "--json", *TEST_STAGES], clone, json_output=True)
    assert status == {}

    # One federated parameter changed: only the federated test stage reruns.
    _set_param(clone, "decentralized_test", "no_of_clients", 3)
    status = _run(["dvc", "status", "--json", *TEST_STAGES], clone, json_output=True)
    assert set(status) == {"decentralized_test"}
    output = _run(["dvc", "repro", *TEST_STAGES], clone)
    assert _stages_run(output) == {"decentralized_test"}
    metrics = json.loads((metrics_dir / "decentralized_metrics.json").read_text())
    assert metrics["n_clients"] == 3

    # The metrics and plots commands read the declared files.
    shown = _run(["dvc", "metrics", "show", "--json"], clone, json_output=True)
    workspace = shown[""]["data"]  # the workspace has no revision name
    figures = workspace["data/metrics/test/decentralized_metrics.json"]["data"]
    assert figures["n_clients"] == 3
    _run(["dvc", "plots", "show", "--out", str(tmp_path / "plots")], clone)
    assert (tmp_path / "plots" / "index.html").is_file()


def test_exp_run_with_override_is_listed_by_exp_show(tmp_path):
    clone = _fresh_clone(tmp_path)

    # An experiment that trains the centralized test stage for 3 epochs.
    output = _run(
        ["dvc", "exp", "run", "-S", "centralized_test.n_epochs=3", "centralized_test"],
        clone,
    )
    assert _stages_run(output) == {"prepare_test_data", "centralized_test"}

    # exp show lists it with the overridden parameter and its metrics.
    show = _run(["dvc", "exp", "show", "--json"], clone, json_output=True)
    experiments = _experiments(show)
    assert len(experiments) == 1
    params = experiments[0]["params"]["params.yaml"]["data"]
    assert params["centralized_test"]["n_epochs"] == 3
    assert params["decentralized_test"]["n_epochs"] == 2
    metrics = experiments[0]["metrics"]["data/metrics/test/centralized_metrics.json"]
    assert metrics["data"]["rounds"] == 3
    assert METRIC_KEYS <= set(metrics["data"])

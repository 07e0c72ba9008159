"""Suite-wide test settings."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_GTEX = REPO_ROOT.parent / "shared" / "gtex-v8-subset"


@pytest.fixture(autouse=True)
def _single_torch_thread():
    """Run torch on one thread: the tensors here are small, and on a busy
    two-core machine worker threads make such tests several times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _propagate_hrc_logs(monkeypatch):
    """Let pytest's ``caplog`` see HRC's records even after the CLI has set up
    its own handler (which stops propagation to the root logger)."""
    monkeypatch.setattr(logging.getLogger("hrc"), "propagate", True)

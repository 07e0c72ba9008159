"""NVIDIA FLARE engine: the network and the nodes as separate OS processes.

The only part of HRC that imports ``nvflare``. :func:`run` trains a
federation on a local FLARE network (one node process per client).

For deployments with provisioned startup kits (``hrc deploy provision``):
:func:`services.start_server` and :func:`services.start_node` start a site
from its kit folder, :func:`admin.open_session` logs in with an admin kit,
and :func:`admin.submit_job` submits a job folder written by
:func:`job.write_train_job`.
"""

from __future__ import annotations

from hrc.engines.nvflare.engine import default_workspace, run

__all__ = ["default_workspace", "run"]

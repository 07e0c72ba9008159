"""Docker engine: the network and the nodes as containers on this machine.

:func:`run` (``--engine docker``) generates a compose file for a network and
one node per client, brings it up, trains through the NVFLARE engine's job and
brings everything down with its volumes, also on an error or Ctrl-C.
Containers carry the run's ``hrc.run`` label and are cleaned up by it, never by
image name. ``--swarm yes`` deploys the same services as a Docker stack.
"""

from __future__ import annotations

from hrc.engines.docker.engine import cleanup, docker_client, run

__all__ = ["cleanup", "docker_client", "run"]

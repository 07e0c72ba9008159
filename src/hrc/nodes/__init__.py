"""Hospital nodes and the network, independent of the federated runtime.

:mod:`hrc.nodes.tags` states the tag rules, :mod:`hrc.nodes.registry` keeps a
node's datasets (paths private to the node), :mod:`hrc.nodes.processes`
starts and stops the processes of a network and its nodes.
"""

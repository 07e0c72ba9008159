"""``hrc deploy site``: run the network or a hospital node from its kit."""

from hrc.deploy.site import main

PARENT = "deploy"
COMMAND = main

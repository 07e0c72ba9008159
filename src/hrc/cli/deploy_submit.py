"""``hrc deploy submit``: submit a job with the admin kit and wait for it."""

from hrc.deploy.submit import main

PARENT = "deploy"
COMMAND = main

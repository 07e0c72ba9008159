#!/bin/sh
# Entry point of the HRC image. The first argument picks the role:
#   network          run the network (FL server) from the kit in /hrc/kit
#   node             run a hospital node from the kit in /hrc/kit, data in
#                    /hrc/data, reaching the network at $NETWORK (host:port)
#   anything else    an hrc command, e.g. "train --help"
set -eu
role="${1:---help}"
case "$role" in
    network|node)
        shift
        exec python -m hrc.deploy.site "$role" "$@"
        ;;
    *)
        exec hrc "$@"
        ;;
esac

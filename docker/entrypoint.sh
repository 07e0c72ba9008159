#!/bin/sh
# Entry point of the HRC image. The first argument picks what runs:
#   network [OPTIONS]   the network (FL server) from the kit in /hrc/kit
#   node [OPTIONS]      a hospital node from the kit in /hrc/kit, data in
#                       /hrc/data, reaching the network at $NETWORK (host:port)
#   anything else       an hrc command, e.g. "node dataset add ..." or "--help"
# Options of the two roles: python -m hrc.deploy.site --help.
set -eu
role="${1:---help}"
case "$role" in
    network|node)
        next="${2:-}"
        case "$next" in
            ""|-*)
                shift
                exec python -m hrc.deploy.site "$role" "$@"
                ;;
        esac
        ;;
esac
exec hrc "$@"

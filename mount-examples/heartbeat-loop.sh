#!/usr/bin/env bash
# Keeps a server's entry valid while the server process lives (FIG. 5C): touch the entry
# every PERIOD seconds with a deadline of TIME_MAX seconds. When the server dies, this loop
# dies with it (it watches the PID), the deadline passes, and every host sees valid 0.
#
#   heartbeat-loop.sh PID /dsd/tables/DSD_MTID_METADATA/MDS.1.1 [TIME_MAX_SECONDS] [PERIOD_SECONDS]
set -euo pipefail
pid="$1"; entry="$2"; time_max="${3:-1}"; period="${4:-0.3}"
[ -f "$entry" ] || { echo "heartbeat: $entry does not exist (add it first: echo HOST:PORT > $entry)" >&2; exit 1; }
while kill -0 "$pid" 2>/dev/null; do
    touch -d "+${time_max} sec" "$entry"
    sleep "$period"
done
echo "heartbeat: process $pid is gone; $entry will turn invalid within ${time_max}s" >&2

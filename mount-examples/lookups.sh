#!/usr/bin/env bash
# Lookup one-liners against a mounted agent (default /dsd). Each is a plain file read:
# no client library, no network round trip.
m="${1:-/dsd}"
set -x
cat "$m/find/MDS.1"                                  # complete route of MDS.1's primary, e.g. 16.7.13.1:1872
cat "$m/tables/DSD_MTID_METADATA/MDS.1"              # "<value> <valid>": HOST9:1872 1
cat "$m/part/DSD_MTID_METADATA_PART/8"               # route serving partition 8 (8 mod 3 = 2 -> MDS.2)
ls "$m/tables/DSD_HOST_ROUTE"                        # every host route
grep -l ' 0$' "$m"/tables/DSD_MTID_METADATA/* || true  # which metadata servers are down
head -c 4096 "$m/status"                             # the agent's own state

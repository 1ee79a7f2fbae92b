#!/usr/bin/env bash
# Reacts to failures anywhere in the cluster (FIG. 5D/4C): watches a table directory under
# the mount with inotifywait and runs a command when an entry turns invalid or disappears.
#
#   watch-failures.sh /dsd/tables/DSD_MTID_METADATA 'echo "$KEY failed" | logger -t dsd'
# The command sees KEY, VALUE and STATE (invalid|deleted) in its environment.
set -euo pipefail
dir="$1"; action="${2:-echo \"\$STATE \$KEY \$VALUE\"}"
inotifywait -m -q -e close_write,delete,attrib,create --format '%e %f' "$dir" | while read -r events key; do
    case "$events" in
    *DELETE*)
        KEY="$key" VALUE="" STATE=deleted bash -c "$action" ;;
    *)
        line="$(cat "$dir/$key" 2>/dev/null || true)"
        value="${line% *}"; valid="${line##* }"
        if [ "$valid" = 0 ]; then KEY="$key" VALUE="$value" STATE=invalid bash -c "$action"; fi ;;
    esac
done

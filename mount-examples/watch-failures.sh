#!/usr/bin/env bash
# Reacts to failures anywhere in the cluster (FIG. 5D/4C): watches a table directory under
# the mount with inotifywait and runs a command when an entry turns invalid or disappears.
#
#   watch-failures.sh /dsd/tables/DSD_MTID_METADATA 'echo "$KEY failed" | logger -t dsd'
# The command sees KEY, VALUE and STATE (invalid|deleted) in its environment, once per failure:
# one change raises several inotify events (CLOSE_WRITE, ATTRIB, …), so each event's entry is
# compared with the last one seen for that key, and only a change to invalid runs the command.
set -euo pipefail
dir="$1"; action="${2:-echo \"\$STATE \$KEY \$VALUE\"}"

# The last "<value> <valid>" line seen per key; entries invalid before the start do not count.
declare -A last=()
for file in "$dir"/*; do
    [ -f "$file" ] && IFS= read -r line <"$file" && last["${file##*/}"]="$line"
done

inotifywait -m -q -e close_write,delete,attrib,create --format '%e %f' "$dir" | while read -r events key; do
    case "$events" in
    *DELETE*)
        line="${last[$key]-}"
        unset "last[$key]"
        KEY="$key" VALUE="${line% *}" STATE=deleted bash -c "$action" ;;
    *)
        IFS= read -r line <"$dir/$key" 2>/dev/null || continue
        [ "$line" = "${last[$key]-}" ] && continue
        last["$key"]="$line"
        value="${line% *}"; valid="${line##* }"
        if [ "$valid" = 0 ]; then KEY="$key" VALUE="$value" STATE=invalid bash -c "$action"; fi ;;
    esac
done

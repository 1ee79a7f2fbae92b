#!/usr/bin/env bash
# The shell equivalent of DSDClient's RequestRedirector (FIG. 4C): run a request against an
# instance's current route, and when the directory reports that its server or route failed,
# cancel it and run it again on the new route — without waiting for a protocol timeout.
#
#   redirect-requests.sh /dsd MDS.1 'curl -s http://$ROUTE/work'
# The command sees ROUTE (e.g. 16.7.13.1:1872) in its environment. Exits with its status.
set -uo pipefail
mnt="$1"; instance="$2"; command="$3"

resolve() { cat "$mnt/find/$instance" 2>/dev/null; }
run() { ROUTE="$1" bash -c "$command" & pid=$!; route="$1"; }

route="$(resolve)" || { echo "redirect: $instance has no valid route" >&2; exit 3; }
# Subscribe before starting, so no change between the lookup and the request is missed.
exec 3< <(cat "$mnt/events/DSD_MTID_METADATA/.all" & cat "$mnt/events/DSD_HOST_ROUTE/.all" & wait)
events_pid=$!
sleep 0.05
run "$route"
while kill -0 "$pid" 2>/dev/null; do
    if read -r -t 0.2 line <&3; then
        now="$(resolve)" || now=""
        if [ "$now" != "$route" ]; then
            echo "redirect: $instance moved from $route to ${now:-nowhere} ($line); resubmitting" >&2
            kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
            while [ -z "$now" ]; do sleep 0.1; now="$(resolve)" || now=""; done
            run "$now"
        fi
    fi
done
wait "$pid"; status=$?
kill "$events_pid" 2>/dev/null
exit $status

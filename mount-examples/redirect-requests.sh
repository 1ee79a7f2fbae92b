#!/usr/bin/env bash
# The shell equivalent of DSDClient's RequestRedirector (FIG. 4C): run a request against an
# instance's current route, and when the directory reports that its server or route failed,
# cancel it and run it again on the new route — without waiting for a protocol timeout.
#
#   redirect-requests.sh /dsd MDS.1 'curl -s http://$ROUTE/work'
# The command sees ROUTE (e.g. 16.7.13.1:1872) in its environment. Exits with its status.
# However it ends (the command's exit, Ctrl-C, SIGTERM), it stops the command and its event
# subscriptions.
set -uo pipefail
mnt="$1"; instance="$2"; command="$3"

# The route is one complete line; a read racing a change of the value's length can return old
# and new bytes mixed, so anything else counts as not resolved yet (looked up again).
resolve() {
    local line
    IFS= read -r line <"$mnt/find/$instance" 2>/dev/null && [ -n "$line" ] || return 1
    printf '%s\n' "$line"
}
# The command runs in its own process group (set -m), so stopping it stops all it started.
run() { set -m; ROUTE="$1" bash -c "$command" </dev/null & pid=$!; set +m; route="$1"; }
stop() { kill -- -"$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }

pid=""; readers=(); fifo_dir=""
cleanup() {
    [ -n "$pid" ] && stop
    [ "${#readers[@]}" -gt 0 ] && kill "${readers[@]}" 2>/dev/null
    [ -n "$fifo_dir" ] && rm -rf "$fifo_dir"
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

route="$(resolve)" || { echo "redirect: $instance has no valid route" >&2; exit 3; }
# Subscribe before starting, so no change between the lookup and the request is missed: both
# tables' events readers write into one FIFO; they are this script's own children, stopped on exit.
fifo_dir="$(mktemp -d)"; mkfifo "$fifo_dir/events"
cat "$mnt/events/DSD_MTID_METADATA/.all" >"$fifo_dir/events" & readers+=($!)
cat "$mnt/events/DSD_HOST_ROUTE/.all" >"$fifo_dir/events" & readers+=($!)
exec 3<"$fifo_dir/events"
sleep 0.05
run "$route"
while kill -0 "$pid" 2>/dev/null; do
    read -r -t 0.2 line <&3
    got=$?
    if [ "$got" -gt 128 ]; then continue; fi   # no event within 0.2 s
    if [ "$got" != 0 ]; then
        # The subscription ended (the mount went away): look the route up every 0.2 s instead.
        sleep 0.2; line="(no event stream)"
    fi
    now="$(resolve)" || now=""
    if [ "$now" != "$route" ]; then
        echo "redirect: $instance moved from $route to ${now:-nowhere} ($line); resubmitting" >&2
        stop
        while [ -z "$now" ]; do sleep 0.1; now="$(resolve)" || now=""; done
        run "$now"
    fi
done
wait "$pid"; status=$?
pid=""
exit $status

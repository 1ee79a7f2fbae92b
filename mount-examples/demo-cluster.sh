#!/usr/bin/env bash
# A demo dsd cluster on this machine: one directory and three agents (HOST1..HOST3) on
# loopback, each agent with its own mountpoint, seeded with the design document's tables.
# Everything stays on 127.0.0.1. Ctrl-C stops the agents (unmounting cleanly) and the directory.
#
#   mount-examples/demo-cluster.sh [DSD_BINARY]        (make demo runs it)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
dsd="${1:-$here/../.build/debug/dsd}"
base="${DSD_DEMO_DIR:-/tmp/dsd-demo}"
port="${DSD_DEMO_PORT:-7400}"
[ -x "$dsd" ] || { echo "demo: $dsd not found; run 'make build' first" >&2; exit 1; }

# One demo per directory: a second one would unmount the first one's mounts and wipe its data.
# The lock is held while the demo runs (its processes inherit it); the lock file lists their pids.
base="${base%/}"
mkdir -p "$base"
lock="$base/demo.lock"
exec 9<>"$lock"
if ! flock -n 9; then
    script="$(head -n 1 "$lock")"
    holders=""
    while read -r pid; do kill -0 "$pid" 2>/dev/null && holders="${holders:+$holders }$pid"; done <"$lock"
    beside="or run a second demo beside it: DSD_DEMO_DIR=$base-2 DSD_DEMO_PORT=$((port + 1)) make demo"
    if [ -n "$script" ] && kill -0 "$script" 2>/dev/null; then
        echo "demo: a demo is already running in $base (pid $script); stop it with Ctrl-C in its terminal" \
            "or 'kill $script', $beside" >&2
    else
        echo "demo: the processes of an earlier demo in $base still run (pids $holders); stop them with" \
            "'kill $holders', $beside" >&2
    fi
    exit 1
fi
echo $$ >"$lock"

mount_ok=1
if [ "$(id -u)" != 0 ] || [ ! -e /dev/fuse ]; then
    mount_ok=0
    echo "demo: not root or no /dev/fuse: running without /dsd mounts (client commands only)" >&2
fi

pids=()
cleanup() {
    trap - INT TERM EXIT
    echo
    echo "stopping the demo cluster..."
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    for n in 1 2 3; do
        if mountpoint -q "$base/HOST$n/mnt" 2>/dev/null; then
            fusermount3 -u "$base/HOST$n/mnt" 2>/dev/null || fusermount3 -u -z "$base/HOST$n/mnt" 2>/dev/null || true
        fi
    done
    echo "stopped; logs and data are in $base"
}
trap cleanup INT TERM EXIT

# Leftovers of an earlier run that crashed (nothing holds the lock): clear its dead mounts first.
for n in 1 2 3; do
    if mountpoint -q "$base/HOST$n/mnt" 2>/dev/null || [ -n "$(stat "$base/HOST$n/mnt" 2>&1 | grep -i 'not connected')" ]; then
        fusermount3 -u -z "$base/HOST$n/mnt" 2>/dev/null || true
    fi
done
find "$base" -mindepth 1 -maxdepth 1 ! -name demo.lock -exec rm -rf {} +
mkdir -p "$base/directory"
"$dsd" keygen > "$base/cluster.key"
chmod 600 "$base/cluster.key"

"$dsd" server --listen "127.0.0.1:$port" --data "$base/directory/data" --cluster-key "$base/cluster.key" \
    --name DIRECTORY >"$base/directory/log" 2>&1 &
pids+=($!); echo $! >>"$lock"

for n in 1 2 3; do
    mkdir -p "$base/HOST$n/mnt"
    args=(agent --server "127.0.0.1:$port" --host "HOST$n" --cluster-key "$base/cluster.key"
        --socket "$base/HOST$n/agent.sock" --cache "$base/HOST$n/replica.cache")
    [ "$mount_ok" = 1 ] && args+=(--mount "$base/HOST$n/mnt")
    "$dsd" "${args[@]}" >"$base/HOST$n/log" 2>&1 &
    pids+=($!); echo $! >>"$lock"
done

connected() {
    for n in 1 2 3; do
        "$dsd" status --socket "$base/HOST$n/agent.sock" 2>/dev/null | grep -q 'state: connected' || return 1
    done
}
for _ in $(seq 100); do
    kill -0 "${pids[0]}" 2>/dev/null || {
        echo "demo: the directory did not start (is 127.0.0.1:$port taken? DSD_DEMO_PORT picks another); its log:" >&2
        cat "$base/directory/log" >&2
        exit 1
    }
    connected && break
    sleep 0.1
done
"$dsd" load "$here/seed-tables.txt" --socket "$base/HOST1/agent.sock"

m1="$base/HOST1/mnt"; m2="$base/HOST2/mnt"; s1="--socket $base/HOST1/agent.sock"
cat <<TRY

dsd demo cluster is up: a directory on 127.0.0.1:$port and agents HOST1, HOST2, HOST3.
Logs: $base/*/log.   Stop: Ctrl-C (unmounts cleanly).

Try, in another terminal:
TRY
if [ "$mount_ok" = 1 ]; then cat <<TRY
  ls $m1/tables/DSD_MTID_METADATA
  cat $m1/find/MDS.1                                   # complete route of MDS.1's primary
  cat $m1/part/DSD_MTID_METADATA_PART/8                # 8 mod 3 = 2 -> MDS.2
  inotifywait -m $m2/tables/DSD_MTID_METADATA &        # watch HOST2's replica
  cat $m2/events/DSD_MTID_METADATA/.all &              # the same as ADD/DEL lines
  echo HOST6:1920 > $m1/tables/DSD_MTID_METADATA/MDS.6 # add through HOST1; HOST2 sees it
  echo HOST9:1872 0 > $m1/tables/DSD_MTID_METADATA/MDS.1.1   # primary fails: MDS.1 moves to MDS.1.0
  cat $m2/find/MDS.1
  touch -d '+2 sec' $m1/tables/DSD_MTID_METADATA/MDS.6 # heartbeat, Time_Max 2 s; stop touching and it turns 0
  rm $m1/tables/DSD_MTID_METADATA/MDS.6
TRY
fi
cat <<TRY
  $dsd find MDS.1 $s1
  $dsd ls DSD_HOST_ROUTE $s1
  $dsd watch DSD_MTID_METADATA $s1
  $dsd put DSD_MTID_METADATA MDS.6 HOST6:1920 $s1
  $dsd status $s1
TRY
echo
echo "Press Ctrl-C to stop."
wait

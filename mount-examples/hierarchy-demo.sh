#!/usr/bin/env bash
# Three layers on this machine (FIG. 7): a directory, a node RACK1 below it, a node RACK2 below
# RACK1, and an agent on each layer (HOST1 on the directory, HOST2 on RACK1, HOST3 on RACK2).
# Each agent lists the layers above its own as fallbacks, so it moves up when its node dies.
# Everything stays on 127.0.0.1; no mounts (client commands only). Ctrl-C stops it all.
#
#   mount-examples/hierarchy-demo.sh [DSD_BINARY]
#   DSD_DEMO_DIR (default /tmp/dsd-hierarchy) and DSD_DEMO_PORT (default 7500: the directory;
#   the nodes take the next two ports) place it elsewhere.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
dsd="${1:-$here/../.build/debug/dsd}"
base="${DSD_DEMO_DIR:-/tmp/dsd-hierarchy}"
port="${DSD_DEMO_PORT:-7500}"
[ -x "$dsd" ] || { echo "hierarchy demo: $dsd not found; run 'make build' first" >&2; exit 1; }
base="${base%/}"
mkdir -p "$base"
exec 9<>"$base/demo.lock"
if ! flock -n 9; then
    echo "hierarchy demo: one already runs in $base (pid $(head -n 1 "$base/demo.lock")); stop it with Ctrl-C," \
        "or run another beside it: DSD_DEMO_DIR=$base-2 DSD_DEMO_PORT=$((port + 10)) $0" >&2
    exit 1
fi
echo $$ >"$base/demo.lock"

pids=()
cleanup() {
    trap - INT TERM EXIT
    echo
    echo "stopping the hierarchy demo..."
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    echo "stopped; logs and data are in $base"
}
trap cleanup INT TERM EXIT

rm -rf "$base/data" "$base"/*.sock "$base"/*.log
[ -s "$base/cluster.key" ] || (umask 077 && "$dsd" keygen >"$base/cluster.key")
key="$base/cluster.key"
directory="127.0.0.1:$port"
rack1="127.0.0.1:$((port + 1))"
rack2="127.0.0.1:$((port + 2))"

wait_for() { # socket, what
    for _ in $(seq 1 200); do
        if "$dsd" status --socket "$1" 2>/dev/null | grep -q '^state: connected'; then return 0; fi
        sleep 0.05
    done
    echo "hierarchy demo: $2 did not connect; see $base/*.log" >&2
    exit 1
}

"$dsd" server --listen "$directory" --data "$base/data" --cluster-key "$key" --name DIRECTORY \
    2>"$base/directory.log" &
pids+=($!)
"$dsd" node --upstream "$directory" --listen "$rack1" --cluster-key "$key" --host RACK1 \
    --socket "$base/RACK1.sock" 2>"$base/RACK1.log" &
pids+=($!)
wait_for "$base/RACK1.sock" "node RACK1"
"$dsd" node --upstream "$rack1,$directory" --listen "$rack2" --cluster-key "$key" --host RACK2 \
    --socket "$base/RACK2.sock" 2>"$base/RACK2.log" &
pids+=($!)
wait_for "$base/RACK2.sock" "node RACK2"
"$dsd" agent --server "$directory" --host HOST1 --cluster-key "$key" --socket "$base/HOST1.sock" \
    2>"$base/HOST1.log" &
pids+=($!)
"$dsd" agent --server "$rack1,$directory" --host HOST2 --cluster-key "$key" --socket "$base/HOST2.sock" \
    2>"$base/HOST2.log" &
pids+=($!)
"$dsd" agent --server "$rack2,$rack1,$directory" --host HOST3 --cluster-key "$key" --socket "$base/HOST3.sock" \
    2>"$base/HOST3.log" &
pids+=($!)
for host in HOST1 HOST2 HOST3; do wait_for "$base/$host.sock" "agent $host"; done
for pid in "${pids[@]}"; do echo "$pid" >>"$base/demo.lock"; done

cat <<TRY
The hierarchy runs: $directory (directory) <- $rack1 (RACK1) <- $rack2 (RACK2).
HOST1 is on the directory, HOST2 on RACK1, HOST3 on RACK2. Try:
  $dsd put --socket $base/HOST3.sock DSD_MTID_METADATA MDS.1 HOST3:1872   # a write at the bottom
  $dsd get --socket $base/HOST1.sock DSD_MTID_METADATA MDS.1              # read at the top
  $dsd ls --socket $base/HOST1.sock DSD_NODES                             # the nodes, valid while alive
  $dsd status --socket $base/HOST3.sock                                   # same version on every layer
  kill ${pids[2]}    # RACK2 dies: HOST3 moves up to RACK1 and resumes with a delta
Press Ctrl-C to stop.
TRY
wait

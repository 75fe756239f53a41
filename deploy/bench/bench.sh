#!/usr/bin/env bash
# bench.sh [DIR] — the rados-bench suite on a Loligo cluster of separate
# processes (one monitor, 3 OSDs), as ../shared/bench/ceph/bench.sh runs
# it on Ceph, so the two can be compared in one sitting.
#
#   write4m  4 MiB writes, SECS s, THREADS in flight, --no-cleanup
#   seq4m    sequential reads of those objects
#   rand4m   random reads of those objects
#   write4k  4 KiB writes
#
# Pool "bench": replicated, size 3, min_size 2, PG pgs. CPU% (of one core)
# and RSS of every daemon and of the client are sampled during each phase
# with PROCSAMPLE (a /proc sampler printing "name cpu% rss_avg rss_max").
# Outputs go to DIR/out/; the table is printed at the end.
#
# Environment: SECS (30), THREADS (16), PG (64), OSDS (3), BASE (7100: the
# monitor's port; etcd uses BASE+1, BASE+2; OSD i BASE+10+i).
set -euo pipefail
DIR=${1:-/tmp/loligo-bench}
SECS=${SECS:-30}
THREADS=${THREADS:-16}
PG=${PG:-64}
OSDS=${OSDS:-3}
BASE=${BASE:-7100}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/.bin}
PROCSAMPLE=${PROCSAMPLE:-$ROOT/../shared/bench/ceph/procsample.py}
log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

[[ -n ${NOBUILD:-} ]] || make -C "$ROOT" -s build
mkdir -p "$DIR/run" "$DIR/out"
export LOLIGO_CONF=$DIR/mon.a/loligo.conf

stop_all() {
  for f in "$DIR"/run/osd.*.pid; do [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null || true; done
  sleep 2
  [[ -f $DIR/run/mon.a.pid ]] && kill "$(cat "$DIR/run/mon.a.pid")" 2>/dev/null || true
  sleep 2
}
trap stop_all EXIT

# The monitor, bootstrapped on the first run.
boot=--bootstrap
[[ -f $DIR/mon.a/loligo.conf ]] && boot=
"$BIN/loligo" mon --dir "$DIR/mon.a" $boot --addr 127.0.0.1:$BASE \
  --etcd-client-url https://127.0.0.1:$((BASE + 1)) --etcd-peer-url https://127.0.0.1:$((BASE + 2)) \
  --log-level warn 2>"$DIR/out/mon.a.log" &
echo $! >"$DIR/run/mon.a.pid"
for _ in $(seq 100); do "$BIN/radosctl" --timeout 2s status >/dev/null 2>&1 && break; sleep 0.2; done

# The OSDs, each a process with its own data directory and CRUSH host.
for i in $(seq 0 $((OSDS - 1))); do
  create="--create --ca-dir $DIR/mon.a --host host$i"
  [[ -f $DIR/osd.$i/osd.json ]] && create=
  "$BIN/loligo" osd --data "$DIR/osd.$i" $create --addr 127.0.0.1:$((BASE + 10 + i)) \
    --log-level warn 2>"$DIR/out/osd.$i.log" &
  echo $! >"$DIR/run/osd.$i.pid"
done
sleep 3
"$BIN/radosctl" pool rm bench bench --yes-i-really-mean-it >/dev/null 2>&1 || true
"$BIN/radosctl" pool create bench "$PG" --size 3 --min-size 2 >/dev/null
sleep 3
"$BIN/radosctl" status >&2

pids() {
  echo "mon.a=$(cat "$DIR/run/mon.a.pid")"
  for f in "$DIR"/run/osd.*.pid; do n=$(basename "$f" .pid); echo "$n=$(cat "$f")"; done
}

phase() {
  local name=$1; shift
  log "phase $name: radosctl bench bench $SECS $*"
  "$BIN/radosctl" -o json bench bench "$SECS" "$@" -t "$THREADS" >"$DIR/out/$name.json" 2>"$DIR/out/$name.progress" &
  local bp=$! sp=
  sleep 1
  if [[ -f $PROCSAMPLE ]]; then
    python3 "$PROCSAMPLE" $((SECS - 3)) "$DIR/out/$name.cpu" $(pids) "client=$bp" &
    sp=$!
  fi
  wait "$bp"
  [[ -n $sp ]] && wait "$sp" || true
}

uptime >"$DIR/out/uptime-before.txt"
phase write4m write --no-cleanup
phase seq4m seq
phase rand4m rand
phase write4k write -b 4K
uptime >"$DIR/out/uptime-after.txt"

echo "# radosctl bench, $SECS s, -t $THREADS, $(date -u +%FT%TZ), $(nproc) cores"
printf '%-8s %10s %8s %9s %9s %9s\n' test MiB/s IOPS avg_ms p99_ms max_ms
for n in write4m seq4m rand4m write4k; do
  python3 - "$DIR/out/$n.json" "$n" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]:<8s} {s['mb_per_sec']:10.1f} {s['iops']:8.0f} {s['lat_avg_ms']:9.1f} {s['lat_p99_ms']:9.1f} {s['lat_max_ms']:9.1f}")
PY
done
for n in write4m seq4m rand4m write4k; do
  [[ -f $DIR/out/$n.cpu ]] && { echo "## $n"; cat "$DIR/out/$n.cpu"; }
done

#!/usr/bin/env bash
# erasure.sh [DIR] — erasure-coded pool against replicated, on separate
# processes (one monitor, 6 OSDs, each its own host):
#
#   1. pools:   "ec" (profile k=4 m=2, stripe_unit 4 KiB, PG PGs) and
#               "rep" (size 3, min_size 2, PG PGs)
#   2. bench:   radosctl bench write 4 MiB for SECS s (-t 16, objects
#               kept), then seq reads of them for SECS s, on each pool
#   3. rebuild: GIB GiB of 4 MiB objects in "ec", then osd out 5: time
#               until every PG is active+clean again (osd.5's shards are
#               rebuilt from k=4 others onto the remaining OSDs)
#
# Environment: GIB (1), SECS (20), PG (32), BASE (7300), BIN, NOBUILD.
set -euo pipefail
DIR=${1:-/tmp/loligo-erasure}
GIB=${GIB:-1}
SECS=${SECS:-20}
PG=${PG:-32}
BASE=${BASE:-7300}
OSDS=6
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/.bin}
R="$BIN/radosctl"
log() { printf '[erasure %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

[[ -n ${NOBUILD:-} ]] || make -C "$ROOT" -s build
rm -rf "$DIR"
mkdir -p "$DIR/run" "$DIR/out"
export LOLIGO_CONF=$DIR/mon.a/loligo.conf

stop_all() {
  for f in "$DIR"/run/osd.*.pid; do [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null || true; done
  sleep 2
  [[ -f $DIR/run/mon.a.pid ]] && kill "$(cat "$DIR/run/mon.a.pid")" 2>/dev/null || true
  sleep 1
}
trap stop_all EXIT

"$BIN/loligo" mon --dir "$DIR/mon.a" --bootstrap --addr 127.0.0.1:$BASE \
  --etcd-client-url https://127.0.0.1:$((BASE + 1)) --etcd-peer-url https://127.0.0.1:$((BASE + 2)) \
  --log-level warn 2>"$DIR/out/mon.a.log" &
echo $! >"$DIR/run/mon.a.pid"
for _ in $(seq 100); do "$R" --timeout 2s status >/dev/null 2>&1 && break; sleep 0.2; done
for i in $(seq 0 $((OSDS - 1))); do
  "$BIN/loligo" osd --data "$DIR/osd.$i" --create --ca-dir "$DIR/mon.a" --host "host$i" \
    --addr 127.0.0.1:$((BASE + 10 + i)) --log-level warn 2>"$DIR/out/osd.$i.log" &
  echo $! >"$DIR/run/osd.$i.pid"
done
sleep 3
"$R" osd erasure-code-profile set k4m2 k=4 m=2 stripe_unit=4096 crush-failure-domain=host >/dev/null
"$R" pool create ec "$PG" erasure k4m2 >/dev/null
"$R" pool create rep "$PG" --size 3 --min-size 2 >/dev/null

clean() {
  "$R" -o json --timeout 5s pg dump 2>/dev/null | python3 -c '
import json, re, sys
from datetime import datetime
def ts(s):
    if not s:
        return 0.0
    s = re.sub(r"(\.\d{6})\d+", r"\1", s.replace("Z", "+00:00"))
    return datetime.fromisoformat(s).timestamp()
t = float(sys.argv[1]) + 1.0
d = json.load(sys.stdin)
ok = len(d) > 0 and all(p["state"] == "active+clean" and p["up"] == p["acting"]
                        and ts(p.get("reported")) > t for p in d)
sys.exit(0 if ok else 1)' "$1"
}
wait_clean() {
  local t0=$1
  until clean "$t0"; do sleep 0.5; done
  python3 -c "import time; print(f'{time.time() - $t0:.1f}')"
}
now() { python3 -c 'import time; print(time.time())'; }

log "waiting for active+clean"
wait_clean "$(now)" >/dev/null
for pool in ec rep; do
  log "$pool: bench write $SECS s, then seq"
  "$R" -o json bench $pool "$SECS" write -t 16 --no-cleanup >"$DIR/out/$pool-write.json" 2>/dev/null
  "$R" -o json bench $pool "$SECS" seq -t 16 >"$DIR/out/$pool-seq.json" 2>/dev/null
done
wait_clean "$(now)" >/dev/null

N=$((GIB * 256))
log "fill ec: $N objects of 4 MiB"
head -c 4194304 /dev/urandom >"$DIR/obj"
seq 1 $N | xargs -P 8 -I{} "$R" put ec "obj{}" "$DIR/obj"
wait_clean "$(now)" >/dev/null
held=$("$R" -o json pg dump | python3 -c '
import json, sys
d = json.load(sys.stdin)
pgs = d if isinstance(d, list) else d.get("pgs", [])
print(sum(int(p.get("bytes", 0)) for p in pgs if 5 in p.get("acting", [])))')
log "osd out 5 (acting in PGs of $held bytes)"
t0=$(now)
"$R" osd out 5 --yes >/dev/null
out_s=$(wait_clean "$t0")
log "clean after $out_s s"

python3 - "$DIR" "$held" "$out_s" "$N" <<'PY'
import json, sys
d, held, out_s, n = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
r = {p: {m: json.load(open(f"{d}/out/{p}-{m}.json")) for m in ("write", "seq")} for p in ("ec", "rep")}
print("# erasure: 6 OSDs; ec = k=4 m=2 (stripe_unit 4 KiB), rep = size 3; 4 MiB objects, -t 16")
for p in ("ec", "rep"):
    print(f"{p:4} write {r[p]['write']['mb_per_sec']:8.1f} MiB/s   seq read {r[p]['seq']['mb_per_sec']:8.1f} MiB/s")
print(f"rebuild after osd out 5: {out_s:.1f} s ({n} x 4 MiB in ec; PGs osd.5 was in hold {held/1e6:.0f} MB of shards)")
PY

#!/usr/bin/env bash
# erasure.sh [DIR] — erasure-coded pool against replicated, on separate
# processes (one monitor, 6 OSDs, each its own host):
#
#   1. pools:   "ec" (profile k=4 m=2, stripe_unit 4 KiB, PG PGs) and
#               "rep" (size 3, min_size 2, PG PGs)
#   2. bench:   radosctl bench write 4 MiB for SECS s (-t 16, objects
#               kept), then seq reads of them for SECS s, on each pool
#   3. rebuild: GIB GiB of 4 MiB objects in "ec", a 7th OSD (host), then
#               osd out 5: time until every PG is active+clean again
#               (osd.5's shards are rebuilt from k=4 others)
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

. "$(dirname "$0")/cluster.sh"
"$R" osd erasure-code-profile set k4m2 k=4 m=2 stripe_unit=4096 crush-failure-domain=host >/dev/null
"$R" pool create ec "$PG" erasure k4m2 >/dev/null
"$R" pool create rep "$PG" --size 3 --min-size 2 >/dev/null

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
# k+m = 6 shards need 6 hosts: a 7th takes osd.5's shards when it goes out.
"$BIN/loligo" osd --data "$DIR/osd.6" --create --ca-dir "$DIR/mon.a" --host host6 \
  --addr 127.0.0.1:$((BASE + 16)) --log-level warn 2>"$DIR/out/osd.6.log" &
echo $! >"$DIR/run/osd.6.pid"
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
print(f"rebuild after osd out 5 (7 hosts): {out_s:.1f} s for {held/1e6:.0f} MB of osd.5 shards ({held/1e6/out_s:.0f} MB/s; {n} x 4 MiB in ec)")
PY

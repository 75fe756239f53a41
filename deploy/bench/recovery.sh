#!/usr/bin/env bash
# recovery.sh [DIR] — how fast the cluster heals, on separate processes
# (one monitor, 4 OSDs, pool "rec": size 3, min_size 2, PG pgs):
#
#   1. fill:      GIB GiB of 4 MiB objects (radosctl put, 8 at a time)
#   2. baseline:  radosctl bench write 4 MiB, SECS s, -t 16, no recovery
#   3. out:       radosctl osd out 3; time until every PG is active+clean
#                 (the data osd.3 held is re-created on the other OSDs)
#   4. in:        radosctl osd in 3; time until active+clean again
#   5. during:    osd out 3 again and, at once, the same bench write: client
#                 throughput while recovery runs; then time to clean
#   6. disk:      dd 4 MiB buffered + fdatasync and O_DIRECT, for the ratio
#
# Throttles stay at their defaults unless MAX_ACTIVE / MAX_BYTES are set
# (radosctl tell osd.* config set ...). Environment: GIB (1), SECS (20),
# PG (64), BASE (7200).
set -euo pipefail
DIR=${1:-/tmp/loligo-recovery}
GIB=${GIB:-1}
SECS=${SECS:-20}
PG=${PG:-64}
BASE=${BASE:-7200}
OSDS=4
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/.bin}
R="$BIN/radosctl"
log() { printf '[recovery %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

OSD_LOG=info
. "$(dirname "$0")/cluster.sh"
"$R" pool create rec "$PG" --size 3 --min-size 2 >/dev/null
[[ -n ${MAX_ACTIVE:-} ]] && "$R" tell 'osd.*' config set osd_recovery_max_active "$MAX_ACTIVE" >/dev/null
[[ -n ${MAX_BYTES:-} ]] && "$R" tell 'osd.*' config set osd_recovery_max_bytes_per_sec "$MAX_BYTES" >/dev/null

log "waiting for active+clean"
wait_clean "$(now)" >/dev/null
N=$((GIB * 256))
log "fill: $N objects of 4 MiB"
head -c 4194304 /dev/urandom >"$DIR/obj"
t0=$(now)
seq 1 $N | xargs -P 8 -I{} "$R" put rec "obj{}" "$DIR/obj"
fill=$(python3 -c "import time; print(f'{time.time() - $t0:.1f}')")
wait_clean "$(now)" >/dev/null

log "baseline: bench write $SECS s"
"$R" -o json bench rec "$SECS" write -t 16 >"$DIR/out/baseline.json" 2>/dev/null
# Fresh reports, so the PG sizes below no longer count the bench's objects.
wait_clean "$(now)" >/dev/null

# What osd.3 holds: the bytes of the PGs it is acting in.
held=$("$R" -o json pg dump | python3 -c '
import json, sys
d = json.load(sys.stdin)
pgs = d if isinstance(d, list) else d.get("pgs", [])
print(sum(int(p.get("bytes", 0)) for p in pgs if 3 in p.get("acting", [])))')
log "osd out 3 (it holds $held bytes)"
t0=$(now)
"$R" osd out 3 --yes >/dev/null
out_s=$(wait_clean "$t0")
log "clean after $out_s s"

log "osd in 3"
t0=$(now)
"$R" osd in 3 --yes >/dev/null
in_s=$(wait_clean "$t0")
log "clean after $in_s s"

log "osd out 3 with a client writing"
t0=$(now)
"$R" osd out 3 --yes >/dev/null
"$R" -o json bench rec "$SECS" write -t 16 >"$DIR/out/during.json" 2>/dev/null
during_s=$(wait_clean "$t0")

dd if=/dev/zero of="$DIR/dd" bs=4M count=256 conv=fdatasync 2>"$DIR/out/dd.txt"
dd if=/dev/zero of="$DIR/dd" bs=4M count=256 oflag=direct 2>"$DIR/out/dd-direct.txt"
rm -f "$DIR/dd"

python3 - "$DIR" "$held" "$out_s" "$in_s" "$during_s" "$fill" "$N" <<'PY'
import json, re, sys
d, held, out_s, in_s, during_s, fill, n = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
def dd(f):
    m = re.search(r"([\d.]+) ([MG])B/s", open(f).read())
    return float(m.group(1)) * (1000 if m.group(2) == "G" else 1)
base = json.load(open(d + "/out/baseline.json"))
during = json.load(open(d + "/out/during.json"))
disk, direct = dd(d + "/out/dd.txt"), dd(d + "/out/dd-direct.txt")
rate = held / out_s / 1e6
print(f"# recovery: {n} x 4 MiB objects ({n*4/1024:.2f} GiB), 3+1 OSDs, pool size 3")
print(f"fill                          {fill:8.1f} s")
print(f"osd out 3 -> active+clean     {out_s:8.1f} s   ({held/1e6:.0f} MB re-created, {rate:.0f} MB/s)")
print(f"osd in 3  -> active+clean     {in_s:8.1f} s")
print(f"out with client -> clean      {during_s:8.1f} s")
print(f"disk write (dd 4M fdatasync)  {disk:8.0f} MB/s  (O_DIRECT {direct:.0f} MB/s)")
print(f"recovery / disk write         {rate/disk*100:8.0f} %")
print(f"client write, no recovery     {base['mb_per_sec']:8.1f} MiB/s")
print(f"client write, recovering      {during['mb_per_sec']:8.1f} MiB/s  ({during['mb_per_sec']/base['mb_per_sec']*100:.0f} %)")
PY

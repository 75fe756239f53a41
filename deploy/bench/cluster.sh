# cluster.sh — sourced by recovery.sh and erasure.sh: a cluster of
# separate processes (one monitor, OSDS OSDs each on its own host) under
# $DIR, and waiting for it to be clean. The caller sets DIR, BASE, OSDS,
# BIN and R (radosctl) and may set OSD_LOG (the OSDs' log level, warn).

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
    --addr 127.0.0.1:$((BASE + 10 + i)) --log-level "${OSD_LOG:-warn}" 2>"$DIR/out/osd.$i.log" &
  echo $! >"$DIR/run/osd.$i.pid"
done
sleep 3

# clean T: 0 when every PG is active+clean, its up set equal to its
# acting set, in a report its primary made at least a second after T (so
# the report reflects the map change made at T).
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
# wait_clean T: waits for clean T and prints the seconds since T.
wait_clean() {
  local t0=$1
  until clean "$t0"; do sleep 0.5; done
  python3 -c "import time; print(f'{time.time() - $t0:.1f}')"
}
now() { python3 -c 'import time; print(time.time())'; }

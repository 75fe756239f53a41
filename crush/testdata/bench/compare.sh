#!/usr/bin/env bash
# Times Loligo's CRUSH against crushtool on the speed anchor map
# (m20_big_100osd: 100 OSDs, root/rack/host/osd, straw2, jewel), mapping
# x = 0..999,999 with rule 0 (chooseleaf firstn host, 3 replicas) and
# rule 1 (chooseleaf indep host, 6 positions), alternating the two tools
# RUNS times (default 3) so both see the same machine load.
#
#   lib:   Go benchmark BenchmarkMap1M (mapping only) vs crushtool --test
#          without output (mapping only)
#   text:  radosctl crush test --show-mappings > /dev/null vs crushtool
#          --test --show-mappings > /dev/null (mapping and formatting)
#
# Needs crushtool (Debian ceph-base). Run from anywhere: crush/testdata/bench/compare.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
RUNS=${RUNS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
MAP=crush/testdata/maps/m20_big_100osd.txt
crushtool -c "$MAP" -o "$tmp/m20.bin"
go test -c -o "$tmp/crush.test" ./crush
go build -o "$tmp/radosctl" ./cmd/radosctl
secs() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1; }
median() { sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"; }
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %-6s %14s %14s\n' mode rule "loligo map/s" "crushtool map/s"
for cfg in "0 3 rep3" "1 6 indep6"; do
  set -- $cfg
  : > "$tmp/lib.l"; : > "$tmp/lib.c"; : > "$tmp/txt.l"; : > "$tmp/txt.c"
  for _ in $(seq "$RUNS"); do
    (cd crush && "$tmp/crush.test" -test.run '^$' -test.bench "^BenchmarkMap1M/$3\$" -test.benchtime 1x) \
      | awk '/mappings\/s/ {for (i=1;i<=NF;i++) if ($(i+1)=="mappings/s") print $i}' >> "$tmp/lib.l"
    t=$(secs crushtool -i "$tmp/m20.bin" --test --rule "$1" --num-rep "$2" --min-x 0 --max-x 999999)
    echo "1000000 / $t" | bc >> "$tmp/lib.c"
    t=$(secs "$tmp/radosctl" crush test --map "$MAP" --rule "$1" --num-rep "$2" --min-x 0 --max-x 999999)
    echo "1000000 / $t" | bc >> "$tmp/txt.l"
    t=$(secs crushtool -i "$tmp/m20.bin" --test --show-mappings --rule "$1" --num-rep "$2" --min-x 0 --max-x 999999)
    echo "1000000 / $t" | bc >> "$tmp/txt.c"
  done
  printf '%-8s %-6s %14.0f %14.0f\n' lib "$3" "$(median < "$tmp/lib.l")" "$(median < "$tmp/lib.c")"
  printf '%-8s %-6s %14.0f %14.0f\n' text "$3" "$(median < "$tmp/txt.l")" "$(median < "$tmp/txt.c")"
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"

#!/usr/bin/env bash
# Regenerates what TestCrushtoolOutputs and TestCrushtoolDecompile compare
# with, using Debian's ceph-base (crushtool 16.2.15):
#   maps/NAME.txt   crushtool -d of crushtool -c maps/NAME.src.txt (the
#                   canonical text of small maps written for corner cases
#                   found in review)
#   NAME.out        crushtool --test outputs other than plain
#                   --show-mappings vectors: statistics, utilization, bad
#                   mappings, defaults, odd options. Each line of CASES is
#                   NAME MAP ARGS..., MAP relative to crush/testdata
#                   without .txt.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for src in maps/*.src.txt; do
  name=$(basename "$src" .src.txt)
  crushtool -c "$src" -o "$tmp/$name.bin"
  crushtool -d "$tmp/$name.bin" -o "maps/$name.txt"
done
while read -r name map args; do
  [ -z "$name" ] && continue
  case "$name" in \#*) continue ;; esac
  bin="$tmp/$(echo "$map" | tr / _).bin"
  crushtool -c "../$map.txt" -o "$bin"
  # shellcheck disable=SC2086
  crushtool -i "$bin" --test $args > "$name.out" 2>/dev/null || true
  echo "$name: $(wc -l < "$name.out") lines"
done < CASES

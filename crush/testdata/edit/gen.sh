#!/usr/bin/env bash
# Regenerates what TestEditGolden compares with, using Debian's ceph-base
# (crushtool 16.2.15). For each line of CASES (NAME MAP STEP [; STEP...]):
# MAP (relative to crush/testdata, without .txt) is compiled, each STEP
# is run as "crushtool -i IN STEP -o OUT" on the previous result, and
#   out/NAME.txt    crushtool -d of the result
#   out/NAME.json   crushtool --dump -f json of it (shadow buckets, exact
#                   weights)
#   out/NAME.map    crushtool --test --show-mappings --num-rep 3 of it,
#                   x 0..99, every rule
# or, if a step fails,
#   out/NAME.err    which step failed and what crushtool said (an exit
#                   status of 134 is an abort: a failed assertion).
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf out
mkdir out
n=0
while read -r name map ops; do
  [ -z "$name" ] && continue
  case "$name" in \#*) continue ;; esac
  n=$((n + 1))
  crushtool -c "../$map.txt" -o "$tmp/cur.bin"
  failed=
  step=0
  IFS=';' read -ra steps <<< "$ops"
  for s in "${steps[@]}"; do
    step=$((step + 1))
    read -ra args <<< "$s"
    rc=0
    crushtool -i "$tmp/cur.bin" "${args[@]}" -o "$tmp/next.bin" > "$tmp/msg" 2>&1 || rc=$?
    if [ "$rc" != 0 ]; then
      failed=$step
      break
    fi
    mv "$tmp/next.bin" "$tmp/cur.bin"
  done
  if [ -n "$failed" ]; then
    # crushtool's messages without its (asynchronous) log, backtraces
    # and repeats
    { echo "step $failed failed (exit status $rc):"
      awk '/Caught signal/ {exit} {print}' "$tmp/msg" |
        grep -v -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T|^ *-?[0-9]+: |In function|ceph version|^ *$' |
        awk '!seen[$0]++' || true
    } > "out/$name.err"
    echo "$name: error at step $failed"
    continue
  fi
  crushtool -d "$tmp/cur.bin" -o "out/$name.txt"
  crushtool -i "$tmp/cur.bin" --dump -f json > "out/$name.json"
  crushtool -i "$tmp/cur.bin" --test --show-mappings --num-rep 3 --min-x 0 --max-x 99 > "out/$name.map" 2>/dev/null
done < CASES
echo "$n cases"

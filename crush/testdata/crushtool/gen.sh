#!/usr/bin/env bash
# Regenerates the crushtool --test outputs other than --show-mappings that
# TestCrushtoolOutputs compares with (statistics, utilization, bad
# mappings, all rules and replica counts). Needs Debian's ceph-base
# (crushtool 16.2.15). Each line of CASES is: NAME MAP ARGS...
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
while read -r name map args; do
  [ -z "$name" ] && continue
  case "$name" in \#*) continue ;; esac
  crushtool -c "../maps/$map.txt" -o "$tmp/$map.bin"
  # shellcheck disable=SC2086
  crushtool -i "$tmp/$map.bin" --test $args > "$name.out" 2>/dev/null
  echo "$name: $(wc -l < "$name.out") lines"
done < CASES

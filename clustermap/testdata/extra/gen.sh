#!/usr/bin/env bash
# Regenerates every data file in this folder (see README.md) with Ceph's
# osdmaptool / crushtool 16.2.15 (Debian ceph-base 16.2.15+ds-0+deb12u2),
# starting from the CRUSH text maps in ../../../crush/testdata/maps/.
#
#   bash gen.sh            (from anywhere; needs osdmaptool, crushtool, g++, awk, sha256sum)
#
# Everything is built in a temporary directory; only the outputs are copied
# here. Binary osdmaps are NOT kept: osdmaptool stamps them with the wall
# clock ("created"/"modified"), so they differ from run to run. The same two
# timestamps are replaced by "<timestamp removed by gen.sh>" in *.print.txt;
# nothing else is edited. Every other file is the verbatim stdout of one
# osdmaptool/crushtool command (or the concatenation of one command per
# object name / pgid), and two runs give byte-identical files.
#
# How each map state is made (osdmaptool can only do this much, see README.md):
#   osdmaptool --createsimple N --with-default-pool --clobber [--pg-bits A --pgp-bits B]
#              [--osd_pool_default_size S] [--osd_pool_default_flag_hashpspool false] CASE.bin
#       -> max_osd N, every OSD state 0 (does not exist, down, out), one pool
#          1 'rbd' replicated, pg_num = N<<A, pgp_num = N<<B, crush_rule 0
#   osdmaptool CASE.bin --mark-up-in --import-crush CASE.crush.bin
#       -> every OSD exists+up+in, CRUSH map replaced; written back because
#          --import-crush makes osdmaptool save the map (marks are otherwise
#          "not persisted"). Importing in the same run also undoes the CRUSH
#          weight change --mark-up-in makes to zero-weight OSDs.
#   osdmaptool CASE.bin --mark-out X --import-crush CASE.crush.bin   (once per OSD)
#       -> OSD X reweight 0 (out); osdmaptool honours one --mark-out per run.
# The test commands then run on the saved map WITHOUT any --mark-* option
# (except c15, which shows what --mark-up-in does at test time).
set -euo pipefail
export LC_ALL=C
unset CEPH_ARGS CEPH_CONF || true

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MAPS="$(cd "$HERE/../../../crush/testdata/maps" && pwd)"

for t in osdmaptool crushtool g++ awk sha256sum; do
  command -v "$t" >/dev/null || { echo "gen.sh: $t not found" >&2; exit 1; }
done
osdmaptool --version 2>/dev/null | grep -q '^ceph version 16\.2\.15 ' || {
  echo "gen.sh: expected ceph 16.2.15 osdmaptool, got: $(osdmaptool --version 2>&1 | head -1)" >&2; exit 1; }

W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT
cd "$W"

# Remove earlier outputs (only the files this script makes).
rm -f "$HERE"/c[0-9][0-9]_*.txt "$HERE/names.txt" "$HERE/MANIFEST.tsv"

# --- object names: the 233 names of ../objects.txt (make_osdmap_vectors.sh) ---
names() {
  for i in $(seq 0 199); do echo "obj-$i"; done
  for i in $(seq 0 19); do echo "rbd_data.1234abcd.$(printf '%016x' "$i")"; done
  echo "a"; echo "ab"; echo "abc"; echo "abcd"; echo "abcdefghijk"; echo "abcdefghijkl"
  echo "abcdefghijklm"; echo "0123456789012345678901234"; echo "foo"; echo "bar"
  echo "with space"; echo "ünïcödé-名前"; echo "x/y/z.txt"
}
names > "$HERE/names.txt"

# --- deterministic std::random_device, only for the --upmap run (c13) ---
# osdmaptool 16.2.15 seeds the upmap balancer from std::random_device and has
# no --upmap-seed option; libceph-common calls std::random_device::_M_getval
# through the PLT, so LD_PRELOADing this replacement makes --upmap repeatable.
cat > rd.cc <<'EOF'
#include <random>
static unsigned int lcg_state = 0x12345678u;
unsigned int std::random_device::_M_getval() {
  lcg_state = lcg_state * 1664525u + 1013904223u;
  return lcg_state;
}
EOF
g++ -shared -fPIC -O2 -o rd.so rd.cc

# --- helpers ---
CASE=""
LOG=""
# x CMD...: log CMD (shell-quoted, run in the build directory) to CASE.cmds.txt and run it
# (its output is discarded unless it fails).
x() {
  local q; q="$(printf '%q ' "$@")"; printf '%s\n' "${q% }" >> "$LOG"
  "$@" > "$W/last.out" 2>&1 || { echo "gen.sh: failed: $*" >&2; cat "$W/last.out" >&2; exit 1; }
}
note() { printf '# %s\n' "$*" >> "$LOG"; }

# derive SRC RULE RETYPE: print SRC with rule id RULE renumbered to 0 and
# rule 0 renumbered to RULE (pools made by osdmaptool always use crush_rule 0).
# RETYPE=yes also turns "type erasure" into "type replicated" in every rule
# (Ceph 16 only runs a rule whose type equals the pool type; see c08).
derive() {
  awk -v R="$2" -v RT="$3" '
    /^rule /            { inrule = 1 }
    inrule && $1 == "id" { if ($2 == R) sub(/id [0-9]+/, "id 0"); else if ($2 == 0) sub(/id [0-9]+/, "id " R) }
    inrule && $1 == "type" && RT == "yes" { sub(/type erasure/, "type replicated") }
    /^}/                { inrule = 0 }
    { print }' "$1"
}

# start CASE MAP RULE RETYPE MAX_OSD [more --createsimple options...]
#   MAP = a map name in crush/testdata/maps/ (MAP.txt); RULE/RETYPE as for derive
#   (RULE 0 and RETYPE no = the map unchanged).
start() {
  CASE="$1"; local map="$2" rule="$3" retype="$4" n="$5"; shift 5
  LOG="$W/$CASE.cmds.txt"; : > "$LOG"
  if [ "$rule" = 0 ] && [ "$retype" = no ]; then
    note "case $CASE: CRUSH text = crush/testdata/maps/$map.txt (unchanged)"
    note "cp crush/testdata/maps/$map.txt $CASE.crush.in.txt"
  else
    note "case $CASE: CRUSH text = crush/testdata/maps/$map.txt with rule $rule renumbered to 0 (and rule 0 to $rule)$([ "$retype" = yes ] && echo ', every "type erasure" changed to "type replicated"')"
    note "derive crush/testdata/maps/$map.txt $rule $retype > $CASE.crush.in.txt   (awk function derive in gen.sh)"
  fi
  derive "$MAPS/$map.txt" "$rule" "$retype" > "$CASE.crush.in.txt"
  x crushtool -c "$CASE.crush.in.txt" -o "$CASE.crush.bin"
  x osdmaptool --createsimple "$n" --with-default-pool --clobber "$@" "$CASE.bin"
}
upin() { x osdmaptool "$CASE.bin" --mark-up-in --import-crush "$CASE.crush.bin"; }
out()  { local o; for o in "$@"; do x osdmaptool "$CASE.bin" --mark-out "$o" --import-crush "$CASE.crush.bin"; done; }

norm() { sed -E 's/^(created|modified) .*/\1 <timestamp removed by gen.sh>/'; }

# emit [OPTS...]: write the outputs of the current case; OPTS are added to every
# test command (only c15 uses one: --mark-up-in).
emit() {
  local opts=("$@") n os=""
  [ "$#" -gt 0 ] && os=" $*"
  note "outputs (stdout of each command, stderr dropped):"
  note "  $CASE.print.txt        : osdmaptool $CASE.bin$os --print   (created/modified lines normalised)"
  osdmaptool "$CASE.bin" "${opts[@]}" --print 2>/dev/null | norm > "$HERE/$CASE.print.txt"
  note "  $CASE.tree.txt         : osdmaptool $CASE.bin$os --tree"
  osdmaptool "$CASE.bin" "${opts[@]}" --tree 2>/dev/null > "$HERE/$CASE.tree.txt"
  note "  $CASE.crush.txt        : osdmaptool $CASE.bin$os --export-crush $CASE.export.bin && crushtool -d $CASE.export.bin"
  osdmaptool "$CASE.bin" "${opts[@]}" --export-crush "$CASE.export.bin" >/dev/null 2>&1
  crushtool -d "$CASE.export.bin" -o "$HERE/$CASE.crush.txt"
  crushtool -d "$CASE.crush.bin" -o "$CASE.imported.txt"
  if cmp -s "$CASE.imported.txt" "$HERE/$CASE.crush.txt"; then
    note "  (the exported CRUSH map is identical to the imported one)"
  else
    note "  (the exported CRUSH map DIFFERS from the imported one: weights changed by osdmaptool)"
  fi
  # The text map is exact: recompiling it gives the same CRUSH map (compared via crushtool --dump).
  crushtool -c "$HERE/$CASE.crush.txt" -o "$CASE.recompiled.bin"
  if cmp -s <(crushtool -i "$CASE.export.bin" --dump) <(crushtool -i "$CASE.recompiled.bin" --dump); then
    note "  (crushtool -c $CASE.crush.txt reproduces the exported map: identical crushtool --dump)"
  else
    echo "gen.sh: $CASE.crush.txt does not recompile to the exported map" >&2; exit 1
  fi
  note "  $CASE.objects.txt      : for each NAME in names.txt: osdmaptool $CASE.bin$os --test-map-object NAME --pool 1 | grep '^ object'"
  : > "$HERE/$CASE.objects.txt"
  while IFS= read -r n; do
    osdmaptool "$CASE.bin" "${opts[@]}" --test-map-object "$n" --pool 1 2>/dev/null | grep '^ object' >> "$HERE/$CASE.objects.txt"
  done < "$HERE/names.txt"
  note "  $CASE.pgs_dump_all.txt : osdmaptool $CASE.bin$os --test-map-pgs-dump-all --pool 1"
  osdmaptool "$CASE.bin" "${opts[@]}" --test-map-pgs-dump-all --pool 1 2>/dev/null > "$HERE/$CASE.pgs_dump_all.txt"
}
finish() { cp "$LOG" "$HERE/$CASE.cmds.txt"; }

# ---------------------------------------------------------------------------
# c01: m01 (24 OSDs, 6 hosts), pg_num 192 / pgp_num 48, size 3, all in.
start c01_m01_pgp m01_flat_straw2 0 no 24 --pg-bits 3 --pgp-bits 1
upin
emit
note "  $CASE.test_map_pg.txt  : for each PGID in the list: osdmaptool $CASE.bin --test-map-pg PGID"
: > "$HERE/$CASE.test_map_pg.txt"
for pg in 1.0 1.1 1.2f 1.30 1.31 1.3f 1.40 1.5f 1.60 1.bf 1.c0 1.ff 1.100 1.1c0 1.fff 1.12345 1.7fffffff 1.ffffffff; do
  osdmaptool "$CASE.bin" --test-map-pg "$pg" 2>/dev/null >> "$HERE/$CASE.test_map_pg.txt"
done
finish

# c02: m01 with max_osd 32 (osd.24-31 exist but are not in CRUSH), pg 256 / pgp 256,
# size 4, host0 (osd.0-3) and osd.9, 14, 22 out.
start c02_m01_out m01_flat_straw2 0 no 32 --pg-bits 3 --pgp-bits 3 --osd_pool_default_size 4
upin
out 0 1 2 3 9 14 22
emit
note "  $CASE.pgs_dump.txt     : osdmaptool $CASE.bin --test-map-pgs-dump --pool 1"
osdmaptool "$CASE.bin" --test-map-pgs-dump --pool 1 2>/dev/null > "$HERE/$CASE.pgs_dump.txt"
finish

# c03: m01, pool without hashpspool, pg 192 / pgp 96, size 2, osd.5 out.
start c03_m01_nohashpspool m01_flat_straw2 0 no 24 --pg-bits 3 --pgp-bits 2 \
  --osd_pool_default_size 2 --osd_pool_default_flag_hashpspool false
upin
out 5
emit
finish

# c04: m05 device classes, rule 1 rep_ssd as rule 0, pg 200 / pgp 200, size 3, osd.9 (ssd) out.
start c04_m05_rep_ssd m05_device_classes 1 no 25 --pg-bits 3 --pgp-bits 3
upin
out 9
emit
finish

# c05: m05, rule 3 hybrid_ssd_primary (ssd first, then hdd) as rule 0, pg 200 / pgp 100,
# size 3, osd.0 (ssd) and osd.7 (hdd) out.
start c05_m05_hybrid m05_device_classes 3 no 25 --pg-bits 3 --pgp-bits 2
upin
out 0 7
emit
finish

# c06: m05, rule 2 ec_hdd (chooseleaf indep over hdd) retyped replicated, as rule 0,
# pg 100 / pgp 50, size 5, osd.3 and osd.15 (hdd) out.
start c06_m05_indep_hdd m05_device_classes 2 yes 25 --pg-bits 2 --pgp-bits 1 --osd_pool_default_size 5
upin
out 3 15
emit
finish

# c07: m01, rule 1 ec_host (chooseleaf indep host) retyped replicated, as rule 0,
# size 8 > 6 hosts (CRUSH leaves holes, the replicated pool closes them), pg 48 / pgp 48, osd.5 out.
start c07_m01_indep_size8 m01_flat_straw2 1 yes 24 --pg-bits 1 --pgp-bits 1 --osd_pool_default_size 8
upin
out 5
emit
finish

# c08: m01, rule 1 ec_host as rule 0 but still "type erasure": the replicated pool
# finds no rule of its type -> every PG maps to [] (Ceph 16 find_rule checks the type).
start c08_m01_rule_type_mismatch m01_flat_straw2 1 no 24 --pg-bits 0 --pgp-bits 0
upin
emit
finish

# c09: m19 sparse device ids (0..40 with holes, osd.50 named but unplaced), max_osd 60,
# pg 240 / pgp 120, size 3, osd.13, 31 out and osd.3 (a hole: not in CRUSH) out.
start c09_m19_sparse m19_sparse_ids 0 no 60 --pg-bits 2 --pgp-bits 1
upin
out 13 31 3
emit
finish

# c10: m20 (100 OSDs, 5 racks x 4 hosts x 5), pg 800 / pgp 400, size 3,
# host r0h1 (osd.5-9) and osd.42, 63, 77, 98 out.
start c10_m20_big m20_big_100osd 0 no 100 --pg-bits 3 --pgp-bits 2
upin
out 5 6 7 8 9 42 63 77 98
emit
finish

# c11: m02, rule 3 ec_rack2_host (choose indep 3 rack, chooseleaf indep 2 host) retyped
# replicated, as rule 0, size 6, pg 96 / pgp 96, osd.2 and osd.20 out.
start c11_m02_indep_rack_host m02_rack_host_osd 3 yes 48 --pg-bits 1 --pgp-bits 1 --osd_pool_default_size 6
upin
out 2 20
emit
finish

# c12: m02, CRUSH weights changed with --adjust-crush-weight (saved), pg 192 / pgp 192, size 3.
start c12_m02_crush_weight m02_rack_host_osd 0 no 48 --pg-bits 2 --pgp-bits 2
upin
x osdmaptool "$CASE.bin" --adjust-crush-weight 5:0.5,17:2.25,30:0,41:0.1 --save
emit
finish

# c13: m02, pg_upmap_items made by the upmap balancer (saved), pg 192 / pgp 192, size 3;
# then the target OSD of the first upmap item is marked out (Ceph ignores upmap
# items whose target is out).
start c13_m02_upmap m02_rack_host_osd 0 no 48 --pg-bits 2 --pgp-bits 2
upin
note "LD_PRELOAD=./rd.so: deterministic std::random_device (source in gen.sh)"
x env LD_PRELOAD=./rd.so osdmaptool "$CASE.bin" --upmap "$CASE.upmap_cmds.txt" --upmap-deviation 1 --upmap-max 40 --save
cp "$CASE.upmap_cmds.txt" "$HERE/$CASE.upmap_cmds.txt"
note "  $CASE.upmap_cmds.txt   : the file written by --upmap above"
target="$(awk 'NR == 1 { print $NF }' "$CASE.upmap_cmds.txt")"
note "marking out the target of the first upmap item: osd.$target"
out "$target"
emit
finish

# c14: m04 zero CRUSH weights (osd.1, 8-11, 12, 14, 23 weight 0; host2 all zero;
# host2 and host6 weighted 0 in the root), max_osd 28, pg 112 / pgp 56, size 3, osd.20 out.
start c14_m04_zero m04_zero_weights 0 no 28 --pg-bits 2 --pgp-bits 1
upin
out 20
emit
finish

# c15: the same saved map as c14, but every test command adds --mark-up-in, which
# (besides marking up/in) gives every OSD whose CRUSH weight is 0 the CRUSH weight 1.0
# (CrushWrapper::adjust_item_weightf, parents re-summed); c15.crush.txt is that map.
CASE=c15_m04_zero_markupin; LOG="$W/$CASE.cmds.txt"; : > "$LOG"
note "case $CASE: the saved osdmap of c14_m04_zero, tested with --mark-up-in"
x cp c14_m04_zero.bin "$CASE.bin"
x cp c14_m04_zero.crush.bin "$CASE.crush.bin"
emit --mark-up-in
finish

# c16: m03 uneven weights (22 OSDs, 6 hosts), pg 88 / pgp 88, size 7 (> 6 hosts).
# OSDs are created one by one without --mark-up-in; osd.4, 11, 19 are never created
# (do not exist) and osd.21 only gets --mark-out (sets the up bit but not "exists",
# so it does not exist either); osd.8 is created and then marked out.
# osdmaptool bug used here: --mark-in X marks the OSD given to --mark-up (not X) in.
start c16_m03_partial m03_uneven_weights 0 no 22 --pg-bits 2 --pgp-bits 2 --osd_pool_default_size 7
for o in $(seq 0 21); do
  case " 4 11 19 21 " in *" $o "*) continue ;; esac
  x osdmaptool "$CASE.bin" --mark-up "$o" --mark-in "$o" --import-crush "$CASE.crush.bin"
done
out 21 8
emit
finish

# ---------------------------------------------------------------------------
cd "$HERE"
{
  printf 'file\tlines\tbytes\tsha256\n'
  for f in names.txt c[0-9][0-9]_*.txt; do
    printf '%s\t%s\t%s\t%s\n' "$f" "$(wc -l < "$f")" "$(wc -c < "$f")" "$(sha256sum < "$f" | cut -d' ' -f1)"
  done
} > MANIFEST.tsv
echo "gen.sh: wrote $(ls c[0-9][0-9]_*.txt | wc -l) case files, $(du -sk . | cut -f1) KiB total"

package clustermap

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/loligo/loligo/crush"
)

// The vectors in testdata/extra were made with osdmaptool 16.2.15 by
// testdata/extra/gen.sh: 16 maps (pgp_num < pg_num, pools without
// HASHPSPOOL, OSDs out, missing and outside CRUSH, device classes,
// indep rules through a replicated pool, rule/pool type mismatch, CRUSH
// weight changes, zero weights, pg_upmap_items). Each case has the map
// (NAME.print.txt), its CRUSH map (NAME.crush.txt) and osdmaptool's
// placements of 233 objects, of every PG (raw, up and acting with
// primaries) and, for some, of PG ids beyond pg_num.

// loadPrinted builds a Map from osdmaptool --print output and the CRUSH
// map text.
func loadPrinted(t *testing.T, base string) *Map {
	t.Helper()
	src, err := os.ReadFile(base + ".crush.txt")
	if err != nil {
		t.Fatal(err)
	}
	cm, err := crush.Compile(string(src))
	if err != nil {
		t.Fatal(err)
	}
	m := &Map{Crush: cm, OSDs: map[int32]*OSD{}, Pools: map[int64]*Pool{}}
	for _, line := range readLines(t, base+".print.txt") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case f[0] == "epoch":
			m.Epoch, _ = strconv.ParseUint(f[1], 10, 64)
		case f[0] == "max_osd":
			v, _ := strconv.Atoi(f[1])
			m.MaxOSD = int32(v)
		case f[0] == "pool":
			m.addPrintedPool(t, line)
		case strings.HasPrefix(f[0], "osd."):
			id, err := strconv.Atoi(strings.TrimPrefix(f[0], "osd."))
			if err != nil {
				t.Fatalf("bad osd line %q", line)
			}
			o := &OSD{ID: int32(id), Up: f[1] == "up", PrimaryAffinity: crush.WeightOne}
			for i := 2; i+1 < len(f); i++ {
				switch f[i] {
				case "weight":
					w, _ := strconv.ParseFloat(f[i+1], 64)
					o.Weight = uint32(w * crush.WeightOne)
				case "primary_affinity":
					a, _ := strconv.ParseFloat(f[i+1], 64)
					o.PrimaryAffinity = uint32(a * crush.WeightOne)
				}
			}
			m.OSDs[o.ID] = o
		case f[0] == "pg_upmap_items":
			pg := parsePGID(t, f[1])
			l := parseList(t, f[2])
			if m.PGUpmapItems == nil {
				m.PGUpmapItems = map[PGID][][2]int32{}
			}
			for i := 0; i+1 < len(l); i += 2 {
				m.PGUpmapItems[pg] = append(m.PGUpmapItems[pg], [2]int32{l[i], l[i+1]})
			}
		case f[0] == "pg_upmap" || f[0] == "pg_temp" || f[0] == "primary_temp":
			t.Fatalf("%s: %s lines are not parsed by this test", base, f[0])
		}
	}
	if err := m.Finalize(); err != nil {
		t.Fatal(err)
	}
	return m
}

var poolLine = regexp.MustCompile(`^pool (\d+) '([^']*)' (replicated|erasure) (.*)$`)

func (m *Map) addPrintedPool(t *testing.T, line string) {
	t.Helper()
	g := poolLine.FindStringSubmatch(line)
	if g == nil {
		t.Fatalf("bad pool line %q", line)
	}
	id, _ := strconv.ParseInt(g[1], 10, 64)
	p := &Pool{ID: id, Name: g[2], Type: PoolReplicated, CrushRule: -1}
	if g[3] == "erasure" {
		p.Type = PoolErasure
	}
	f := strings.Fields(g[4])
	num := func(i int) uint32 {
		v, err := strconv.ParseUint(f[i+1], 10, 32)
		if err != nil {
			t.Fatalf("pool line %q: %s: %v", line, f[i], err)
		}
		return uint32(v)
	}
	for i := 0; i+1 < len(f); i++ {
		switch f[i] {
		case "size":
			p.Size = num(i)
		case "min_size":
			p.MinSize = num(i)
		case "crush_rule":
			p.CrushRule = int32(num(i))
		case "pg_num":
			p.PGNum = num(i)
		case "pgp_num":
			p.PGPNum = num(i)
		case "flags":
			for _, fl := range strings.Split(f[i+1], ",") {
				if fl == "hashpspool" {
					p.Flags |= FlagHashPSPool
				}
			}
		}
	}
	m.Pools[id] = p
}

func parsePGID(t *testing.T, s string) PGID {
	t.Helper()
	pool, seed, ok := strings.Cut(s, ".")
	p, err1 := strconv.ParseInt(pool, 10, 64)
	v, err2 := strconv.ParseUint(seed, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		t.Fatalf("bad PG id %q", s)
	}
	return PGID{Pool: p, Seed: uint32(v)}
}

// dumpLine matches "1.2f raw ([a,b], pA) up ([..], pB) acting ([..], pC)".
var dumpLine = regexp.MustCompile(`^(\d+\.[0-9a-f]+) raw \((\[[-0-9,]*\]), p(-?\d+)\) up \((\[[-0-9,]*\]), p(-?\d+)\) acting \((\[[-0-9,]*\]), p(-?\d+)\)$`)

func checkDumpLine(t *testing.T, m *Map, line string) bool {
	t.Helper()
	g := dumpLine.FindStringSubmatch(line)
	if g == nil {
		return false
	}
	pg := parsePGID(t, g[1])
	raw, err := m.Raw(pg)
	if err != nil {
		t.Fatal(err)
	}
	rawPrimary := int32(-1)
	for _, o := range raw {
		if o != NoOSD {
			rawPrimary = o
			break
		}
	}
	pl, err := m.Place(pg)
	if err != nil {
		t.Fatal(err)
	}
	p := func(s string) int32 { v, _ := strconv.Atoi(s); return int32(v) }
	if !reflect.DeepEqual(raw, parseList(t, g[2])) || rawPrimary != p(g[3]) ||
		!reflect.DeepEqual(pl.Up, parseList(t, g[4])) || pl.UpPrimary != p(g[5]) ||
		!reflect.DeepEqual(pl.Acting, parseList(t, g[6])) || pl.ActingPrimary != p(g[7]) {
		t.Errorf("%s:\n got  raw %v p%d up %v p%d acting %v p%d\n want %s", pg, raw, rawPrimary,
			pl.Up, pl.UpPrimary, pl.Acting, pl.ActingPrimary, line)
	}
	return true
}

func TestGoldenExtraOSDMaps(t *testing.T) {
	cases, err := filepath.Glob("testdata/extra/c*.print.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 16 {
		t.Fatalf("found %d cases, want 16", len(cases))
	}
	for _, c := range cases {
		base := strings.TrimSuffix(c, ".print.txt")
		t.Run(filepath.Base(base), func(t *testing.T) {
			m := loadPrinted(t, base)
			checkObjects(t, m, base+".objects.txt")
			// every PG: raw, up, acting and primaries
			n := 0
			for _, line := range readLines(t, base+".pgs_dump_all.txt") {
				if checkDumpLine(t, m, line) {
					n++
				}
			}
			if want := int(m.Pools[1].PGNum); n != want {
				t.Fatalf("checked %d PGs, want %d", n, want)
			}
			// PG ids past pg_num fold onto existing PGs
			if _, err := os.Stat(base + ".test_map_pg.txt"); err == nil {
				n = 0
				for _, line := range readLines(t, base+".test_map_pg.txt") {
					if checkDumpLine(t, m, line) {
						n++
					}
				}
				if n == 0 {
					t.Fatal("no test_map_pg lines checked")
				}
			}
		})
	}
}

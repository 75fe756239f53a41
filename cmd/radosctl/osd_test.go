package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/crush"
)

// testMapCrush has device classes (so shadow buckets), an empty root, a
// device of no class that the OSD map does not have (osd.3), and items
// out of Ceph's display order.
const testMapCrush = `device 0 osd.0 class ssd
device 1 osd.1 class hdd
device 2 osd.2 class hdd
device 3 osd.3

type 0 osd
type 1 host
type 11 root

host b {
	id -2
	alg straw2
	hash 0
	item osd.2 weight 1.000
	item osd.1 weight 0.500
	item osd.0 weight 2.000
}
host a {
	id -3
	alg straw2
	hash 0
	item osd.3 weight 1.000
}
root default {
	id -1
	alg straw2
	hash 0
	item b weight 3.500
	item a weight 1.000
}
root empty {
	id -4
	alg straw2
	hash 0
}

rule replicated_rule {
	id 0
	type replicated
	min_size 1
	max_size 10
	step take default
	step chooseleaf firstn 0 type host
	step emit
}
`

// testMap is a map with one of everything osd tree and osd dump print:
// an OSD not in CRUSH (osd.5), a CRUSH device not in the map (osd.3),
// flags, an erasure pool, pg_temp, primary_temp and upmaps.
func testMap(t testing.TB) *clustermap.Map {
	t.Helper()
	cm, err := crush.Compile(testMapCrush)
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2025, 3, 1, 12, 0, 0, 123456000, time.UTC)
	m := &clustermap.Map{
		FSID: "6f1c3c1e-0000-4000-8000-000000000001", Epoch: 42, Crush: cm, Created: when, Modified: when.Add(time.Hour),
		OSDs: map[int32]*clustermap.OSD{
			0: {ID: 0, UUID: "u0", Up: true, Weight: 0x10000, PrimaryAffinity: 0x8000, Addr: "10.0.0.1:6800", UpFrom: 40},
			1: {ID: 1, UUID: "u1", Up: true, Weight: 0xc000, PrimaryAffinity: 0x10000, Addr: "10.0.0.2:6800", UpFrom: 7},
			2: {ID: 2, UUID: "u2", Weight: 0, PrimaryAffinity: 0x10000, Addr: "10.0.0.3:6800", UpFrom: 9,
				DownStamp: when.Add(30 * time.Minute), AutoOut: true},
			5: {ID: 5, UUID: "u5", PrimaryAffinity: 0x10000},
		},
		Pools: map[int64]*clustermap.Pool{
			1: {ID: 1, Name: "data", Type: clustermap.PoolReplicated, Size: 3, MinSize: 2, PGNum: 8, PGPNum: 8, Flags: clustermap.FlagHashPSPool},
			4: {ID: 4, Name: "ec", Type: clustermap.PoolErasure, Size: 3, MinSize: 3, PGNum: 4, PGPNum: 2, CrushRule: 0, ECProfile: "ec21"},
		},
		PGTemp:       map[clustermap.PGID][]int32{{Pool: 1, Seed: 3}: {2, 1}},
		PrimaryTemp:  map[clustermap.PGID]int32{{Pool: 1, Seed: 0xa}: 1},
		PGUpmap:      map[clustermap.PGID][]int32{{Pool: 1, Seed: 5}: {1, 0}},
		PGUpmapItems: map[clustermap.PGID][][2]int32{{Pool: 1, Seed: 6}: {{0, 1}}, {Pool: 1, Seed: 2}: {{1, 0}, {2, 1}}},
		Flags:        clustermap.FlagNoOut | clustermap.FlagPauseRead | clustermap.FlagPauseWrite,
		ECProfiles:   map[string]map[string]string{"ec21": {"k": "2", "m": "1"}},
	}
	if err := m.Finalize(); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOSDTreeOffline(t *testing.T) {
	m := testMap(t)
	for _, js := range []bool{false, true} {
		var b bytes.Buffer
		if err := printOSDTree(&env{stdout: &b, json: js}, m); err != nil {
			t.Fatal(err)
		}
		name := "osd_tree_offline.txt"
		if js {
			name = "osd_tree_offline.json"
		}
		golden(t, name, b.String())
	}
	// Ceph's order: roots by ascending id; in a bucket, buckets by name,
	// then devices by class and id; shadow buckets hidden.
	items, stray := treeWalk(m)
	var ids []int32
	for _, it := range items {
		ids = append(ids, it.id)
	}
	if got, want := osdList(ids), "[-4,-1,-3,3,-2,1,2,0]"; got != want {
		t.Errorf("tree order %s, want %s", got, want)
	}
	if osdList(stray) != "[5]" {
		t.Errorf("stray %v, want [5]", stray)
	}
}

func TestOSDDumpOffline(t *testing.T) {
	m := testMap(t)
	for _, js := range []bool{false, true} {
		var b bytes.Buffer
		if err := printOSDDump(&env{stdout: &b, json: js}, m); err != nil {
			t.Fatal(err)
		}
		name := "osd_dump_offline.txt"
		if js {
			name = "osd_dump_offline.json"
		}
		golden(t, name, b.String())
	}
}

func TestTable(t *testing.T) {
	tb := newTable("ID>", "NAME", "NOTE")
	tb.add("1", "a", "")
	tb.add("-10", "ünïcode", "x")
	var b bytes.Buffer
	if err := tb.write(&b); err != nil {
		t.Fatal(err)
	}
	want := " ID  NAME     NOTE\n  1  a\n-10  ünïcode  x\n"
	if b.String() != want {
		t.Errorf("table:\n%q\nwant\n%q", b.String(), want)
	}
}

func TestWeightFormats(t *testing.T) {
	for _, tc := range []struct {
		v         uint32
		weightf   string
		g6        string
		fromFloat string
	}{
		{0, "0", "0", "0"},
		{0x10000, "1.00000", "1", "1"},
		{0x8000, "0.50000", "0.5", "0.5"},
		{0x5555, "0.33333", "0.333328", "0.333328"},
		{0x3a0000, "58.00000", "58", "58"},
	} {
		if got := weightf(tc.v); got != tc.weightf {
			t.Errorf("weightf(%#x) = %s, want %s", tc.v, got, tc.weightf)
		}
		if got := g6(tc.v); got != tc.g6 {
			t.Errorf("g6(%#x) = %s, want %s", tc.v, got, tc.g6)
		}
	}
	if w, err := parseWeight("t", "0.8"); err != nil || w != 0xcccc {
		t.Errorf("parseWeight(0.8) = %#x, %v; want 0xcccc as Ceph computes it", w, err)
	}
	for _, s := range []string{"-0.5", "40000", "NaN"} {
		if _, err := parseWeight("t", s); err == nil || strings.Contains(err.Error(), "crush:") {
			t.Errorf("parseWeight(%s): %v, want a plain error", s, err)
		}
	}
}

func TestParseArgs(t *testing.T) {
	spec := map[string]bool{"dry-run": false, "size": true}
	a, err := parseArgs("x", []string{"p", "--size", "3", "-1", "--dry-run", "q", "--size=4", "--", "--dry-run"}, spec)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(a.pos, " ") != "p -1 q --dry-run" || a.flags["size"] != "4" || !a.has("dry-run") {
		t.Errorf("parsed %+v", a)
	}
	for _, args := range [][]string{{"--bogus"}, {"--size"}, {"--dry-run=yes"}, {"-o", "json"}} {
		if _, err := parseArgs("x", args, spec); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

package clustermap

import (
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/loligo/loligo/crush"
	pb "github.com/loligo/loligo/proto/loligopb"
	"google.golang.org/protobuf/proto"
)

// om48 rebuilds the map of testdata/om48.print.txt: osdmaptool
// --createsimple 48 --with-default-pool with the CRUSH map of
// m02_rack_host_osd, all OSDs marked up and in; pool 1 'rbd' replicated
// size 3 min_size 2, crush_rule 0, pg_num = pgp_num = 3072, hashpspool.
func om48(t testing.TB) *Map {
	t.Helper()
	src, err := os.ReadFile("testdata/m02_rack_host_osd.txt")
	if err != nil {
		t.Fatal(err)
	}
	cm, err := crush.Compile(string(src))
	if err != nil {
		t.Fatal(err)
	}
	m := &Map{Epoch: 3, Crush: cm, OSDs: map[int32]*OSD{}, Pools: map[int64]*Pool{
		1: {ID: 1, Name: "rbd", Type: PoolReplicated, Size: 3, MinSize: 2, PGNum: 3072, PGPNum: 3072,
			CrushRule: 0, Flags: FlagHashPSPool},
	}}
	for i := int32(0); i < 48; i++ {
		m.OSDs[i] = &OSD{ID: i, Up: true, Weight: crush.WeightOne, PrimaryAffinity: crush.WeightOne}
	}
	if err := m.Finalize(); err != nil {
		t.Fatal(err)
	}
	return m
}

// parseObjectLine reads " object 'NAME' -> 1.869 -> [20,29,0]".
func parseObjectLine(t testing.TB, line string) (name, pg string, osds []int32) {
	t.Helper()
	const pre = " object '"
	if !strings.HasPrefix(line, pre) {
		t.Fatalf("bad line %q", line)
	}
	rest := line[len(pre):]
	i := strings.LastIndex(rest, "' -> ")
	if i < 0 {
		t.Fatalf("bad line %q", line)
	}
	name = rest[:i]
	f := strings.Split(rest[i+len("' -> "):], " -> ")
	if len(f) != 2 {
		t.Fatalf("bad line %q", line)
	}
	return name, f[0], parseList(t, f[1])
}

func parseList(t testing.TB, s string) []int32 {
	t.Helper()
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if s == "" {
		return []int32{}
	}
	var out []int32
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseInt(f, 10, 32)
		if err != nil {
			t.Fatalf("list %q: %v", s, err)
		}
		out = append(out, int32(v))
	}
	return out
}

// checkObjects compares the placement of pool 1's objects with
// osdmaptool --test-map-object lines (233 names).
func checkObjects(t *testing.T, m *Map, file string) {
	t.Helper()
	lines := readLines(t, file)
	if len(lines) != 233 {
		t.Fatalf("%s: %d lines, want 233", file, len(lines))
	}
	for _, line := range lines {
		name, wantPG, wantOSDs := parseObjectLine(t, line)
		pl, err := m.PlaceObject(1, name, "")
		if err != nil {
			t.Fatal(err)
		}
		if pl.PG.String() != wantPG || !reflect.DeepEqual(pl.Acting, wantOSDs) {
			t.Errorf("object %q: got %s %v, want %s %v", name, pl.PG, pl.Acting, wantPG, wantOSDs)
		}
	}
}

func readLines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// TestGoldenObjects: object name -> PG -> acting set, as osdmaptool
// --test-map-object prints it, for 233 names, with all OSDs in and with
// osd.17 out.
func TestGoldenObjects(t *testing.T) {
	for _, tc := range []struct {
		file string
		out  int32 // OSD marked out, or -1
	}{
		{"testdata/objects.txt", -1},
		{"testdata/objects_out.txt", 17},
	} {
		t.Run(tc.file, func(t *testing.T) {
			m := om48(t)
			if tc.out >= 0 {
				m.OSDs[tc.out].Weight = 0
				if err := m.Finalize(); err != nil {
					t.Fatal(err)
				}
			}
			checkObjects(t, m, tc.file)
		})
	}
}

// TestGoldenPGDump: every PG of the pool, up set and primary, as
// osdmaptool --test-map-pgs-dump prints them.
func TestGoldenPGDump(t *testing.T) {
	m := om48(t)
	n := 0
	for _, line := range readLines(t, "testdata/pgs_dump.txt") {
		f := strings.Split(line, "\t")
		if len(f) != 3 || !strings.HasPrefix(f[0], "1.") {
			continue // header and summary lines
		}
		seed, err := strconv.ParseUint(strings.TrimPrefix(f[0], "1."), 16, 32)
		if err != nil {
			t.Fatal(err)
		}
		primary, err := strconv.Atoi(f[2])
		if err != nil {
			t.Fatal(err)
		}
		pl, err := m.Place(PGID{Pool: 1, Seed: uint32(seed)})
		if err != nil {
			t.Fatal(err)
		}
		if want := parseList(t, f[1]); !reflect.DeepEqual(pl.Up, want) || pl.UpPrimary != int32(primary) {
			t.Errorf("pg %s: got %v primary %d, want %v primary %d", f[0], pl.Up, pl.UpPrimary, want, primary)
		}
		n++
	}
	if n != 3072 {
		t.Fatalf("checked %d PGs, want 3072", n)
	}
}

func TestStableMod(t *testing.T) {
	for _, tc := range []struct{ x, b, want uint32 }{
		{0, 12, 0}, {11, 12, 11}, {12, 12, 4}, {15, 12, 7}, {16, 12, 0}, {27, 12, 11}, {28, 12, 4},
		{5, 8, 5}, {13, 8, 5}, {1, 1, 0}, {0xffffffff, 3072, 0xfff & (0xfff >> 1)},
	} {
		if got := StableMod(tc.x, tc.b, pgMask(tc.b)); got != tc.want {
			t.Errorf("StableMod(%d, %d) = %d, want %d", tc.x, tc.b, got, tc.want)
		}
		if got := StableMod(tc.x, tc.b, pgMask(tc.b)); got >= tc.b {
			t.Errorf("StableMod(%d, %d) = %d, not below %d", tc.x, tc.b, got, tc.b)
		}
	}
	// Growing pg_num from 12 to 13 moves only the inputs that now land on
	// the new PG.
	for x := uint32(0); x < 4096; x++ {
		a, b := StableMod(x, 12, pgMask(12)), StableMod(x, 13, pgMask(13))
		if a != b && b != 12 {
			t.Fatalf("x=%d moved from %d to %d when pg_num grew to 13", x, a, b)
		}
	}
}

func TestHashKeyNamespace(t *testing.T) {
	if HashKey("obj", "") != crush.StrHash([]byte("obj")) {
		t.Fatal("empty namespace must hash the name alone")
	}
	if got, want := HashKey("obj", "ns"), crush.StrHash([]byte("ns\x1fobj")); got != want {
		t.Fatalf("HashKey with namespace = %d, want %d", got, want)
	}
}

// erasureMap is om48 with an erasure-coded pool on the indep rule.
func erasureMap(t testing.TB) *Map {
	m := om48(t)
	m.Pools[2] = &Pool{ID: 2, Name: "ec", Type: PoolErasure, Size: 6, MinSize: 5, PGNum: 64, PGPNum: 64,
		CrushRule: 1, Flags: FlagHashPSPool}
	if err := m.Finalize(); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDownOSDs: a down OSD leaves a replicated set (the rest shift left)
// and leaves a hole in an erasure set (positions are shard numbers).
func TestDownOSDs(t *testing.T) {
	m := erasureMap(t)
	for _, pool := range []int64{1, 2} {
		for seed := uint32(0); seed < 64; seed++ {
			pg := PGID{Pool: pool, Seed: seed}
			before, err := m.Place(pg)
			if err != nil {
				t.Fatal(err)
			}
			victim := before.Up[1]
			m.OSDs[victim].Up = false
			if err := m.Finalize(); err != nil {
				t.Fatal(err)
			}
			after, _ := m.Place(pg)
			var want []int32
			if pool == 1 {
				want = []int32{before.Up[0], before.Up[2]}
			} else {
				want = append([]int32(nil), before.Up...)
				want[1] = NoOSD
			}
			if !reflect.DeepEqual(after.Up, want) {
				t.Fatalf("pool %d pg %s with osd.%d down: up %v, want %v", pool, pg, victim, after.Up, want)
			}
			if after.UpPrimary != before.Up[0] {
				t.Fatalf("pg %s: primary %d, want %d", pg, after.UpPrimary, before.Up[0])
			}
			m.OSDs[victim].Up = true
			if err := m.Finalize(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestPGTemp: pg_temp replaces the acting set (down members dropped) and
// primary_temp the acting primary; the up set stays CRUSH's.
func TestPGTemp(t *testing.T) {
	m := om48(t)
	pg := PGID{Pool: 1, Seed: 7}
	base, _ := m.Place(pg)
	m.OSDs[5].Up = false
	m.PGTemp = map[PGID][]int32{pg: {5, 9, 11}}
	if err := m.Finalize(); err != nil {
		t.Fatal(err)
	}
	pl, _ := m.Place(pg)
	if !reflect.DeepEqual(pl.Acting, []int32{9, 11}) || pl.ActingPrimary != 9 {
		t.Fatalf("acting %v primary %d, want [9 11] primary 9", pl.Acting, pl.ActingPrimary)
	}
	var wantUp []int32
	for _, o := range base.Up {
		if o != 5 {
			wantUp = append(wantUp, o)
		}
	}
	if !reflect.DeepEqual(pl.Up, wantUp) {
		t.Fatalf("up %v, want CRUSH's %v without osd.5", pl.Up, wantUp)
	}
	m.PrimaryTemp = map[PGID]int32{pg: 11}
	if err := m.Finalize(); err != nil {
		t.Fatal(err)
	}
	if pl, _ = m.Place(pg); pl.ActingPrimary != 11 {
		t.Fatalf("primary_temp ignored: primary %d", pl.ActingPrimary)
	}
}

// TestPrimaryAffinity: an OSD with primary affinity 0 is never primary
// while another member can be, and in replicated pools the chosen primary
// moves to the front; with affinity 0.5 it leads roughly half as often.
func TestPrimaryAffinity(t *testing.T) {
	m := om48(t)
	count := func() int {
		n := 0
		for seed := uint32(0); seed < 3072; seed++ {
			pl, _ := m.Place(PGID{Pool: 1, Seed: seed})
			if pl.UpPrimary == 3 {
				n++
			}
			if pl.UpPrimary != pl.Up[0] {
				t.Fatalf("pg %d: primary %d not first in %v", seed, pl.UpPrimary, pl.Up)
			}
		}
		return n
	}
	full := count()
	m.OSDs[3].PrimaryAffinity = 0
	if err := m.Finalize(); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Fatalf("osd.3 with primary affinity 0 is primary of %d PGs", n)
	}
	m.OSDs[3].PrimaryAffinity = crush.WeightOne / 2
	if err := m.Finalize(); err != nil {
		t.Fatal(err)
	}
	half := count()
	if half == 0 || half >= full {
		t.Fatalf("affinity 0.5: primary of %d PGs, with 1.0: %d", half, full)
	}
}

func TestPoolValidation(t *testing.T) {
	for i, p := range []*Pool{
		{ID: 1, Name: "a", Type: 2, Size: 3, MinSize: 2, PGNum: 8, PGPNum: 8},
		{ID: 1, Name: "a", Type: PoolReplicated, Size: 0, MinSize: 0, PGNum: 8, PGPNum: 8},
		{ID: 1, Name: "a", Type: PoolReplicated, Size: 3, MinSize: 4, PGNum: 8, PGPNum: 8},
		{ID: 1, Name: "a", Type: PoolReplicated, Size: 3, MinSize: 2, PGNum: 0, PGPNum: 0},
		{ID: 1, Name: "a", Type: PoolReplicated, Size: 3, MinSize: 2, PGNum: 8, PGPNum: 16},
	} {
		m := om48(t)
		m.Pools[1] = p
		if err := m.Finalize(); err == nil {
			t.Errorf("pool %d (%+v) accepted", i, p)
		}
	}
	if _, err := om48(t).Pool(9); err == nil {
		t.Error("missing pool found")
	}
}

// TestProtoRoundTrip: a map survives encoding, and placements computed
// from the decoded map are the same.
func TestProtoRoundTrip(t *testing.T) {
	m := erasureMap(t)
	m.FSID = "c0ffee00-0000-4000-8000-000000000001"
	m.OSDs[4].Up = false
	m.OSDs[6].Weight = 0x8000
	m.OSDs[8].PrimaryAffinity = 0x4000
	m.PGTemp = map[PGID][]int32{{Pool: 1, Seed: 3}: {1, 2, 3}}
	m.PrimaryTemp = map[PGID]int32{{Pool: 1, Seed: 4}: 7}
	m.PGUpmap = map[PGID][]int32{{Pool: 1, Seed: 5}: {10, 20, 30}}
	m.PGUpmapItems = map[PGID][][2]int32{{Pool: 2, Seed: 6}: {{1, 2}, {3, 4}}}
	m.MaxOSD = 60
	if err := m.Finalize(); err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(m.ToProto())
	if err != nil {
		t.Fatal(err)
	}
	var pm = m.ToProto()
	pm.Reset()
	if err := proto.Unmarshal(b, pm); err != nil {
		t.Fatal(err)
	}
	d, err := FromProto(pm)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(d.ToProto(), m.ToProto()) {
		t.Fatal("decoded map re-encodes differently")
	}
	if d.Crush.Decompile() != m.Crush.Decompile() {
		t.Fatal("CRUSH map changed in the round trip")
	}
	for _, pool := range []int64{1, 2} {
		for seed := uint32(0); seed < 64; seed++ {
			pg := PGID{Pool: pool, Seed: seed}
			a, _ := m.Place(pg)
			b, _ := d.Place(pg)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("pg %s: %+v before, %+v after", pg, a, b)
			}
		}
	}
}

// TestFromProtoRejectsBadMaps: structural errors are reported, not
// panics, and no map is returned.
func TestFromProtoRejectsBadMaps(t *testing.T) {
	good := erasureMap(t).ToProto()
	for name, mutate := range map[string]func(){
		"no crush":         func() { good.Crush = nil },
		"missing child":    func() { good.Crush.Buckets[0].Items[0] = -999 },
		"weights mismatch": func() { good.Crush.Buckets[0].Weights = nil },
		"huge bucket id":   func() { good.Crush.Buckets[0].Id = -1 << 30 },
		"duplicate osd":    func() { good.Osds = append(good.Osds, good.Osds[0]) },
		"duplicate pool":   func() { good.Pools = append(good.Pools, good.Pools[0]) },
		"bad pool":         func() { good.Pools[0].Size = 0 },
		"weight above one": func() { good.Osds[0].Weight = 0x20000 },
		"rule id too big":  func() { good.Crush.Rules[0].Id = 300 },
		"cycle": func() {
			good.Crush.Buckets[0].Items = append(good.Crush.Buckets[0].Items, good.Crush.Buckets[0].Id)
			good.Crush.Buckets[0].Weights = append(good.Crush.Buckets[0].Weights, 1)
		},
		"unknown step op": func() { good.Crush.Rules[0].Steps[0].Op = 99 },
		"choose_args target": func() {
			good.Crush.ChooseArgs = append(good.Crush.ChooseArgs, &pb.CrushChooseArgs{Args: []*pb.CrushChooseArg{{BucketId: -500}}})
		},
	} {
		t.Run(name, func(t *testing.T) {
			good = erasureMap(t).ToProto()
			mutate()
			if m, err := FromProto(good); err == nil {
				t.Fatalf("accepted (%v)", m != nil)
			}
		})
	}
}

func ExamplePGID_String() {
	fmt.Println(PGID{Pool: 1, Seed: 0x869})
	// Output: 1.869
}

// TestUpmap: pg_upmap replaces the set unless a target is out;
// pg_upmap_items replace one OSD unless the new one is out or already in
// the set; both act before down OSDs are dropped.
func TestUpmap(t *testing.T) {
	m := om48(t)
	pg := PGID{Pool: 1, Seed: 9}
	base, _ := m.Place(pg)
	others := []int32{}
	for o := int32(0); o < 48 && len(others) < 3; o++ {
		if !contains(base.Up, o) {
			others = append(others, o)
		}
	}
	m.PGUpmap = map[PGID][]int32{pg: others}
	if err := m.Finalize(); err != nil {
		t.Fatal(err)
	}
	if pl, _ := m.Place(pg); !reflect.DeepEqual(pl.Up, others) {
		t.Fatalf("pg_upmap: up %v, want %v", pl.Up, others)
	}
	m.OSDs[others[1]].Weight = 0 // an out target voids the whole pg_upmap
	if err := m.Finalize(); err != nil {
		t.Fatal(err)
	}
	if pl, _ := m.Place(pg); !reflect.DeepEqual(pl.Up, base.Up) {
		t.Fatalf("pg_upmap to an out OSD applied: up %v, want %v", pl.Up, base.Up)
	}
	m.PGUpmap = nil
	m.PGUpmapItems = map[PGID][][2]int32{pg: {
		{base.Up[1], others[0]},  // applied
		{base.Up[2], base.Up[0]}, // ignored: target already in the set
		{base.Up[2], others[1]},  // ignored: target is out
	}}
	if err := m.Finalize(); err != nil {
		t.Fatal(err)
	}
	want := []int32{base.Up[0], others[0], base.Up[2]}
	if pl, _ := m.Place(pg); !reflect.DeepEqual(pl.Up, want) {
		t.Fatalf("pg_upmap_items: up %v, want %v", pl.Up, want)
	}
	m.OSDs[others[0]].Up = false // a down target is dropped after upmap
	if err := m.Finalize(); err != nil {
		t.Fatal(err)
	}
	if pl, _ := m.Place(pg); !reflect.DeepEqual(pl.Up, []int32{base.Up[0], base.Up[2]}) {
		t.Fatalf("down upmap target: up %v", pl.Up)
	}
}

func contains(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestRuleMustFitPool: as Ceph's find_rule, a pool whose rule is of the
// other type, or whose size is outside the rule's min_size..max_size,
// maps nowhere (and the PG has no primary).
func TestRuleMustFitPool(t *testing.T) {
	m := om48(t)
	pg := PGID{Pool: 1, Seed: 1}
	if pl, _ := m.Place(pg); len(pl.Up) != 3 {
		t.Fatalf("baseline up %v", pl.Up)
	}
	m.Crush.Rules[0].MaxSize = 2
	if pl, _ := m.Place(pg); len(pl.Up) != 0 || pl.UpPrimary != NoPrimary || pl.ActingPrimary != NoPrimary {
		t.Fatalf("size 3 with max_size 2: %+v", pl)
	}
	m.Crush.Rules[0].MaxSize = 20
	m.Pools[1].CrushRule = 1 // the erasure rule
	if err := m.Finalize(); err != nil {
		t.Fatal(err)
	}
	if pl, _ := m.Place(pg); len(pl.Up) != 0 {
		t.Fatalf("replicated pool on an erasure rule: up %v", pl.Up)
	}
	m.Pools[1].CrushRule = 9 // no such rule
	if err := m.Finalize(); err != nil {
		t.Fatal(err)
	}
	if pl, _ := m.Place(pg); len(pl.Up) != 0 {
		t.Fatalf("missing rule: up %v", pl.Up)
	}
}

func TestFormatOSDs(t *testing.T) {
	for _, tc := range []struct {
		in   []int32
		want string
	}{{nil, "[]"}, {[]int32{3}, "[3]"}, {[]int32{3, 1, NoOSD, 0}, "[3,1,NONE,0]"}} {
		if got := FormatOSDs(tc.in); got != tc.want {
			t.Errorf("FormatOSDs(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

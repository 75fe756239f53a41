package mon

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/loligo/loligo/clustermap"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// placedMap is a map with n OSDs, each up and in on its own host, and a
// replicated pool 1 "data" of pgs PGs and the given size.
func placedMap(t *testing.T, n int, pgs, size uint32) *clustermap.Map {
	t.Helper()
	m, err := initialMap("f", time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	m = m.Clone()
	for i := range n {
		id, _, err := createOSD(m, &pb.OSDCreateRequest{Uuid: fmt.Sprintf("u%d", i), Host: fmt.Sprintf("h%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bootOSD(m, &pb.OSDBootRequest{Id: id, Uuid: fmt.Sprintf("u%d", i), Addr: fmt.Sprintf("127.0.0.1:%d", 6800+i)}, 2, time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := applyCommand(m, poolCreateReq("data", pgs, size), Limits{}, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	m.Epoch = 2
	if err := checkMap(m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestApplyPGTemp(t *testing.T) {
	m := placedMap(t, 4, 8, 3)
	pg := clustermap.PGID{Pool: 1, Seed: 3}
	before, _ := m.Place(pg)
	// A set that is not the up set: the OSD left out of up, then the
	// first two of up.
	var other int32
	for id := range int32(4) {
		if !slices.Contains(before.Up, id) {
			other = id
		}
	}
	temp := []int32{other, before.Up[0], before.Up[1]}

	c := m.Clone()
	if _, err := applyPGTemp(c, []*pb.PGTemp{{Pool: 1, Seed: 3, Osds: temp}}); err != nil {
		t.Fatal(err)
	}
	if err := checkMap(c); err != nil {
		t.Fatal(err)
	}
	pl, _ := c.Place(pg)
	if !slices.Equal(pl.Acting, temp) || pl.ActingPrimary != other || !slices.Equal(pl.Up, before.Up) {
		t.Fatalf("with pg_temp %v: up %v acting %v primary %d", temp, pl.Up, pl.Acting, pl.ActingPrimary)
	}
	if _, err := applyPGTemp(c, []*pb.PGTemp{{Pool: 1, Seed: 3}}); err != nil {
		t.Fatal(err)
	}
	if err := checkMap(c); err != nil {
		t.Fatal(err)
	}
	if pl, _ := c.Place(pg); !slices.Equal(pl.Acting, before.Acting) || len(c.PGTemp) != 0 {
		t.Fatalf("cleared pg_temp: acting %v, table %v", pl.Acting, c.PGTemp)
	}

	// An erasure pool (id 2): holes are positions, at most size of them.
	ec := m.Clone()
	if _, err := applyCommand(ec, &pb.CommandRequest{Cmd: &pb.CommandRequest_PoolCreate{PoolCreate: &pb.PoolCreate{
		Name: "ec", PgNum: 4, Type: pb.PoolType_POOL_TYPE_ERASURE}}}, Limits{}, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := checkMap(ec); err != nil {
		t.Fatal(err)
	}
	size := int(ec.Pools[2].Size)
	withHole := slices.Repeat([]int32{clustermap.NoOSD}, size)
	withHole[0] = 1
	if _, err := applyPGTemp(ec.Clone(), []*pb.PGTemp{{Pool: 2, Seed: 0, Osds: withHole}}); err != nil {
		t.Fatalf("erasure pg_temp with holes: %v", err)
	}
	if _, err := applyPGTemp(ec.Clone(), []*pb.PGTemp{{Pool: 2, Seed: 0, Osds: append(withHole, 2)}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("erasure pg_temp of %d positions: %v", size+1, err)
	}

	for _, tc := range []struct {
		name    string
		entries []*pb.PGTemp
	}{
		{"no such pool", []*pb.PGTemp{{Pool: 7, Seed: 0, Osds: []int32{0}}}},
		{"seed past pg_num", []*pb.PGTemp{{Pool: 1, Seed: 8, Osds: []int32{0}}}},
		{"no such osd", []*pb.PGTemp{{Pool: 1, Seed: 0, Osds: []int32{0, 9}}}},
		{"hole in a replicated pool", []*pb.PGTemp{{Pool: 1, Seed: 0, Osds: []int32{0, clustermap.NoOSD}}}},
		{"osd twice", []*pb.PGTemp{{Pool: 1, Seed: 0, Osds: []int32{0, 1, 0}}}},
		{"pg twice", []*pb.PGTemp{{Pool: 1, Seed: 0, Osds: []int32{0}}, {Pool: 1, Seed: 0}}},
		{"good then bad", []*pb.PGTemp{{Pool: 1, Seed: 1, Osds: []int32{0, 1}}, {Pool: 1, Seed: 2, Osds: []int32{-1}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := m.Clone()
			_, err := applyPGTemp(c, tc.entries)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err %v, want ErrInvalid", err)
			}
			if !proto.Equal(c.ToProto(), m.ToProto()) {
				t.Fatal("a refused request changed the map")
			}
		})
	}
}

func TestCheckActivation(t *testing.T) {
	m := placedMap(t, 4, 8, 3)
	pg := clustermap.PGID{Pool: 1, Seed: 5}
	pl, _ := m.Place(pg)
	digest := clustermap.IntervalDigest(m, m.Pools[1], pl)
	now := time.Unix(100, 0)
	ai := func(primary int32, interval uint64) *pb.ActiveInterval {
		return &pb.ActiveInterval{Pool: 1, Seed: 5, Interval: interval, Epoch: m.Epoch, Primary: primary, Acting: []int32{42}}
	}
	rec, ok := checkActivation(m, pl.ActingPrimary, ai(pl.ActingPrimary, digest), now)
	if !ok {
		t.Fatal("the current interval is refused")
	}
	want := &pb.ActiveInterval{Pool: 1, Seed: 5, Interval: digest, Epoch: m.Epoch, Acting: pl.Acting, Primary: pl.ActingPrimary, RecordedNs: now.UnixNano()}
	if !proto.Equal(rec, want) {
		t.Fatalf("record %v, want %v (acting from the map)", rec, want)
	}
	if rec, _ := checkActivation(m, pl.ActingPrimary, &pb.ActiveInterval{Pool: 1, Seed: 5, Interval: digest, Primary: pl.ActingPrimary}, now); rec.GetEpoch() != m.Epoch {
		t.Fatalf("no epoch given: recorded epoch %d, want the map's %d", rec.GetEpoch(), m.Epoch)
	}
	other := pl.Acting[1]
	for _, tc := range []struct {
		name string
		osd  int32
		ai   *pb.ActiveInterval
	}{
		{"stale digest", pl.ActingPrimary, ai(pl.ActingPrimary, digest+1)},
		{"not the primary", other, ai(other, digest)},
		{"claims another primary", pl.ActingPrimary, ai(other, digest)},
		{"no such pool", pl.ActingPrimary, &pb.ActiveInterval{Pool: 9, Seed: 5, Interval: digest, Primary: pl.ActingPrimary}},
		{"no such pg", pl.ActingPrimary, &pb.ActiveInterval{Pool: 1, Seed: 8, Interval: digest, Primary: pl.ActingPrimary}},
	} {
		if _, ok := checkActivation(m, tc.osd, tc.ai, now); ok {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	// A member restarts: same sets, new up_from, new interval.
	c := m.Clone()
	c.OSDs[other].UpFrom = 9
	c.Epoch = 9
	if err := c.Finalize(); err != nil {
		t.Fatal(err)
	}
	if _, ok := checkActivation(c, pl.ActingPrimary, ai(pl.ActingPrimary, digest), now); ok {
		t.Fatal("accepted after a member restarted")
	}
}

func TestNewReportRate(t *testing.T) {
	t0 := time.Unix(1000, 0)
	entry := func(seed uint32, bytes, objs uint64) *pb.PGStatEntry {
		return &pb.PGStatEntry{Pool: 1, Seed: seed, State: "active+recovering", RecoveredBytes: bytes, RecoveredObjects: objs}
	}
	req := func(es ...*pb.PGStatEntry) *pb.PGStatsRequest { return &pb.PGStatsRequest{Osd: 3, Pgs: es} }

	first := newReport(req(entry(0, 100, 1), entry(1, 0, 0)), nil, t0)
	if first.bytesPerSec != 0 || first.objectsPerSec != 0 || first.receivedNs != t0.UnixNano() {
		t.Fatalf("first report: %+v", first)
	}
	for _, e := range first.stats.GetPgs() {
		if e.GetReporter() != 3 || e.GetReportedNs() != t0.UnixNano() {
			t.Fatalf("entry %v: reporter/reported_ns not set", e)
		}
	}
	for _, tc := range []struct {
		name       string
		req        *pb.PGStatsRequest
		after      time.Duration
		bps, objps float64
	}{
		{"growth over 2s", req(entry(0, 4100, 11), entry(1, 2000, 4)), 2 * time.Second, 3000, 7},
		{"restart: counters went down", req(entry(0, 50, 1), entry(1, 0, 0)), 2 * time.Second, 0, 0},
		{"a new PG's counters are not recovery since the last report", req(entry(0, 100, 1), entry(7, 1e9, 1e6)), time.Second, 0, 0},
		{"a PG that left", req(entry(1, 500, 5)), time.Second, 500, 5},
		{"no time passed", req(entry(0, 4100, 11)), 0, 0, 0},
	} {
		r := newReport(tc.req, first, t0.Add(tc.after))
		if r.bytesPerSec != tc.bps || r.objectsPerSec != tc.objps {
			t.Errorf("%s: %v B/s %v obj/s, want %v %v", tc.name, r.bytesPerSec, r.objectsPerSec, tc.bps, tc.objps)
		}
	}
	if first.stats == nil || req(entry(0, 1, 1)).GetPgs()[0].GetReporter() != 0 {
		t.Fatal("newReport changed its input")
	}
}

func TestReportEncoding(t *testing.T) {
	r := newReport(&pb.PGStatsRequest{Osd: 2, Epoch: 7, Pgs: []*pb.PGStatEntry{{Pool: 1, Seed: 2, State: "active+clean", Objects: 9}}}, nil, time.Unix(5, 6))
	r.bytesPerSec, r.objectsPerSec = 1.5, math.Inf(1)
	b, err := encodeReport(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeReport(2, b)
	if err != nil {
		t.Fatal(err)
	}
	if got.osd != 2 || got.receivedNs != r.receivedNs || got.bytesPerSec != 1.5 || !math.IsInf(got.objectsPerSec, 1) ||
		!proto.Equal(got.stats, r.stats) {
		t.Fatalf("decoded %+v, want %+v", got, r)
	}
	// Unknown fields are skipped; a truncated report is an error.
	extra := append(slices.Clone(b), 0x48, 0x01) // field 9, varint 1
	if _, err := decodeReport(2, extra); err != nil {
		t.Fatalf("unknown field: %v", err)
	}
	if _, err := decodeReport(2, b[:len(b)-1]); err == nil {
		t.Fatal("truncated report decodes")
	}
}

// FuzzReportRoundTrip: any input that decodes encodes back to the same
// report, and nothing panics.
func FuzzReportRoundTrip(f *testing.F) {
	r := newReport(&pb.PGStatsRequest{Osd: 1, Pgs: []*pb.PGStatEntry{{Pool: 1, State: "active+clean"}}}, nil, time.Unix(1, 0))
	b, _ := encodeReport(r)
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := decodeReport(1, in)
		if err != nil {
			return
		}
		b, err := encodeReport(r)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeReport(1, b)
		if err != nil {
			t.Fatalf("re-encoded report does not decode: %v", err)
		}
		same := func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) }
		if again.receivedNs != r.receivedNs || !same(again.bytesPerSec, r.bytesPerSec) ||
			!same(again.objectsPerSec, r.objectsPerSec) || !proto.Equal(again.stats, r.stats) {
			t.Fatalf("round trip: %+v, then %+v", r, again)
		}
	})
}

func TestBuildDump(t *testing.T) {
	m := placedMap(t, 4, 8, 3)
	t0 := time.Unix(1000, 0)
	place := func(seed uint32) clustermap.Placement {
		pl, err := m.Place(clustermap.PGID{Pool: 1, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		return pl
	}
	// PG a (1.0) is reported by its primary and, later, by another
	// member; PG b only by that other member, which is not b's primary.
	plA := place(0)
	other := plA.Acting[1]
	b := uint32(1)
	for ; b < 8 && place(b).ActingPrimary == other; b++ {
	}
	if b == 8 {
		t.Fatalf("osd.%d is the primary of every PG but 1.0", other)
	}
	report := func(osd int32, at time.Time, es ...*pb.PGStatEntry) *pgReport {
		return newReport(&pb.PGStatsRequest{Osd: osd, Pgs: es}, nil, at)
	}
	reports := []*pgReport{
		report(plA.ActingPrimary, t0, &pb.PGStatEntry{Pool: 1, Seed: 0, State: "active+clean", Objects: 5, Up: []int32{9}, Acting: []int32{9}}),
		report(other, t0.Add(time.Second), &pb.PGStatEntry{Pool: 1, Seed: 0, State: "peering"},
			&pb.PGStatEntry{Pool: 1, Seed: b, State: "active+recovering"},
			// PGs that do not exist are ignored.
			&pb.PGStatEntry{Pool: 1, Seed: 77, State: "active"},
			&pb.PGStatEntry{Pool: 5, Seed: 0, State: "active"}),
	}
	states := func(dump []*pb.PGStatEntry) []string {
		var out []string
		for _, e := range dump {
			out = append(out, e.GetState())
		}
		return out
	}
	want := func(a, bState string) []string {
		out := slices.Repeat([]string{"unknown"}, 8)
		out[0], out[b] = a, bState
		return out
	}
	dump, err := buildDump(m, reports, 0, t0.Add(10*time.Second), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := states(dump), want("active+clean", "active+recovering"); !slices.Equal(got, want) {
		t.Fatalf("dump %v, want %v", got, want)
	}
	for i, e := range dump {
		pl := place(uint32(i))
		if e.GetPool() != 1 || e.GetSeed() != uint32(i) {
			t.Fatalf("entry %d is pg %s", i, pgIDOf(e))
		}
		if !slices.Equal(e.GetUp(), pl.Up) || !slices.Equal(e.GetActing(), pl.Acting) || e.GetPrimary() != pl.ActingPrimary {
			t.Errorf("pg 1.%d: up %v acting %v primary %d, the map says %v %v %d", i, e.GetUp(), e.GetActing(), e.GetPrimary(), pl.Up, pl.Acting, pl.ActingPrimary)
		}
	}
	if dump[0].GetReporter() != plA.ActingPrimary || dump[0].GetObjects() != 5 || dump[b].GetReporter() != other {
		t.Fatalf("reporters %d and %d", dump[0].GetReporter(), dump[b].GetReporter())
	}
	for i, e := range dump {
		if e.GetState() == "unknown" && e.GetReporter() != -1 {
			t.Fatalf("unknown pg 1.%d has reporter %d", i, e.GetReporter())
		}
	}
	if reports[0].stats.GetPgs()[0].GetUp()[0] != 9 {
		t.Fatal("buildDump changed a stored report")
	}

	// Stale by age: 31s after the primary's report, 30s after the other.
	dump, _ = buildDump(m, reports, 0, t0.Add(31*time.Second), 30*time.Second)
	if got, want := states(dump), want("stale+active+clean", "active+recovering"); !slices.Equal(got, want) {
		t.Fatalf("after 31s: %v, want %v", got, want)
	}
	// A negative bound: never stale by age.
	if dump, _ := buildDump(m, reports, 0, t0.Add(time.Hour), -1); dump[0].GetState() != "active+clean" {
		t.Fatalf("with no age bound: %s", dump[0].GetState())
	}
	// Stale at once when the reporter is down.
	down := m.Clone()
	down.OSDs[other].Up = false
	if err := down.Finalize(); err != nil {
		t.Fatal(err)
	}
	dump, _ = buildDump(down, reports, 0, t0.Add(2*time.Second), 30*time.Second)
	if got, want := states(dump), want("active+clean", "stale+active+recovering"); !slices.Equal(got, want) {
		t.Fatalf("reporter down: %v, want %v", got, want)
	}
	// One pool, and a pool that does not exist.
	if dump, err := buildDump(m, reports, 1, t0, 30*time.Second); err != nil || len(dump) != 8 {
		t.Fatalf("pool 1: %d entries, %v", len(dump), err)
	}
	if _, err := buildDump(m, reports, 5, t0, 30*time.Second); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pool 5: %v", err)
	}
}

func TestSummarizePGs(t *testing.T) {
	m := placedMap(t, 3, 4, 3)
	t0 := time.Unix(1000, 0)
	fresh := &pgReport{osd: 0, stats: &pb.PGStatsRequest{}, receivedNs: t0.UnixNano(), bytesPerSec: 100, objectsPerSec: 2}
	old := &pgReport{osd: 1, stats: &pb.PGStatsRequest{}, receivedNs: t0.Add(-time.Minute).UnixNano(), bytesPerSec: 1000, objectsPerSec: 20}
	dump := []*pb.PGStatEntry{
		{Pool: 1, Seed: 0, State: "active+clean", Objects: 10, Bytes: 1000, ScrubErrors: 1},
		{Pool: 1, Seed: 1, State: "active+undersized+degraded", Objects: 4, Bytes: 400, DegradedObjects: 4, MisplacedObjects: 2, UnfoundObjects: 1, RecoveryBytesLeft: 400},
		{Pool: 1, Seed: 2, State: "active+clean", Objects: 1},
		{Pool: 1, Seed: 3, State: "unknown"},
	}
	got := summarizePGs(m, dump, []*pgReport{fresh, old}, t0.Add(time.Second), 30*time.Second)
	want := &pb.PGSummary{Pgs: 4, States: map[string]uint32{"active+clean": 2, "active+undersized+degraded": 1, "unknown": 1},
		Objects: 15, Bytes: 1400, DegradedObjects: 4, ObjectCopies: 45, MisplacedObjects: 2, UnfoundObjects: 1,
		RecoveryBytesLeft: 400, RecoveryBytesPerSec: 100, RecoveryObjectsPerSec: 2, ScrubErrors: 1}
	if !proto.Equal(got, want) {
		t.Fatalf("summary\n%v\nwant\n%v", got, want)
	}
}

func pgID(pool int64, seed uint32) clustermap.PGID { return clustermap.PGID{Pool: pool, Seed: seed} }

func mustPlace(t *testing.T, m *clustermap.Map, pool int64, seed uint32) clustermap.Placement {
	t.Helper()
	pl, err := m.Place(pgID(pool, seed))
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

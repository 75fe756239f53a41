package mon

import (
	"slices"
	"testing"
	"time"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/crush"
	pb "github.com/loligo/loligo/proto/loligopb"
)

func detectorMap(t *testing.T, n int) *clustermap.Map {
	t.Helper()
	m, err := initialMap("f", time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	for i := range int32(n) {
		m.OSDs[i] = &clustermap.OSD{ID: i, Up: true, Weight: crush.WeightOne, PrimaryAffinity: crush.WeightOne}
	}
	if err := m.Finalize(); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDetector walks the failure detector through its rules with a
// table of events; no clocks, no sleeps.
func TestDetector(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	type ev struct {
		at      int
		beacon  []int32
		report  [2]int32 // target, reporter (0,0: none)
		cancel  bool
		setDown []int32 // apply: mark these down at this time
		flags   clustermap.Flags
	}
	tests := []struct {
		name   string
		events []ev
		// wantDown/wantOut are checked at the last event.
		wantDown, wantOut []int32
	}{
		{"silence past grace", []ev{{at: 0}, {at: 20, beacon: []int32{1, 2}}, {at: 21, beacon: []int32{1, 2}}}, []int32{0}, nil},
		{"silence within grace", []ev{{at: 0}, {at: 20}}, nil, nil},
		{"beacons keep it up", []ev{{at: 0}, {at: 15, beacon: []int32{0, 1, 2}}, {at: 30, beacon: []int32{1, 2}}}, nil, nil},
		{"one report", []ev{{at: 0}, {at: 1, report: [2]int32{0, 1}}, {at: 2}}, nil, nil},
		{"two reports", []ev{{at: 0}, {at: 1, report: [2]int32{0, 1}}, {at: 2, report: [2]int32{0, 2}}, {at: 3}}, []int32{0}, nil},
		{"same reporter twice", []ev{{at: 0}, {at: 1, report: [2]int32{0, 1}}, {at: 2, report: [2]int32{0, 1}}, {at: 3}}, nil, nil},
		{"cancelled report", []ev{{at: 0}, {at: 1, report: [2]int32{0, 1}}, {at: 2, report: [2]int32{0, 1}, cancel: true}, {at: 2, report: [2]int32{0, 2}}, {at: 3}}, nil, nil},
		{"stale report", []ev{{at: 0}, {at: 1, report: [2]int32{0, 1}}, {at: 19, beacon: []int32{0, 1, 2}}, {at: 22, report: [2]int32{0, 2}}, {at: 23, beacon: []int32{0, 1, 2}}}, nil, nil},
		{"nodown", []ev{{at: 0, flags: clustermap.FlagNoDown}, {at: 30, flags: clustermap.FlagNoDown}}, nil, nil},
		{"down then out", []ev{{at: 0, setDown: []int32{0}}, {at: 599, beacon: []int32{1, 2}}, {at: 600, beacon: []int32{1, 2}}}, nil, []int32{0}},
		{"down, not yet out", []ev{{at: 0, setDown: []int32{0}}, {at: 599, beacon: []int32{1, 2}}}, nil, nil},
		{"noout", []ev{{at: 0, setDown: []int32{0}}, {at: 900, beacon: []int32{1, 2}, flags: clustermap.FlagNoOut}}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := detectorMap(t, 3)
			d := newDetector(20*time.Second, 600*time.Second, 2)
			var down, out []int32
			for _, e := range tc.events {
				now := at(e.at)
				if len(e.setDown) > 0 {
					markDown(m, e.setDown, now, "test", nil)
				}
				m.Flags = e.flags
				if err := m.Finalize(); err != nil {
					t.Fatal(err)
				}
				for _, id := range e.beacon {
					d.beacon(id, now)
				}
				if e.report != [2]int32{} {
					d.report(e.report[0], e.report[1], !e.cancel, now)
				}
				down, out = d.check(m, now)
			}
			if !slices.Equal(down, tc.wantDown) || !slices.Equal(out, tc.wantOut) {
				t.Fatalf("down %v out %v, want %v %v", down, out, tc.wantDown, tc.wantOut)
			}
		})
	}
}

// TestDetectorNewLeaderGrace: a detector that never heard an OSD (a new
// leader) does not mark it down at once.
func TestDetectorNewLeaderGrace(t *testing.T) {
	m := detectorMap(t, 2)
	d := newDetector(20*time.Second, 600*time.Second, 2)
	if down, _ := d.check(m, time.Unix(5000, 0)); len(down) != 0 {
		t.Fatalf("fresh detector marks %v down", down)
	}
	if down, _ := d.check(m, time.Unix(5021, 0)); len(down) != 2 {
		t.Fatalf("after the grace: %v down", down)
	}
}

// TestHealthChecks: the named checks appear for their conditions, each
// with a hint, worst first.
func TestHealthChecks(t *testing.T) {
	m := detectorMap(t, 3)
	if _, err := applyCommand(m, poolCreateReq("data", 16, 1), Limits{}, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := checkMap(m); err != nil {
		t.Fatal(err)
	}
	m.OSDs[1].Up = false
	m.Flags = clustermap.FlagNoOut
	if err := m.Finalize(); err != nil {
		t.Fatal(err)
	}
	overall, checks := computeHealth(m, []monState{{name: "a", alive: true}, {name: "b", addr: "x:1"}, {name: "c", alive: true}}, nil)
	var codes []string
	for _, c := range checks {
		codes = append(codes, c.Code)
		if c.Hint == "" || c.Summary == "" {
			t.Errorf("%s has no hint or summary", c.Code)
		}
	}
	// No OSD is in CRUSH here, so every PG is inactive (an error).
	want := []string{"PG_AVAILABILITY", "MON_DOWN", "OSDMAP_FLAGS", "OSD_DOWN", "POOL_NO_REDUNDANCY"}
	if overall != HealthErr || !slices.Equal(codes, want) {
		t.Fatalf("health %s %v, want HEALTH_ERR %v", overall, codes, want)
	}
	clean := detectorMap(t, 3)
	if overall, checks := computeHealth(clean, []monState{{name: "a", alive: true}}, nil); overall != HealthOK || len(checks) != 0 {
		t.Fatalf("clean cluster: %s %v", overall, checks)
	}
}

func poolCreateReq(name string, pgs, size uint32) *pb.CommandRequest {
	return &pb.CommandRequest{Cmd: &pb.CommandRequest_PoolCreate{PoolCreate: &pb.PoolCreate{Name: name, PgNum: pgs, Size: size}}}
}

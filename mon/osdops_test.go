package mon

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/loligo/loligo/clustermap"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// TestBootOSDRestart: a boot from another incarnation of an OSD the map
// shows up is a restart: the old instance goes down first (with why),
// and the next boot brings the new one up in a later epoch. A repeated
// boot of the same incarnation changes nothing.
func TestBootOSDRestart(t *testing.T) {
	m := detectorMap(t, 1)
	o := m.OSDs[0]
	o.UUID, o.Up, o.UpFrom = "u0", false, 0
	t0 := time.Unix(5000, 0)
	boot := func(inc uint64, addr string, epoch uint64, at time.Time) bool {
		t.Helper()
		restarted, err := bootOSD(m, &pb.OSDBootRequest{Id: 0, Uuid: "u0", Addr: addr, Incarnation: inc}, epoch, at)
		if err != nil {
			t.Fatal(err)
		}
		return restarted
	}
	if boot(7, "127.0.0.1:6800", 2, t0) || !o.Up || o.UpFrom != 2 || o.Incarnation != 7 || !o.UpStamp.Equal(t0) {
		t.Fatalf("first boot: %+v", o)
	}
	if boot(7, "127.0.0.1:6800", 3, t0.Add(time.Second)) || o.UpFrom != 2 {
		t.Fatalf("a repeated boot changed the OSD: %+v", o)
	}
	// The process restarts on the same address before the monitor
	// noticed: down first.
	t1 := t0.Add(time.Minute)
	if !boot(8, "127.0.0.1:6800", 4, t1) {
		t.Fatal("a new incarnation was not taken for a restart")
	}
	if o.Up || !o.DownStamp.Equal(t1) || !strings.Contains(o.DownReason, "restarted") || o.Incarnation != 7 {
		t.Fatalf("after the restart's first step: %+v", o)
	}
	if boot(8, "127.0.0.1:6800", 5, t1) || !o.Up || o.UpFrom != 5 || o.Incarnation != 8 {
		t.Fatalf("after the restart's second step: %+v", o)
	}
	if !strings.Contains(o.DownReason, "restarted") {
		t.Fatalf("the reason of the last down went away at boot: %q", o.DownReason)
	}
	// A move to another address is a restart too.
	if !boot(8, "127.0.0.1:6900", 6, t1) {
		t.Fatal("a boot at another address was not a restart")
	}
	// noup holds a restarted OSD down, as any other.
	m.Flags |= clustermap.FlagNoUp
	if _, err := bootOSD(m, &pb.OSDBootRequest{Id: 0, Uuid: "u0", Addr: "127.0.0.1:6900", Incarnation: 8}, 7, t1); !errors.Is(err, ErrBusy) {
		t.Fatalf("boot under noup: %v", err)
	}
}

// TestBeaconCounts: a beacon keeps the map's instance alive only when it
// comes from that incarnation (or an OSD that does not say which).
func TestBeaconCounts(t *testing.T) {
	m := detectorMap(t, 2)
	m.OSDs[0].Incarnation = 7
	m.OSDs[1].Up = false
	for _, tc := range []struct {
		id   int32
		inc  uint64
		want bool
	}{
		{0, 7, true},
		{0, 0, true},
		{0, 8, false}, // another process than the one the map shows up
		{1, 8, true},  // down: its beacon is news (it boots again)
		{9, 1, true},  // unknown OSDs are the detector's to forget
	} {
		if got := beaconCounts(m, tc.id, tc.inc); got != tc.want {
			t.Errorf("beaconCounts(osd.%d, %d) = %v, want %v", tc.id, tc.inc, got, tc.want)
		}
	}
}

// TestDetectorFullness: reported file system use is judged against the
// map's ratios; only changes come out, and only for up OSDs.
func TestDetectorFullness(t *testing.T) {
	m := detectorMap(t, 4)
	d := newDetector(20*time.Second, time.Hour, 2)
	const gib = 1 << 30
	d.reportSpace(0, 100*gib, 50*gib) // 50%: ok
	d.reportSpace(1, 100*gib, 14*gib) // 86%: nearfull
	d.reportSpace(2, 100*gib, 8*gib)  // 92%: backfillfull
	d.reportSpace(3, 100*gib, 2*gib)  // 98%: full
	got := d.fullness(m)
	want := map[int32]clustermap.Fullness{1: clustermap.FullnessNear, 2: clustermap.FullnessBackfill, 3: clustermap.FullnessFull}
	if len(got) != len(want) {
		t.Fatalf("fullness %v, want %v", got, want)
	}
	for id, f := range want {
		if got[id] != f {
			t.Fatalf("osd.%d: %v, want %v", id, got[id], f)
		}
		m.OSDs[id].Fullness = f
	}
	if got := d.fullness(m); len(got) != 0 {
		t.Fatalf("no change, yet %v", got)
	}
	// Higher ratios make them ok again; a down OSD is not judged.
	m.Ratios = clustermap.Ratios{NearFull: 0.99, BackfillFull: 0.99, Full: 0.99}
	m.OSDs[3].Up = false
	got = d.fullness(m)
	if len(got) != 2 || got[1] != clustermap.FullnessOK || got[2] != clustermap.FullnessOK {
		t.Fatalf("after raising the ratios: %v", got)
	}
	// Freed space is seen at the next report.
	d.reportSpace(1, 100*gib, 90*gib)
	m.Ratios = clustermap.Ratios{}
	if got := d.fullness(m); got[1] != clustermap.FullnessOK {
		t.Fatalf("after freeing space: %v", got)
	}
}

func TestSetFullRatio(t *testing.T) {
	tests := []struct {
		which   pb.OSDFullness
		ratio   float64
		want    clustermap.Ratios
		wantErr bool
	}{
		{pb.OSDFullness_OSD_FULLNESS_FULL, 0.97, clustermap.Ratios{NearFull: 0.85, BackfillFull: 0.90, Full: 0.97}, false},
		{pb.OSDFullness_OSD_FULLNESS_NEARFULL, 0.5, clustermap.Ratios{NearFull: 0.5, BackfillFull: 0.90, Full: 0.95}, false},
		{pb.OSDFullness_OSD_FULLNESS_BACKFILLFULL, 0.95, clustermap.Ratios{NearFull: 0.85, BackfillFull: 0.95, Full: 0.95}, false},
		{pb.OSDFullness_OSD_FULLNESS_FULL, 0.8, clustermap.Ratios{}, true},          // below backfillfull
		{pb.OSDFullness_OSD_FULLNESS_NEARFULL, 0.91, clustermap.Ratios{}, true},     // above backfillfull
		{pb.OSDFullness_OSD_FULLNESS_FULL, 1.5, clustermap.Ratios{}, true},          // not a share
		{pb.OSDFullness_OSD_FULLNESS_FULL, 0, clustermap.Ratios{}, true},            // not a share
		{pb.OSDFullness_OSD_FULLNESS_OK, 0.5, clustermap.Ratios{}, true},            // which?
		{pb.OSDFullness_OSD_FULLNESS_BACKFILLFULL, -0.1, clustermap.Ratios{}, true}, // negative
	}
	for _, tc := range tests {
		m := detectorMap(t, 1).Clone()
		_, err := applyCommand(m, &pb.CommandRequest{Cmd: &pb.CommandRequest_SetFullRatio{SetFullRatio: &pb.SetFullRatio{Which: tc.which, Ratio: tc.ratio}}}, Limits{}, time.Unix(0, 0))
		if tc.wantErr {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%v %v: err %v, want ErrInvalid", tc.which, tc.ratio, err)
			}
			if m.Ratios != (clustermap.Ratios{}) {
				t.Errorf("%v %v: a refused change changed the map: %+v", tc.which, tc.ratio, m.Ratios)
			}
			continue
		}
		if err != nil || m.Ratios != tc.want {
			t.Errorf("%v %v: %v, ratios %+v, want %+v", tc.which, tc.ratio, err, m.Ratios, tc.want)
		}
	}
}

// TestOperatorDownSaysWhy: an OSD an operator marks down says so in the
// map (health prints it beside the OSD).
func TestOperatorDownSaysWhy(t *testing.T) {
	m := detectorMap(t, 2).Clone()
	req := &pb.CommandRequest{Cmd: &pb.CommandRequest_OsdState{OsdState: &pb.OSDSetState{Ids: []int32{1}, State: pb.OSDSetState_STATE_DOWN}}}
	if _, err := applyCommand(m, req, Limits{}, time.Unix(100, 0)); err != nil {
		t.Fatal(err)
	}
	o := m.OSDs[1]
	if o.Up || !o.DownStamp.Equal(time.Unix(100, 0)) || !strings.Contains(o.DownReason, "operator") {
		t.Fatalf("after osd down: %+v", o)
	}
}

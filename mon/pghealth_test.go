package mon

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loligo/loligo/clustermap"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// TestPGHealth: each PG check appears for its condition, with its
// summary, detail and severity; all PGs active+clean is HEALTH_OK.
func TestPGHealth(t *testing.T) {
	m := placedMap(t, 3, 4, 3)
	mons := []monState{{name: "a", alive: true}}
	// dump makes a dump of the map's 4 PGs, all active+clean with 100
	// objects, after change edits some.
	dump := func(change func(es []*pb.PGStatEntry)) *pb.PGDumpReply {
		var es []*pb.PGStatEntry
		for seed := range uint32(4) {
			pl, err := m.Place(pgID(1, seed))
			if err != nil {
				t.Fatal(err)
			}
			es = append(es, &pb.PGStatEntry{Pool: 1, Seed: seed, State: "active+clean", Objects: 100,
				Up: pl.Up, Acting: pl.Acting, Primary: pl.ActingPrimary, Reporter: pl.ActingPrimary})
		}
		if change != nil {
			change(es)
		}
		return &pb.PGDumpReply{Epoch: m.Epoch, NowNs: time.Unix(100, 0).UnixNano(), Pgs: es}
	}
	acting := clustermap.FormatOSDs(mustPlace(t, m, 1, 2).Acting)

	type check struct{ code, sev, summary, detail string }
	for _, tc := range []struct {
		name    string
		dump    *pb.PGDumpReply
		overall string
		checks  []check // detail: the first line
	}{
		{"all clean", dump(nil), HealthOK, nil},
		{"no dump", nil, HealthOK, nil},
		{"never reported", dump(func(es []*pb.PGStatEntry) {
			for _, e := range es {
				e.State, e.Objects, e.Reporter = stateUnknown, 0, -1
			}
		}), HealthWarn, []check{{"PG_INACTIVE", HealthWarn, "Reduced data availability: 4 pgs inactive, 4 pgs unknown",
			"pg 1.0 is unknown, acting " + clustermap.FormatOSDs(mustPlace(t, m, 1, 0).Acting)}}},
		{"incomplete", dump(func(es []*pb.PGStatEntry) {
			es[2].State, es[2].BlockedBy = "incomplete", "osd.7 holds the newest writes and is down"
		}), HealthWarn, []check{{"PG_INACTIVE", HealthWarn, "Reduced data availability: 1 pg inactive, 1 pg incomplete",
			"pg 1.2 is incomplete, acting " + acting + ": osd.7 holds the newest writes and is down"}}},
		{"peering and down", dump(func(es []*pb.PGStatEntry) {
			es[1].State, es[2].State, es[3].State = "peering", "down", "activating"
		}), HealthWarn, []check{{"PG_INACTIVE", HealthWarn, "Reduced data availability: 3 pgs inactive, 1 pg down, 1 pg peering", "pg 1.1 is peering, acting " + clustermap.FormatOSDs(mustPlace(t, m, 1, 1).Acting)}}},
		{"degraded", dump(func(es []*pb.PGStatEntry) {
			es[2].State, es[2].DegradedObjects = "active+undersized+degraded", 100
			es[3].State, es[3].DegradedObjects = "active+recovering+degraded", 20
		}), HealthWarn, []check{{"PG_DEGRADED", HealthWarn, "Degraded data redundancy: 120/1200 objects degraded (10.000%), 2 pgs degraded, 1 pg undersized",
			"pg 1.2 is active+undersized+degraded, acting " + acting}}},
		{"stale but active", dump(func(es []*pb.PGStatEntry) {
			es[2].State = "stale+active+clean"
		}), HealthWarn, []check{{"PG_STALE", HealthWarn, "1 pg stale",
			fmt.Sprintf("pg 1.2 is stale+active+clean, acting %s, last reported by osd.%d", acting, mustPlace(t, m, 1, 2).ActingPrimary)}}},
		{"stale and peering", dump(func(es []*pb.PGStatEntry) {
			es[2].State = "stale+peering"
		}), HealthWarn, []check{
			{"PG_INACTIVE", HealthWarn, "Reduced data availability: 1 pg inactive, 1 pg peering, 1 pg stale", "pg 1.2 is stale+peering, acting " + acting},
			{"PG_STALE", HealthWarn, "1 pg stale", ""},
		}},
		{"unfound", dump(func(es []*pb.PGStatEntry) {
			es[2].State, es[2].UnfoundObjects, es[2].DegradedObjects = "active+recovery_unfound+degraded", 4, 4
		}), HealthWarn, []check{
			{"OBJECT_UNFOUND", HealthWarn, "4/400 objects unfound (1.000%)", "pg 1.2 has 4 unfound objects, acting " + acting},
			{"PG_DEGRADED", HealthWarn, "Degraded data redundancy: 4/1200 objects degraded (0.333%), 1 pg degraded", ""},
		}},
		{"backfill toofull", dump(func(es []*pb.PGStatEntry) {
			es[2].State = "active+remapped+backfill_toofull"
		}), HealthWarn, []check{{"PG_BACKFILL_FULL", HealthWarn, "Low space hindering backfill: 1 pg backfill_toofull",
			"pg 1.2 is active+remapped+backfill_toofull, acting " + acting}}},
		{"inconsistent", dump(func(es []*pb.PGStatEntry) {
			es[2].State, es[2].ScrubErrors = "active+clean+inconsistent", 3
			es[3].ScrubErrors = 1 // found, then repaired: the errors stay until the next scrub
		}), HealthErr, []check{
			{"PG_INCONSISTENT", HealthErr, "Possible data damage: 1 pg inconsistent", "pg 1.2 is active+clean+inconsistent, acting " + acting},
			{"SCRUB_ERRORS", HealthErr, "4 scrub errors", "pg 1.2 has 3 scrub errors"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			overall, got := computeHealth(m, mons, tc.dump)
			var gotCodes, wantCodes []string
			for _, c := range got {
				gotCodes = append(gotCodes, c.Code)
			}
			for _, c := range tc.checks {
				wantCodes = append(wantCodes, c.code)
			}
			if overall != tc.overall || !slices.Equal(gotCodes, wantCodes) {
				t.Fatalf("health %s %v, want %s %v", overall, gotCodes, tc.overall, wantCodes)
			}
			for i, w := range tc.checks {
				c := got[i]
				if c.Severity != w.sev || c.Summary != w.summary || c.Hint == "" {
					t.Errorf("%s: %s %q hint %q, want %s %q", c.Code, c.Severity, c.Summary, c.Hint, w.sev, w.summary)
				}
				if w.detail != "" && (len(c.Detail) == 0 || c.Detail[0] != w.detail) {
					t.Errorf("%s detail %q, want first %q", c.Code, c.Detail, w.detail)
				}
			}
		})
	}
}

// TestPGHealthMapUndersized: before any report, a PG the map shows
// with fewer than size OSDs up is counted undersized, alongside those
// the reports say are.
func TestPGHealthMapUndersized(t *testing.T) {
	m := placedMap(t, 3, 4, 3)
	m.OSDs[2].Up = false
	if err := m.Finalize(); err != nil {
		t.Fatal(err)
	}
	_, checks := computeHealth(m, []monState{{name: "a", alive: true}}, nil)
	var deg *pb.HealthCheck
	for _, c := range checks {
		if c.Code == "PG_DEGRADED" {
			deg = c
		}
	}
	if deg == nil || deg.Summary != "Degraded data redundancy: 4 pgs undersized" ||
		deg.Detail[0] != "pool 'data': 4 of 4 pgs have fewer than size (3) OSDs up" {
		t.Fatalf("PG_DEGRADED %v", deg)
	}
}

// TestPGHealthDetailBound: a check lists at most maxDetail PGs, and says
// how many more there are.
func TestPGHealthDetailBound(t *testing.T) {
	m := placedMap(t, 3, 64, 3)
	var es []*pb.PGStatEntry
	for seed := range uint32(64) {
		es = append(es, &pb.PGStatEntry{Pool: 1, Seed: seed, State: "peering"})
	}
	_, checks := computeHealth(m, []monState{{name: "a", alive: true}}, &pb.PGDumpReply{Pgs: es})
	if len(checks) != 1 || len(checks[0].Detail) != maxDetail+1 ||
		!strings.HasPrefix(checks[0].Detail[maxDetail], "... and 14 more") {
		t.Fatalf("checks %v", checks)
	}
}

// TestHealthFullAndDown: fullness gives OSD_NEARFULL, OSD_BACKFILLFULL,
// OSD_FULL and POOL_FULL; a down OSD's line says since when and why,
// and the hint names its id (no placeholder left in).
func TestHealthFullAndDown(t *testing.T) {
	m := placedMap(t, 4, 8, 3)
	m.OSDs[0].Fullness = clustermap.FullnessNear
	m.OSDs[1].Fullness = clustermap.FullnessBackfill
	m.OSDs[2].Fullness = clustermap.FullnessFull
	m.OSDs[3].Up, m.OSDs[3].DownStamp, m.OSDs[3].DownReason = false, time.Unix(1700000000, 0), "its disk is full"
	if err := m.Finalize(); err != nil {
		t.Fatal(err)
	}
	overall, checks := computeHealth(m, []monState{{name: "a", alive: true}}, nil)
	byCode := map[string]*pb.HealthCheck{}
	for _, c := range checks {
		byCode[c.GetCode()] = c
	}
	if overall != HealthErr {
		t.Fatalf("overall %s", overall)
	}
	for code, want := range map[string]string{
		"OSD_FULL":         "osd.2 (host h2) is full",
		"OSD_BACKFILLFULL": "osd.1 (host h1) is backfillfull",
		"OSD_NEARFULL":     "osd.0 (host h0) is nearfull",
		"OSD_DOWN":         "osd.3 (host h3) is down since 2023-11-14T22:13:20Z: its disk is full",
	} {
		c := byCode[code]
		if c == nil || len(c.Detail) == 0 || c.Detail[0] != want {
			t.Errorf("%s: %v, want detail %q", code, c, want)
		}
	}
	if c := byCode["OSD_FULL"]; c == nil || c.Severity != HealthErr {
		t.Errorf("OSD_FULL %v is not an error", c)
	}
	if c := byCode["OSD_DOWN"]; c == nil || !strings.Contains(c.Hint, "--id 3 ") || strings.Contains(c.Hint, "--id N") {
		t.Errorf("OSD_DOWN hint %q does not name the OSD", c.GetHint())
	}
	if c := byCode["POOL_FULL"]; c == nil || !strings.Contains(c.Detail[0], "pool 'data'") {
		t.Errorf("POOL_FULL %v", c)
	}
}

// TestStaleStateFromMap: a stale report of active+clean from a primary
// the map shows down, for a PG the map shows short of copies, is shown
// undersized and degraded, not clean (it stood beside "N pgs
// undersized" before).
func TestStaleStateFromMap(t *testing.T) {
	m := placedMap(t, 3, 4, 3)
	pl := mustPlace(t, m, 1, 1)
	m.OSDs[pl.ActingPrimary].Up = false
	if err := m.Finalize(); err != nil {
		t.Fatal(err)
	}
	r := &pgReport{osd: pl.ActingPrimary, stats: &pb.PGStatsRequest{Pgs: []*pb.PGStatEntry{
		{Pool: 1, Seed: 1, State: "active+clean", Reporter: pl.ActingPrimary, ReportedNs: 1}}}}
	dump, err := buildDump(m, []*pgReport{r}, 0, time.Unix(2, 0), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got := dump[1].GetState(); got != "stale+active+undersized+degraded" {
		t.Fatalf("state %q", got)
	}
	if got := staleState("active+clean", m, mustPlace(t, m, 1, 1), 2); got != "active+clean" {
		t.Fatalf("a PG with size copies up keeps its state, got %q", got)
	}
}

// TestScrubFailedHealth: a PG whose last scrub did not finish shows in
// PG_SCRUB_FAILED with why.
func TestScrubFailedHealth(t *testing.T) {
	m := placedMap(t, 3, 4, 3)
	var es []*pb.PGStatEntry
	for seed := range uint32(4) {
		es = append(es, &pb.PGStatEntry{Pool: 1, Seed: seed, State: "active+clean"})
	}
	es[3].ScrubFailed = "deep-scrub did not finish: listing osd.1: CORRUPT"
	overall, checks := computeHealth(m, []monState{{name: "a", alive: true}}, &pb.PGDumpReply{Pgs: es})
	if overall != HealthWarn || len(checks) != 1 || checks[0].GetCode() != "PG_SCRUB_FAILED" ||
		checks[0].GetDetail()[0] != "pg 1.3: deep-scrub did not finish: listing osd.1: CORRUPT" {
		t.Fatalf("%s %v", overall, checks)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/internal/testcluster"
	"github.com/loligo/loligo/osd/store"
	pb "github.com/loligo/loligo/proto/loligopb"
	"github.com/loligo/loligo/rados"
)

// TestParsePGID: ids and names of pools, hex seeds, and errors that say
// what is wrong (usage errors for text that is no PG id at all).
func TestParsePGID(t *testing.T) {
	m := testMap(t) // pools 1 'data' (pg_num 8) and 4 'ec' (pg_num 4)
	for _, tc := range []struct {
		in    string
		want  clustermap.PGID
		err   string
		usage bool
	}{
		{in: "1.0", want: clustermap.PGID{Pool: 1, Seed: 0}},
		{in: "1.7", want: clustermap.PGID{Pool: 1, Seed: 7}},
		{in: "data.7", want: clustermap.PGID{Pool: 1, Seed: 7}},
		{in: "ec.3", want: clustermap.PGID{Pool: 4, Seed: 3}},
		{in: "4.A", err: "pg 4.A does not exist: pool 'ec' (4) has pg_num 4, so its PGs are 4.0 to 4.3"},
		{in: "1.8", err: "pg 1.8 does not exist: pool 'data' (1) has pg_num 8, so its PGs are 1.0 to 1.7"},
		{in: "9.0", err: "pg 9.0: pool 9 does not exist (pools: 1 'data', 4 'ec')"},
		{in: "nope.0", err: "pg nope.0: pool 'nope' does not exist (pools: data, ec)"},
		{in: "1", err: `"1" is not a PG id: want POOL.SEED`, usage: true},
		{in: "1.", err: `"1." is not a PG id`, usage: true},
		{in: ".1", err: `".1" is not a PG id`, usage: true},
		{in: "1.g", err: `the seed "g" after the last dot is not a hex number`, usage: true},
		{in: "1.-1", err: `the seed "-1"`, usage: true},
		{in: "1.100000000", err: `the seed "100000000"`, usage: true},
	} {
		got, err := parsePGID(m, "pg query", tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("parsePGID(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || errors.Is(err, errUsage) != tc.usage):
			t.Errorf("parsePGID(%q) = %s, %v; want an error with %q (usage error: %v)", tc.in, got, err, tc.err, tc.usage)
		}
	}
}

// TestPGUsage: pg, tell and status called wrongly exit 2 with the usage
// of that command, before any connection is tried.
func TestPGUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
		line string
	}{
		{[]string{"pg"}, "pg needs a subcommand", "  pg dump "},
		{[]string{"pg", "frob"}, `unknown pg subcommand "frob"`, "  pg stat "},
		{[]string{"pg", "query"}, "pg query takes 1 argument(s), got 0", "  pg query "},
		{[]string{"pg", "query", "1a"}, `"1a" is not a PG id: want POOL.SEED`, "  pg query "},
		{[]string{"pg", "deep-scrub", "1.x"}, `the seed "x"`, "  pg deep-scrub "},
		{[]string{"pg", "scrub", "1.0", "--timeout", "1m"}, "--timeout bounds --wait", "  pg scrub "},
		{[]string{"pg", "repair", "1.0", "--wait", "--timeout", "soon"}, `--timeout "soon"`, "  pg repair "},
		{[]string{"pg", "ls-by-osd", "x"}, `"x" is not an OSD id`, "  pg ls-by-osd "},
		{[]string{"pg", "dump", "--pool"}, "--pool needs a value", "  pg dump "},
		{[]string{"pg", "list-inconsistent", "1.0", "1.1"}, "takes 1 argument(s), got 2", "  pg list-inconsistent "},
		{[]string{"tell", "osd.0"}, "tell takes TARGET config show|get KEY|set KEY VALUE", "  tell osd.N"},
		{[]string{"tell", "osd.0", "injectargs", "x"}, `tell runs only config`, "  tell osd.N"},
		{[]string{"tell", "osd.0", "config", "get"}, "config get takes one KEY", "  tell osd.N"},
		{[]string{"tell", "osd.0", "config", "set", "k"}, "config set takes KEY VALUE", "  tell osd.N"},
		{[]string{"tell", "osd.0", "config", "dump"}, `unknown config subcommand "dump"`, "  tell osd.N"},
		{[]string{"tell", "mon.a", "config", "show"}, `the target is osd.N or osd.*, not "mon.a"`, "  tell osd.N"},
		{[]string{"tell", "osd.x", "config", "show"}, `"osd.x" is not an OSD id`, "  tell osd.N"},
		{[]string{"status", "--interval", "1s"}, "give --watch too", "  status "},
		{[]string{"status", "--watch", "--interval", "0s"}, `--interval "0s"`, "  status "},
	} {
		var o, e bytes.Buffer
		code := runEnv(tc.args, &o, &e, func(string) string { return "" })
		if code != 2 || o.Len() != 0 || !strings.Contains(e.String(), tc.want) || !strings.Contains(e.String(), tc.line) {
			t.Errorf("%q: exit %d, stderr:\n%s\nwant exit 2, %q and the usage line %q", tc.args, code, e.String(), tc.want, tc.line)
		}
	}
}

// recoverySummary is a summary in the middle of a recovery.
func recoverySummary() *pb.PGSummary {
	return &pb.PGSummary{
		Pgs: 64, States: map[string]uint32{"active+clean": 58, "active+recovering+degraded": 2, "active+undersized+degraded": 3, "peering": 1},
		Objects: 1000, Bytes: 3 << 30, DegradedObjects: 120, ObjectCopies: 3000, MisplacedObjects: 5, UnfoundObjects: 2,
		RecoveryBytesLeft: 2200 << 20, RecoveryBytesPerSec: 120 << 20, RecoveryObjectsPerSec: 30, ScrubErrors: 1,
	}
}

func TestPGStatLine(t *testing.T) {
	for _, tc := range []struct {
		s    *pb.PGSummary
		want string
	}{
		{&pb.PGSummary{}, "0 pgs; 0 B data, 0 objects"},
		{&pb.PGSummary{Pgs: 1, States: map[string]uint32{"unknown": 1}}, "1 pg: 1 unknown; 0 B data, 0 objects"},
		{&pb.PGSummary{Pgs: 16, States: map[string]uint32{"active+clean": 16}, Objects: 1, Bytes: 300 << 10, ObjectCopies: 3},
			"16 pgs: 16 active+clean; 300 KiB data, 1 objects"},
		{recoverySummary(), "64 pgs: 58 active+clean, 3 active+undersized+degraded, 2 active+recovering+degraded, 1 peering; " +
			"3.0 GiB data, 1000 objects; 120/3000 objects degraded (4.000%); 5/3000 objects misplaced (0.167%); " +
			"2/1000 objects unfound (0.200%); 1 scrub errors; recovery 120 MiB/s, 30 objects/s, 2.1 GiB left"},
		{&pb.PGSummary{Pgs: 2, States: map[string]uint32{"active+clean": 2}, RecoveryObjectsPerSec: 2.5},
			"2 pgs: 2 active+clean; 0 B data, 0 objects; recovery 0 B/s, 2.5 objects/s"},
	} {
		if got := pgStatLine(tc.s); got != tc.want {
			t.Errorf("pgStatLine:\n got %s\nwant %s", got, tc.want)
		}
	}
}

func TestProgress(t *testing.T) {
	for _, tc := range []struct {
		pct  int
		want string
	}{
		{0, "[          ]"}, {5, "[          ]"}, {10, "[>         ]"}, {45, "[===>      ]"}, {99, "[========> ]"}, {100, "[==========]"}, {120, "[==========]"},
	} {
		if got := progressBar(tc.pct, 10); got != tc.want {
			t.Errorf("progressBar(%d) = %q, want %q", tc.pct, got, tc.want)
		}
	}
	for _, tc := range []struct {
		p    *recoveryProgress
		want string
	}{
		{nil, "1.0 MiB left (how much is already copied is unknown)"},
		{&recoveryProgress{}, "1.0 MiB left (how much is already copied is unknown)"},
		{&recoveryProgress{recovered: 3 << 20, left: 1 << 20, known: true}, "[=====================>        ] 75% (3.0 MiB of 4.0 MiB copied)"},
	} {
		if got := progressLine(tc.p, 1<<20); got != tc.want {
			t.Errorf("progressLine(%+v) = %q, want %q", tc.p, got, tc.want)
		}
	}
	for _, tc := range []struct {
		left uint64
		rate float64
		want string
	}{
		{100, 0, "unknown"}, {2200 << 20, 120 << 20, "18s"}, {1, 1 << 20, "1s"}, {600 << 20, 1 << 20, "10m0s"},
	} {
		if got := eta(tc.left, tc.rate); got != tc.want {
			t.Errorf("eta(%d, %g) = %s, want %s", tc.left, tc.rate, got, tc.want)
		}
	}
}

// TestStatusOffline: the layout of status during a recovery, and its
// -o json form.
func TestStatusOffline(t *testing.T) {
	s := &statusSnapshot{
		st: &pb.StatusReply{Fsid: "FSID", Leader: "a", Health: "HEALTH_ERR",
			Mons: []*pb.MonInfo{{Name: "a", Addr: "127.0.0.1:6789", Alive: true, Leader: true}},
			Checks: []*pb.HealthCheck{
				{Code: "PG_DEGRADED", Severity: "HEALTH_WARN", Summary: "Degraded data redundancy: 120/3000 objects degraded (4.000%), 5 pgs degraded"},
				{Code: "SCRUB_ERRORS", Severity: "HEALTH_ERR", Summary: "1 scrub errors"},
			},
			Pgs: recoverySummary()},
		m:        testMap(t),
		usage:    &usageJSON{Used: 9 << 30, Avail: 291 << 30, Total: 300 << 30},
		progress: &recoveryProgress{recovered: 1800 << 20, left: 2200 << 20, known: true},
	}
	var b bytes.Buffer
	if err := printStatus(&b, false, s); err != nil {
		t.Fatal(err)
	}
	golden(t, "status_recovery.txt", b.String())

	b.Reset()
	if err := printStatus(&b, true, s); err != nil {
		t.Fatal(err)
	}
	var js statusJSON
	if err := json.Unmarshal(b.Bytes(), &js); err != nil {
		t.Fatal(err)
	}
	if js.PGs == nil || js.PGs.PGs != 64 || js.PGs.States["peering"] != 1 || js.PGs.DegradedObjects != 120 ||
		js.Usage == nil || js.Usage.Total != 300<<30 || js.Pools.PGs != 12 || js.OSDs.Total != 4 {
		t.Errorf("status -o json: %s", b.String())
	}

	// Unknown usage, no recovery, no PG summary.
	s.usage, s.usageErr, s.progress, s.st.Pgs = nil, errors.New("not every up OSD answered within 2s"), nil, nil
	b.Reset()
	if err := printStatus(&b, false, s); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "    usage:   unknown: not every up OSD answered within 2s\n") || strings.Contains(out, "pgs:     ") ||
		strings.Contains(out, "objects:") || strings.Contains(out, "io:") {
		t.Errorf("status without usage or PG summary:\n%s", out)
	}
}

func TestPGTableOffline(t *testing.T) {
	when := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()
	pgs := []*pb.PGStatEntry{
		{Pool: 1, Seed: 0x1f, State: "active+clean", Up: []int32{0, 1, 2}, Acting: []int32{0, 1, 2}, Primary: 0,
			Objects: 3, Bytes: 300 << 10, LastScrubNs: when, LastDeepScrubNs: when},
		{Pool: 1, Seed: 2, State: "active+undersized+degraded", Up: []int32{1, clustermap.NoOSD}, Acting: []int32{1}, Primary: 1,
			Objects: 10, Bytes: 5 << 20, DegradedObjects: 10, MisplacedObjects: 4},
		{Pool: 2, Seed: 0, State: "unknown", Primary: clustermap.NoPrimary, Reporter: -1},
	}
	var b bytes.Buffer
	if err := printPGs(&env{stdout: &b}, pgs); err != nil {
		t.Fatal(err)
	}
	golden(t, "pg_dump_offline.txt", b.String())
	b.Reset()
	if err := printPGs(&env{stdout: &b, json: true}, pgs); err != nil {
		t.Fatal(err)
	}
	golden(t, "pg_dump_offline.json", b.String())

	list := []*pb.ScrubInconsistency{
		{Oid: "victim", Errors: []string{"osd.2: data digest 0x1, authoritative 0x2", "osd.2: omap differs"}, BadOsds: []int32{2}, AuthOsd: 0},
		{Oid: "lost", Errors: []string{"osd.0: checksum mismatch", "no good copy left"}, BadOsds: []int32{0, 1}, AuthOsd: -1},
	}
	b.Reset()
	if err := writeInconsistent(&b, list); err != nil {
		t.Fatal(err)
	}
	want := "OID     BAD_OSDS  AUTH_OSD  ERRORS\n" +
		"victim  [2]       osd.0     osd.2: data digest 0x1, authoritative 0x2\n" +
		"                            osd.2: omap differs\n" +
		"lost    [0,1]     none      osd.0: checksum mismatch\n" +
		"                            no good copy left\n"
	if b.String() != want {
		t.Errorf("inconsistent table:\n%s\nwant\n%s", b.String(), want)
	}
}

func TestTellErrors(t *testing.T) {
	if err := tellErrors([]tellReply{{osd: 0}, {osd: 1}}); err != nil {
		t.Errorf("no errors: %v", err)
	}
	err := tellErrors([]tellReply{{osd: 0, err: "refused: bad"}, {osd: 1}, {osd: 2, err: "no answer"}, {osd: 3, err: "refused: bad"}})
	if err == nil || err.Error() != "osd.0, osd.3: refused: bad\nosd.2: no answer" {
		t.Errorf("grouped errors: %v", err)
	}
}

// eventually polls check until it reports true or a minute passes; the
// reports arrive every few seconds, so a test cannot wait for one event.
func eventually(t *testing.T, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ok, saw := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute, still not %s; last seen:\n%s", what, saw)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// pgListJSON decodes the -o json output of pg dump or ls-by-osd.
func (a *admin) pgList(args ...string) []pgStatJSON {
	a.t.Helper()
	var out []pgStatJSON
	a.json(&out, args...)
	return out
}

func pgIDs(l []pgStatJSON) []string {
	var out []string
	for _, p := range l {
		out = append(out, p.PGID)
	}
	return out
}

// healthCodes returns the codes of the health checks (nil when health
// failed) and what health printed.
func (a *admin) healthCodes() ([]string, string) {
	a.t.Helper()
	out, _, code := a.run("-o", "json", "health")
	var h struct {
		Checks []checkJSON `json:"checks"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &h) != nil {
		return nil, out
	}
	codes := []string{}
	for _, c := range h.Checks {
		codes = append(codes, c.Code)
	}
	return codes, out
}

// TestPG runs the pg, tell and status commands against a cluster of four
// OSDs and a pool of 16 PGs of size 3: stats, dumps, queries, a deep
// scrub that finds a corrupted copy, its repair, and runtime settings.
// The subtests run in order and share the cluster.
func TestPG(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{OSDs: 4, Pool: "data", PGNum: 16})
	a := &admin{t: t, c: c, conf: c.ConfPath}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// One object of 300 KiB, through the library.
	data := randomBytes(300 << 10)
	conn, err := rados.Connect(ctx, rados.Options{ConfPath: c.ConfPath})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ioc, err := conn.OpenPool(ctx, "data")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ioc.Operate(ctx, "victim", rados.NewWriteOp().WriteFull(data)); err != nil {
		t.Fatal(err)
	}
	m := c.WaitClean(time.Minute)
	pool, err := m.PoolByName("data")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := m.PlaceObject(pool.ID, "victim", "")
	if err != nil {
		t.Fatal(err)
	}
	pgid, primary := pl.PG.String(), pl.ActingPrimary
	replica := int32(-1)
	for _, o := range pl.Acting {
		if o != primary {
			replica = o
			break
		}
	}
	t.Logf("victim is in pg %s, acting %v, primary osd.%d; the test corrupts osd.%d's copy", pgid, pl.Acting, primary, replica)

	t.Run("status", func(t *testing.T) {
		a.t = t
		var st statusJSON
		eventually(t, "16 PGs active+clean holding the object", func() (bool, string) {
			out, _, code := a.run("-o", "json", "status")
			st = statusJSON{}
			if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.PGs == nil {
				return false, out
			}
			return st.PGs.PGs == 16 && maps.Equal(st.PGs.States, map[string]uint32{"active+clean": 16}) &&
				st.PGs.Objects == 1 && st.PGs.Bytes == uint64(len(data)), out
		})
		if st.PGs.ObjectCopies != 3 || st.PGs.DegradedObjects != 0 || st.Usage == nil || st.Usage.Used == 0 || st.Usage.Total < st.Usage.Used {
			t.Errorf("status -o json: pgs %+v, usage %+v", st.PGs, st.Usage)
		}
		out := a.ok("status")
		for _, want := range []string{"  data:\n    pools:   1 pools, 16 pgs\n    objects: 1 objects, 300 KiB\n    usage:   ",
			"\n    pgs:     16 active+clean\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("status lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "io:") || strings.Contains(out, "degraded") {
			t.Errorf("a clean cluster's status shows recovery:\n%s", out)
		}
	})

	t.Run("pg stat", func(t *testing.T) {
		a.t = t
		if out := a.ok("pg", "stat"); out != "16 pgs: 16 active+clean; 300 KiB data, 1 objects\n" {
			t.Errorf("pg stat: %q", out)
		}
		var s pgSummaryJSON
		a.json(&s, "pg", "stat")
		if s.PGs != 16 || s.States["active+clean"] != 16 || s.Objects != 1 {
			t.Errorf("pg stat -o json: %+v", s)
		}
	})

	t.Run("pg dump", func(t *testing.T) {
		a.t = t
		m := a.clusterMap(ctx)
		dump := a.pgList("pg", "dump")
		if len(dump) != 16 {
			t.Fatalf("pg dump lists %d PGs, want 16: %q", len(dump), pgIDs(dump))
		}
		for i, p := range dump {
			want := clustermap.PGID{Pool: pool.ID, Seed: uint32(i)}
			pl, err := m.Place(want)
			if err != nil {
				t.Fatal(err)
			}
			if p.PGID != want.String() || p.Pool != want.Pool || p.Seed != want.Seed {
				t.Errorf("entry %d is pg %s, want %s (sorted by PG id)", i, p.PGID, want)
			}
			if !slices.Equal(p.Acting, pl.Acting) || !slices.Equal(p.Up, pl.Up) || p.Primary != pl.ActingPrimary {
				t.Errorf("pg %s: up %v acting %v primary %d; the map (epoch %d) says up %v acting %v primary %d",
					p.PGID, p.Up, p.Acting, p.Primary, m.Epoch, pl.Up, pl.Acting, pl.ActingPrimary)
			}
			if p.State != "active+clean" {
				t.Errorf("pg %s is %s", p.PGID, p.State)
			}
			if wantObjs := uint64(0); p.PGID == pgid {
				if p.Objects != 1 || p.Bytes != uint64(len(data)) {
					t.Errorf("pg %s holds %d objects, %d bytes; want the victim", p.PGID, p.Objects, p.Bytes)
				}
			} else if p.Objects != wantObjs {
				t.Errorf("pg %s holds %d objects, want none", p.PGID, p.Objects)
			}
		}
		out := a.ok("pg", "dump")
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		heads := "PGID OBJECTS BYTES DEGRADED MISPLACED STATE UP ACTING PRIMARY LAST_SCRUB LAST_DEEP_SCRUB"
		if len(lines) != 17 || strings.Join(strings.Fields(lines[0]), " ") != heads ||
			!strings.HasPrefix(lines[1], "1.0 ") || !strings.HasPrefix(lines[16], "1.f ") {
			t.Errorf("pg dump:\n%s", out)
		}
		if got := pgIDs(a.pgList("pg", "dump", "--pool", "data")); !slices.Equal(got, pgIDs(dump)) {
			t.Errorf("pg dump --pool data: %q", got)
		}
		a.fails(1, "pool 'nope' does not exist (pools: data)", "pg", "dump", "--pool", "nope")
	})

	t.Run("pg ls-by-osd", func(t *testing.T) {
		a.t = t
		m := a.clusterMap(ctx)
		partial := false
		for _, id := range m.OSDIDs() {
			var want []string
			for seed := range pool.PGNum {
				pg := clustermap.PGID{Pool: pool.ID, Seed: seed}
				pl, err := m.Place(pg)
				if err != nil {
					t.Fatal(err)
				}
				if slices.Contains(pl.Up, id) || slices.Contains(pl.Acting, id) {
					want = append(want, pg.String())
				}
			}
			partial = partial || len(want) < int(pool.PGNum)
			got := a.pgList("pg", "ls-by-osd", fmt.Sprint(id))
			if !slices.Equal(pgIDs(got), want) {
				t.Errorf("pg ls-by-osd %d: %q, want %q", id, pgIDs(got), want)
			}
			if got := a.pgList("pg", "ls-by-osd", fmt.Sprintf("osd.%d", id), "--pool", "data"); !slices.Equal(pgIDs(got), want) {
				t.Errorf("pg ls-by-osd osd.%d --pool data: %q, want %q", id, pgIDs(got), want)
			}
		}
		if !partial {
			t.Error("every OSD holds every PG: the filter is not tested")
		}
		a.fails(1, "osd.9 does not exist", "pg", "ls-by-osd", "9")
	})

	t.Run("pg query", func(t *testing.T) {
		a.t = t
		for _, id := range []string{pgid, fmt.Sprintf("data.%x", pl.PG.Seed)} {
			var q map[string]any
			a.json(&q, "pg", "query", id)
			if q["pgid"] != pgid || q["state"] != "active+clean" {
				t.Errorf("pg query %s: pgid %v, state %v", id, q["pgid"], q["state"])
			}
			// The plain output is the same JSON.
			if err := json.Unmarshal([]byte(a.ok("pg", "query", id)), &q); err != nil {
				t.Errorf("pg query %s: not JSON: %v", id, err)
			}
		}
		a.fails(1, "pg 1.10 does not exist: pool 'data' (1) has pg_num 16, so its PGs are 1.0 to 1.f", "pg", "query", "1.10")
		a.fails(1, "pool 7 does not exist (pools: 1 'data')", "pg", "query", "7.0")
		a.fails(2, `"1.zz" is not a PG id`, "pg", "query", "1.zz")
	})

	t.Run("deep-scrub clean", func(t *testing.T) {
		a.t = t
		out := a.ok("pg", "scrub", pgid)
		if want := fmt.Sprintf("instructing pg %s on osd.%d to scrub\n", pgid, primary); out != want {
			t.Errorf("pg scrub: %q, want %q", out, want)
		}
		out = a.ok("pg", "deep-scrub", pgid, "--wait")
		if want := fmt.Sprintf("pg %s: deep-scrub on osd.%d done: 0 errors, no inconsistent objects\n", pgid, primary); out != want {
			t.Errorf("pg deep-scrub --wait: %q, want %q", out, want)
		}
		var r scrubJSON
		a.json(&r, "pg", "deep-scrub", pgid, "--wait", "--timeout", "2m")
		if r.PGID != pgid || r.OSD != primary || !r.Waited || r.ScrubErrors != 0 || len(r.Inconsistent) != 0 {
			t.Errorf("pg deep-scrub --wait -o json: %+v", r)
		}
	})

	t.Run("deep-scrub finds a corrupt copy", func(t *testing.T) {
		a.t = t
		od := c.OSDByID(replica)
		if od == nil || od.O == nil {
			t.Fatalf("osd.%d is not running", replica)
		}
		if err := od.O.Store().FlipByte(store.PGID{Pool: pl.PG.Pool, PS: pl.PG.Seed}, "victim", 100000); err != nil {
			t.Fatal(err)
		}
		var r scrubJSON
		a.json(&r, "pg", "deep-scrub", pgid, "--wait")
		if r.ScrubErrors != 1 || len(r.Inconsistent) != 1 {
			t.Fatalf("pg deep-scrub --wait after corrupting osd.%d: %+v", replica, r)
		}
		inc := r.Inconsistent[0]
		if inc.OID != "victim" || !slices.Equal(inc.BadOSDs, []int32{replica}) || inc.AuthOSD == replica || inc.AuthOSD < 0 || len(inc.Errors) == 0 {
			t.Errorf("inconsistency %+v; want victim, bad osd.%d", inc, replica)
		}

		var list []inconsistencyJSON
		a.json(&list, "pg", "list-inconsistent", pgid)
		if len(list) != 1 || list[0].OID != "victim" || !slices.Equal(list[0].BadOSDs, []int32{replica}) {
			t.Errorf("pg list-inconsistent -o json: %+v", list)
		}
		out := a.ok("pg", "list-inconsistent", pgid)
		if !strings.HasPrefix(out, "OID     BAD_OSDS  AUTH_OSD  ERRORS\n") ||
			!strings.Contains(out, fmt.Sprintf("victim  [%d]       osd.%d     osd.%d: ", replica, inc.AuthOSD, replica)) ||
			!strings.HasSuffix(out, "repair them with: radosctl pg repair "+pgid+"\n") {
			t.Errorf("pg list-inconsistent:\n%s", out)
		}

		eventually(t, "reporting SCRUB_ERRORS and PG_INCONSISTENT", func() (bool, string) {
			codes, out := a.healthCodes()
			return slices.Contains(codes, "SCRUB_ERRORS") && slices.Contains(codes, "PG_INCONSISTENT"), out
		})
		if out := a.ok("status"); !strings.Contains(out, "health: HEALTH_ERR\n") || !strings.Contains(out, "1 scrub errors\n") {
			t.Errorf("status after the scrub found an error:\n%s", out)
		}
		if out := a.ok("pg", "stat"); !strings.Contains(out, "; 1 scrub errors") {
			t.Errorf("pg stat: %q", out)
		}
	})

	t.Run("repair", func(t *testing.T) {
		a.t = t
		out := a.ok("pg", "repair", pgid, "--wait")
		want := fmt.Sprintf("pg %s: repair on osd.%d done; repaired 1 object the last scrub had found inconsistent:\n", pgid, primary)
		if !strings.HasPrefix(out, want) || !strings.Contains(out, fmt.Sprintf("\nvictim  [%d]", replica)) || !strings.HasSuffix(out, "\nno scrub errors remain\n") {
			t.Errorf("pg repair --wait:\n%s\nwant it to start with %q and name the victim", out, want)
		}
		var r scrubJSON
		a.json(&r, "pg", "deep-scrub", pgid, "--wait")
		if r.ScrubErrors != 0 || len(r.Inconsistent) != 0 {
			t.Errorf("deep-scrub after the repair: %+v", r)
		}
		if out := a.ok("pg", "list-inconsistent", pgid); out != "pg "+pgid+": no inconsistent objects found by the last scrub\n" {
			t.Errorf("pg list-inconsistent after the repair: %q", out)
		}
		eventually(t, "clear of SCRUB_ERRORS and PG_INCONSISTENT", func() (bool, string) {
			codes, out := a.healthCodes()
			return codes != nil && !slices.Contains(codes, "SCRUB_ERRORS") && !slices.Contains(codes, "PG_INCONSISTENT"), out
		})
		got, err := ioc.Read(ctx, "victim", 0, uint64(len(data)))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("reading the victim after the repair: %d bytes, %v", len(got), err)
		}
	})

	t.Run("tell", func(t *testing.T) {
		a.t = t
		out := a.ok("tell", "osd.*", "config", "set", "osd_recovery_max_active", "5")
		if !strings.HasPrefix(out, "OSD    KEY                      VALUE\nosd.0  osd_recovery_max_active  5\n") || strings.Count(out, "\n") != 5 {
			t.Errorf("tell osd.* config set:\n%s", out)
		}
		var got []tellJSON
		a.json(&got, "tell", "osd.*", "config", "get", "osd_recovery_max_active")
		if len(got) != 4 {
			t.Fatalf("tell osd.* config get: %d OSDs answered, want 4: %+v", len(got), got)
		}
		for i, r := range got {
			if r.OSD != int32(i) || r.Error != "" || !maps.Equal(r.Values, map[string]string{"osd_recovery_max_active": "5"}) {
				t.Errorf("tell osd.* config get, OSD %d: %+v", i, r)
			}
		}
		a.ok("tell", "osd.1", "config", "set", "osd_recovery_max_bytes_per_sec", "100M")
		if out := a.ok("tell", "osd.1", "config", "get", "osd_recovery_max_bytes_per_sec"); out != "OSD    KEY                             VALUE\nosd.1  osd_recovery_max_bytes_per_sec  104857600\n" {
			t.Errorf("tell osd.1 config get: %q", out)
		}
		// A value that looks like a flag is a value.
		a.ok("tell", "osd.2", "config", "set", "osd_scrub_interval", "-1s")
		got = nil
		a.json(&got, "tell", "osd.2", "config", "show")
		if len(got) != 1 || got[0].Values["osd_scrub_interval"] != "-1s" || got[0].Values["osd_recovery_max_active"] != "5" || len(got[0].Values) < 4 {
			t.Errorf("tell osd.2 config show: %+v", got)
		}

		a.fails(1, `osd.0, osd.1, osd.2, osd.3: refused: osd_recovery_max_active: "lots" is not a count from 1 to 1024`,
			"tell", "osd.*", "config", "set", "osd_recovery_max_active", "lots")
		a.fails(1, `osd.0: refused: unknown setting "osd_colour"`, "tell", "osd.0", "config", "set", "osd_colour", "red")
		a.fails(1, `osd.3: unknown setting "osd_colour"; the settings are osd_deep_scrub_interval, `, "tell", "osd.3", "config", "get", "osd_colour")
		a.fails(1, "osd.9 does not exist", "tell", "osd.9", "config", "show")
		// The refused values changed nothing.
		got = nil
		a.json(&got, "tell", "osd.*", "config", "get", "osd_recovery_max_active")
		for _, r := range got {
			if r.Values["osd_recovery_max_active"] != "5" {
				t.Errorf("after refused changes, osd.%d: %+v", r.OSD, r)
			}
		}
		// -o json still prints every OSD's answer when they refuse.
		out, errOut, code := a.run("-o", "json", "tell", "osd.*", "config", "set", "osd_deep_scrub_interval", "often")
		got = nil
		if code != 1 || json.Unmarshal([]byte(out), &got) != nil || len(got) != 4 || !strings.Contains(got[0].Error, "is not a duration") ||
			!strings.Contains(errOut, "is not a duration") {
			t.Errorf("-o json tell with a bad value: exit %d, stdout %s, stderr %s", code, out, errOut)
		}
	})

	t.Run("status watch", func(t *testing.T) {
		a.t = t
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		w := &snapshotWriter{after: 2, cancel: cancel}
		e := &env{stdout: w, stderr: io.Discard, confPath: a.conf, entity: "client.admin", timeout: 20 * time.Second,
			getenv: func(string) string { return "" }}
		defer func() {
			if e.c != nil {
				e.c.Close()
			}
		}()
		if err := watchStatus(ctx, e, 50*time.Millisecond); err != nil {
			t.Fatalf("watch: %v", err)
		}
		out := w.String()
		if n := strings.Count(out, "  cluster:\n"); n < 2 || !strings.Contains(out, "\n\n  cluster:\n") || strings.Contains(out, clearScreen) {
			t.Errorf("watch printed %d snapshots (want 2 or more, separated by a blank line, no escapes):\n%s", n, out)
		}
	})

	t.Run("scrub waits for recovery", func(t *testing.T) {
		a.t = t
		// Objects of the victim's PG that osd.replica misses while it is
		// down; its primary copies them back at 16 KiB/s once it is up,
		// so the PG recovers for some seconds.
		var late []string
		for i := 0; len(late) < 4; i++ {
			name := fmt.Sprintf("late-%d", i)
			if p, err := m.PlaceObject(pool.ID, name, ""); err != nil {
				t.Fatal(err)
			} else if p.PG == pl.PG {
				late = append(late, name)
			}
		}
		od := c.OSDByID(replica)
		c.StopOSD(od.Index)
		body := randomBytes(32 << 10)
		for _, name := range late {
			if _, err := ioc.Operate(ctx, name, rados.NewWriteOp().WriteFull(body)); err != nil {
				t.Fatal(err)
			}
		}
		target := fmt.Sprintf("osd.%d", primary)
		a.ok("tell", target, "config", "set", "osd_recovery_max_bytes_per_sec", "16K")
		defer a.ok("tell", target, "config", "set", "osd_recovery_max_bytes_per_sec", "0")
		c.StartOSD(od.Index)
		eventually(t, fmt.Sprintf("pg %s recovering osd.%d", pgid, replica), func() (bool, string) {
			out, errOut, code := a.run("pg", "query", pgid)
			var q struct {
				State string `json:"state"`
			}
			if code != 0 || json.Unmarshal([]byte(out), &q) != nil {
				return false, out + errOut
			}
			return stateHas(q.State, "recovering"), q.State
		})
		a.fails(1, fmt.Sprintf("pg %s: the scrub did not finish within 1s; it is active+", pgid), "pg", "scrub", pgid, "--wait", "--timeout", "1s")

		// Asked during recovery, the scrub runs once the PG is clean.
		var r scrubJSON
		a.json(&r, "pg", "deep-scrub", pgid, "--wait", "--timeout", "2m")
		if r.OSD != primary || !r.Waited || r.ScrubErrors != 0 || len(r.Inconsistent) != 0 {
			t.Errorf("pg deep-scrub --wait during recovery: %+v", r)
		}
		var q struct {
			State string `json:"state"`
		}
		a.json(&q, "pg", "query", pgid)
		if !stateHas(q.State, "clean") {
			t.Errorf("after the waited deep-scrub, pg %s is %s, not clean", pgid, q.State)
		}
	})
}

// snapshotWriter collects what watchStatus prints (one Write per
// snapshot) and cancels the watch after a number of snapshots.
type snapshotWriter struct {
	mu     sync.Mutex
	b      bytes.Buffer
	n      int
	after  int
	cancel context.CancelFunc
}

func (w *snapshotWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
	if w.n == w.after {
		w.cancel()
	}
	return w.b.Write(p)
}

func (w *snapshotWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestProgressTrackerMonotonic: a watch's recovery progress never goes
// backwards when PGs finish (they dropped out of the reports' sums:
// "61% of 1.5 GiB" then "69% with less copied, of 1.1 GiB"), and when
// there is more to recover the line says why the share dropped.
func TestProgressTrackerMonotonic(t *testing.T) {
	const mib = 1 << 20
	snap := func(pgs map[string]pgRecovery) *recoveryProgress {
		p := &recoveryProgress{known: true, pgs: pgs}
		for _, r := range pgs {
			p.recovered += r.recovered
			p.left += r.left
		}
		return p
	}
	var tr progressTracker
	// Three PGs of 500 MiB each: 61% of 1.5 GiB.
	p := tr.update(snap(map[string]pgRecovery{"1.0": {400 * mib, 100 * mib}, "1.1": {300 * mib, 200 * mib}, "1.2": {215 * mib, 285 * mib}}))
	if p.recovered != 915*mib || p.recovered+p.left != 1500*mib {
		t.Fatalf("first: %d of %d", p.recovered/mib, (p.recovered+p.left)/mib)
	}
	prevDone, prevTotal := p.recovered, p.recovered+p.left
	// 1.0 finished; the others went on: the sums of the reports shrink.
	raw := snap(map[string]pgRecovery{"1.1": {350 * mib, 150 * mib}, "1.2": {260 * mib, 240 * mib}})
	if raw.recovered+raw.left >= prevTotal {
		t.Fatal("the case does not show the old jump")
	}
	p = tr.update(raw)
	if p.recovered < prevDone || p.recovered+p.left != prevTotal || p.grew != 0 {
		t.Fatalf("after a PG finished: %d of %d (before %d of %d)", p.recovered/mib, (p.recovered+p.left)/mib, prevDone/mib, prevTotal/mib)
	}
	if want := 1110 * mib; p.recovered != uint64(want) {
		t.Fatalf("copied %d MiB, want 1110", p.recovered/mib)
	}
	// A new primary restarts its counter: nothing goes down.
	p = tr.update(snap(map[string]pgRecovery{"1.1": {0, 150 * mib}, "1.2": {270 * mib, 230 * mib}}))
	if p.recovered < 1110*mib {
		t.Fatalf("copied went down to %d MiB", p.recovered/mib)
	}
	// More to recover: a new PG degraded. The line says so.
	p = tr.update(snap(map[string]pgRecovery{"1.1": {360 * mib, 140 * mib}, "1.2": {280 * mib, 220 * mib}, "1.3": {0, 400 * mib}}))
	if p.grew != 400*mib || !strings.Contains(progressLine(p, p.left), "400 MiB more to recover than before") {
		t.Fatalf("grew %d: %q", p.grew, progressLine(p, p.left))
	}
}

// TestStatusShowsRestarts: an OSD that went down and came up again in
// the last ten minutes is listed under the OSDs, with why it went
// down; -o json carries it too.
func TestStatusShowsRestarts(t *testing.T) {
	m := testMap(t)
	now := time.Now()
	var id int32 = -1
	for _, oid := range m.OSDIDs() {
		if o := m.OSDs[oid]; o.Up {
			id = oid
			o.DownStamp, o.UpStamp, o.UpFrom = now.Add(-14*time.Second), now.Add(-12*time.Second), 57
			o.DownReason = "restarted: a new instance booted while the map showed the old one up"
			break
		}
	}
	if id < 0 {
		t.Fatal("the test map has no up OSD")
	}
	s := &statusSnapshot{st: &pb.StatusReply{Fsid: "FSID", Leader: "a", Health: "HEALTH_OK"}, m: m}
	var b bytes.Buffer
	if err := printStatus(&b, false, s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{fmt.Sprintf("osd.%d restarted 1", id), "(down 2s, up in epoch 57): restarted: a new instance", " up (since 1"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := printStatus(&b, true, s); err != nil {
		t.Fatal(err)
	}
	var js statusJSON
	if err := json.Unmarshal(b.Bytes(), &js); err != nil {
		t.Fatal(err)
	}
	if len(js.OSDs.Restarts) != 1 || js.OSDs.Restarts[0].OSD != id || js.OSDs.Restarts[0].UpEpoch != 57 || js.OSDs.UpSince == "" {
		t.Errorf("status -o json: %s", b.String())
	}
	// Older than ten minutes: not a recent restart.
	m.OSDs[id].UpStamp, m.OSDs[id].DownStamp = now.Add(-time.Hour), now.Add(-time.Hour-time.Second)
	b.Reset()
	if err := printStatus(&b, false, s); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "restarted") {
		t.Errorf("an hour-old restart is listed:\n%s", b.String())
	}
}

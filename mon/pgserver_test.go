package mon_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/internal/clock"
	"github.com/loligo/loligo/internal/testcluster"
	"github.com/loligo/loligo/mon"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// pgOptions: no OSD is marked down for missing beacons during a test
// (fake OSDs do not beat), and no change asks for confirmation.
func pgOptions() testcluster.Options {
	return testcluster.Options{BeaconGrace: time.Hour, ConfirmPercent: -1}
}

// pgCluster starts mons monitors, osds fake OSDs, each on its own host,
// and the pool "data" (id 1, size 3) with pgs PGs.
func pgCluster(t *testing.T, mons, osds int, pgs uint32, opt testcluster.Options) (*testcluster.Cluster, pb.MonClient, []*fakeOSD) {
	t.Helper()
	c := testcluster.StartMons(t, mons, opt)
	admin := c.Client("client.admin", 0)
	// Monitor 0 forwards changes once it has seen who leads.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		st, err := admin.Status(ctxT(t, 10*time.Second), &pb.StatusRequest{})
		if err == nil && st.GetLeader() != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mon.a sees no leader: %v", err)
		}
	}
	var fos []*fakeOSD
	for i := range osds {
		fos = append(fos, newFakeOSD(t, c, fmt.Sprintf("h%d", i), i))
	}
	if _, err := retry(t, 30*time.Second, func(ctx context.Context) (*pb.CommandReply, error) {
		return admin.Command(ctx, poolCreate("data", pgs))
	}); err != nil {
		t.Fatal(err)
	}
	return c, admin, fos
}

func osdCmd(state pb.OSDSetState_State, ids ...int32) *pb.CommandRequest {
	return &pb.CommandRequest{Cmd: &pb.CommandRequest_OsdState{OsdState: &pb.OSDSetState{Ids: ids, State: state}}}
}

func place(t *testing.T, m *clustermap.Map, pool int64, seed uint32) clustermap.Placement {
	t.Helper()
	pl, err := m.Place(clustermap.PGID{Pool: pool, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

// currentInterval is what a primary would send to activate a PG in m.
func currentInterval(t *testing.T, m *clustermap.Map, pool int64, seed uint32) *pb.ActiveInterval {
	t.Helper()
	pl := place(t, m, pool, seed)
	return &pb.ActiveInterval{Pool: pool, Seed: seed, Interval: clustermap.IntervalDigest(m, m.Pools[pool], pl),
		Epoch: m.Epoch, Acting: pl.Acting, Primary: pl.ActingPrimary}
}

func history(t *testing.T, cl pb.MonClient, refs ...*pb.PGRef) []*pb.ActiveInterval {
	t.Helper()
	rep, err := retry(t, 30*time.Second, func(ctx context.Context) (*pb.PGHistoryReply, error) {
		return cl.PGHistory(ctx, &pb.PGHistoryRequest{Pgs: refs})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.GetLastActive()) != len(refs) {
		t.Fatalf("%d records for %d PGs", len(rep.GetLastActive()), len(refs))
	}
	return rep.GetLastActive()
}

// TestPGTemp: setting and clearing a pg_temp changes the acting set in
// one epoch each; a request that changes nothing makes no epoch; bad
// entries are refused and change nothing; concurrent requests all land.
func TestPGTemp(t *testing.T) {
	c, admin, osds := pgCluster(t, 1, 4, 8, pgOptions())
	m := getMap(t, admin, 0)
	pl := place(t, m, 1, 3)
	var spare int32
	for _, o := range osds {
		if !slices.Contains(pl.Up, o.id) {
			spare = o.id
		}
	}
	temp := []int32{spare, pl.Up[0], pl.Up[1]}
	primary := c.Client(fmt.Sprintf("osd.%d", pl.ActingPrimary), 0)

	rep, err := primary.PGTemp(ctxT(t, 10*time.Second), &pb.PGTempRequest{Osd: pl.ActingPrimary, Epoch: m.Epoch,
		PgTemp: []*pb.PGTemp{{Pool: 1, Seed: 3, Osds: temp}}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.GetEpoch() != m.Epoch+1 {
		t.Fatalf("pg_temp set in epoch %d, want %d", rep.GetEpoch(), m.Epoch+1)
	}
	m1 := getMap(t, admin, 0)
	if got := place(t, m1, 1, 3); m1.Epoch != m.Epoch+1 || !slices.Equal(got.Acting, temp) || got.ActingPrimary != spare ||
		!slices.Equal(got.Up, pl.Up) {
		t.Fatalf("epoch %d: up %v acting %v primary %d; want acting %v", m1.Epoch, got.Up, got.Acting, got.ActingPrimary, temp)
	}

	// The same again changes nothing: epoch 0, no new epoch.
	rep, err = primary.PGTemp(ctxT(t, 10*time.Second), &pb.PGTempRequest{Osd: pl.ActingPrimary, PgTemp: []*pb.PGTemp{{Pool: 1, Seed: 3, Osds: temp}}})
	if err != nil || rep.GetEpoch() != 0 || getMap(t, admin, 0).Epoch != m1.Epoch {
		t.Fatalf("repeated pg_temp: epoch %d, %v", rep.GetEpoch(), err)
	}

	for _, tc := range []struct {
		name    string
		entries []*pb.PGTemp
	}{
		{"no such pool", []*pb.PGTemp{{Pool: 9, Seed: 0, Osds: []int32{0}}}},
		{"seed past pg_num", []*pb.PGTemp{{Pool: 1, Seed: 8, Osds: []int32{0}}}},
		{"no such osd", []*pb.PGTemp{{Pool: 1, Seed: 0, Osds: []int32{0, 42}}}},
		{"good then bad", []*pb.PGTemp{{Pool: 1, Seed: 3}, {Pool: 1, Seed: 4, Osds: []int32{42}}}},
	} {
		_, err := primary.PGTemp(ctxT(t, 10*time.Second), &pb.PGTempRequest{Osd: pl.ActingPrimary, PgTemp: tc.entries})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", tc.name, err)
		}
		if after := getMap(t, admin, 0); after.Epoch != m1.Epoch || !proto.Equal(after.ToProto(), m1.ToProto()) {
			t.Fatalf("%s: refused request changed the map", tc.name)
		}
	}
	// Only the OSD itself (or an admin) speaks for it.
	if _, err := primary.PGTemp(ctxT(t, 10*time.Second), &pb.PGTempRequest{Osd: spare, PgTemp: []*pb.PGTemp{{Pool: 1, Seed: 3}}}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("acting for another OSD: %v", err)
	}

	// Clearing restores the up set as acting, in one epoch.
	rep, err = admin.PGTemp(ctxT(t, 10*time.Second), &pb.PGTempRequest{Osd: pl.ActingPrimary, PgTemp: []*pb.PGTemp{{Pool: 1, Seed: 3}}})
	if err != nil || rep.GetEpoch() != m1.Epoch+1 {
		t.Fatalf("clear: epoch %d, %v; want %d", rep.GetEpoch(), err, m1.Epoch+1)
	}
	m2 := getMap(t, admin, 0)
	if got := place(t, m2, 1, 3); !slices.Equal(got.Acting, pl.Acting) || len(m2.PGTemp) != 0 {
		t.Fatalf("after clear: acting %v (want %v), pg_temp %v", got.Acting, pl.Acting, m2.PGTemp)
	}

	// Every PG's primary asks at once (as after an 'osd out'): all land,
	// in at most one epoch per request.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for seed := range uint32(8) {
		p := place(t, m2, 1, seed)
		cl := c.Client(fmt.Sprintf("osd.%d", p.ActingPrimary), 0)
		wg.Go(func() {
			_, err := cl.PGTemp(ctxT(t, 30*time.Second), &pb.PGTempRequest{Osd: p.ActingPrimary, Epoch: m2.Epoch,
				PgTemp: []*pb.PGTemp{{Pool: 1, Seed: seed, Osds: []int32{p.Acting[1], p.Acting[0]}}}})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	m3 := getMap(t, admin, 0)
	if len(m3.PGTemp) != 8 || m3.Epoch > m2.Epoch+8 || m3.Epoch == m2.Epoch {
		t.Fatalf("%d pg_temp entries in epochs %d..%d, want 8", len(m3.PGTemp), m2.Epoch+1, m3.Epoch)
	}
}

// TestPGActivate: the current interval is recorded and read back; a
// stale digest, a caller that is not the primary, and an interval a map
// change replaced are refused.
func TestPGActivate(t *testing.T) {
	c, admin, _ := pgCluster(t, 1, 4, 8, pgOptions())
	m := getMap(t, admin, 0)
	ai := currentInterval(t, m, 1, 2)
	primary := c.Client(fmt.Sprintf("osd.%d", ai.GetPrimary()), 0)

	if rec := history(t, admin, &pb.PGRef{Pool: 1, Seed: 2})[0]; rec.GetEpoch() != 0 || rec.GetPool() != 1 || rec.GetSeed() != 2 {
		t.Fatalf("never activated: %v", rec)
	}
	stale := proto.Clone(ai).(*pb.ActiveInterval)
	stale.Seed, stale.Interval = 5, ai.GetInterval()^1
	rep, err := primary.PGActivate(ctxT(t, 10*time.Second), &pb.PGActivateRequest{Osd: ai.GetPrimary(), Intervals: []*pb.ActiveInterval{ai, stale}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.GetAccepted(), []bool{true, false}) || rep.GetEpoch() != m.Epoch {
		t.Fatalf("accepted %v epoch %d, want [true false] %d", rep.GetAccepted(), rep.GetEpoch(), m.Epoch)
	}
	recs := history(t, primary, &pb.PGRef{Pool: 1, Seed: 2}, &pb.PGRef{Pool: 1, Seed: 5})
	got := recs[0]
	if got.GetInterval() != ai.GetInterval() || got.GetEpoch() != m.Epoch || got.GetPrimary() != ai.GetPrimary() ||
		!slices.Equal(got.GetActing(), ai.GetActing()) || got.GetRecordedNs() == 0 {
		t.Fatalf("recorded %v, sent %v", got, ai)
	}
	if recs[1].GetEpoch() != 0 {
		t.Fatalf("a refused activation was recorded: %v", recs[1])
	}

	// A member of acting activating as if it were the primary.
	other := ai.GetActing()[1]
	fake := proto.Clone(ai).(*pb.ActiveInterval)
	fake.Primary = other
	rep, err = c.Client(fmt.Sprintf("osd.%d", other), 0).PGActivate(ctxT(t, 10*time.Second), &pb.PGActivateRequest{Osd: other, Intervals: []*pb.ActiveInterval{fake}})
	if err != nil || rep.GetAccepted()[0] {
		t.Fatalf("non-primary: %v, %v", rep.GetAccepted(), err)
	}
	// Speaking for the primary: denied.
	if _, err := c.Client(fmt.Sprintf("osd.%d", other), 0).PGActivate(ctxT(t, 10*time.Second), &pb.PGActivateRequest{Osd: ai.GetPrimary(), Intervals: []*pb.ActiveInterval{ai}}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("another OSD's entity: %v", err)
	}
	if _, err := admin.PGActivate(ctxT(t, 10*time.Second), &pb.PGActivateRequest{Osd: ai.GetPrimary(), Intervals: []*pb.ActiveInterval{ai}}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("admin activating: %v", err)
	}

	// A map change that moves the PG replaces its interval.
	if _, err := admin.Command(ctxT(t, 10*time.Second), osdCmd(pb.OSDSetState_STATE_DOWN, other)); err != nil {
		t.Fatal(err)
	}
	rep, err = primary.PGActivate(ctxT(t, 10*time.Second), &pb.PGActivateRequest{Osd: ai.GetPrimary(), Intervals: []*pb.ActiveInterval{ai}})
	if err != nil || rep.GetAccepted()[0] || rep.GetEpoch() != m.Epoch+1 {
		t.Fatalf("after the map changed: accepted %v epoch %d, %v", rep.GetAccepted(), rep.GetEpoch(), err)
	}
	// The new interval is accepted, and replaces the record.
	m2 := getMap(t, admin, 0)
	ai2 := currentInterval(t, m2, 1, 2)
	rep, err = c.Client(fmt.Sprintf("osd.%d", ai2.GetPrimary()), 0).PGActivate(ctxT(t, 10*time.Second),
		&pb.PGActivateRequest{Osd: ai2.GetPrimary(), Intervals: []*pb.ActiveInterval{ai2}})
	if err != nil || !rep.GetAccepted()[0] {
		t.Fatalf("new interval: %v, %v", rep.GetAccepted(), err)
	}
	if rec := history(t, admin, &pb.PGRef{Pool: 1, Seed: 2})[0]; rec.GetInterval() != ai2.GetInterval() || rec.GetEpoch() != m2.Epoch {
		t.Fatalf("record after the new interval: %v", rec)
	}
	if _, err := c.Client("client.other", 0).PGHistory(ctxT(t, 10*time.Second), &pb.PGHistoryRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("client.other reading history: %v", err)
	}
}

// TestPGActivateRacesMapChange: a map commit between the check and the
// write of an activation makes the write fail; the activation is checked
// again on the new map, and recorded only if its interval survived.
func TestPGActivateRacesMapChange(t *testing.T) {
	c, admin, _ := pgCluster(t, 1, 4, 8, pgOptions())
	t.Cleanup(func() { mon.SetActivateHook(nil) })
	activate := func(change *pb.CommandRequest) (*pb.ActiveInterval, *pb.PGActivateReply, *clustermap.Map) {
		t.Helper()
		m := getMap(t, admin, 0)
		ai := currentInterval(t, m, 1, 6)
		var once sync.Once
		mon.SetActivateHook(func() {
			once.Do(func() {
				if _, err := admin.Command(ctxT(t, 10*time.Second), change); err != nil {
					t.Error(err)
				}
			})
		})
		rep, err := c.Client(fmt.Sprintf("osd.%d", ai.GetPrimary()), 0).PGActivate(ctxT(t, 20*time.Second),
			&pb.PGActivateRequest{Osd: ai.GetPrimary(), Intervals: []*pb.ActiveInterval{ai}})
		mon.SetActivateHook(nil)
		if err != nil {
			t.Fatal(err)
		}
		after := getMap(t, admin, 0)
		if after.Epoch != m.Epoch+1 || rep.GetEpoch() != after.Epoch {
			t.Fatalf("the change in the middle: map epoch %d (from %d), reply epoch %d", after.Epoch, m.Epoch, rep.GetEpoch())
		}
		return ai, rep, after
	}

	// A change that leaves the PG alone: the retry records it.
	first, rep, _ := activate(flagCmd("noscrub", true))
	if !rep.GetAccepted()[0] {
		t.Fatal("an activation that survived an unrelated change was refused")
	}
	if rec := history(t, admin, &pb.PGRef{Pool: 1, Seed: 6})[0]; rec.GetInterval() != first.GetInterval() || rec.GetEpoch() != first.GetEpoch() {
		t.Fatalf("record %v, sent %v", rec, first)
	}

	// A change that moves the PG: refused, and nothing recorded.
	m := getMap(t, admin, 0)
	victim := place(t, m, 1, 6).Acting[1]
	ai, rep, after := activate(osdCmd(pb.OSDSetState_STATE_DOWN, victim))
	if currentInterval(t, after, 1, 6).GetInterval() == ai.GetInterval() {
		t.Fatal("marking an acting member down left the interval as it was")
	}
	if rep.GetAccepted()[0] {
		t.Fatal("an activation for an interval a concurrent commit replaced was accepted")
	}
	if rec := history(t, admin, &pb.PGRef{Pool: 1, Seed: 6})[0]; rec.GetEpoch() != first.GetEpoch() || rec.GetInterval() != first.GetInterval() {
		t.Fatalf("record changed to %v; the first one (%v) must stay", rec, first)
	}
}

// TestPGRecordsFollowLeaderChange: a PG change through a follower is
// forwarded; the activation record is read back from another monitor
// after the leader stops.
func TestPGRecordsFollowLeaderChange(t *testing.T) {
	opt := pgOptions()
	opt.SessionTTL = 2 * time.Second
	c, admin, _ := pgCluster(t, 3, 3, 8, opt)
	l := c.Leader(30 * time.Second)
	f := (l + 1) % 3
	m := getMap(t, admin, 0)
	ai := currentInterval(t, m, 1, 1)
	viaFollower := c.Client(fmt.Sprintf("osd.%d", ai.GetPrimary()), f)
	rep, err := retry(t, 30*time.Second, func(ctx context.Context) (*pb.PGActivateReply, error) {
		return viaFollower.PGActivate(ctx, &pb.PGActivateRequest{Osd: ai.GetPrimary(), Intervals: []*pb.ActiveInterval{ai}})
	})
	if err != nil || !rep.GetAccepted()[0] {
		t.Fatalf("activation through a follower: %v, %v", rep.GetAccepted(), err)
	}
	tr, err := retry(t, 30*time.Second, func(ctx context.Context) (*pb.PGTempReply, error) {
		return viaFollower.PGTemp(ctx, &pb.PGTempRequest{Osd: ai.GetPrimary(), PgTemp: []*pb.PGTemp{{Pool: 1, Seed: 1, Osds: []int32{ai.GetActing()[1], ai.GetActing()[0]}}}})
	})
	if err != nil || tr.GetEpoch() != m.Epoch+1 {
		t.Fatalf("pg_temp through a follower: epoch %d, %v", tr.GetEpoch(), err)
	}
	if got := getMap(t, c.Client("client.admin", f), 0); len(got.PGTemp) != 1 {
		t.Fatalf("the follower's map after the change: %v", got.PGTemp)
	}

	c.Stop(l)
	other := c.Client("client.admin", (l+2)%3)
	rec := history(t, other, &pb.PGRef{Pool: 1, Seed: 1})[0]
	if rec.GetInterval() != ai.GetInterval() || rec.GetEpoch() != m.Epoch || rec.GetPrimary() != ai.GetPrimary() {
		t.Fatalf("after the leader stopped: %v, recorded %v", rec, ai)
	}
	if nl := c.Leader(60 * time.Second); nl < 0 || nl == l {
		t.Fatalf("no new leader (%d)", nl)
	}
	// The new leader refuses the interval the pg_temp replaced.
	m2 := getMap(t, other, 0)
	rep, err = retry(t, 30*time.Second, func(ctx context.Context) (*pb.PGActivateReply, error) {
		return c.Client(fmt.Sprintf("osd.%d", ai.GetPrimary()), f).PGActivate(ctx, &pb.PGActivateRequest{Osd: ai.GetPrimary(), Intervals: []*pb.ActiveInterval{ai}})
	})
	if err != nil || rep.GetAccepted()[0] || rep.GetEpoch() < m2.Epoch {
		t.Fatalf("old interval on the new leader: %v epoch %d, %v", rep.GetAccepted(), rep.GetEpoch(), err)
	}
}

// TestPGStatsDump: reports merge into one entry per PG with the map's
// sets; unreported PGs are unknown, silent or down reporters stale; the
// recovery rate and summary reach status.
func TestPGStatsDump(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC))
	opt := pgOptions()
	opt.Clock = fake
	c, admin, _ := pgCluster(t, 1, 3, 4, opt)
	m := getMap(t, admin, 0)
	osdCl := func(id int32) pb.MonClient { return c.Client(fmt.Sprintf("osd.%d", id), 0) }
	report := func(id int32, es ...*pb.PGStatEntry) {
		t.Helper()
		if _, err := osdCl(id).PGStats(ctxT(t, 10*time.Second), &pb.PGStatsRequest{Osd: id, Epoch: m.Epoch, Pgs: es}); err != nil {
			t.Fatal(err)
		}
	}
	dump := func() []*pb.PGStatEntry {
		t.Helper()
		rep, err := admin.PGDump(ctxT(t, 10*time.Second), &pb.PGDumpRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.GetNowNs() != fake.Now().UnixNano() || rep.GetEpoch() < m.Epoch {
			t.Fatalf("dump at %d epoch %d", rep.GetNowNs(), rep.GetEpoch())
		}
		return rep.GetPgs()
	}
	states := func() []string {
		var out []string
		for _, e := range dump() {
			out = append(out, e.GetState())
		}
		return out
	}
	pl0, pl1 := place(t, m, 1, 0), place(t, m, 1, 1)

	if got := states(); !slices.Equal(got, []string{"unknown", "unknown", "unknown", "unknown"}) {
		t.Fatalf("before any report: %v", got)
	}
	// PG 0 from its primary; PG 1 only from a member that is neither its
	// primary nor PG 0's (size 3 of 3 OSDs: every OSD holds every PG).
	notPrimary1 := int32(-1)
	for _, o := range pl1.Acting {
		if o != pl1.ActingPrimary && o != pl0.ActingPrimary {
			notPrimary1 = o
		}
	}
	report(pl0.ActingPrimary, &pb.PGStatEntry{Pool: 1, Seed: 0, State: "active+clean", Objects: 10, Bytes: 1000, Acting: []int32{7}})
	fake.Advance(time.Second)
	report(notPrimary1, &pb.PGStatEntry{Pool: 1, Seed: 1, State: "active+recovering+degraded", Objects: 4, DegradedObjects: 2, RecoveredBytes: 0})
	d := dump()
	if got := []string{d[0].GetState(), d[1].GetState(), d[2].GetState()}; !slices.Equal(got, []string{"active+clean", "active+recovering+degraded", "unknown"}) {
		t.Fatalf("after reports: %v", got)
	}
	if !slices.Equal(d[0].GetActing(), pl0.Acting) || d[0].GetPrimary() != pl0.ActingPrimary || d[0].GetReporter() != pl0.ActingPrimary ||
		d[1].GetReporter() != notPrimary1 || d[0].GetReportedNs() != fake.Now().Add(-time.Second).UnixNano() {
		t.Fatalf("pg 1.0: acting %v primary %d reporter %d; pg 1.1 reporter %d", d[0].GetActing(), d[0].GetPrimary(), d[0].GetReporter(), d[1].GetReporter())
	}
	for i, e := range d {
		if e.GetPool() != 1 || e.GetSeed() != uint32(i) {
			t.Fatalf("entry %d is %d.%x", i, e.GetPool(), e.GetSeed())
		}
	}
	if rep, err := admin.PGDump(ctxT(t, 10*time.Second), &pb.PGDumpRequest{Pool: 9}); status.Code(err) != codes.NotFound {
		t.Fatalf("dump of pool 9: %v %v", rep, err)
	}

	// Recovery: 4000 bytes and 10 objects more over 2 s.
	fake.Advance(2 * time.Second)
	report(notPrimary1, &pb.PGStatEntry{Pool: 1, Seed: 1, State: "active+recovering+degraded", Objects: 4, DegradedObjects: 1, RecoveredBytes: 4000, RecoveredObjects: 10})
	st, err := admin.Status(ctxT(t, 10*time.Second), &pb.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := &pb.PGSummary{Pgs: 4, States: map[string]uint32{"active+clean": 1, "active+recovering+degraded": 1, "unknown": 2},
		Objects: 14, Bytes: 1000, DegradedObjects: 1, ObjectCopies: 42, RecoveryBytesPerSec: 2000, RecoveryObjectsPerSec: 5}
	if !proto.Equal(st.GetPgs(), want) {
		t.Fatalf("status pgs\n%v\nwant\n%v", st.GetPgs(), want)
	}
	checks := map[string]bool{}
	for _, ck := range st.GetChecks() {
		checks[ck.GetCode()] = true
	}
	if !checks["PG_INACTIVE"] || !checks["PG_DEGRADED"] || st.GetHealth() != mon.HealthWarn {
		t.Fatalf("health %s %v", st.GetHealth(), checks)
	}
	// A restarted OSD's counters start over: no burst, rate 0.
	fake.Advance(time.Second)
	report(notPrimary1, &pb.PGStatEntry{Pool: 1, Seed: 1, State: "active+recovering+degraded", Objects: 4, RecoveredBytes: 10, RecoveredObjects: 1})
	if st, err := admin.Status(ctxT(t, 10*time.Second), &pb.StatusRequest{}); err != nil || st.GetPgs().GetRecoveryBytesPerSec() != 0 {
		t.Fatalf("after a restart: %v B/s, %v", st.GetPgs().GetRecoveryBytesPerSec(), err)
	}

	// Silent for longer than the bound (30 s): stale.
	fake.Advance(31 * time.Second)
	if got := states(); got[0] != "stale+active+clean" || got[1] != "stale+active+recovering+degraded" {
		t.Fatalf("after 31 s of silence: %v", got)
	}
	report(pl0.ActingPrimary, &pb.PGStatEntry{Pool: 1, Seed: 0, State: "active+clean", Objects: 10, Bytes: 1000})
	report(notPrimary1, &pb.PGStatEntry{Pool: 1, Seed: 1, State: "active+clean", Objects: 4})
	if got := states(); got[0] != "active+clean" || got[1] != "active+clean" {
		t.Fatalf("reporting again: %v", got)
	}
	// The reporter goes down: its PGs are stale at once, whoever now
	// leads them.
	if _, err := admin.Command(ctxT(t, 10*time.Second), osdCmd(pb.OSDSetState_STATE_DOWN, notPrimary1)); err != nil {
		t.Fatal(err)
	}
	// The map shows the PG short of a copy now: its stale report says
	// so rather than clean.
	if got := states(); got[0] != "active+clean" || got[1] != "stale+active+undersized+degraded" {
		t.Fatalf("reporter down: %v", got)
	}

	// Only an OSD reports for itself, and only if it exists.
	if _, err := osdCl(pl0.ActingPrimary).PGStats(ctxT(t, 10*time.Second), &pb.PGStatsRequest{Osd: notPrimary1}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("reporting for another OSD: %v", err)
	}
	if _, err := admin.PGStats(ctxT(t, 10*time.Second), &pb.PGStatsRequest{Osd: 0}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("admin reporting: %v", err)
	}
	if _, err := osdCl(42).PGStats(ctxT(t, 10*time.Second), &pb.PGStatsRequest{Osd: 42}); status.Code(err) != codes.NotFound {
		t.Fatalf("osd.42 reporting: %v", err)
	}
}

// TestPoolAndOSDRemovalDropPGRecords: removing a pool removes its
// pg_temp entries and activation records; removing an OSD removes its
// report.
func TestPoolAndOSDRemovalDropPGRecords(t *testing.T) {
	c, admin, osds := pgCluster(t, 1, 4, 8, pgOptions())
	if _, err := admin.Command(ctxT(t, 10*time.Second), poolCreate("kept", 4)); err != nil {
		t.Fatal(err)
	}
	m := getMap(t, admin, 0)
	activate := func(pool int64, seed uint32) {
		t.Helper()
		ai := currentInterval(t, m, pool, seed)
		rep, err := c.Client(fmt.Sprintf("osd.%d", ai.GetPrimary()), 0).PGActivate(ctxT(t, 10*time.Second),
			&pb.PGActivateRequest{Osd: ai.GetPrimary(), Intervals: []*pb.ActiveInterval{ai}})
		if err != nil || !rep.GetAccepted()[0] {
			t.Fatalf("activating %d.%x: %v %v", pool, seed, rep.GetAccepted(), err)
		}
	}
	activate(1, 0)
	activate(1, 7)
	activate(2, 0)
	pl := place(t, m, 1, 2)
	if _, err := admin.PGTemp(ctxT(t, 10*time.Second), &pb.PGTempRequest{Osd: pl.ActingPrimary, PgTemp: []*pb.PGTemp{
		{Pool: 1, Seed: 2, Osds: []int32{pl.Acting[1], pl.Acting[0]}},
		{Pool: 2, Seed: 1, Osds: []int32{pl.Acting[1], pl.Acting[0]}},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Command(ctxT(t, 10*time.Second), &pb.CommandRequest{Cmd: &pb.CommandRequest_PoolRm{PoolRm: &pb.PoolRemove{Name: "data"}}}); err != nil {
		t.Fatal(err)
	}
	after := getMap(t, admin, 0)
	if _, ok := after.PGTemp[clustermap.PGID{Pool: 1, Seed: 2}]; ok || len(after.PGTemp) != 1 {
		t.Fatalf("pg_temp after removing pool 1: %v", after.PGTemp)
	}
	recs := history(t, admin, &pb.PGRef{Pool: 1, Seed: 0}, &pb.PGRef{Pool: 1, Seed: 7}, &pb.PGRef{Pool: 2, Seed: 0})
	if recs[0].GetEpoch() != 0 || recs[1].GetEpoch() != 0 || recs[2].GetEpoch() == 0 {
		t.Fatalf("history after removing pool 1: %v", recs)
	}

	// An OSD reports a PG no one else does, then is removed: the PG is
	// unknown again, not stale.
	gone := osds[3]
	seed := uint32(0)
	report := &pb.PGStatsRequest{Osd: gone.id, Pgs: []*pb.PGStatEntry{{Pool: 2, Seed: seed, State: "active+clean"}}}
	if _, err := gone.cl.PGStats(ctxT(t, 10*time.Second), report); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Command(ctxT(t, 10*time.Second), osdCmd(pb.OSDSetState_STATE_DOWN, gone.id)); err != nil {
		t.Fatal(err)
	}
	stateOf := func() string {
		t.Helper()
		rep, err := admin.PGDump(ctxT(t, 10*time.Second), &pb.PGDumpRequest{Pool: 2})
		if err != nil {
			t.Fatal(err)
		}
		return rep.GetPgs()[seed].GetState()
	}
	if got := stateOf(); got != "stale+active+undersized+degraded" {
		t.Fatalf("reporter down: %s", got)
	}
	if _, err := admin.Command(ctxT(t, 10*time.Second), &pb.CommandRequest{Cmd: &pb.CommandRequest_OsdRm{OsdRm: &pb.OSDRemove{Ids: []int32{gone.id}}}}); err != nil {
		t.Fatal(err)
	}
	if got := stateOf(); got != "unknown" {
		t.Fatalf("reporter removed: %s", got)
	}
}

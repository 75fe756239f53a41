package mon_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/internal/clock"
	"github.com/loligo/loligo/internal/pki"
	"github.com/loligo/loligo/internal/testcluster"
	"github.com/loligo/loligo/internal/transport"
	pb "github.com/loligo/loligo/proto/loligopb"
)

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func poolCreate(name string, pgs uint32) *pb.CommandRequest {
	return &pb.CommandRequest{Cmd: &pb.CommandRequest_PoolCreate{PoolCreate: &pb.PoolCreate{Name: name, PgNum: pgs}}}
}

func flagCmd(flag string, set bool) *pb.CommandRequest {
	return &pb.CommandRequest{Cmd: &pb.CommandRequest_Flag{Flag: &pb.FlagChange{Flag: flag, Set: set}}}
}

func getMap(t *testing.T, cl pb.MonClient, epoch uint64) *clustermap.Map {
	t.Helper()
	rep, err := cl.GetMap(ctxT(t, 10*time.Second), &pb.GetMapRequest{Epoch: epoch})
	if err != nil {
		t.Fatalf("GetMap(%d): %v", epoch, err)
	}
	m, err := clustermap.FromProto(rep.GetMap())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// retry runs f until it succeeds or is not Unavailable (a leader change),
// for up to d.
func retry[T any](t *testing.T, d time.Duration, f func(ctx context.Context) (T, error)) (T, error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		v, err := f(ctx)
		cancel()
		if err == nil || time.Now().After(deadline) {
			return v, err
		}
		if c := status.Code(err); c != codes.Unavailable && c != codes.DeadlineExceeded {
			return v, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// collectIncs subscribes from epoch from and returns the updates up to
// epoch to.
func collectUpdates(t *testing.T, cl pb.MonClient, from, to uint64) []*pb.MapUpdate {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stream, err := cl.Subscribe(ctx, &pb.SubscribeRequest{FromEpoch: from})
	if err != nil {
		t.Fatal(err)
	}
	var out []*pb.MapUpdate
	for {
		u, err := stream.Recv()
		if err != nil {
			t.Fatalf("subscription from %d ended after %d updates: %v", from, len(out), err)
		}
		out = append(out, u)
		e := u.GetIncremental().GetEpoch()
		if u.GetFull() != nil {
			e = u.GetFull().GetEpoch()
		}
		if e >= to {
			return out
		}
	}
}

// TestConcurrentChangesConsecutiveEpochs: many clients change the map at
// once through different monitors; every change lands, in epochs that
// follow each other with no gap and no repeat.
func TestConcurrentChangesConsecutiveEpochs(t *testing.T) {
	c := testcluster.StartMons(t, 3, testcluster.Options{})
	admin := []pb.MonClient{c.Client("client.admin", 0), c.Client("client.admin", 1), c.Client("client.admin", 2)}
	start := getMap(t, admin[0], 0).Epoch

	const workers, each = 6, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	var mu sync.Mutex
	replyEpochs := map[uint64]int{}
	for w := range workers {
		wg.Go(func() {
			cl := admin[w%len(admin)]
			for i := range each {
				rep, err := retry(t, 30*time.Second, func(ctx context.Context) (*pb.CommandReply, error) {
					return cl.Command(ctx, poolCreate(fmt.Sprintf("p%d-%d", w, i), 4))
				})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				replyEpochs[rep.GetEpoch()]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	final := getMap(t, admin[1], 0)
	if len(final.Pools) != workers*each {
		t.Fatalf("%d pools in the map, want %d (lost updates)", len(final.Pools), workers*each)
	}
	// Every epoch from start+1 to final exists exactly once, and
	// replaying the incrementals rebuilds the final map.
	ups := collectUpdates(t, admin[2], start, final.Epoch)
	m := getMap(t, admin[0], start)
	for i, u := range ups {
		inc := u.GetIncremental()
		if inc == nil {
			t.Fatalf("update %d is a full map; the window holds every epoch", i)
		}
		if inc.GetEpoch() != start+uint64(i)+1 {
			t.Fatalf("update %d has epoch %d, want %d", i, inc.GetEpoch(), start+uint64(i)+1)
		}
		next, err := clustermap.Apply(m, inc)
		if err != nil {
			t.Fatal(err)
		}
		m = next
	}
	if !proto.Equal(m.ToProto(), final.ToProto()) {
		t.Fatal("replayed incrementals differ from the final map")
	}
	for e := range replyEpochs {
		if e <= start || e > final.Epoch {
			t.Fatalf("a reply names epoch %d outside %d..%d", e, start+1, final.Epoch)
		}
	}
	t.Logf("%d changes in %d epochs (batched)", workers*each, final.Epoch-start)
}

// TestLeaderFailover: stopping the leader lets another monitor take over
// and the epochs continue from where they were.
func TestLeaderFailover(t *testing.T) {
	c := testcluster.StartMons(t, 3, testcluster.Options{SessionTTL: 2 * time.Second})
	l := c.Leader(30 * time.Second)
	if l < 0 {
		t.Fatal("no leader")
	}
	others := []int{}
	for i := range c.Mons {
		if i != l {
			others = append(others, i)
		}
	}
	cl := c.Client("client.admin", others[0])
	for i := range 5 {
		if _, err := retry(t, 30*time.Second, func(ctx context.Context) (*pb.CommandReply, error) {
			return cl.Command(ctx, poolCreate(fmt.Sprintf("before%d", i), 4))
		}); err != nil {
			t.Fatal(err)
		}
	}
	before := getMap(t, cl, 0).Epoch

	t0 := time.Now()
	c.Stop(l)
	rep, err := retry(t, 60*time.Second, func(ctx context.Context) (*pb.CommandReply, error) {
		return cl.Command(ctx, poolCreate("after", 4))
	})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	if rep.GetEpoch() != before+1 {
		t.Fatalf("first change after failover made epoch %d, want %d", rep.GetEpoch(), before+1)
	}
	nl := c.Leader(10 * time.Second)
	if nl < 0 || nl == l {
		t.Fatalf("new leader %d (old %d)", nl, l)
	}
	t.Logf("leader mon.%s stopped; mon.%s leads; first change after %v", c.Mons[l].Name, c.Mons[nl].Name, took)

	// The old leader comes back as a follower and sees the new epochs.
	c.Restart(l)
	back := c.Client("client.admin", l)
	deadline := time.Now().Add(30 * time.Second)
	for getMap(t, back, 0).Epoch < rep.GetEpoch() {
		if time.Now().After(deadline) {
			t.Fatal("restarted monitor does not catch up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := retry(t, 30*time.Second, func(ctx context.Context) (*pb.CommandReply, error) {
		return back.Command(ctx, poolCreate("via-old-leader", 4))
	}); err != nil {
		t.Fatal(err)
	}
}

// TestSubscriberCatchUp: a subscriber 1000 epochs behind gets every
// incremental while they are kept, and the full map once they are not.
func TestSubscriberCatchUp(t *testing.T) {
	for _, tc := range []struct {
		name   string
		window uint64
		full   bool
	}{
		{"incrementals", 2000, false},
		{"trimmed", 100, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testcluster.StartMons(t, 1, testcluster.Options{IncWindow: tc.window})
			cl := c.Client("client.admin", 0)
			if _, err := cl.Command(ctxT(t, 10*time.Second), poolCreate("data", 16)); err != nil {
				t.Fatal(err)
			}
			old := getMap(t, cl, 0)
			for i := range 1000 {
				if _, err := cl.Command(ctxT(t, 10*time.Second), flagCmd("noout", i%2 == 0)); err != nil {
					t.Fatal(err)
				}
			}
			newest := getMap(t, cl, 0)
			if newest.Epoch != old.Epoch+1000 {
				t.Fatalf("epoch %d after 1000 changes from %d", newest.Epoch, old.Epoch)
			}
			ups := collectUpdates(t, cl, old.Epoch, newest.Epoch)
			m := old
			for _, u := range ups {
				if f := u.GetFull(); f != nil {
					if !tc.full {
						t.Fatal("got a full map while every incremental is kept")
					}
					var err error
					if m, err = clustermap.FromProto(f); err != nil {
						t.Fatal(err)
					}
					continue
				}
				var err error
				if m, err = clustermap.Apply(m, u.GetIncremental()); err != nil {
					t.Fatal(err)
				}
			}
			if tc.full && len(ups) != 1 {
				t.Fatalf("%d updates for a subscriber past the window, want one full map", len(ups))
			}
			if !tc.full && len(ups) != 1000 {
				t.Fatalf("%d updates, want 1000 incrementals", len(ups))
			}
			if !proto.Equal(m.ToProto(), newest.ToProto()) {
				t.Fatal("caught-up map differs from the newest")
			}
			// An old epoch inside the window is served whole.
			if !tc.full {
				if got := getMap(t, cl, old.Epoch+500); got.Epoch != old.Epoch+500 || (got.Flags&clustermap.FlagNoOut != 0) != (499%2 == 0) {
					t.Fatalf("GetMap(%d) = epoch %d flags %v", old.Epoch+500, got.Epoch, got.Flags.Names())
				}
			}
		})
	}
}

// fakeOSD plays an OSD towards the monitors: create, boot, beacon.
type fakeOSD struct {
	id   int32
	uuid string
	cl   pb.MonClient
}

func newFakeOSD(t *testing.T, c *testcluster.Cluster, host string, n int) *fakeOSD {
	t.Helper()
	boot := c.Client("client.admin", 0)
	uuid := fmt.Sprintf("00000000-0000-0000-0000-%012d", n)
	rep, err := boot.OSDCreate(ctxT(t, 10*time.Second), &pb.OSDCreateRequest{Uuid: uuid, Host: host, Weight: 0x10000})
	if err != nil {
		t.Fatal(err)
	}
	o := &fakeOSD{id: rep.GetId(), uuid: uuid, cl: c.Client(fmt.Sprintf("osd.%d", rep.GetId()), 0)}
	if _, err := o.cl.OSDBoot(ctxT(t, 10*time.Second), &pb.OSDBootRequest{Id: o.id, Uuid: uuid, Addr: fmt.Sprintf("127.0.0.1:%d", 6800+n)}); err != nil {
		t.Fatal(err)
	}
	return o
}

func (o *fakeOSD) beacon(t *testing.T) {
	t.Helper()
	if _, err := o.cl.Beacon(ctxT(t, 10*time.Second), &pb.BeaconRequest{Id: o.id}); err != nil {
		t.Fatal(err)
	}
}

// waitOSD waits (real time) until osd id satisfies cond in the newest map.
func waitOSD(t *testing.T, cl pb.MonClient, id int32, what string, cond func(o *clustermap.OSD) bool) *clustermap.Map {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := getMap(t, cl, 0)
		if cond(m.OSDs[id]) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("osd.%d never became %s", id, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBeaconsDownOut drives the failure detector with a fake clock:
// silence marks an OSD down after the grace and out after the interval;
// noout holds it in; two peers' reports mark it down early; a marked-down
// OSD that boots again is up with a new up_from.
func TestBeaconsDownOut(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC))
	c := testcluster.StartMons(t, 1, testcluster.Options{Clock: fake, TickInterval: time.Second})
	admin := c.Client("client.admin", 0)
	osds := []*fakeOSD{newFakeOSD(t, c, "h0", 0), newFakeOSD(t, c, "h1", 1), newFakeOSD(t, c, "h2", 2)}
	m := getMap(t, admin, 0)
	for _, o := range osds {
		if !m.OSDs[o.id].Up || !m.OSDs[o.id].In() {
			t.Fatalf("osd.%d not up and in after boot", o.id)
		}
	}
	up := func(o *clustermap.OSD) bool { return o.Up }
	down := func(o *clustermap.OSD) bool { return !o.Up }
	out := func(o *clustermap.OSD) bool { return !o.In() }

	// advance moves the fake clock in ticks, with beacons from the given
	// OSDs on every tick.
	advance := func(d time.Duration, beating ...*fakeOSD) {
		for step := time.Duration(0); step < d; step += time.Second {
			for _, o := range beating {
				o.beacon(t)
			}
			fake.Advance(time.Second)
			time.Sleep(2 * time.Millisecond)
		}
	}
	// osd 0 falls silent; 1 and 2 keep beating.
	advance(15*time.Second, osds[1], osds[2])
	if m := getMap(t, admin, 0); !m.OSDs[osds[0].id].Up {
		t.Fatal("osd marked down before the grace period")
	}
	advance(10*time.Second, osds[1], osds[2])
	m = waitOSD(t, admin, osds[0].id, "down", down)
	if !m.OSDs[osds[0].id].In() || !m.OSDs[osds[1].id].Up {
		t.Fatal("wrong OSDs changed")
	}
	// With noout set, ten minutes down do not mark it out.
	if _, err := admin.Command(ctxT(t, 10*time.Second), flagCmd("noout", true)); err != nil {
		t.Fatal(err)
	}
	advance(11*time.Minute, osds[1], osds[2])
	if !getMap(t, admin, 0).OSDs[osds[0].id].In() {
		t.Fatal("marked out despite noout")
	}
	if _, err := admin.Command(ctxT(t, 10*time.Second), flagCmd("noout", false)); err != nil {
		t.Fatal(err)
	}
	advance(2*time.Second, osds[1], osds[2])
	m = waitOSD(t, admin, osds[0].id, "out", out)
	if !m.OSDs[osds[0].id].AutoOut {
		t.Fatal("auto-out not recorded")
	}
	// It comes back: booting marks it up and in again.
	prev := m.OSDs[osds[0].id].UpFrom
	if _, err := osds[0].cl.OSDBoot(ctxT(t, 10*time.Second), &pb.OSDBootRequest{Id: osds[0].id, Uuid: osds[0].uuid, Addr: "127.0.0.1:6800"}); err != nil {
		t.Fatal(err)
	}
	m = waitOSD(t, admin, osds[0].id, "up", up)
	if o := m.OSDs[osds[0].id]; !o.In() || o.UpFrom <= prev {
		t.Fatalf("rebooted OSD: in=%v up_from %d (was %d)", o.In(), o.UpFrom, prev)
	}

	// Reports from two peers mark osd 2 down at once, beacons or not.
	for _, r := range osds[:2] {
		if _, err := r.cl.FailureReport(ctxT(t, 10*time.Second), &pb.FailureReportRequest{Target: osds[2].id, Reporter: r.id, Failed: true, FailedFor: 5}); err != nil {
			t.Fatal(err)
		}
	}
	advance(time.Second, osds...)
	waitOSD(t, admin, osds[2].id, "down after two reports", down)
	// An OSD that sees itself wrongly marked down boots again.
	if _, err := osds[2].cl.OSDBoot(ctxT(t, 10*time.Second), &pb.OSDBootRequest{Id: osds[2].id, Uuid: osds[2].uuid, Addr: "127.0.0.1:6802"}); err != nil {
		t.Fatal(err)
	}
	waitOSD(t, admin, osds[2].id, "up again", up)
	// The reports were about its previous life: it stays up.
	advance(3*time.Second, osds...)
	if !getMap(t, admin, 0).OSDs[osds[2].id].Up {
		t.Fatal("old reports marked a rebooted OSD down again")
	}

	// One report is not enough.
	if _, err := osds[0].cl.FailureReport(ctxT(t, 10*time.Second), &pb.FailureReportRequest{Target: osds[1].id, Reporter: osds[0].id, Failed: true}); err != nil {
		t.Fatal(err)
	}
	advance(3*time.Second, osds...)
	if !getMap(t, admin, 0).OSDs[osds[1].id].Up {
		t.Fatal("one report marked an OSD down")
	}
}

// TestBadInputChangesNothing: each bad command gets a clear error of the
// right kind, and no new epoch.
func TestBadInputChangesNothing(t *testing.T) {
	c := testcluster.StartMons(t, 1, testcluster.Options{})
	admin := c.Client("client.admin", 0)
	if _, err := admin.Command(ctxT(t, 10*time.Second), poolCreate("data", 8)); err != nil {
		t.Fatal(err)
	}
	cmd := func(x any) *pb.CommandRequest {
		switch v := x.(type) {
		case *pb.PoolCreate:
			return &pb.CommandRequest{Cmd: &pb.CommandRequest_PoolCreate{PoolCreate: v}}
		case *pb.PoolSet:
			return &pb.CommandRequest{Cmd: &pb.CommandRequest_PoolSet{PoolSet: v}}
		case *pb.PoolRemove:
			return &pb.CommandRequest{Cmd: &pb.CommandRequest_PoolRm{PoolRm: v}}
		case *pb.SetCrushMap:
			return &pb.CommandRequest{Cmd: &pb.CommandRequest_SetCrushMap{SetCrushMap: v}}
		case *pb.RuleCreate:
			return &pb.CommandRequest{Cmd: &pb.CommandRequest_RuleCreate{RuleCreate: v}}
		case *pb.ECProfileSet:
			return &pb.CommandRequest{Cmd: &pb.CommandRequest_EcProfileSet{EcProfileSet: v}}
		case *pb.OSDSetState:
			return &pb.CommandRequest{Cmd: &pb.CommandRequest_OsdState{OsdState: v}}
		case *pb.FlagChange:
			return &pb.CommandRequest{Cmd: &pb.CommandRequest_Flag{Flag: v}}
		}
		t.Fatalf("no command for %T", x)
		return nil
	}
	ruleless := "rule r { id 0 type replicated step take nosuchroot step emit }\n"
	for _, tc := range []struct {
		name string
		req  *pb.CommandRequest
		code codes.Code
		want string
	}{
		{"set on unknown pool", cmd(&pb.PoolSet{Name: "nope", Key: "size", Value: "2"}), codes.NotFound, "nope"},
		{"size 0", cmd(&pb.PoolSet{Name: "data", Key: "size", Value: "0"}), codes.InvalidArgument, "size 0"},
		{"size 11", cmd(&pb.PoolSet{Name: "data", Key: "size", Value: "11"}), codes.InvalidArgument, "size 11"},
		{"min_size above size", cmd(&pb.PoolSet{Name: "data", Key: "min_size", Value: "4"}), codes.InvalidArgument, "min_size 4"},
		{"size not a number", cmd(&pb.PoolSet{Name: "data", Key: "size", Value: "three"}), codes.InvalidArgument, "not a number"},
		{"unknown key", cmd(&pb.PoolSet{Name: "data", Key: "colour", Value: "blue"}), codes.InvalidArgument, "colour"},
		{"pg_num 0", cmd(&pb.PoolCreate{Name: "x", PgNum: 0}), codes.InvalidArgument, "pg_num 0"},
		{"pg_num huge", cmd(&pb.PoolCreate{Name: "x", PgNum: 1 << 20}), codes.InvalidArgument, "pg_num 1048576"},
		{"pg_num shrink", cmd(&pb.PoolSet{Name: "data", Key: "pg_num", Value: "4"}), codes.InvalidArgument, "merging"},
		{"create min_size > size", cmd(&pb.PoolCreate{Name: "x", PgNum: 8, Size: 2, MinSize: 3}), codes.InvalidArgument, "min_size 3"},
		{"duplicate pool", cmd(&pb.PoolCreate{Name: "data", PgNum: 8}), codes.AlreadyExists, "data"},
		{"bad pool name", cmd(&pb.PoolCreate{Name: "a b", PgNum: 8}), codes.InvalidArgument, "pool name"},
		{"missing rule", cmd(&pb.PoolCreate{Name: "x", PgNum: 8, CrushRule: "nope"}), codes.NotFound, "nope"},
		{"rm unknown pool", cmd(&pb.PoolRemove{Name: "nope"}), codes.NotFound, "nope"},
		{"crush map syntax", cmd(&pb.SetCrushMap{Text: "this is not { a map"}), codes.InvalidArgument, "does not compile"},
		{"crush rule to missing root", cmd(&pb.SetCrushMap{Text: ruleless}), codes.InvalidArgument, "nosuchroot"},
		{"crush map without the pool's rule", cmd(&pb.SetCrushMap{Text: "type 0 osd\ntype 1 root\nroot default { id -1 alg straw2 hash 0 }\n"}), codes.InvalidArgument, "rule 0"},
		{"rule under missing root", cmd(&pb.RuleCreate{Name: "r", Root: "nosuchroot", FailureDomain: "host"}), codes.NotFound, "nosuchroot"},
		{"rule with missing type", cmd(&pb.RuleCreate{Name: "r", Root: "default", FailureDomain: "galaxy"}), codes.NotFound, "galaxy"},
		{"ec profile k=1", cmd(&pb.ECProfileSet{Name: "p", Params: map[string]string{"k": "1", "m": "1"}}), codes.InvalidArgument, "k=1"},
		{"ec profile unknown key", cmd(&pb.ECProfileSet{Name: "p", Params: map[string]string{"k": "2", "m": "1", "q": "1"}}), codes.InvalidArgument, "\"q\""},
		{"ec pool with missing profile", cmd(&pb.PoolCreate{Name: "e", PgNum: 8, Type: pb.PoolType_POOL_TYPE_ERASURE, EcProfile: "nope"}), codes.NotFound, "nope"},
		{"out unknown osd", cmd(&pb.OSDSetState{Ids: []int32{99}, State: pb.OSDSetState_STATE_OUT}), codes.NotFound, "osd.99"},
		{"unknown flag", cmd(&pb.FlagChange{Flag: "nofun", Set: true}), codes.InvalidArgument, "nofun"},
		{"empty command", &pb.CommandRequest{}, codes.InvalidArgument, "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := getMap(t, admin, 0)
			_, err := admin.Command(ctxT(t, 10*time.Second), tc.req)
			if status.Code(err) != tc.code {
				t.Fatalf("err %v, want code %v", err, tc.code)
			}
			if msg := status.Convert(err).Message(); !containsFold(msg, tc.want) {
				t.Fatalf("message %q does not mention %q", msg, tc.want)
			}
			after := getMap(t, admin, 0)
			if after.Epoch != before.Epoch || !proto.Equal(after.ToProto(), before.ToProto()) {
				t.Fatalf("a refused command changed the map (epoch %d -> %d)", before.Epoch, after.Epoch)
			}
		})
	}
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// TestMutualTLS: no certificate, or one from another CA, is refused with
// a clear error; an OSD may act only for itself and may not run admin
// commands.
func TestMutualTLS(t *testing.T) {
	c := testcluster.StartMons(t, 1, testcluster.Options{})
	addr := c.Mons[0].Config.Addr

	// A certificate from another CA.
	other, err := pki.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key, err := other.Issue("client.admin", nil, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteKeyPair(dir, "client.admin", cert, key); err != nil {
		t.Fatal(err)
	}
	cf, kf := pki.Paths(dir, "client.admin")
	// Trust the real cluster CA for the server, present the foreign cert.
	foreign, err := tls.LoadX509KeyPair(cf, kf)
	if err != nil {
		t.Fatal(err)
	}
	good := c.Creds("client.admin")
	bad := good.Clone()
	bad.Certificates = []tls.Certificate{foreign}
	none := good.Clone()
	none.Certificates = nil
	for name, conf := range map[string]*tls.Config{"foreign CA": bad, "no certificate": none} {
		cc, err := transport.Dial(addr, conf)
		if err != nil {
			t.Fatal(err)
		}
		_, err = pb.NewMonClient(cc).Status(ctxT(t, 10*time.Second), &pb.StatusRequest{})
		cc.Close()
		if err == nil {
			t.Fatalf("%s: call accepted", name)
		}
		// With TLS 1.3 the server checks the client's certificate after
		// the client's side of the handshake is done, so the client sees
		// either the TLS alert or the connection closing under its
		// first write; both are refusals.
		if msg := err.Error(); !strings.Contains(msg, "certificate") && !strings.Contains(msg, "tls") &&
			status.Code(err) != codes.Unavailable {
			t.Fatalf("%s: unexpected error %q", name, msg)
		}
	}

	o := newFakeOSD(t, c, "h0", 0)
	intruder := c.Client("osd.7", 0)
	if _, err := intruder.OSDBoot(ctxT(t, 10*time.Second), &pb.OSDBootRequest{Id: o.id, Uuid: o.uuid, Addr: "127.0.0.1:1"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("osd.7 booting osd.%d: %v, want PermissionDenied", o.id, err)
	}
	if _, err := o.cl.Command(ctxT(t, 10*time.Second), flagCmd("noout", true)); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("an OSD running an admin command: %v, want PermissionDenied", err)
	}
	if _, err := o.cl.OSDBoot(ctxT(t, 10*time.Second), &pb.OSDBootRequest{Id: o.id, Uuid: "wrong", Addr: "127.0.0.1:1"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("boot with the wrong uuid: %v, want PermissionDenied", err)
	}
}

// TestRestartResumes: a monitor restarted on its directory serves the
// same cluster and epochs.
func TestRestartResumes(t *testing.T) {
	c := testcluster.StartMons(t, 1, testcluster.Options{})
	admin := c.Client("client.admin", 0)
	if _, err := admin.Command(ctxT(t, 10*time.Second), poolCreate("kept", 8)); err != nil {
		t.Fatal(err)
	}
	before := getMap(t, admin, 0)
	c.Stop(0)
	c.Restart(0)
	after := getMap(t, c.Client("client.admin", 0), 0)
	if after.FSID != before.FSID || after.Epoch != before.Epoch || !proto.Equal(after.ToProto(), before.ToProto()) {
		t.Fatalf("after restart: fsid %s epoch %d; before %s %d", after.FSID, after.Epoch, before.FSID, before.Epoch)
	}
	rep, err := retry(t, 30*time.Second, func(ctx context.Context) (*pb.CommandReply, error) {
		return c.Client("client.admin", 0).Command(ctx, flagCmd("noout", true))
	})
	if err != nil || rep.GetEpoch() != before.Epoch+1 {
		t.Fatalf("first change after restart: epoch %d err %v, want %d", rep.GetEpoch(), err, before.Epoch+1)
	}
}

// TestDryRunAndConfirm: a placement change reports its PG movement;
// --dry-run writes nothing; a large movement needs yes.
func TestDryRunAndConfirm(t *testing.T) {
	c := testcluster.StartMons(t, 1, testcluster.Options{})
	admin := c.Client("client.admin", 0)
	for i := range 4 {
		newFakeOSD(t, c, fmt.Sprintf("h%d", i), i)
	}
	if _, err := admin.Command(ctxT(t, 10*time.Second), poolCreate("data", 64)); err != nil {
		t.Fatal(err)
	}
	before := getMap(t, admin, 0)
	out := &pb.CommandRequest{Cmd: &pb.CommandRequest_OsdState{OsdState: &pb.OSDSetState{Ids: []int32{0}, State: pb.OSDSetState_STATE_OUT}}}
	dry := proto.Clone(out).(*pb.CommandRequest)
	dry.DryRun = true
	rep, err := admin.Command(ctxT(t, 10*time.Second), dry)
	if err != nil {
		t.Fatal(err)
	}
	mv := rep.GetMovement()
	if rep.GetEpoch() != 0 || mv.GetPgs() != 64 || mv.GetMoved() == 0 {
		t.Fatalf("dry run: epoch %d movement %v", rep.GetEpoch(), mv)
	}
	var lost0 uint32
	for _, o := range mv.GetOsds() {
		if o.GetOsd() == 0 {
			lost0 = o.GetLost()
			if o.GetGained() != 0 {
				t.Fatal("the OSD going out gains PGs")
			}
		}
	}
	if lost0 != mv.GetMoved() {
		t.Fatalf("osd.0 loses %d PGs but %d move", lost0, mv.GetMoved())
	}
	if getMap(t, admin, 0).Epoch != before.Epoch {
		t.Fatal("dry run made an epoch")
	}
	if _, err := admin.Command(ctxT(t, 10*time.Second), out); status.Code(err) != codes.FailedPrecondition ||
		!strings.Contains(err.Error(), "--yes") {
		t.Fatalf("large move without yes: %v", err)
	}
	out.Yes = true
	rep, err = admin.Command(ctxT(t, 10*time.Second), out)
	if err != nil || rep.GetEpoch() != before.Epoch+1 || rep.GetMovement().GetMoved() != mv.GetMoved() {
		t.Fatalf("with yes: %v %v", rep, err)
	}
}

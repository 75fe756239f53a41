package osd_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loligo/loligo/internal/testcluster"
	"github.com/loligo/loligo/osd"
	"github.com/loligo/loligo/osd/store"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// Scheduled scrubs: with short intervals every PG gets scrubbed and
// deep-scrubbed on its own; a byte flipped in a replica's chunk is found
// by the next deep scrub and reported to the monitor (scrub_errors, the
// object in inconsistent, the state inconsistent), and a repair clears
// it.
func TestScheduledScrub(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{OSDs: 3, Pool: "data", PGNum: 8,
		HeartbeatInterval: 200 * time.Millisecond, HeartbeatGrace: 2 * time.Second,
		OSD: func(i int, cfg *osd.Config) {
			cfg.ScrubInterval, cfg.DeepScrubInterval = 2*time.Second, 3*time.Second
			cfg.StatsInterval = 500 * time.Millisecond
		}})
	r := newRaw(t, c)
	data := make([]byte, 200<<10)
	for i := range data {
		data[i] = byte(i * 13)
	}
	if rep := r.op("scrubbed", 0, writeFull(data)); rep.GetResult() != pb.Result_OK {
		t.Fatalf("write: %v %s", rep.GetResult(), rep.GetMessage())
	}
	mon := c.Client("client.admin", 0)
	dump := func() []*pb.PGStatEntry {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rep, err := mon.PGDump(ctx, &pb.PGDumpRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return rep.GetPgs()
	}
	waitUntil := func(what string, cond func([]*pb.PGStatEntry) bool) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for !cond(dump()) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s after a minute: %v", what, dump())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	start := time.Now().UnixNano()
	waitUntil("scrub and deep scrub of every PG", func(pgs []*pb.PGStatEntry) bool {
		for _, e := range pgs {
			if e.GetLastScrubNs() < start || e.GetLastDeepScrubNs() < start || e.GetScrubErrors() != 0 {
				return false
			}
		}
		return len(pgs) == 8
	})

	_, pl := r.place("scrubbed")
	bad := pl.Acting[1]
	pgid := store.PGID{Pool: pl.PG.Pool, PS: pl.PG.Seed}
	if err := c.OSDByID(bad).O.Store().FlipByte(pgid, "scrubbed", 70000); err != nil {
		t.Fatal(err)
	}
	waitUntil("scrub error on the damaged PG", func(pgs []*pb.PGStatEntry) bool {
		for _, e := range pgs {
			if e.GetPool() == pgid.Pool && e.GetSeed() == pgid.PS {
				return e.GetScrubErrors() == 1 && len(e.GetInconsistent()) == 1 && e.GetInconsistent()[0].GetOid() == "scrubbed" &&
					strings.Contains(e.GetState(), "inconsistent")
			}
		}
		return false
	})

	m := c.WaitActive(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := r.conn(m.OSDs[pl.ActingPrimary].Addr).PGCommand(ctx, &pb.PGCommandRequest{Pool: pgid.Pool, Ps: pgid.PS, Epoch: m.Epoch, Cmd: pb.PGCmd_PG_CMD_REPAIR, Wait: true})
	if err != nil || rep.GetResult() != pb.Result_OK || rep.GetScrubErrors() != 0 {
		t.Fatalf("repair: %v %v %s, %d errors left", err, rep.GetResult(), rep.GetMessage(), rep.GetScrubErrors())
	}
	waitUntil("the scrub error cleared", func(pgs []*pb.PGStatEntry) bool {
		for _, e := range pgs {
			if e.GetScrubErrors() != 0 {
				return false
			}
		}
		return true
	})
	_, res, err := c.OSDByID(bad).O.Store().Prepare(pgid, "scrubbed", []*pb.OpStep{readStep()}, nil, time.Now())
	if err != nil || string(res[0].GetData()) != string(data) {
		t.Fatalf("the repaired copy on osd.%d: %v", bad, err)
	}
}

// TestScrubFailureReported: a scrub that cannot list a member's copy
// does not finish; it must not be reported as clean: a waited deep
// scrub fails with why, the PG shows in PG_SCRUB_FAILED, and its last
// deep scrub stamp stays. Once the member answers again, a waited scrub
// succeeds and the warning clears. Before, the waited scrub printed
// "0 errors" and health stayed HEALTH_OK.
func TestScrubFailureReported(t *testing.T) {
	var refuse atomic.Bool
	refuseScan := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if refuse.Load() && strings.HasSuffix(method, "/Scan") {
			return status.Error(codes.Internal, "injected: the member cannot list its objects")
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	c := testcluster.Start(t, testcluster.Options{OSDs: 3, Pool: "data", PGNum: 4,
		HeartbeatInterval: 200 * time.Millisecond, HeartbeatGrace: 2 * time.Second,
		OSD: func(_ int, cfg *osd.Config) {
			cfg.StatsInterval = 300 * time.Millisecond
			cfg.PeerDialOptions = append(cfg.PeerDialOptions, grpc.WithChainUnaryInterceptor(refuseScan))
		}})
	r := newRaw(t, c)
	if rep := r.op("x", 0, writeFull([]byte("hello"))); rep.GetResult() != pb.Result_OK {
		t.Fatalf("write: %v %s", rep.GetResult(), rep.GetMessage())
	}
	m, pl := r.place("x")
	scrub := func() *pb.PGCommandReply {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		rep, err := r.conn(m.OSDs[pl.ActingPrimary].Addr).PGCommand(ctx, &pb.PGCommandRequest{Pool: pl.PG.Pool, Ps: pl.PG.Seed,
			Epoch: m.Epoch, Cmd: pb.PGCmd_PG_CMD_DEEP_SCRUB, Wait: true})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	mon := c.Client("client.admin", 0)
	scrubFailed := func() (bool, *pb.PGStatEntry) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := mon.Status(ctx, &pb.StatusRequest{})
		if err != nil {
			t.Fatal(err)
		}
		d, err := mon.PGDump(ctx, &pb.PGDumpRequest{Pool: pl.PG.Pool})
		if err != nil {
			t.Fatal(err)
		}
		e := d.GetPgs()[pl.PG.Seed]
		for _, ch := range st.GetChecks() {
			if ch.GetCode() == "PG_SCRUB_FAILED" {
				return true, e
			}
		}
		return false, e
	}
	refuse.Store(true)
	rep := scrub()
	if rep.GetResult() == pb.Result_OK || !strings.Contains(rep.GetMessage(), "did not finish") {
		t.Fatalf("a scrub that could not list a member answered %v %q", rep.GetResult(), rep.GetMessage())
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		failed, e := scrubFailed()
		if failed {
			if e.GetLastDeepScrubNs() != 0 {
				t.Errorf("a deep scrub that did not finish set the PG's last deep scrub (%d)", e.GetLastDeepScrubNs())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no PG_SCRUB_FAILED after a failed scrub: %v", e)
		}
		time.Sleep(200 * time.Millisecond)
	}
	refuse.Store(false)
	if rep := scrub(); rep.GetResult() != pb.Result_OK || rep.GetScrubErrors() != 0 {
		t.Fatalf("scrub once the member answers: %v %q", rep.GetResult(), rep.GetMessage())
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if failed, _ := scrubFailed(); !failed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("PG_SCRUB_FAILED stays after a scrub that finished")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

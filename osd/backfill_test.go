package osd_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/internal/testcluster"
	"github.com/loligo/loligo/osd"
	"github.com/loligo/loligo/osd/store"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// pushCounter counts the objects OSDs push to each address.
type pushCounter struct {
	mu   sync.Mutex
	objs map[string]int
}

func (pc *pushCounter) interceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		if push, ok := req.(*pb.PushRequest); ok && err == nil && reply.(*pb.PushReply).GetResult() == pb.Result_OK {
			pc.mu.Lock()
			pc.objs[strings.TrimPrefix(cc.Target(), "passthrough:///")] += len(push.GetObjects())
			pc.mu.Unlock()
		}
		return err
	}
}

func (pc *pushCounter) to(addr string) int {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.objs[addr]
}

// TestBackfillResumesAfterRestart: a backfill target stopped halfway
// through keeps what it received, and when it returns only the objects
// it still lacks are copied. (Its copy is marked incomplete with an
// empty log, so peering log-recovers it from the PG's first write; the
// primary first asks it what it holds, see pruneMissing.)
func TestBackfillResumesAfterRestart(t *testing.T) {
	const objects = 120
	pc := &pushCounter{objs: map[string]int{}}
	c := testcluster.Start(t, testcluster.Options{OSDs: 4, Pool: "data", PGNum: 1,
		HeartbeatInterval: 200 * time.Millisecond, HeartbeatGrace: 2 * time.Second, BeaconInterval: time.Second,
		OSD: func(i int, cfg *osd.Config) {
			cfg.PeerDialOptions = append(cfg.PeerDialOptions, grpc.WithChainUnaryInterceptor(pc.interceptor()))
			cfg.SyncRetry = 200 * time.Millisecond
			// Slow enough that the target can be stopped halfway.
			cfg.RecoveryMaxBytes = 128 << 10
		}})
	conn := connect(t, c)
	ctx := context.Background()
	io, err := conn.OpenPool(ctx, "data")
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 16<<10)
	for i := range objects {
		data[0] = byte(i)
		if err := io.WriteFull(ctx, fmt.Sprintf("obj-%03d", i), data); err != nil {
			t.Fatal(err)
		}
	}
	m := c.WaitClean(time.Minute)
	pool, err := m.PoolByName("data")
	if err != nil {
		t.Fatal(err)
	}
	pgid := store.PGID{Pool: pool.ID}
	pl, err := m.Place(clustermap.PGID{Pool: pool.ID})
	if err != nil {
		t.Fatal(err)
	}
	// The OSD outside the PG becomes its backfill target when a replica
	// goes out.
	var target int32 = -1
	for id := range m.OSDs {
		if !slices.Contains(pl.Up, id) {
			target = id
		}
	}
	replica := pl.Up[len(pl.Up)-1]
	t.Logf("pg %s on %v: osd.%d out, osd.%d backfills", pgid, pl.Up, replica, target)
	if _, err := c.Client("client.admin", 0).Command(ctx, &pb.CommandRequest{Yes: true,
		Cmd: &pb.CommandRequest_OsdState{OsdState: &pb.OSDSetState{Ids: []int32{replica}, State: pb.OSDSetState_STATE_OUT}}}); err != nil {
		t.Fatal(err)
	}
	tod := c.OSDByID(target)
	held := func() int {
		oids, _, err := tod.O.Store().List(pgid, "", 10*objects)
		if err != nil {
			return 0
		}
		return len(oids)
	}
	waitFor(t, time.Minute, "the target holding a third of the PG", func() bool { return held() >= objects/3 })
	before := held()
	addr := tod.O.Addr()
	c.StopOSD(tod.Index)
	pushedBefore := pc.to(addr)
	t.Logf("osd.%d stopped holding %d of %d objects (%d pushed to it)", target, before, objects, pushedBefore)
	if before >= objects {
		t.Fatalf("the backfill finished before the target was stopped; slow it down")
	}

	c.StartOSD(tod.Index)
	c.WaitClean(2 * time.Minute)
	if got := held(); got != objects {
		t.Fatalf("after the backfill osd.%d holds %d objects, want %d", target, got, objects)
	}
	after := pc.to(tod.O.Addr())
	if tod.O.Addr() == addr {
		after -= pushedBefore
	}
	t.Logf("after the restart %d objects were pushed to osd.%d", after, target)
	if after > objects-before {
		t.Errorf("the resumed backfill pushed %d objects; the target lacked only %d of %d", after, objects-before, objects)
	}
	if after == 0 {
		t.Errorf("nothing was pushed after the restart, yet the target lacked %d objects", objects-before)
	}
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

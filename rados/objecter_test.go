package rados

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/loligo/loligo/clustermap"
	pb "github.com/loligo/loligo/proto/loligopb"
)

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestObjecterSendsToPrimary(t *testing.T) {
	fc := newFakeCluster(t, 3)
	c := fc.conn(fc.m, time.Second)
	io := fc.ioctx(c)
	ctx := ctxT(t, 10*time.Second)
	for i := range 20 {
		oid := fmt.Sprintf("obj%d", i)
		if err := io.WriteFull(ctx, oid, []byte(oid)); err != nil {
			t.Fatal(err)
		}
		got, err := io.Read(ctx, oid, 0, 0)
		if err != nil || string(got) != oid {
			t.Fatalf("read %s = %q, %v", oid, got, err)
		}
	}
	reqs := fc.requests()
	if len(reqs) != 40 {
		t.Fatalf("%d requests, want 40 (no resends)", len(reqs))
	}
	var last uint64
	for _, r := range reqs {
		pl, _ := fc.m.PlaceObject(fakePool, r.req.GetOid(), "")
		if r.osd != pl.ActingPrimary || r.req.GetPs() != pl.PG.Seed || r.req.GetEpoch() != 1 || r.req.GetPool() != fakePool {
			t.Errorf("%s went to osd.%d ps %x epoch %d; primary is osd.%d of pg %s", r.req.GetOid(), r.osd, r.req.GetPs(), r.req.GetEpoch(), pl.ActingPrimary, pl.PG)
		}
		id := r.req.GetReqid()
		if !strings.HasPrefix(id.GetClient(), "client.test/") || len(id.GetClient()) != len("client.test/")+16 || id.GetTid() <= last {
			t.Errorf("reqid %v after tid %d", id, last)
		}
		last = id.GetTid()
	}
	other := fc.conn(fc.m, time.Second)
	if other.client == c.client {
		t.Error("two connections share a client nonce")
	}
}

func TestObjecterResultErrors(t *testing.T) {
	fc := newFakeCluster(t, 3)
	io := fc.ioctx(fc.conn(fc.m, time.Second))
	ctx := ctxT(t, 10*time.Second)
	if _, err := io.Read(ctx, "nope", 0, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("read of a missing object: %v", err)
	}
	if err := io.SetXattr(ctx, "o", "a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.GetXattr(ctx, "o", "b"); !errors.Is(err, ErrNoData) {
		t.Fatalf("getxattr of a missing xattr: %v", err)
	}
	_, err := io.Operate(ctx, "o", NewWriteOp().CmpXattr("a", CmpEQ, []byte("2")).Append([]byte("x")))
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrCanceled) || e.Step != 0 || !strings.Contains(err.Error(), "step 0 (cmpxattr)") {
		t.Fatalf("failed guard: %#v", err)
	}
	if err := io.Create(ctx, "o", true); !errors.Is(err, ErrExists) {
		t.Fatalf("exclusive create: %v", err)
	}
	if _, err := io.Operate(ctx, "o", NewWriteOp()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty op: %v", err)
	}
	if len(fc.requests()) != 5 {
		t.Fatalf("%d requests; failed results must not be resent", len(fc.requests()))
	}
}

// A write whose reply is lost is resent with the same ReqID and applied
// once.
func TestObjecterResendsLostReply(t *testing.T) {
	fc := newFakeCluster(t, 3)
	io := fc.ioctx(fc.conn(fc.m, time.Second))
	ctx := ctxT(t, 10*time.Second)
	var once sync.Once
	var mu sync.Mutex
	var dropped bool
	fc.setHook(func(sctx context.Context, osd int32, req *pb.OpRequest) (*pb.OpReply, error, bool) {
		drop := false
		once.Do(func() { drop = true })
		if !drop {
			return nil, nil, true
		}
		// Apply, then lose the reply.
		if _, err := (&fakeOSD{id: osd, fc: fc}).Op(ctx, req); err != nil {
			t.Error(err)
		}
		mu.Lock()
		dropped = true
		mu.Unlock()
		return nil, status.Error(codes.Unavailable, "reply lost"), false
	})
	if err := io.Append(ctx, "log", []byte("abc")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if !dropped {
		t.Fatal("the hook did not drop a reply")
	}
	mu.Unlock()
	got, err := io.Read(ctx, "log", 0, 0)
	if err != nil || string(got) != "abc" {
		t.Fatalf("read %q, %v; the resent append must apply once", got, err)
	}
	reqs := fc.requests()
	// The append (seen by the hook and by the fake itself), its resend,
	// and the read.
	var appends []*pb.OpRequest
	for _, r := range reqs {
		if r.req.GetSteps()[0].GetCode() == pb.OpCode_OP_APPEND {
			appends = append(appends, r.req)
		}
	}
	if len(appends) != 3 || !proto.Equal(appends[0].GetReqid(), appends[2].GetReqid()) {
		t.Fatalf("appends sent: %v", appends)
	}
	fc.mu.Lock()
	applied := fc.applied
	fc.mu.Unlock()
	if applied != 1 {
		t.Fatalf("applied %d writes", applied)
	}
}

// An attempt that does not answer within OpTimeout is resent.
func TestObjecterAttemptTimeout(t *testing.T) {
	fc := newFakeCluster(t, 3)
	const opTimeout = 200 * time.Millisecond
	io := fc.ioctx(fc.conn(fc.m, opTimeout))
	ctx := ctxT(t, 10*time.Second)
	var n int
	var mu sync.Mutex
	fc.setHook(func(sctx context.Context, osd int32, req *pb.OpRequest) (*pb.OpReply, error, bool) {
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			<-sctx.Done() // an OSD that hangs until the client gives up on it
			return nil, status.Error(codes.Unavailable, "too late"), false
		}
		return nil, nil, true
	})
	start := time.Now()
	if err := io.WriteFull(ctx, "slow", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < opTimeout || d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	reqs := fc.requests()
	if len(reqs) != 2 || !proto.Equal(reqs[0].req.GetReqid(), reqs[1].req.GetReqid()) {
		t.Fatalf("requests: %v", reqs)
	}
}

// RETRY makes the client wait for the epoch the OSD names and go to the
// primary of that map, with the same ReqID.
func TestObjecterRetryFollowsMap(t *testing.T) {
	fc := newFakeCluster(t, 3)
	m1 := fc.m
	c := fc.conn(m1, time.Second)
	io := fc.ioctx(c)
	ctx := ctxT(t, 10*time.Second)
	const oid = "moving"
	old := fc.primary(m1, oid)
	m2 := fc.mkMap(2, []int32{old})
	fc.setMap(m2) // the OSDs know of epoch 2 already
	errc := make(chan error, 1)
	go func() { errc <- io.WriteFull(ctx, oid, []byte("v")) }()
	// The old primary answers RETRY (epoch 2); the client must wait for it.
	waitFor(t, func() bool { return len(fc.requests()) >= 1 })
	select {
	case err := <-errc:
		t.Fatalf("the write finished (%v) without the map it was told to wait for", err)
	case <-time.After(100 * time.Millisecond):
	}
	c.publish(m2, m2.ToProto())
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	reqs := fc.requests()
	if len(reqs) != 2 || reqs[0].osd != old || reqs[1].osd != fc.primary(m2, oid) || reqs[1].req.GetEpoch() != 2 ||
		!proto.Equal(reqs[0].req.GetReqid(), reqs[1].req.GetReqid()) {
		t.Fatalf("requests: %v", reqs)
	}
}

// waitFor polls a condition the test cannot be told about otherwise.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A PG without a primary holds the request until a map gives it one.
func TestObjecterNoPrimaryWaitsForMap(t *testing.T) {
	fc := newFakeCluster(t, 3)
	m1 := fc.mkMap(1, []int32{0, 1, 2})
	c := fc.conn(m1, time.Second)
	io := fc.ioctx(c)
	ctx := ctxT(t, 10*time.Second)
	errc := make(chan error, 1)
	go func() { errc <- io.WriteFull(ctx, "o", []byte("v")) }()
	select {
	case err := <-errc:
		t.Fatalf("write without a primary finished: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if n := len(fc.requests()); n != 0 {
		t.Fatalf("%d requests sent to down OSDs", n)
	}
	m2 := fc.mkMap(2, nil)
	fc.setMap(m2)
	c.publish(m2, m2.ToProto())
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestObjecterDeadline(t *testing.T) {
	fc := newFakeCluster(t, 3)
	io := fc.ioctx(fc.conn(fc.m, time.Second))
	fc.setHook(func(context.Context, int32, *pb.OpRequest) (*pb.OpReply, error, bool) {
		return nil, status.Error(codes.Unavailable, "osd is sick"), false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := io.WriteFull(ctx, "o", []byte("v"))
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("gave up after %v", d)
	}
	var e *Error
	if !errors.As(err, &e) || e.Kind != ErrUnavailable || e.Step != -1 {
		t.Fatalf("err = %#v", err)
	}
	pl, _ := fc.m.PlaceObject(fakePool, "o", "")
	for _, s := range []string{"data/o", "pg " + pl.PG.String(), fmt.Sprintf("osd.%d", pl.ActingPrimary), "osd is sick", "tries"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%q does not say %q", err, s)
		}
	}
	if n := len(fc.requests()); n < 3 {
		t.Errorf("only %d tries", n)
	}
}

func TestObjecterNotRetried(t *testing.T) {
	fc := newFakeCluster(t, 3)
	io := fc.ioctx(fc.conn(fc.m, time.Second))
	fc.setHook(func(context.Context, int32, *pb.OpRequest) (*pb.OpReply, error, bool) {
		return nil, status.Error(codes.PermissionDenied, "client.test may not"), false
	})
	err := io.WriteFull(ctxT(t, 5*time.Second), "o", []byte("v"))
	if !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "may not") {
		t.Fatalf("err = %v", err)
	}
	if n := len(fc.requests()); n != 1 {
		t.Fatalf("%d tries", n)
	}
}

func TestObjecterPausedWrites(t *testing.T) {
	fc := newFakeCluster(t, 3)
	m1 := fc.mkMap(1, nil)
	m1.Flags = clustermap.FlagPauseWrite
	if err := m1.Finalize(); err != nil {
		t.Fatal(err)
	}
	c := fc.conn(m1, time.Second)
	io := fc.ioctx(c)
	ctx := ctxT(t, 10*time.Second)
	if _, err := io.Read(ctx, "o", 0, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("reads go on while writes pause: %v", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- io.WriteFull(ctx, "o", []byte("v")) }()
	select {
	case err := <-errc:
		t.Fatalf("write while paused finished: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	m2 := fc.mkMap(2, nil)
	fc.setMap(m2)
	c.publish(m2, m2.ToProto())
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestObjecterListAndStats(t *testing.T) {
	fc := newFakeCluster(t, 3)
	c := fc.conn(fc.m, time.Second)
	io := fc.ioctx(c)
	ctx := ctxT(t, 10*time.Second)
	want := map[string]bool{}
	var bytes uint64
	for i := range 60 {
		oid := fmt.Sprintf("o%03d", i)
		if err := io.WriteFull(ctx, oid, []byte(oid+oid[:i%4])); err != nil {
			t.Fatal(err)
		}
		want[oid] = true
		bytes += uint64(len(oid) + i%4)
	}
	var got []string
	if err := io.ListObjects(ctx, func(oid string) error { got = append(got, oid); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("listed %d objects, want %d", len(got), len(want))
	}
	var lastPS uint32
	for i, oid := range got {
		if !want[oid] {
			t.Errorf("listed %s twice or unknown", oid)
		}
		delete(want, oid)
		pg, _ := fc.m.ObjectPG(fakePool, oid, "")
		if pg.Seed < lastPS || (i > 0 && pg.Seed == lastPS && oid < got[i-1]) {
			t.Errorf("%s (pg %s) listed out of order", oid, pg)
		}
		lastPS = pg.Seed
	}
	stop := errors.New("stop")
	n := 0
	if err := io.ListObjects(ctx, func(string) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("stopping a listing: %v after %d", err, n)
	}

	ps, err := io.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ps.Objects != 60 || ps.Bytes != bytes {
		t.Errorf("pool stats %+v, want 60 objects, %d bytes", ps, bytes)
	}
	cs, err := c.ClusterStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs.OSDs) != 3 || cs.Pools["data"] != ps {
		t.Fatalf("cluster stats %+v", cs)
	}
	for i, o := range cs.OSDs {
		if o.ID != int32(i) || !o.Up || o.Used != uint64(100+i) || o.Avail != uint64(1000+i) {
			t.Errorf("osd stat %+v", o)
		}
	}
}

// fakeMon serves a scripted Subscribe stream.
type fakeMon struct {
	pb.UnimplementedMonServer
	mu      sync.Mutex
	streams []chan *pb.MapUpdate
	froms   []uint64
	newSub  chan struct{}
}

func (f *fakeMon) Subscribe(req *pb.SubscribeRequest, stream grpc.ServerStreamingServer[pb.MapUpdate]) error {
	ch := make(chan *pb.MapUpdate, 16)
	f.mu.Lock()
	f.streams = append(f.streams, ch)
	f.froms = append(f.froms, req.GetFromEpoch())
	f.mu.Unlock()
	f.newSub <- struct{}{}
	for {
		select {
		case u, ok := <-ch:
			if !ok {
				return status.Error(codes.Unavailable, "mon going away")
			}
			if err := stream.Send(u); err != nil {
				return err
			}
		case <-stream.Context().Done():
			return nil
		}
	}
}

func (f *fakeMon) stream(i int) chan *pb.MapUpdate {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.streams[i]
}

func TestFollowMap(t *testing.T) {
	fc := newFakeCluster(t, 3)
	fm := &fakeMon{newSub: make(chan struct{}, 16)}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterMonServer(srv, fm)
	go srv.Serve(l)
	defer srv.Stop()
	cc, err := grpc.NewClient("passthrough:///"+l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	c := &Conn{entity: "client.test", timeout: 10 * time.Second, mons: []*monConn{{addr: l.Addr().String(), cc: cc, cl: pb.NewMonClient(cc)}}}
	c.initObjecter(Options{}, nil)
	ctx := ctxT(t, 10*time.Second)

	m1 := fc.mkMap(1, nil)
	m2 := fc.mkMap(2, []int32{1})
	m3 := fc.mkMap(3, nil)
	m5 := fc.mkMap(5, []int32{2})
	go func() {
		<-fm.newSub
		fm.stream(0) <- &pb.MapUpdate{Update: &pb.MapUpdate_Full{Full: m1.ToProto()}}
	}()
	if got, err := c.ensureMap(ctx); err != nil || got.Epoch != 1 {
		t.Fatalf("first map: %v, %v", got, err)
	}
	if c.CurrentMap().Epoch != 1 {
		t.Fatal("CurrentMap is not the first map")
	}
	fm.stream(0) <- &pb.MapUpdate{Update: &pb.MapUpdate_Incremental{Incremental: clustermap.Diff(m1, m2)}}
	if err := c.waitEpoch(ctx, 2, -1); err != nil {
		t.Fatal(err)
	}
	if c.CurrentMap().IsUp(1) {
		t.Fatal("the incremental was not applied")
	}
	// A gap (epoch 5 on epoch 2) makes the client subscribe again from
	// what it holds.
	fm.stream(0) <- &pb.MapUpdate{Update: &pb.MapUpdate_Incremental{Incremental: clustermap.Diff(m3, m5)}}
	<-fm.newSub
	fm.mu.Lock()
	from := fm.froms[1]
	fm.mu.Unlock()
	if from != 2 {
		t.Fatalf("resubscribed from %d, want 2", from)
	}
	fm.stream(1) <- &pb.MapUpdate{Update: &pb.MapUpdate_Incremental{Incremental: clustermap.Diff(m2, m3)}}
	if err := c.waitEpoch(ctx, 3, -1); err != nil {
		t.Fatal(err)
	}
	// A broken stream: subscribe again.
	close(fm.stream(1))
	<-fm.newSub
	fm.stream(2) <- &pb.MapUpdate{Update: &pb.MapUpdate_Full{Full: m5.ToProto()}}
	if err := c.waitEpoch(ctx, 5, -1); err != nil {
		t.Fatal(err)
	}
	if c.CurrentMap().IsUp(2) || !c.CurrentMap().IsUp(1) {
		t.Fatal("the full map was not taken")
	}
	// Close stops the follower and waits for it; later calls fail.
	c.Close()
	select {
	case <-c.subDone:
	default:
		t.Fatal("Close returned before the follower ended")
	}
	if _, err := c.OpenPool(ctx, "data"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("OpenPool after Close: %v", err)
	}
	if err := c.waitEpoch(ctx, 9, -1); err != errClosed {
		t.Fatalf("waiting after Close: %v", err)
	}
}

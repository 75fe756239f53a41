package osd_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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
	"github.com/loligo/loligo/rados"
)

// The fault-injection suite, in process: writers record every
// acknowledged write (object, content hash) while a seeded schedule
// stops and restarts OSDs, marks them out and in, adds an OSD, flips
// bytes in stored chunks, and partitions an OSD from its peers, or from
// its peers and the monitor (gRPC interceptors on its connections). At the end the cluster must reach
// active+clean on its own, every object must read back as its last
// acknowledged write (or a later one whose outcome was unknown), a deep
// scrub after repairing the injected flips must find nothing, and every
// store must pass Check (at teardown).
//
// Seeds: LOLIGO_FAULT_SEEDS=1,2,3 (default 1,2); a failing seed replays
// with go test -run 'TestFaults/seed=N' ./osd/.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("fault injection runs a cluster for a while")
	}
	seeds := testcluster.FaultSeeds(t, 1, 2)
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runFaults(t, seed, false) })
	}
}

// TestFaultsErasure is the same suite on an erasure-coded pool (k=2,
// m=2, min_size 3): shards rebuilt after stops, outs and flips, writes
// cut short by a fault rolled back or forward by peering. Seeds as
// TestFaults (default 1); replay with -run 'TestFaultsErasure/seed=N'.
func TestFaultsErasure(t *testing.T) {
	if testing.Short() {
		t.Skip("fault injection runs a cluster for a while")
	}
	for _, seed := range testcluster.FaultSeeds(t, 1) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runFaults(t, seed, true) })
	}
}

// partitions cuts peer traffic to and from isolated OSDs, and an
// OSD's traffic to the monitor when monCut says so.
type partitions struct {
	mu       sync.Mutex
	isolated map[string]bool // by address
	ids      map[int32]bool
	monCut   map[int32]bool
}

// monOptions are the dial options of OSD self's monitor connections: its
// calls fail while it is cut off, and an open map subscription fails at
// its next message.
func (p *partitions) monOptions(self int32) []grpc.DialOption {
	cut := func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.monCut[self] {
			return fmt.Errorf("injected partition: osd.%d cannot reach the monitor", self)
		}
		return nil
	}
	unary := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if err := cut(); err != nil {
			return err
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	stream := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if err := cut(); err != nil {
			return nil, err
		}
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			return nil, err
		}
		return &cutStream{ClientStream: cs, cut: cut}, nil
	}
	return []grpc.DialOption{grpc.WithChainUnaryInterceptor(unary), grpc.WithChainStreamInterceptor(stream)}
}

// cutStream drops what arrives on a stream while its partition is on.
type cutStream struct {
	grpc.ClientStream
	cut func() error
}

func (s *cutStream) RecvMsg(m any) error {
	if err := s.ClientStream.RecvMsg(m); err != nil {
		return err
	}
	return s.cut()
}

func (p *partitions) interceptor(self int32) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		p.mu.Lock()
		cut := p.ids[self] || p.isolated[strings.TrimPrefix(cc.Target(), "passthrough:///")]
		p.mu.Unlock()
		if cut {
			return fmt.Errorf("injected partition: osd.%d cannot reach %s", self, cc.Target())
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// set cuts (on) or restores an OSD's peer traffic, and its monitor
// traffic too when mon is set.
func (p *partitions) set(id int32, addr string, on, mon bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ids[id], p.isolated[addr] = on, on
	p.monCut[id] = on && mon
}

func runFaults(t *testing.T, seed uint64, erasure bool) {
	r := rand.New(rand.NewPCG(seed, 0x10119))
	parts := &partitions{isolated: map[string]bool{}, ids: map[int32]bool{}, monCut: map[int32]bool{}}
	pool := "data"
	if erasure {
		pool = "" // created below
	}
	c := testcluster.Start(t, testcluster.Options{OSDs: 4, Pool: pool, PGNum: 16,
		HeartbeatInterval: 200 * time.Millisecond, HeartbeatGrace: 2 * time.Second, BeaconInterval: time.Second, PeerTimeout: 3 * time.Second,
		OSD: func(i int, cfg *osd.Config) {
			cfg.PeerDialOptions = append(cfg.PeerDialOptions, grpc.WithChainUnaryInterceptor(parts.interceptor(cfg.ID)))
			cfg.MonDialOptions = append(cfg.MonDialOptions, parts.monOptions(cfg.ID)...)
			cfg.SyncRetry = 200 * time.Millisecond
		}})
	conn := connect(t, c)
	if erasure {
		ecPool(t, c, conn, "data", 2, 2, 0, 0, 16)
	}
	io, err := conn.OpenPool(context.Background(), "data")
	if err != nil {
		t.Fatal(err)
	}
	led := &testcluster.Ledger{}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var staleReads []string
	var staleMu sync.Mutex
	for w := range 3 {
		wr := rand.New(rand.NewPCG(seed, uint64(w)))
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				oid := fmt.Sprintf("w%d-o%d", w, wr.IntN(6))
				if wr.IntN(4) == 0 {
					// A read must never be older than what was acknowledged.
					rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
					data, err := io.Read(rctx, oid, 0, 1<<20)
					cancel()
					exists := err == nil
					if err != nil && !errors.Is(err, rados.ErrNotFound) {
						continue
					}
					if !led.Allowed(oid, data, exists) {
						staleMu.Lock()
						staleReads = append(staleReads, fmt.Sprintf("%s (%d bytes: %s)", oid, len(data), led.Describe(oid, data)))
						staleMu.Unlock()
					}
					continue
				}
				data := make([]byte, 1<<10+wr.IntN(300<<10))
				for j := range data {
					data[j] = byte(wr.Uint32())
				}
				led.Sending(oid, data)
				wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				err := io.WriteFull(wctx, oid, data)
				cancel()
				if err == nil {
					led.Acked(oid, data)
				}
			}
		})
	}

	admin := c.Client("client.admin", 0)
	setState := func(id int32, st pb.OSDSetState_State) {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.Command(cctx, &pb.CommandRequest{Yes: true, Cmd: &pb.CommandRequest_OsdState{OsdState: &pb.OSDSetState{Ids: []int32{id}, State: st}}}); err != nil {
			t.Errorf("osd %d state %v: %v", id, st, err)
		}
	}
	flips := 0
	added := false
	sleep := func() { time.Sleep(time.Duration(500+r.IntN(1500)) * time.Millisecond) }
	for step := range 7 {
		sleep()
		i := r.IntN(len(c.OSDs))
		od := c.OSDs[i]
		switch ev := r.IntN(6); {
		case ev == 0:
			t.Logf("step %d: stop osd.%d, write, start it", step, od.Config.ID)
			c.StopOSD(i)
			sleep()
			c.StartOSD(i)
		case ev == 1:
			t.Logf("step %d: osd out %d, then in", step, od.Config.ID)
			setState(od.Config.ID, pb.OSDSetState_STATE_OUT)
			sleep()
			sleep()
			setState(od.Config.ID, pb.OSDSetState_STATE_IN)
		case ev == 2 && od.O != nil:
			// From its peers only (its beacons still reach the monitor,
			// so it flaps), or from the monitor too (it keeps its old
			// map while the others move on without it).
			mon := r.IntN(2) == 0
			t.Logf("step %d: partition osd.%d from its peers (and the monitor: %v)", step, od.Config.ID, mon)
			parts.set(od.Config.ID, od.O.Addr(), true, mon)
			time.Sleep(3 * time.Second)
			parts.set(od.Config.ID, od.O.Addr(), false, false)
		case ev == 3 && !added:
			added = true
			nod := c.AddOSD()
			t.Logf("step %d: added osd.%d", step, nod.Config.ID)
		default:
			if flipOne(t, c, r) {
				flips++
				t.Logf("step %d: flipped a stored byte", step)
			}
		}
	}
	// Let the writers run on a healthy cluster for a moment, then stop.
	time.Sleep(time.Second)
	stop()
	wg.Wait()
	if len(staleReads) > 0 {
		t.Errorf("reads returned data older than an acknowledged write: %v", staleReads)
	}
	t.Logf("%d writes acknowledged, %d bytes flipped", led.Acknowledged(), flips)
	if n := led.Acknowledged(); n < 10 {
		t.Errorf("only %d writes were acknowledged", n)
	}
	m := c.WaitClean(3 * time.Minute)

	// Every object reads back as its last acknowledged write.
	for _, oid := range led.Objects() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		data, err := io.Read(cctx, oid, 0, 1<<20)
		cancel()
		if err != nil {
			t.Errorf("%s: %v", oid, err)
			continue
		}
		if !led.Allowed(oid, data, true) {
			t.Errorf("%s: reads back %d bytes that are not its last acknowledged write", oid, len(data))
		}
	}
	// Repair (a deep scrub that repairs what it finds) leaves nothing, and
	// a deep scrub after it finds nothing.
	raw := newRaw(t, c)
	if n := scrubAll(t, c, raw, m, pb.PGCmd_PG_CMD_REPAIR); n != 0 {
		t.Errorf("repair left %d inconsistent objects", n)
	}
	if n := scrubAll(t, c, raw, m, pb.PGCmd_PG_CMD_DEEP_SCRUB); n != 0 {
		t.Errorf("deep scrub after repair found %d inconsistent objects", n)
	}
}

// scrubAll runs cmd (deep-scrub or repair) on every PG and returns the
// inconsistent objects found.
func scrubAll(t *testing.T, c *testcluster.Cluster, raw *rawClient, m *clustermap.Map, cmd pb.PGCmd) int {
	t.Helper()
	p, err := m.PoolByName("data")
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for ps := range p.PGNum {
		for try := 0; ; try++ {
			m := c.WaitClean(time.Minute)
			pl, _ := m.Place(clustermap.PGID{Pool: p.ID, Seed: ps})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			rep, err := raw.conn(m.OSDs[pl.ActingPrimary].Addr).PGCommand(ctx, &pb.PGCommandRequest{Pool: p.ID, Ps: ps, Epoch: m.Epoch, Cmd: cmd, Wait: true})
			cancel()
			if err != nil {
				t.Fatalf("pg %d.%x %v: %v", p.ID, ps, cmd, err)
			}
			if rep.GetResult() == pb.Result_RETRY && try < 20 {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			if rep.GetResult() != pb.Result_OK {
				t.Fatalf("pg %d.%x %v: %v %s", p.ID, ps, cmd, rep.GetResult(), rep.GetMessage())
			}
			for _, inc := range rep.GetInconsistent() {
				t.Logf("pg %d.%x %v: %s %v", p.ID, ps, cmd, inc.GetOid(), inc.GetErrors())
			}
			total += len(rep.GetInconsistent())
			break
		}
	}
	return total
}

// flipOne flips a byte in a stored chunk of a random object on a random
// running member; false when no object is big enough yet.
func flipOne(t *testing.T, c *testcluster.Cluster, r *rand.Rand) bool {
	var running []*testcluster.OSD
	for _, od := range c.OSDs {
		if od.O != nil {
			running = append(running, od)
		}
	}
	od := running[r.IntN(len(running))]
	st := od.O.Store()
	pgs, err := st.PGs()
	if err != nil || len(pgs) == 0 {
		return false
	}
	pg := pgs[r.IntN(len(pgs))]
	objs, _, err := st.Scan(pg, "", 100)
	if err != nil || len(objs) == 0 {
		return false
	}
	oid := objs[r.IntN(len(objs))].GetOid()
	if err := st.FlipByte(store.PGID{Pool: pg.Pool, PS: pg.PS}, oid, 2000); err != nil {
		return false // inline or too small: nothing flipped
	}
	return true
}

func connect(t *testing.T, c *testcluster.Cluster) *rados.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := rados.Connect(ctx, rados.Options{ConfPath: c.ConfPath})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

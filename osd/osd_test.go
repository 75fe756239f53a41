package osd_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/internal/pki"
	"github.com/loligo/loligo/internal/testcluster"
	"github.com/loligo/loligo/internal/transport"
	"github.com/loligo/loligo/osd/store"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// rawClient talks to OSDs directly with the OSD protocol, as client.admin,
// so tests control request ids and targets.
type rawClient struct {
	t     *testing.T
	c     *testcluster.Cluster
	tid   uint64
	conns map[string]pb.OSDClient
}

func newRaw(t *testing.T, c *testcluster.Cluster) *rawClient {
	return &rawClient{t: t, c: c, conns: map[string]pb.OSDClient{}}
}

// conn returns a client for the OSD at addr (one connection per address).
func (r *rawClient) conn(addr string) pb.OSDClient {
	r.t.Helper()
	if cl, ok := r.conns[addr]; ok {
		return cl
	}
	keys, err := r.c.Conf.Keys("client.admin")
	if err != nil {
		r.t.Fatal(err)
	}
	tc, err := pki.ClientConfig(keys.Cert, keys.Key, r.c.Conf.CA)
	if err != nil {
		r.t.Fatal(err)
	}
	cc, err := transport.Dial(addr, tc)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { cc.Close() })
	r.conns[addr] = pb.NewOSDClient(cc)
	return r.conns[addr]
}

// place returns the newest map and where oid of pool "data" lives.
func (r *rawClient) place(oid string) (*clustermap.Map, clustermap.Placement) {
	r.t.Helper()
	m := r.c.WaitActive(time.Minute)
	p, err := m.PoolByName("data")
	if err != nil {
		r.t.Fatal(err)
	}
	pl, err := m.PlaceObject(p.ID, oid, "")
	if err != nil {
		r.t.Fatal(err)
	}
	return m, pl
}

// op sends steps for oid to its primary with request id tid (0: a new
// one), retrying while told to.
func (r *rawClient) op(oid string, tid uint64, steps ...*pb.OpStep) *pb.OpReply {
	r.t.Helper()
	if tid == 0 {
		r.tid++
		tid = r.tid
	}
	for try := 0; ; try++ {
		m, pl := r.place(oid)
		cl := r.conn(m.OSDs[pl.ActingPrimary].Addr)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		rep, err := cl.Op(ctx, &pb.OpRequest{Reqid: &pb.ReqID{Client: "client.admin/test", Tid: tid}, Epoch: m.Epoch,
			Pool: pl.PG.Pool, Ps: pl.PG.Seed, Oid: oid, Steps: steps})
		cancel()
		if err != nil {
			r.t.Fatalf("op on %s: %v", oid, err)
		}
		if rep.GetResult() == pb.Result_RETRY && try < 50 {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		return rep
	}
}

func writeFull(data []byte) *pb.OpStep {
	return &pb.OpStep{Code: pb.OpCode_OP_WRITE_FULL, Data: data}
}
func appendStep(data []byte) *pb.OpStep { return &pb.OpStep{Code: pb.OpCode_OP_APPEND, Data: data} }
func readStep() *pb.OpStep              { return &pb.OpStep{Code: pb.OpCode_OP_READ} }

func start(t *testing.T) *testcluster.Cluster {
	return testcluster.Start(t, testcluster.Options{OSDs: 3, Pool: "data", PGNum: 8,
		HeartbeatInterval: 200 * time.Millisecond, HeartbeatGrace: 2 * time.Second})
}

// A write is on every acting member when it is acknowledged.
func TestReplicatedWrite(t *testing.T) {
	c := start(t)
	r := newRaw(t, c)
	data := bytes.Repeat([]byte("loligo "), 40000) // 280 KB: chunked, not inline
	if rep := r.op("obj", 0, writeFull(data)); rep.GetResult() != pb.Result_OK {
		t.Fatalf("write: %v %s", rep.GetResult(), rep.GetMessage())
	}
	_, pl := r.place("obj")
	if len(pl.Acting) != 3 {
		t.Fatalf("acting set %v, want 3 members", pl.Acting)
	}
	for _, id := range pl.Acting {
		st := c.OSDByID(id).O.Store()
		_, res, err := st.Prepare(store.PGID{Pool: pl.PG.Pool, PS: pl.PG.Seed}, "obj", []*pb.OpStep{readStep()}, nil, time.Now())
		if err != nil {
			t.Fatalf("osd.%d: %v", id, err)
		}
		if !bytes.Equal(res[0].GetData(), data) {
			t.Errorf("osd.%d holds %d bytes, not the %d written", id, len(res[0].GetData()), len(data))
		}
	}
}

// A resent request is answered from the PG log, not applied again.
func TestResendNotAppliedTwice(t *testing.T) {
	c := start(t)
	r := newRaw(t, c)
	first := r.op("log", 0, appendStep([]byte("a")))
	if first.GetResult() != pb.Result_OK {
		t.Fatalf("append: %v %s", first.GetResult(), first.GetMessage())
	}
	again := r.op("log", r.tid, appendStep([]byte("a")))
	if again.GetResult() != pb.Result_OK || again.GetVersion() != first.GetVersion() {
		t.Fatalf("resend: %v version %d, want OK with the first's version %d", again.GetResult(), again.GetVersion(), first.GetVersion())
	}
	rep := r.op("log", 0, readStep())
	if got := string(rep.GetSteps()[0].GetData()); got != "a" {
		t.Fatalf("object holds %q after a resent append, want %q", got, "a")
	}
	// A new request id appends again.
	r.op("log", 0, appendStep([]byte("b")))
	if got := string(r.op("log", 0, readStep()).GetSteps()[0].GetData()); got != "ab" {
		t.Fatalf("object holds %q, want %q", got, "ab")
	}
}

// A chunk that fails its checksum on the primary is reported as
// corruption by the store, and the read is served from a replica, which
// also repairs the primary's copy.
func TestCorruptChunkServedByReplica(t *testing.T) {
	c := start(t)
	r := newRaw(t, c)
	data := make([]byte, 300<<10)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if rep := r.op("bad", 0, writeFull(data)); rep.GetResult() != pb.Result_OK {
		t.Fatalf("write: %v %s", rep.GetResult(), rep.GetMessage())
	}
	_, pl := r.place("bad")
	pgid := store.PGID{Pool: pl.PG.Pool, PS: pl.PG.Seed}
	prim := c.OSDByID(pl.ActingPrimary).O.Store()
	if err := prim.FlipByte(pgid, "bad", 100000); err != nil {
		t.Fatal(err)
	}
	if _, _, err := prim.Prepare(pgid, "bad", []*pb.OpStep{readStep()}, nil, time.Now()); err == nil {
		t.Fatal("the store returned a flipped chunk without an error")
	}
	before := prim.CorruptionCount()
	rep := r.op("bad", 0, readStep())
	if rep.GetResult() != pb.Result_OK || !bytes.Equal(rep.GetSteps()[0].GetData(), data) {
		t.Fatalf("read after corruption: %v %s (%d bytes)", rep.GetResult(), rep.GetMessage(), len(rep.GetSteps()[0].GetData()))
	}
	if prim.CorruptionCount() <= before {
		t.Errorf("corruption counter did not count")
	}
	// The primary's copy is good again.
	_, res, err := prim.Prepare(pgid, "bad", []*pb.OpStep{readStep()}, nil, time.Now())
	if err != nil || !bytes.Equal(res[0].GetData(), data) {
		t.Fatalf("primary copy after the read: err %v", err)
	}
}

// With size 3 and min_size 2, a stopped replica leaves the PG writable; the
// replica, restarted, is brought up to date before the PG serves again.
func TestReplicaRestartCatchesUp(t *testing.T) {
	c := start(t)
	r := newRaw(t, c)
	_, pl := r.place("x0")
	replica := pl.Acting[len(pl.Acting)-1]
	od := c.OSDByID(replica)
	for i := range 5 {
		r.op(fmt.Sprintf("x%d", i), 0, writeFull([]byte(fmt.Sprint("before ", i))))
	}
	c.StopOSD(od.Index)
	for i := range 10 {
		if rep := r.op(fmt.Sprintf("x%d", i), 0, writeFull([]byte(fmt.Sprint("during ", i)))); rep.GetResult() != pb.Result_OK {
			t.Fatalf("write with a replica down: %v %s", rep.GetResult(), rep.GetMessage())
		}
	}
	r.op("x1", 0, &pb.OpStep{Code: pb.OpCode_OP_REMOVE})
	c.StartOSD(od.Index)
	m := c.WaitClean(time.Minute)
	// Every member of every PG holds the same objects at the same versions.
	p, _ := m.PoolByName("data")
	for ps := range p.PGNum {
		pl, _ := m.Place(clustermap.PGID{Pool: p.ID, Seed: ps})
		pgid := store.PGID{Pool: p.ID, PS: ps}
		var want []*pb.ObjectVersion
		for i, id := range pl.Acting {
			got, _, err := c.OSDByID(id).O.Store().Scan(pgid, "", 1000)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				want = got
				continue
			}
			if !slices.EqualFunc(got, want, func(a, b *pb.ObjectVersion) bool {
				return a.GetOid() == b.GetOid() && a.GetVersion().GetVersion() == b.GetVersion().GetVersion()
			}) {
				t.Errorf("pg %s: osd.%d holds %v, primary holds %v", pgid, id, got, want)
			}
		}
	}
	if got := string(r.op("x3", 0, readStep()).GetSteps()[0].GetData()); got != "during 3" {
		t.Errorf("x3 = %q", got)
	}
	if rep := r.op("x1", 0, readStep()); rep.GetResult() != pb.Result_NOT_FOUND {
		t.Errorf("x1 after remove: %v", rep.GetResult())
	}
}

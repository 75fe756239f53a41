package rados

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/crush"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// A fake cluster for the Objecter's unit tests: OSD servers on loopback
// (without TLS) sharing one in-memory store, which applies an operation
// atomically and answers a resent write from its log, as a PG's primary
// would. The test decides which map the OSDs and the client hold.

const fakePool = 1

type fakeObj struct {
	data    []byte
	xattrs  map[string][]byte
	version uint64
}

func (o *fakeObj) clone() *fakeObj {
	return &fakeObj{data: bytes.Clone(o.data), xattrs: maps.Clone(o.xattrs), version: o.version}
}

type fakeReq struct {
	osd int32
	req *pb.OpRequest
}

type fakeCluster struct {
	t     *testing.T
	addrs []string

	mu      sync.Mutex
	m       *clustermap.Map // the OSDs' map
	objs    map[string]*fakeObj
	log     map[string]*pb.OpReply // by ReqID
	reqs    []fakeReq
	applied int
	// hook, when set, sees every Op first; a non-nil reply or error is
	// the answer, and next says to go on as usual.
	hook func(ctx context.Context, osd int32, req *pb.OpRequest) (rep *pb.OpReply, err error, next bool)
	// listPage caps List pages.
	listPage int
}

type fakeOSD struct {
	pb.UnimplementedOSDServer
	id int32
	fc *fakeCluster
}

func newFakeCluster(t *testing.T, n int) *fakeCluster {
	fc := &fakeCluster{t: t, objs: map[string]*fakeObj{}, log: map[string]*pb.OpReply{}, listPage: 7}
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := grpc.NewServer()
		pb.RegisterOSDServer(s, &fakeOSD{id: int32(i), fc: fc})
		go s.Serve(l)
		t.Cleanup(s.Stop)
		fc.addrs = append(fc.addrs, l.Addr().String())
	}
	fc.m = fc.mkMap(1, nil)
	return fc
}

// mkMap makes a map of the fake's OSDs: the ones in down are down.
func (fc *fakeCluster) mkMap(epoch uint64, down []int32) *clustermap.Map {
	fc.t.Helper()
	src := "type 0 osd\ntype 1 root\n"
	root := "root r {\n\tid -1\n\talg straw2\n"
	for i := range fc.addrs {
		src += fmt.Sprintf("device %d osd.%d\n", i, i)
		root += fmt.Sprintf("\titem osd.%d weight 1\n", i)
	}
	src += root + "}\nrule rep {\n\tid 0\n\ttype replicated\n\tstep take r\n\tstep choose firstn 0 type osd\n\tstep emit\n}\n"
	cm, err := crush.Compile(src)
	if err != nil {
		fc.t.Fatal(err)
	}
	m := &clustermap.Map{FSID: "fsid", Epoch: epoch, Crush: cm, OSDs: map[int32]*clustermap.OSD{}, Pools: map[int64]*clustermap.Pool{
		fakePool: {ID: fakePool, Name: "data", Type: clustermap.PoolReplicated, Size: 2, MinSize: 1, PGNum: 8, PGPNum: 8, Flags: clustermap.FlagHashPSPool},
	}, PoolMax: fakePool}
	for i, a := range fc.addrs {
		id := int32(i)
		m.OSDs[id] = &clustermap.OSD{ID: id, Up: !slices.Contains(down, id), Weight: crush.WeightOne, PrimaryAffinity: crush.WeightOne, Addr: a}
	}
	if err := m.Finalize(); err != nil {
		fc.t.Fatal(err)
	}
	return m
}

func (fc *fakeCluster) setMap(m *clustermap.Map) {
	fc.mu.Lock()
	fc.m = m
	fc.mu.Unlock()
}

func (fc *fakeCluster) setHook(h func(ctx context.Context, osd int32, req *pb.OpRequest) (*pb.OpReply, error, bool)) {
	fc.mu.Lock()
	fc.hook = h
	fc.mu.Unlock()
}

func (fc *fakeCluster) objects() []string {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return slices.Sorted(maps.Keys(fc.objs))
}

func (fc *fakeCluster) requests() []fakeReq {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return slices.Clone(fc.reqs)
}

func (fc *fakeCluster) primary(m *clustermap.Map, oid string) int32 {
	fc.t.Helper()
	pl, err := m.PlaceObject(fakePool, oid, "")
	if err != nil {
		fc.t.Fatal(err)
	}
	return pl.ActingPrimary
}

// conn returns a connection that holds map m and follows no monitor:
// the test publishes maps itself.
func (fc *fakeCluster) conn(m *clustermap.Map, opTimeout time.Duration) *Conn {
	c := &Conn{entity: "client.test", timeout: 10 * time.Second}
	opts := Options{OpTimeout: opTimeout}
	SetDialOptions(&opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	c.initObjecter(opts, &tls.Config{})
	done := make(chan struct{})
	close(done)
	c.subCancel, c.subDone = func() {}, done
	c.publish(m, m.ToProto())
	fc.t.Cleanup(func() { c.Close() })
	return c
}

func (fc *fakeCluster) ioctx(c *Conn) *IOContext {
	io, err := c.OpenPool(context.Background(), "data")
	if err != nil {
		fc.t.Fatal(err)
	}
	return io
}

func (o *fakeOSD) Op(ctx context.Context, req *pb.OpRequest) (*pb.OpReply, error) {
	fc := o.fc
	fc.mu.Lock()
	fc.reqs = append(fc.reqs, fakeReq{o.id, req})
	hook := fc.hook
	fc.mu.Unlock()
	if hook != nil {
		rep, err, next := hook(ctx, o.id, req)
		if !next {
			return rep, err
		}
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	m := fc.m
	if req.GetEpoch() > m.Epoch {
		return &pb.OpReply{Result: pb.Result_RETRY, RetryEpoch: req.GetEpoch(), FailedStep: -1}, nil
	}
	pl, _ := m.PlaceObject(req.GetPool(), req.GetOid(), "")
	if pl.ActingPrimary != o.id || pl.PG.Seed != req.GetPs() {
		return &pb.OpReply{Result: pb.Result_RETRY, RetryEpoch: m.Epoch, FailedStep: -1}, nil
	}
	key := fmt.Sprintf("%s/%d", req.GetReqid().GetClient(), req.GetReqid().GetTid())
	if rep := fc.log[key]; rep != nil {
		return rep, nil
	}
	rep := fc.apply(req.GetOid(), req.GetSteps())
	if isWrite(req.GetSteps()) && rep.GetResult() == pb.Result_OK {
		fc.log[key] = rep
		fc.applied++
	}
	return rep, nil
}

func fail(r pb.Result, step int, format string, args ...any) *pb.OpReply {
	return &pb.OpReply{Result: r, FailedStep: int32(step), Message: fmt.Sprintf(format, args...)}
}

// apply runs the steps on a copy of the object and keeps it if all
// succeed. Only what the tests use is implemented.
func (fc *fakeCluster) apply(oid string, steps []*pb.OpStep) *pb.OpReply {
	cur, exists := fc.objs[oid]
	o := &fakeObj{xattrs: map[string][]byte{}}
	if exists {
		o = cur.clone()
	}
	wrote := false
	var results []*pb.StepResult
	for i, s := range steps {
		res := &pb.StepResult{}
		results = append(results, res)
		if isWrite([]*pb.OpStep{s}) {
			wrote = true
		}
		switch s.GetCode() {
		case pb.OpCode_OP_CREATE:
			if exists && s.GetExclusive() {
				return fail(pb.Result_EXISTS, i, "%s exists", oid)
			}
			exists = true
		case pb.OpCode_OP_WRITE_FULL:
			o.data, exists = bytes.Clone(s.GetData()), true
		case pb.OpCode_OP_APPEND:
			o.data, exists = append(o.data, s.GetData()...), true
		case pb.OpCode_OP_REMOVE:
			if !exists {
				return fail(pb.Result_NOT_FOUND, i, "no object %s", oid)
			}
			o, exists = &fakeObj{xattrs: map[string][]byte{}, version: o.version}, false
		case pb.OpCode_OP_SETXATTR:
			o.xattrs[s.GetName()], exists = bytes.Clone(s.GetValue()), true
		case pb.OpCode_OP_RMXATTR:
			if _, ok := o.xattrs[s.GetName()]; !ok || !exists {
				return fail(pb.Result_NO_DATA, i, "no xattr %s", s.GetName())
			}
			delete(o.xattrs, s.GetName())
		case pb.OpCode_OP_READ, pb.OpCode_OP_STAT, pb.OpCode_OP_GETXATTR, pb.OpCode_OP_GETXATTRS, pb.OpCode_OP_ASSERT_EXISTS:
			if !exists {
				return fail(pb.Result_NOT_FOUND, i, "no object %s", oid)
			}
			switch s.GetCode() {
			case pb.OpCode_OP_READ:
				off := min(s.GetOffset(), uint64(len(o.data)))
				end := uint64(len(o.data))
				if s.GetLength() > 0 {
					end = min(end, off+s.GetLength())
				}
				res.Data = o.data[off:end]
			case pb.OpCode_OP_STAT:
				res.Size, res.Version = uint64(len(o.data)), o.version
			case pb.OpCode_OP_GETXATTR:
				v, ok := o.xattrs[s.GetName()]
				if !ok {
					return fail(pb.Result_NO_DATA, i, "no xattr %s", s.GetName())
				}
				res.Data = v
			case pb.OpCode_OP_GETXATTRS:
				res.Kv = maps.Clone(o.xattrs)
			}
		case pb.OpCode_OP_CMPXATTR:
			if !exists {
				return fail(pb.Result_NOT_FOUND, i, "no object %s", oid)
			}
			eq := bytes.Equal(o.xattrs[s.GetName()], s.GetValue())
			if (s.GetCmp() == pb.CmpOp_CMP_EQ) != eq {
				return fail(pb.Result_CANCELED, i, "xattr %s compares false", s.GetName())
			}
		case pb.OpCode_OP_ASSERT_VERSION:
			var v uint64
			if exists {
				v = o.version
			}
			if v != s.GetVersion() {
				return fail(pb.Result_VERSION_MISMATCH, i, "version %d, not %d", v, s.GetVersion())
			}
		default:
			return fail(pb.Result_INVALID, i, "the fake does not do %v", s.GetCode())
		}
	}
	if wrote {
		o.version++
		if exists {
			fc.objs[oid] = o
		} else {
			delete(fc.objs, oid)
		}
	}
	var v uint64
	if exists {
		v = o.version
	}
	return &pb.OpReply{Steps: results, Version: v, FailedStep: -1}
}

func (o *fakeOSD) List(ctx context.Context, req *pb.ListRequest) (*pb.ListReply, error) {
	fc := o.fc
	fc.mu.Lock()
	defer fc.mu.Unlock()
	pl, err := fc.m.Place(clustermap.PGID{Pool: req.GetPool(), Seed: req.GetPs()})
	if err != nil || pl.ActingPrimary != o.id {
		return &pb.ListReply{Result: pb.Result_RETRY, RetryEpoch: fc.m.Epoch}, nil
	}
	var oids []string
	for oid := range fc.objs {
		pg, _ := fc.m.ObjectPG(req.GetPool(), oid, "")
		if pg.Seed == req.GetPs() && oid > req.GetStartAfter() {
			oids = append(oids, oid)
		}
	}
	slices.Sort(oids)
	n := min(int(req.GetMax()), fc.listPage)
	more := len(oids) > n
	if more {
		oids = oids[:n]
	}
	return &pb.ListReply{Oids: oids, More: more}, nil
}

// Stats reports every PG the OSD is a member of, not only those it is
// primary of, as a confused OSD might: the client counts each PG from
// its primary only.
func (o *fakeOSD) Stats(ctx context.Context, req *pb.StatsRequest) (*pb.StatsReply, error) {
	fc := o.fc
	fc.mu.Lock()
	defer fc.mu.Unlock()
	pgs := map[uint32]*pb.PGStat{}
	for oid, obj := range fc.objs {
		pl, _ := fc.m.PlaceObject(fakePool, oid, "")
		if !slices.Contains(pl.Acting, o.id) {
			continue
		}
		s := pgs[pl.PG.Seed]
		if s == nil {
			s = &pb.PGStat{Pool: fakePool, Ps: pl.PG.Seed}
			pgs[pl.PG.Seed] = s
		}
		s.Objects++
		s.Bytes += uint64(len(obj.data))
	}
	rep := &pb.StatsReply{StoreUsed: uint64(100 + o.id), StoreAvail: uint64(1000 + o.id)}
	for _, s := range pgs {
		rep.Pgs = append(rep.Pgs, s)
	}
	return rep, nil
}

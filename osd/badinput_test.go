package osd_test

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/loligo/loligo/internal/testcluster"
	"github.com/loligo/loligo/internal/transport"
	"github.com/loligo/loligo/osd/store"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// Malformed or misdirected requests get a clear answer and change
// nothing; peer calls from a client are refused.
func TestBadRequests(t *testing.T) {
	c := start(t)
	r := newRaw(t, c)
	if rep := r.op("keep", 0, writeFull([]byte("v1"))); rep.GetResult() != pb.Result_OK {
		t.Fatalf("write: %v", rep.GetMessage())
	}
	m, pl := r.place("keep")
	cl := r.conn(m.OSDs[pl.ActingPrimary].Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := func(mod func(*pb.OpRequest)) *pb.OpRequest {
		q := &pb.OpRequest{Reqid: &pb.ReqID{Client: "client.admin/bad", Tid: 1}, Epoch: m.Epoch,
			Pool: pl.PG.Pool, Ps: pl.PG.Seed, Oid: "keep", Steps: []*pb.OpStep{writeFull([]byte("v2"))}}
		mod(q)
		return q
	}
	many := make([]*pb.OpStep, 65)
	for i := range many {
		many[i] = appendStep([]byte("x"))
	}
	cases := []struct {
		name string
		req  *pb.OpRequest
		want pb.Result
		msg  string
	}{
		{"no object name", req(func(q *pb.OpRequest) { q.Oid = "" }), pb.Result_INVALID, "no object name"},
		{"no steps", req(func(q *pb.OpRequest) { q.Steps = nil }), pb.Result_INVALID, "steps"},
		{"too many steps", req(func(q *pb.OpRequest) { q.Steps = many }), pb.Result_INVALID, "steps"},
		{"write without a request id", req(func(q *pb.OpRequest) { q.Reqid = nil }), pb.Result_INVALID, "request id"},
		{"unknown pool", req(func(q *pb.OpRequest) { q.Pool = 99 }), pb.Result_NOT_FOUND, "pool 99"},
		{"wrong PG for the object", req(func(q *pb.OpRequest) { q.Ps = (q.Ps + 1) % 8 }), pb.Result_RETRY, "is in pg"},
		{"unknown op code", req(func(q *pb.OpRequest) { q.Steps = []*pb.OpStep{{Code: 99}} }), pb.Result_INVALID, ""},
		{"write beyond the object size limit", req(func(q *pb.OpRequest) {
			q.Steps = []*pb.OpStep{{Code: pb.OpCode_OP_WRITE, Offset: 1 << 40, Data: []byte("x")}}
		}), pb.Result_TOO_BIG, ""},
	}
	for _, tc := range cases {
		rep, err := cl.Op(ctx, tc.req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if rep.GetResult() != tc.want || !strings.Contains(rep.GetMessage(), tc.msg) {
			t.Errorf("%s: %v %q, want %v mentioning %q", tc.name, rep.GetResult(), rep.GetMessage(), tc.want, tc.msg)
		}
	}
	if got := string(r.op("keep", 0, readStep()).GetSteps()[0].GetData()); got != "v1" {
		t.Errorf("after the bad requests the object holds %q, want v1", got)
	}
	// A client may not make peer calls.
	rep, err := cl.RepOp(ctx, &pb.RepOpRequest{Pool: pl.PG.Pool, Ps: pl.PG.Seed, Epoch: m.Epoch,
		Txn: &pb.Txn{Oid: "keep", Remove: true}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.GetResult() == pb.Result_OK || !strings.Contains(rep.GetMessage(), "peer calls") {
		t.Errorf("RepOp from client.admin: %v %q, want a refusal", rep.GetResult(), rep.GetMessage())
	}
	// Nor may an OSD that is not the PG's primary.
	peer := pb.NewOSDClient(dialAs(t, c, "osd.7", m.OSDs[pl.ActingPrimary].Addr))
	rep, err = peer.RepOp(ctx, &pb.RepOpRequest{Pool: pl.PG.Pool, Ps: pl.PG.Seed, Epoch: m.Epoch,
		Txn: &pb.Txn{Oid: "keep", Remove: true}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.GetResult() != pb.Result_RETRY {
		t.Errorf("RepOp from osd.7 to a primary: %v %q, want RETRY (another interval)", rep.GetResult(), rep.GetMessage())
	}
	// Purge drops only a copy the callee no longer serves: a client, an
	// OSD that is not the primary, and even the primary asking a member
	// that still serves the PG are refused.
	replicaAddr := m.OSDs[pl.Acting[1]].Addr
	primaryCreds := pb.NewOSDClient(dialAs(t, c, fmt.Sprintf("osd.%d", pl.ActingPrimary), replicaAddr))
	for name, pc := range map[string]pb.OSDClient{
		"client.admin": r.conn(replicaAddr),
		"osd.7":        pb.NewOSDClient(dialAs(t, c, "osd.7", replicaAddr)),
		"the primary":  primaryCreds,
	} {
		prep, err := pc.Purge(ctx, &pb.PurgeRequest{Pool: pl.PG.Pool, Ps: pl.PG.Seed, Epoch: m.Epoch})
		if err != nil {
			t.Fatal(err)
		}
		if prep.GetResult() == pb.Result_OK {
			t.Errorf("Purge from %s of a PG osd.%d serves was done", name, pl.Acting[1])
		}
	}
	if objs, _, err := c.OSDByID(pl.Acting[1]).O.Store().Scan(store.PGID{Pool: pl.PG.Pool, PS: pl.PG.Seed}, "", 10); err != nil || len(objs) == 0 {
		t.Errorf("the replica's copy after refused purges: %v objects, %v", len(objs), err)
	}
	// Admin calls: only admins, only known commands, only valid settings.
	if crep, err := pb.NewOSDClient(dialAs(t, c, "osd.7", m.OSDs[pl.ActingPrimary].Addr)).PGCommand(ctx,
		&pb.PGCommandRequest{Pool: pl.PG.Pool, Ps: pl.PG.Seed, Epoch: m.Epoch, Cmd: pb.PGCmd_PG_CMD_REPAIR}); err != nil || crep.GetResult() != pb.Result_INVALID {
		t.Errorf("PGCommand from osd.7: %v %v, want INVALID", err, crep.GetResult())
	}
	if crep, err := cl.PGCommand(ctx, &pb.PGCommandRequest{Pool: pl.PG.Pool, Ps: pl.PG.Seed, Epoch: m.Epoch, Cmd: pb.PGCmd(99)}); err != nil || crep.GetResult() != pb.Result_INVALID {
		t.Errorf("PGCommand 99: %v %v, want INVALID", err, crep.GetResult())
	}
	before, err := cl.Config(ctx, &pb.ConfigRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range []map[string]string{
		{"osd_recovery_max_active": "0"},
		{"osd_recovery_max_active": "4", "osd_scrub_interval": "soon"},
		{"osd_no_such_setting": "1"},
	} {
		crep, err := cl.Config(ctx, &pb.ConfigRequest{Set: set})
		if err != nil || crep.GetResult() != pb.Result_INVALID {
			t.Errorf("Config %v: %v %v, want INVALID", set, err, crep.GetResult())
		}
	}
	after, err := cl.Config(ctx, &pb.ConfigRequest{})
	if err != nil || !maps.Equal(before.GetValues(), after.GetValues()) {
		t.Errorf("refused settings changed the OSD: %v -> %v (%v)", before.GetValues(), after.GetValues(), err)
	}
	if got := string(r.op("keep", 0, readStep()).GetSteps()[0].GetData()); got != "v1" {
		t.Errorf("after refused peer calls the object holds %q, want v1", got)
	}
}

func dialAs(t *testing.T, c *testcluster.Cluster, entity, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := transport.Dial(addr, c.Creds(entity))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

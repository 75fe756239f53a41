package osd_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/internal/testcluster"
	"github.com/loligo/loligo/osd"
	pb "github.com/loligo/loligo/proto/loligopb"
	"github.com/loligo/loligo/rados"
)

// ecPool creates an erasure-code profile k+m (stripe unit su, 0: the
// default 4 KiB) and a pool using it, and waits for it to be clean.
func ecPool(t *testing.T, c *testcluster.Cluster, conn *rados.Conn, name string, k, m, su, minSize int, pgNum uint32) *rados.IOContext {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	params := map[string]string{"k": strconv.Itoa(k), "m": strconv.Itoa(m), "crush-failure-domain": "host"}
	if su > 0 {
		params["stripe_unit"] = strconv.Itoa(su)
	}
	prof := name + "-profile"
	if _, err := conn.Command(ctx, &pb.CommandRequest{Cmd: &pb.CommandRequest_EcProfileSet{EcProfileSet: &pb.ECProfileSet{Name: prof, Params: params}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Command(ctx, &pb.CommandRequest{Cmd: &pb.CommandRequest_PoolCreate{PoolCreate: &pb.PoolCreate{
		Name: name, PgNum: pgNum, Type: pb.PoolType_POOL_TYPE_ERASURE, EcProfile: prof, MinSize: uint32(minSize)}}}); err != nil {
		t.Fatal(err)
	}
	c.WaitClean(2 * time.Minute)
	io, err := conn.OpenPool(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return io
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// readAll reads an object in pieces a reply can hold.
func readAll(t *testing.T, io *rados.IOContext, oid string, size int) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out []byte
	const piece = 16 << 20
	for off := 0; off < size || off == 0; off += piece {
		b, err := io.Read(ctx, oid, uint64(off), piece)
		if err != nil {
			t.Fatalf("read %s at %d: %v", oid, off, err)
		}
		out = append(out, b...)
		if len(b) < piece {
			break
		}
	}
	return out
}

// writeAll writes data as oid's content in pieces an op can carry.
func writeAll(t *testing.T, io *rados.IOContext, oid string, data []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const piece = 16 << 20
	if err := io.WriteFull(ctx, oid, data[:min(len(data), piece)]); err != nil {
		t.Fatalf("write_full %s: %v", oid, err)
	}
	for off := piece; off < len(data); off += piece {
		if err := io.Append(ctx, oid, data[off:min(len(data), off+piece)]); err != nil {
			t.Fatalf("append %s at %d: %v", oid, off, err)
		}
	}
}

// TestECRoundTrip writes and reads objects of the sizes around stripe
// boundaries on erasure-coded pools of several profiles, and 100 MiB on
// one of them (osd/ec's tests cover every profile k=2..8, m=1..3 with
// 100 MiB without the cluster around it).
func TestECRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an 11-OSD cluster")
	}
	c := testcluster.Start(t, testcluster.Options{OSDs: 11})
	conn := connect(t, c)
	r := rand.New(rand.NewPCG(6, 6))
	for _, prof := range []struct{ k, m, su int }{{2, 1, 4096}, {4, 2, 4096}, {8, 3, 4096}, {3, 2, 512}} {
		name := fmt.Sprintf("ec%d%d", prof.k, prof.m)
		t.Run(name, func(t *testing.T) {
			io := ecPool(t, c, conn, name, prof.k, prof.m, prof.su, 0, 8)
			sw := prof.k * prof.su
			sizes := []int{0, 1, sw - 1, sw, sw + 1, 3*sw + 17, 1 << 20}
			if prof.k == 4 {
				sizes = append(sizes, 100<<20)
			}
			for _, n := range sizes {
				oid := fmt.Sprintf("obj-%d", n)
				data := randBytes(r, n)
				writeAll(t, io, oid, data)
				got := readAll(t, io, oid, n)
				if !bytes.Equal(got, data) {
					t.Fatalf("%s: read %d bytes, not the %d written (first difference at %d)", oid, len(got), n, firstDiff(got, data))
				}
				st, err := io.Stat(context.Background(), oid)
				if err != nil || st.Size != uint64(n) {
					t.Fatalf("%s: stat %+v %v, want size %d", oid, st, err, n)
				}
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// ecModel is the in-memory model of objects for the randomized test.
type ecModel struct {
	data   map[string][]byte
	xattrs map[string]map[string]string
}

// TestECPartialOverwriteModel runs random writes, appends, partial
// overwrites, zeroes, truncates, removes and xattr changes against an
// erasure-coded pool and an in-memory model, checking every object after
// each step.
func TestECPartialOverwriteModel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	c := testcluster.Start(t, testcluster.Options{OSDs: 5})
	conn := connect(t, c)
	// A small stripe unit so that ops cross many stripes.
	io := ecPool(t, c, conn, "ecm", 3, 2, 512, 0, 4)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 7))
	model := ecModel{data: map[string][]byte{}, xattrs: map[string]map[string]string{}}
	oids := []string{"a", "b", "c", "d"}
	for step := range 400 {
		oid := oids[r.IntN(len(oids))]
		cur, exists := model.data[oid]
		var what string
		var err error
		switch op := r.IntN(10); {
		case op == 0:
			n := r.IntN(20000)
			d := randBytes(r, n)
			what = fmt.Sprintf("write_full %d", n)
			if err = io.WriteFull(ctx, oid, d); err == nil {
				model.data[oid] = d
			}
		case op <= 3:
			off, n := r.IntN(len(cur)+3000), 1+r.IntN(5000)
			d := randBytes(r, n)
			what = fmt.Sprintf("write %d at %d", n, off)
			if err = io.Write(ctx, oid, d, uint64(off)); err == nil {
				nd := slices.Clone(cur)
				if len(nd) < off+n {
					nd = append(nd, make([]byte, off+n-len(nd))...)
				}
				copy(nd[off:], d)
				model.data[oid] = nd
			}
		case op == 4:
			d := randBytes(r, r.IntN(4000))
			what = fmt.Sprintf("append %d", len(d))
			if err = io.Append(ctx, oid, d); err == nil {
				model.data[oid] = append(slices.Clone(cur), d...)
			}
		case op == 5:
			n := r.IntN(len(cur) + 3000)
			what = fmt.Sprintf("truncate %d", n)
			if err = io.Truncate(ctx, oid, uint64(n)); err == nil {
				nd := slices.Clone(cur)
				if n <= len(nd) {
					nd = nd[:n]
				} else {
					nd = append(nd, make([]byte, n-len(nd))...)
				}
				model.data[oid] = nd
			}
		case op == 6:
			off, n := r.IntN(len(cur)+100), r.IntN(6000)
			what = fmt.Sprintf("zero %d at %d", n, off)
			err = io.Zero(ctx, oid, uint64(off), uint64(n))
			if !exists {
				if !errors.Is(err, rados.ErrNotFound) {
					t.Fatalf("step %d: zero of a missing object: %v, want not found", step, err)
				}
				continue
			}
			if err == nil {
				nd := slices.Clone(cur)
				for i := off; i < min(len(nd), off+n); i++ {
					nd[i] = 0
				}
				model.data[oid] = nd
			}
		case op == 7:
			what = "remove"
			err = io.Remove(ctx, oid)
			if !exists {
				if !errors.Is(err, rados.ErrNotFound) {
					t.Fatalf("step %d: remove of a missing object: %v, want not found", step, err)
				}
				continue
			}
			if err == nil {
				delete(model.data, oid)
				delete(model.xattrs, oid)
			}
		default:
			name := fmt.Sprintf("x%d", r.IntN(3))
			val := fmt.Sprint(r.Uint32())
			what = "setxattr " + name
			if err = io.SetXattr(ctx, oid, name, []byte(val)); err == nil {
				if !exists {
					model.data[oid] = []byte{}
				}
				if model.xattrs[oid] == nil {
					model.xattrs[oid] = map[string]string{}
				}
				model.xattrs[oid][name] = val
			}
		}
		if err != nil {
			t.Fatalf("step %d: %s on %s: %v", step, what, oid, err)
		}
		// Check the object touched (and now and then all of them).
		check := []string{oid}
		if step%50 == 0 {
			check = oids
		}
		for _, o := range check {
			want, ok := model.data[o]
			got, err := io.Read(ctx, o, 0, 0)
			if !ok {
				if !errors.Is(err, rados.ErrNotFound) {
					t.Fatalf("step %d (%s on %s): %s should not exist: %v", step, what, oid, o, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("step %d (%s on %s): read %s: %v", step, what, oid, o, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("step %d (%s on %s): %s reads %d bytes, the model has %d (first difference at %d)", step, what, oid, o, len(got), len(want), firstDiff(got, want))
			}
			xs, err := io.GetXattrs(ctx, o)
			if err != nil {
				t.Fatalf("step %d: xattrs of %s: %v", step, o, err)
			}
			if len(xs) != len(model.xattrs[o]) {
				t.Fatalf("step %d: %s has xattrs %v, the model %v", step, o, xs, model.xattrs[o])
			}
			for k, v := range model.xattrs[o] {
				if string(xs[k]) != v {
					t.Fatalf("step %d: %s xattr %s = %q, the model %q", step, o, k, xs[k], v)
				}
			}
		}
	}
	// Every shard agrees with the others: a deep scrub finds nothing.
	deepScrubAll(t, c, conn, "ecm")
}

// deepScrubAll deep-scrubs every PG of a pool and fails on any
// inconsistency.
func deepScrubAll(t *testing.T, c *testcluster.Cluster, conn *rados.Conn, pool string) {
	t.Helper()
	scrubPool(t, c, conn, pool, pb.PGCmd_PG_CMD_DEEP_SCRUB)
}

// scrubPool runs cmd (deep-scrub or repair) on every PG of a pool and,
// for a deep scrub, fails on any inconsistency it finds.
func scrubPool(t *testing.T, c *testcluster.Cluster, conn *rados.Conn, pool string, cmd pb.PGCmd) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m := c.WaitClean(2 * time.Minute)
	p, err := m.PoolByName(pool)
	if err != nil {
		t.Fatal(err)
	}
	for ps := range p.PGNum {
		pgid := clustermap.PGID{Pool: p.ID, Seed: ps}
		if _, err := conn.PGCommand(ctx, pgid, cmd, true); err != nil {
			t.Fatalf("%v %v: %v", cmd, pgid, err)
		}
		if cmd != pb.PGCmd_PG_CMD_DEEP_SCRUB {
			continue
		}
		rep, err := conn.PGCommand(ctx, pgid, pb.PGCmd_PG_CMD_LIST_INCONSISTENT, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.GetInconsistent()) > 0 {
			t.Fatalf("pg %v: %v", pgid, rep.GetInconsistent())
		}
	}
}

// TestECOmapRefused: omap on an erasure-coded pool fails clearly and
// changes nothing.
func TestECOmapRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	c := testcluster.Start(t, testcluster.Options{OSDs: 3})
	conn := connect(t, c)
	io := ecPool(t, c, conn, "eco", 2, 1, 0, 0, 4)
	ctx := context.Background()
	if err := io.WriteFull(ctx, "o", []byte("data")); err != nil {
		t.Fatal(err)
	}
	err := io.OmapSet(ctx, "o", map[string][]byte{"k": []byte("v")})
	if !errors.Is(err, rados.ErrInvalid) || !bytes.Contains([]byte(err.Error()), []byte("erasure-coded")) {
		t.Fatalf("omap set on an erasure pool: %v, want an invalid-argument error naming erasure-coded pools", err)
	}
	if _, _, err := io.OmapGetKeys(ctx, "o", "", 10); !errors.Is(err, rados.ErrInvalid) {
		t.Fatalf("omap get on an erasure pool: %v", err)
	}
	if got, err := io.Read(ctx, "o", 0, 0); err != nil || string(got) != "data" {
		t.Fatalf("after the refused op: %q %v", got, err)
	}
	if err := io.SetXattr(ctx, "o", "\x00ec.size", []byte("x")); !errors.Is(err, rados.ErrInvalid) {
		t.Fatalf("a reserved xattr name: %v", err)
	}
}

// TestECLostShards: with m of the k+m shards of every PG gone (their
// OSDs stopped, or their bytes damaged), every object still reads back;
// damaged shards are rebuilt in the background and stopped OSDs are
// caught up when they return.
func TestECLostShards(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	const k, m = 2, 2
	c := testcluster.Start(t, testcluster.Options{OSDs: k + m,
		HeartbeatInterval: 200 * time.Millisecond, HeartbeatGrace: 2 * time.Second, BeaconInterval: time.Second})
	conn := connect(t, c)
	// min_size k: the PGs serve with m shards gone.
	io := ecPool(t, c, conn, "ecl", k, m, 0, k, 8)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(8, 8))
	want := map[string][]byte{}
	for i := range 24 {
		oid := fmt.Sprintf("o%d", i)
		want[oid] = randBytes(r, []int{1, 5000, 70000, 300000}[i%4])
		if err := io.WriteFull(ctx, oid, want[oid]); err != nil {
			t.Fatal(err)
		}
	}
	readAllWant := func(when string) {
		t.Helper()
		for oid, w := range want {
			got, err := io.Read(ctx, oid, 0, 0)
			if err != nil || !bytes.Equal(got, w) {
				t.Fatalf("%s: %s reads %d bytes (%v), want %d (first difference at %d)", when, oid, len(got), err, len(w), firstDiff(got, w))
			}
		}
	}
	// Damage: flip a byte in the shards of m OSDs (every PG has all four).
	for _, i := range []int{0, 1} {
		st := c.OSDs[i].O.Store()
		pgs, _ := st.PGs()
		for _, pg := range pgs {
			objs, _, _ := st.Scan(pg, "", 1000)
			for _, ov := range objs {
				_ = st.FlipByte(pg, ov.GetOid(), 100) // inline shards cannot be flipped: fine
			}
		}
	}
	readAllWant("with two damaged shards")
	// Reads rebuilt the damaged shards they met; repair rebuilds the
	// rest (parity shards a read does not need), then a deep scrub finds
	// nothing.
	scrubPool(t, c, conn, "ecl", pb.PGCmd_PG_CMD_REPAIR)
	deepScrubAll(t, c, conn, "ecl")

	// Down: every pair of OSDs in turn is stopped.
	for _, pair := range [][2]int{{0, 1}, {2, 3}, {0, 3}} {
		c.StopOSD(pair[0])
		c.StopOSD(pair[1])
		c.WaitActive(time.Minute)
		readAllWant(fmt.Sprintf("with osd.%d and osd.%d down", c.OSDs[pair[0]].Config.ID, c.OSDs[pair[1]].Config.ID))
		// A write while they are down reaches them when they return.
		oid := fmt.Sprintf("o%d", r.IntN(24))
		want[oid] = randBytes(r, 9000+r.IntN(90000))
		if err := io.WriteFull(ctx, oid, want[oid]); err != nil {
			t.Fatal(err)
		}
		c.StartOSD(pair[0])
		c.StartOSD(pair[1])
		c.WaitClean(time.Minute)
		readAllWant("after they returned")
	}
	deepScrubAll(t, c, conn, "ecl")
}

// TestECPrimaryRollsBackFirstWrite: the first write of an erasure-coded
// PG reaches only its primary (the shard writes to the others fail), so
// peering must undo the primary's only entry, with no common entry to
// roll back to. The PG must become active+clean, and the object either
// holds the write (had it been acknowledged) or does not exist.
func TestECPrimaryRollsBackFirstWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	var block atomic.Bool
	refuseRepOps := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if block.Load() && strings.HasSuffix(method, "/RepOp") {
			return fmt.Errorf("injected: shard write to %s refused", cc.Target())
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	c := testcluster.Start(t, testcluster.Options{OSDs: 4, PeerTimeout: 3 * time.Second,
		OSD: func(i int, cfg *osd.Config) {
			cfg.PeerDialOptions = append(cfg.PeerDialOptions, grpc.WithChainUnaryInterceptor(refuseRepOps))
			cfg.SyncRetry = 100 * time.Millisecond
		}})
	conn := connect(t, c)
	io := ecPool(t, c, conn, "first", 2, 2, 0, 0, 4)
	block.Store(true)
	wctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	err := io.WriteFull(wctx, "o", []byte("never on k shards"))
	cancel()
	if err == nil {
		t.Fatal("the write was acknowledged although no other shard took it")
	}
	// Peering runs while the shard writes are still refused: it does not
	// need them.
	c.WaitClean(time.Minute)
	block.Store(false)
	c.WaitClean(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if got, err := io.Read(ctx, "o", 0, 0); !errors.Is(err, rados.ErrNotFound) {
		t.Fatalf("the unacknowledged first write reads back as %q, %v; want not found", got, err)
	}
	if err := io.WriteFull(ctx, "o", []byte("second")); err != nil {
		t.Fatal(err)
	}
	if got, err := io.Read(ctx, "o", 0, 0); err != nil || string(got) != "second" {
		t.Fatalf("after a new write: %q %v", got, err)
	}
}

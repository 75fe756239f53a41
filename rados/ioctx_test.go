package rados_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/loligo/loligo/internal/testcluster"
	pb "github.com/loligo/loligo/proto/loligopb"
	"github.com/loligo/loligo/rados"
)

// Integration tests: a monitor and three OSDs over loopback gRPC with
// TLS, real stores.

func startCluster(t *testing.T) *testcluster.Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	return testcluster.Start(t, testcluster.Options{OSDs: 3, Pool: "data", PGNum: 16})
}

func connect(t *testing.T, cl *testcluster.Cluster, opts rados.Options) *rados.Conn {
	t.Helper()
	opts.ConfPath = cl.ConfPath
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := rados.Connect(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func openPool(t *testing.T, c *rados.Conn, name string) *rados.IOContext {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	io, err := c.OpenPool(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return io
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func wantErr(t *testing.T, what string, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s: err = %v, want %v", what, err, kind)
	}
}

func TestCluster(t *testing.T) {
	cl := startCluster(t)
	c := connect(t, cl, rados.Options{})
	io := openPool(t, c, "data")
	if io.PoolName() != "data" || io.PoolID() <= 0 {
		t.Fatalf("pool %q id %d", io.PoolName(), io.PoolID())
	}
	if m := c.CurrentMap(); m == nil || m.Epoch == 0 {
		t.Fatal("no current map after OpenPool")
	}
	t.Run("OpenPoolMissing", func(t *testing.T) {
		_, err := c.OpenPool(testCtx(t), "nosuchpool")
		wantErr(t, "OpenPool", err, rados.ErrNotFound)
		if !strings.Contains(err.Error(), "nosuchpool") || !strings.Contains(err.Error(), "radosctl pool ls") {
			t.Errorf("message %q", err)
		}
	})
	t.Run("SingleOps", func(t *testing.T) { testSingleOps(t, io) })
	t.Run("Xattrs", func(t *testing.T) { testXattrs(t, io) })
	t.Run("Omap", func(t *testing.T) { testOmap(t, io) })
	t.Run("CompoundWrite", func(t *testing.T) { testCompoundWrite(t, io) })
	t.Run("CompoundRead", func(t *testing.T) { testCompoundRead(t, io) })
	t.Run("ListAndStats", func(t *testing.T) { testListAndStats(t, c, io) })
	t.Run("Striper", func(t *testing.T) { testStriper(t, io) })
	t.Run("Resend", func(t *testing.T) { testResend(t, cl) })
}

func testSingleOps(t *testing.T, io *rados.IOContext) {
	ctx := testCtx(t)
	const oid = "single"
	if err := io.Create(ctx, oid, true); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "exclusive create of an existing object", io.Create(ctx, oid, true), rados.ErrExists)
	if err := io.Create(ctx, oid, false); err != nil {
		t.Fatalf("non-exclusive create of an existing object: %v", err)
	}
	st0, err := io.Stat(ctx, oid)
	if err != nil || st0.Size != 0 || st0.Version == 0 {
		t.Fatalf("stat of a new object: %+v, %v", st0, err)
	}
	if time.Since(st0.ModTime) > time.Minute || time.Until(st0.ModTime) > time.Minute {
		t.Errorf("modtime %v", st0.ModTime)
	}
	check := func(what, want string) {
		t.Helper()
		got, err := io.Read(ctx, oid, 0, 0)
		if err != nil || string(got) != want {
			t.Fatalf("after %s: read %q, %v; want %q", what, got, err, want)
		}
	}
	if err := io.Write(ctx, oid, []byte("world"), 6); err != nil {
		t.Fatal(err)
	}
	check("write at 6", "\x00\x00\x00\x00\x00\x00world")
	if err := io.Write(ctx, oid, []byte("hello "), 0); err != nil {
		t.Fatal(err)
	}
	check("write at 0", "hello world")
	if got, err := io.Read(ctx, oid, 6, 3); err != nil || string(got) != "wor" {
		t.Fatalf("read 6+3: %q, %v", got, err)
	}
	if got, err := io.Read(ctx, oid, 9, 100); err != nil || string(got) != "ld" {
		t.Fatalf("read past the end: %q, %v", got, err)
	}
	if err := io.Append(ctx, oid, []byte("!")); err != nil {
		t.Fatal(err)
	}
	check("append", "hello world!")
	if err := io.Zero(ctx, oid, 1, 3); err != nil {
		t.Fatal(err)
	}
	check("zero", "h\x00\x00\x00o world!")
	if err := io.Truncate(ctx, oid, 5); err != nil {
		t.Fatal(err)
	}
	check("truncate", "h\x00\x00\x00o")
	if err := io.WriteFull(ctx, oid, []byte("new")); err != nil {
		t.Fatal(err)
	}
	check("writefull", "new")
	st, err := io.Stat(ctx, oid)
	if err != nil || st.Size != 3 || st.Version <= st0.Version {
		t.Fatalf("stat: %+v (first %+v), %v", st, st0, err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	if err := io.WriteFull(ctx, "bigone", big); err != nil {
		t.Fatal(err)
	}
	if got, err := io.Read(ctx, "bigone", 0, 0); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("1 MiB round trip: %d bytes, %v", len(got), err)
	}
	if err := io.Remove(ctx, oid); err != nil {
		t.Fatal(err)
	}
	_, err = io.Read(ctx, oid, 0, 0)
	wantErr(t, "read after remove", err, rados.ErrNotFound)
	_, err = io.Stat(ctx, oid)
	wantErr(t, "stat after remove", err, rados.ErrNotFound)
	wantErr(t, "remove of a missing object", io.Remove(ctx, oid), rados.ErrNotFound)
}

func testXattrs(t *testing.T, io *rados.IOContext) {
	ctx := testCtx(t)
	const oid = "xattrs"
	if err := io.SetXattr(ctx, oid, "user.a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := io.SetXattr(ctx, oid, "user.b", []byte("two")); err != nil {
		t.Fatal(err)
	}
	if err := io.SetXattr(ctx, oid, "user.empty", nil); err != nil {
		t.Fatal(err)
	}
	if v, err := io.GetXattr(ctx, oid, "user.b"); err != nil || string(v) != "two" {
		t.Fatalf("getxattr: %q, %v", v, err)
	}
	all, err := io.GetXattrs(ctx, oid)
	if err != nil || len(all) != 3 || string(all["user.a"]) != "1" || len(all["user.empty"]) != 0 {
		t.Fatalf("getxattrs: %q, %v", all, err)
	}
	if err := io.RmXattr(ctx, oid, "user.a"); err != nil {
		t.Fatal(err)
	}
	_, err = io.GetXattr(ctx, oid, "user.a")
	wantErr(t, "getxattr of a removed xattr", err, rados.ErrNoData)
	_, err = io.GetXattr(ctx, "no-such-object", "user.a")
	wantErr(t, "getxattr of a missing object", err, rados.ErrNotFound)
}

func testOmap(t *testing.T, io *rados.IOContext) {
	ctx := testCtx(t)
	const oid = "omap"
	kv := map[string][]byte{}
	for i := range 250 {
		p := "a"
		if i%2 == 1 {
			p = "b"
		}
		kv[fmt.Sprintf("%s%04d", p, i)] = []byte(fmt.Sprint(i))
	}
	if err := io.OmapSet(ctx, oid, kv); err != nil {
		t.Fatal(err)
	}
	// Keys, paged.
	var keys []string
	after := ""
	for pages := 0; ; pages++ {
		page, more, err := io.OmapGetKeys(ctx, oid, after, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 100 || pages > 10 {
			t.Fatalf("page of %d keys (page %d)", len(page), pages)
		}
		keys = append(keys, page...)
		if !more {
			break
		}
		after = page[len(page)-1]
	}
	if want := slices.Sorted(maps.Keys(kv)); !slices.Equal(keys, want) {
		t.Fatalf("paged keys: %d, want %d in order", len(keys), len(want))
	}
	// Values with a prefix, paged.
	got := map[string][]byte{}
	after = ""
	for {
		page, more, err := io.OmapGetVals(ctx, oid, after, "b", 40)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 40 {
			t.Fatalf("page of %d", len(page))
		}
		for k, v := range page {
			if !strings.HasPrefix(k, "b") {
				t.Fatalf("key %q without the prefix", k)
			}
			got[k] = v
		}
		if !more {
			break
		}
		after = slices.Max(slices.Collect(maps.Keys(page)))
	}
	if len(got) != 125 || string(got["b0001"]) != "1" {
		t.Fatalf("prefix b: %d entries", len(got))
	}
	byKeys, err := io.OmapGetValsByKeys(ctx, oid, []string{"a0000", "b0249", "zzz"})
	if err != nil || len(byKeys) != 2 || string(byKeys["b0249"]) != "249" {
		t.Fatalf("by keys: %q, %v", byKeys, err)
	}
	if err := io.OmapRmKeys(ctx, oid, []string{"a0000", "b0001"}); err != nil {
		t.Fatal(err)
	}
	if v, err := io.OmapGetValsByKeys(ctx, oid, []string{"a0000", "b0001", "a0002"}); err != nil || len(v) != 1 {
		t.Fatalf("after rm: %q, %v", v, err)
	}
	if err := io.OmapClear(ctx, oid); err != nil {
		t.Fatal(err)
	}
	if k, more, err := io.OmapGetKeys(ctx, oid, "", 0); err != nil || len(k) != 0 || more {
		t.Fatalf("after clear: %v %v %v", k, more, err)
	}
}

// state is everything of an object, to check that a failed operation
// left it alone.
func state(t *testing.T, io *rados.IOContext, oid string) string {
	t.Helper()
	ctx := testCtx(t)
	op := rados.NewReadOp()
	st := op.Stat()
	rd := op.Read(0, 0)
	xs := op.GetXattrs()
	om := op.OmapGetVals("", "", 0)
	if err := io.OperateRead(ctx, oid, op); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("v%d size %d data %q xattrs %q omap %q", st.Version, st.Size, rd.Data, xs.Attrs, om.Vals)
}

func testCompoundWrite(t *testing.T, io *rados.IOContext) {
	ctx := testCtx(t)
	const oid = "compound"
	v, err := io.Operate(ctx, oid, rados.NewWriteOp().
		Create(true).
		WriteFull([]byte("base")).
		SetXattr("owner", []byte("alice")).
		OmapSet(map[string][]byte{"k": []byte("1")}))
	if err != nil {
		t.Fatal(err)
	}
	st, err := io.Stat(ctx, oid)
	if err != nil || st.Version != v || st.Size != 4 {
		t.Fatalf("Operate returned version %d; stat %+v, %v", v, st, err)
	}
	before := state(t, io, oid)

	// A failing guard between writes: nothing is applied.
	_, err = io.Operate(ctx, oid, rados.NewWriteOp().
		Append([]byte("-more")).
		CmpXattr("owner", rados.CmpEQ, []byte("bob")).
		SetXattr("owner", []byte("bob")).
		OmapSet(map[string][]byte{"k": []byte("2")}))
	wantErr(t, "failing cmpxattr", err, rados.ErrCanceled)
	var e *rados.Error
	if !errors.As(err, &e) || e.Step != 1 || !strings.Contains(err.Error(), "1") {
		t.Fatalf("failed step: %#v", err)
	}
	if after := state(t, io, oid); after != before {
		t.Fatalf("a failed operation changed the object:\n%s\n%s", before, after)
	}
	_, err = io.Operate(ctx, oid, rados.NewWriteOp().AssertVersion(v+1).Append([]byte("x")))
	wantErr(t, "assert_version", err, rados.ErrVersion)
	_, err = io.Operate(ctx, oid, rados.NewWriteOp().Append([]byte("x")).OmapCmp(map[string][]byte{"k": []byte("0")}, rados.CmpLT))
	wantErr(t, "omap_cmp", err, rados.ErrCanceled)
	_, err = io.Operate(ctx, oid, rados.NewWriteOp().Append([]byte("x")).Create(true))
	wantErr(t, "exclusive create after a write", err, rados.ErrExists)
	if after := state(t, io, oid); after != before {
		t.Fatalf("failed operations changed the object:\n%s\n%s", before, after)
	}
	_, err = io.Operate(ctx, "compound-missing", rados.NewWriteOp().AssertExists().WriteFull([]byte("x")))
	wantErr(t, "assert_exists", err, rados.ErrNotFound)
	_, err = io.Stat(ctx, "compound-missing")
	wantErr(t, "object after a failed assert_exists", err, rados.ErrNotFound)

	// Passing guards.
	v2, err := io.Operate(ctx, oid, rados.NewWriteOp().
		AssertExists().
		AssertVersion(v).
		CmpXattr("owner", rados.CmpEQ, []byte("alice")).
		CmpXattr("missing", rados.CmpEQ, nil).
		OmapCmp(map[string][]byte{"k": []byte("1")}, rados.CmpEQ).
		OmapCmp(map[string][]byte{"k": []byte("0")}, rados.CmpGT).
		Append([]byte("+")).
		Truncate(3).
		Zero(0, 1).
		RmXattr("owner").
		OmapRmKeys([]string{"k"}).
		OmapSet(map[string][]byte{"j": []byte("x")}))
	if err != nil {
		t.Fatal(err)
	}
	if v2 <= v {
		t.Fatalf("version %d after %d", v2, v)
	}
	if got := state(t, io, oid); got != fmt.Sprintf(`v%d size 3 data "\x00as" xattrs map[] omap map["j":"x"]`, v2) {
		t.Fatalf("after passing guards: %s", got)
	}
	v3, err := io.Operate(ctx, oid, rados.NewWriteOp().OmapClear().Remove())
	if err != nil || v3 != 0 {
		t.Fatalf("remove: version %d, %v", v3, err)
	}
}

func testCompoundRead(t *testing.T, io *rados.IOContext) {
	ctx := testCtx(t)
	const oid = "compound-read"
	v, err := io.Operate(ctx, oid, rados.NewWriteOp().
		WriteFull([]byte("0123456789")).
		SetXattr("a", []byte("1")).
		OmapSet(map[string][]byte{"x1": []byte("1"), "x2": []byte("2"), "y": []byte("3")}))
	if err != nil {
		t.Fatal(err)
	}
	op := rados.NewReadOp()
	op.AssertExists().AssertVersion(v).CmpXattr("a", rados.CmpEQ, []byte("1")).OmapCmp(map[string][]byte{"y": []byte("3")}, rados.CmpEQ)
	rd := op.Read(2, 3)
	st := op.Stat()
	xa := op.GetXattr("a")
	xs := op.GetXattrs()
	ks := op.OmapGetKeys("", 2)
	vs := op.OmapGetVals("", "x", 10)
	vk := op.OmapGetValsByKeys([]string{"y", "nope"})
	if err := io.OperateRead(ctx, oid, op); err != nil {
		t.Fatal(err)
	}
	if string(rd.Data) != "234" || st.Size != 10 || st.Version != v || string(xa.Value) != "1" || len(xs.Attrs) != 1 ||
		!slices.Equal(ks.Keys, []string{"x1", "x2"}) || !ks.More || len(vs.Vals) != 2 || vs.More ||
		len(vk.Vals) != 1 || string(vk.Vals["y"]) != "3" {
		t.Fatalf("results: %q %+v %q %q %v/%v %q/%v %q", rd.Data, st.ObjectStat, xa.Value, xs.Attrs, ks.Keys, ks.More, vs.Vals, vs.More, vk.Vals)
	}
	op = rados.NewReadOp()
	rd = op.Read(0, 0)
	op.CmpXattr("a", rados.CmpGT, []byte("1"))
	err = io.OperateRead(ctx, oid, op)
	wantErr(t, "failing read guard", err, rados.ErrCanceled)
	if rd.Data != nil {
		t.Errorf("a failed read filled its handles: %q", rd.Data)
	}
	op = rados.NewReadOp()
	op.GetXattr("nope")
	err = io.OperateRead(ctx, oid, op)
	wantErr(t, "getxattr of a missing xattr", err, rados.ErrNoData)
	var e *rados.Error
	if !errors.As(err, &e) || e.Step != 0 {
		t.Fatalf("step of %#v", err)
	}
}

func testListAndStats(t *testing.T, c *rados.Conn, io *rados.IOContext) {
	ctx := testCtx(t)
	// A pool of its own, so other tests' objects do not count.
	if _, err := c.Command(ctx, &pb.CommandRequest{Yes: true, Cmd: &pb.CommandRequest_PoolCreate{PoolCreate: &pb.PoolCreate{
		Name: "listing", PgNum: 16, Type: pb.PoolType_POOL_TYPE_REPLICATED, Size: 3}}}); err != nil {
		t.Fatal(err)
	}
	lio := openPool(t, c, "listing")
	const n = 300
	want := map[string]bool{}
	var bytesWritten uint64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range n {
		oid := fmt.Sprintf("obj-%04d", i)
		want[oid] = true
		data := bytes.Repeat([]byte{byte(i)}, i%37)
		bytesWritten += uint64(len(data))
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs <- lio.WriteFull(ctx, oid, data)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	m := c.CurrentMap()
	var got []string
	pgs := map[uint32]bool{}
	last := uint32(0)
	err := lio.ListObjects(ctx, func(oid string) error {
		pg, err := m.ObjectPG(lio.PoolID(), oid, "")
		if err != nil {
			return err
		}
		if pg.Seed < last {
			return fmt.Errorf("%s in pg %s after pg seed %x", oid, pg, last)
		}
		last = pg.Seed
		pgs[pg.Seed] = true
		got = append(got, oid)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
		t.Fatalf("listed %d objects (want %d), or some twice", len(got), n)
	}
	if len(pgs) < 8 {
		t.Errorf("objects in only %d PGs", len(pgs))
	}
	stop := errors.New("stop")
	if err := lio.ListObjects(ctx, func(string) error { return stop }); err != stop {
		t.Fatalf("fn's error: %v", err)
	}

	ps, err := lio.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ps.Objects != n || ps.Bytes != bytesWritten {
		t.Fatalf("pool stats %+v, want %d objects, %d bytes", ps, n, bytesWritten)
	}
	cs, err := c.ClusterStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cs.Pools["listing"] != ps {
		t.Fatalf("cluster stats of the pool %+v, pool stats %+v", cs.Pools["listing"], ps)
	}
	if _, ok := cs.Pools[io.PoolName()]; !ok {
		t.Fatalf("no stats of pool %s: %v", io.PoolName(), cs.Pools)
	}
	if len(cs.OSDs) != 3 {
		t.Fatalf("osd stats %+v", cs.OSDs)
	}
	for i, o := range cs.OSDs {
		if o.ID != int32(i) || !o.Up || o.Avail == 0 {
			t.Errorf("osd stat %+v", o)
		}
	}
}

func testStriper(t *testing.T, io *rados.IOContext) {
	ctx := testCtx(t)
	const os = 64 << 10
	s := &rados.Striper{IO: io, ObjectSize: os, Concurrency: 4}
	for _, size := range []int{0, 1, os - 1, os, os + 1, 3*os + 5} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			name := fmt.Sprintf("striped-%d", size)
			data := make([]byte, size)
			for i := range data {
				data[i] = byte(i*31 + i/os)
			}
			n, err := s.Put(ctx, name, bytes.NewReader(data))
			if err != nil || n != uint64(size) {
				t.Fatalf("put: %d, %v", n, err)
			}
			if st, err := s.Stat(ctx, name); err != nil || st.Size != uint64(size) || !st.Striped || st.Version == 0 {
				t.Fatalf("stat: %+v, %v", st, err)
			}
			var buf bytes.Buffer
			st, err := s.Get(ctx, name, &buf)
			if err != nil || st.Size != uint64(size) || !bytes.Equal(buf.Bytes(), data) {
				t.Fatalf("get: %+v, %v (same data: %v)", st, err, bytes.Equal(buf.Bytes(), data))
			}
			pieces, insts := listPieces(t, io, name)
			if len(pieces) != max(1, (size+os-1)/os) || len(insts) != 1 {
				t.Fatalf("pieces %q", pieces)
			}
			for p, oid := range pieces {
				st, err := io.Stat(ctx, oid)
				if err != nil || st.Size != uint64(min(os, size-p*os)) {
					t.Fatalf("piece %s: %+v, %v", oid, st, err)
				}
			}
			if st, err := io.Stat(ctx, name); err != nil || st.Size != 0 {
				t.Fatalf("head: %+v, %v", st, err)
			}
			if err := s.Remove(ctx, name); err != nil {
				t.Fatal(err)
			}
			if pieces, _ := listPieces(t, io, name); len(pieces) != 0 {
				t.Fatalf("pieces after remove: %q", pieces)
			}
			_, err = io.Stat(ctx, name)
			wantErr(t, "head after remove", err, rados.ErrNotFound)
			_, err = s.Get(ctx, name, &buf)
			wantErr(t, "get after remove", err, rados.ErrNotFound)
		})
	}
	t.Run("Shrink", func(t *testing.T) {
		if _, err := s.Put(ctx, "shrink", bytes.NewReader(make([]byte, 3*os+5))); err != nil {
			t.Fatal(err)
		}
		_, before := listPieces(t, io, "shrink")
		small := []byte("small")
		if _, err := s.Put(ctx, "shrink", bytes.NewReader(small)); err != nil {
			t.Fatal(err)
		}
		if pieces, insts := listPieces(t, io, "shrink"); len(pieces) != 1 || len(insts) != 1 || insts[0] == before[0] {
			t.Fatalf("pieces after a smaller put: %q (instance before %s)", pieces, before)
		}
		var buf bytes.Buffer
		if st, err := s.Get(ctx, "shrink", &buf); err != nil || st.Size != 5 || buf.String() != "small" {
			t.Fatalf("get: %+v %q %v", st, buf.String(), err)
		}
		if err := s.Remove(ctx, "shrink"); err != nil {
			t.Fatal(err)
		}
	})
}

// listPieces lists the pieces of the striped object name in the pool, in
// order, and their instances.
func listPieces(t *testing.T, io *rados.IOContext, name string) (pieces, insts []string) {
	t.Helper()
	err := io.ListObjects(testCtx(t), func(oid string) error {
		if h, inst, _, ok := rados.ParsePieceName(oid); ok && h == name {
			pieces = append(pieces, oid)
			if !slices.Contains(insts, inst) {
				insts = append(insts, inst)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(pieces)
	return pieces, insts
}

// testResend drops the reply of the first Append: the client resends it
// with the same ReqID and the OSD applies it once.
func testResend(t *testing.T, cl *testcluster.Cluster) {
	var mu sync.Mutex
	var sent []*pb.ReqID
	dropped := false
	intercept := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		r, ok := req.(*pb.OpRequest)
		if method != "/loligo.v1.OSD/Op" || !ok || len(r.GetSteps()) == 0 || r.GetSteps()[0].GetCode() != pb.OpCode_OP_APPEND {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		mu.Lock()
		sent = append(sent, proto.Clone(r.GetReqid()).(*pb.ReqID))
		drop := !dropped
		mu.Unlock()
		err := invoker(ctx, method, req, reply, cc, opts...)
		if err != nil || !drop || reply.(*pb.OpReply).GetResult() != pb.Result_OK {
			return err
		}
		mu.Lock()
		dropped = true
		mu.Unlock()
		return status.Error(codes.Unavailable, "test: reply dropped")
	}
	opts := rados.Options{}
	rados.SetDialOptions(&opts, grpc.WithChainUnaryInterceptor(intercept))
	c := connect(t, cl, opts)
	io := openPool(t, c, "data")
	ctx := testCtx(t)
	if err := io.WriteFull(ctx, "resend", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := io.Append(ctx, "resend", []byte("b")); err != nil {
		t.Fatal(err)
	}
	if err := io.Append(ctx, "resend", []byte("c")); err != nil {
		t.Fatal(err)
	}
	got, err := io.Read(ctx, "resend", 0, 0)
	if err != nil || string(got) != "abc" {
		t.Fatalf("read %q, %v: the twice-sent append must apply once", got, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !dropped || len(sent) != 3 || !proto.Equal(sent[0], sent[1]) || proto.Equal(sent[1], sent[2]) {
		t.Fatalf("appends sent with reqids %v (dropped %v)", sent, dropped)
	}
}

// TestOSDRestart: an object's primary goes away and comes back; a write
// sent meanwhile completes, and what was written before is still there.
func TestOSDRestart(t *testing.T) {
	cl := startCluster(t)
	c := connect(t, cl, rados.Options{OpTimeout: 2 * time.Second})
	io := openPool(t, c, "data")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const oid = "restart"
	if err := io.WriteFull(ctx, oid, []byte("before")); err != nil {
		t.Fatal(err)
	}
	pl, err := c.CurrentMap().PlaceObject(io.PoolID(), oid, "")
	if err != nil {
		t.Fatal(err)
	}
	primary := cl.OSDByID(pl.ActingPrimary).Index
	cl.StopOSD(primary)
	errc := make(chan error, 1)
	go func() { errc <- io.Append(ctx, oid, []byte("+during")) }()
	cl.StartOSD(primary)
	if err := <-errc; err != nil {
		t.Fatalf("append while the primary restarted: %v", err)
	}
	got, err := io.Read(ctx, oid, 0, 0)
	if err != nil || string(got) != "before+during" {
		t.Fatalf("read %q, %v", got, err)
	}
}

package store

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// testPG is the PG most tests use.
var testPG = PGID{Pool: 3, PS: 0x1f}

// testKey is the checksum key of test stores.
var testKey = [32]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}

// smallOpts are options with small chunks, so tests cross chunk
// boundaries with little data.
func smallOpts(dir string) Options {
	return Options{
		Dir:          dir,
		ChecksumKey:  testKey,
		ChunkSize:    64,
		InlineMax:    100,
		IngestMin:    512,
		CacheSize:    1 << 20,
		MemTableSize: 1 << 20,
		LogEntries:   50,
	}
}

// tstore is a store under test with a writer that assigns eversions.
type tstore struct {
	*Store
	t     testing.TB
	opts  Options
	mu    sync.Mutex // guards epoch and ver when ops run concurrently
	epoch uint64
	ver   uint64
}

func openStore(t testing.TB, o Options) *tstore {
	t.Helper()
	s, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ts := &tstore{Store: s, t: t, opts: o, epoch: 1}
	t.Cleanup(func() {
		if !ts.closed {
			_ = ts.Close()
		}
	})
	return ts
}

func newStore(t testing.TB) *tstore { return openStore(t, smallOpts(t.TempDir())) }

// inMem moves a store's options to an in-memory file system (fast: no
// fsync), for tests whose subject is not the disk.
func inMem(o Options) Options {
	o.Dir, o.FS = "/db", vfs.NewMem()
	return o
}

// reopen closes the store and opens it again with the same options,
// keeping the eversion counter.
func (ts *tstore) reopen() {
	ts.t.Helper()
	if err := ts.Close(); err != nil {
		ts.t.Fatalf("Close: %v", err)
	}
	s, err := Open(ts.opts)
	if err != nil {
		ts.t.Fatalf("reopen: %v", err)
	}
	ts.Store = s
	ts.t.Cleanup(func() {
		if !s.closed {
			_ = s.Close()
		}
	})
}

// next returns the next eversion.
func (ts *tstore) next() *pb.Eversion {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.ver++
	return &pb.Eversion{Epoch: ts.epoch, Version: ts.ver}
}

// op runs an operation (Prepare, then Apply with a log entry).
func (ts *tstore) op(pg PGID, oid string, steps ...*pb.OpStep) ([]*pb.StepResult, error) {
	v := ts.next()
	txn, res, err := ts.Prepare(pg, oid, steps, v, time.Unix(0, int64(v.Version)*1000))
	if err != nil {
		return nil, err
	}
	if txn != nil {
		e := &pb.LogEntry{Version: v, Oid: oid, ObjectVersion: v.Version, Reqid: &pb.ReqID{Client: "c", Tid: v.Version}}
		if txn.Meta == nil {
			e.ObjectVersion = 0
		}
		if err := ts.Apply(pg, txn, e); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// mustOp runs an operation that must succeed.
func (ts *tstore) mustOp(pg PGID, oid string, steps ...*pb.OpStep) []*pb.StepResult {
	ts.t.Helper()
	res, err := ts.op(pg, oid, steps...)
	if err != nil {
		ts.t.Fatalf("op on %q: %v", oid, err)
	}
	return res
}

// read returns the whole object's data.
func (ts *tstore) read(pg PGID, oid string) ([]byte, error) {
	res, err := ts.op(pg, oid, readStep(0, 0))
	if err != nil {
		return nil, err
	}
	return res[0].Data, nil
}

// checkClean runs Check and fails the test on any problem.
func (ts *tstore) checkClean() *Report {
	ts.t.Helper()
	r, err := ts.Check()
	if err != nil {
		ts.t.Fatalf("Check: %v", err)
	}
	for _, p := range r.Problems {
		ts.t.Errorf("Check: %s", p)
	}
	return r
}

func createStep(excl bool) *pb.OpStep {
	return &pb.OpStep{Code: pb.OpCode_OP_CREATE, Exclusive: excl}
}
func writeStep(off uint64, d []byte) *pb.OpStep {
	return &pb.OpStep{Code: pb.OpCode_OP_WRITE, Offset: off, Data: d}
}
func writeFullStep(d []byte) *pb.OpStep { return &pb.OpStep{Code: pb.OpCode_OP_WRITE_FULL, Data: d} }
func appendStep(d []byte) *pb.OpStep    { return &pb.OpStep{Code: pb.OpCode_OP_APPEND, Data: d} }
func truncateStep(n uint64) *pb.OpStep  { return &pb.OpStep{Code: pb.OpCode_OP_TRUNCATE, Offset: n} }
func zeroStep(off, n uint64) *pb.OpStep {
	return &pb.OpStep{Code: pb.OpCode_OP_ZERO, Offset: off, Length: n}
}
func removeStep() *pb.OpStep { return &pb.OpStep{Code: pb.OpCode_OP_REMOVE} }
func readStep(off, n uint64) *pb.OpStep {
	return &pb.OpStep{Code: pb.OpCode_OP_READ, Offset: off, Length: n}
}
func statStep() *pb.OpStep { return &pb.OpStep{Code: pb.OpCode_OP_STAT} }
func setxattrStep(name string, v []byte) *pb.OpStep {
	return &pb.OpStep{Code: pb.OpCode_OP_SETXATTR, Name: name, Value: v}
}
func rmxattrStep(name string) *pb.OpStep  { return &pb.OpStep{Code: pb.OpCode_OP_RMXATTR, Name: name} }
func getxattrStep(name string) *pb.OpStep { return &pb.OpStep{Code: pb.OpCode_OP_GETXATTR, Name: name} }
func getxattrsStep() *pb.OpStep           { return &pb.OpStep{Code: pb.OpCode_OP_GETXATTRS} }
func cmpxattrStep(name string, c pb.CmpOp, v []byte) *pb.OpStep {
	return &pb.OpStep{Code: pb.OpCode_OP_CMPXATTR, Name: name, Cmp: c, Value: v}
}
func omapSetStep(kv map[string][]byte) *pb.OpStep {
	return &pb.OpStep{Code: pb.OpCode_OP_OMAP_SET, Kv: kv}
}
func omapRmStep(keys ...string) *pb.OpStep {
	return &pb.OpStep{Code: pb.OpCode_OP_OMAP_RM_KEYS, Keys: keys}
}
func omapClearStep() *pb.OpStep { return &pb.OpStep{Code: pb.OpCode_OP_OMAP_CLEAR} }
func omapKeysStep(after string, max uint32) *pb.OpStep {
	return &pb.OpStep{Code: pb.OpCode_OP_OMAP_GET_KEYS, StartAfter: after, Max: max}
}
func omapValsStep(after, prefix string, max uint32) *pb.OpStep {
	return &pb.OpStep{Code: pb.OpCode_OP_OMAP_GET_VALS, StartAfter: after, Prefix: prefix, Max: max}
}
func omapByKeysStep(keys ...string) *pb.OpStep {
	return &pb.OpStep{Code: pb.OpCode_OP_OMAP_GET_VALS_BY_KEYS, Keys: keys}
}
func omapCmpStep(c pb.CmpOp, kv map[string][]byte) *pb.OpStep {
	return &pb.OpStep{Code: pb.OpCode_OP_OMAP_CMP, Cmp: c, Kv: kv}
}
func assertVersionStep(v uint64) *pb.OpStep {
	return &pb.OpStep{Code: pb.OpCode_OP_ASSERT_VERSION, Version: v}
}
func assertExistsStep() *pb.OpStep { return &pb.OpStep{Code: pb.OpCode_OP_ASSERT_EXISTS} }

// randBytes returns n pseudo-random bytes (never all zero for n > 0).
func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.IntN(255) + 1)
	}
	return b
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
		if b[i] == 0 {
			b[i] = 1
		}
	}
	return b
}

func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
}

func wantBytes(t testing.TB, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes %q..., want %d bytes %q...", len(got), trunc(got), len(want), trunc(want))
	}
}

func trunc(b []byte) string {
	s := string(b)
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.ToValidUTF8(s, "?")
}

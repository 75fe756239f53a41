package rados_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/loligo/loligo/proto/loligopb"
	"github.com/loligo/loligo/rados"
)

// Puts of one name that race, striped ones and plain ones, on a real
// cluster (a monitor, three OSDs on Pebble): while they run, readers see
// one put's whole object at a time, the one before or one of theirs,
// never a patchwork of pieces and never nothing; afterwards the name
// holds one put's whole object and no piece that is not its.

// stripedGet reads the object name whole. retry says that it was
// replaced while being read, after part of it was passed on.
func stripedGet(ctx context.Context, s *rados.Striper, name string) (data []byte, retry bool, err error) {
	var buf bytes.Buffer
	_, err = s.Get(ctx, name, &buf)
	if errors.Is(err, rados.ErrReplaced) {
		return nil, true, nil
	}
	return buf.Bytes(), false, err
}

// stripedPut and plainPut replace the object name.
func stripedPut(ctx context.Context, s *rados.Striper, name string, data []byte) error {
	_, err := s.Put(ctx, name, bytes.NewReader(data))
	return err
}

func plainPut(ctx context.Context, s *rados.Striper, name string, data []byte) error {
	_, err := s.WriteFull(ctx, name, data)
	return err
}

// raceWriter is one put of a round.
type raceWriter struct {
	plain bool
	data  []byte
}

// raceRound runs the puts of one round at once, with readers reading
// the object until they are done, and checks every read against the
// objects that may be there: prev (the last round's) and the round's.
func raceRound(t *testing.T, s *rados.Striper, name string, prev []byte, writers []raceWriter, readers int) (got []byte) {
	t.Helper()
	ctx := testCtx(t)
	allowed := map[[32]byte]string{sha256.Sum256(prev): "the previous round's object"}
	for i, w := range writers {
		allowed[sha256.Sum256(w.data)] = fmt.Sprintf("writer %d's object", i)
	}
	check := func(who string, data []byte) {
		if _, ok := allowed[sha256.Sum256(data)]; !ok {
			t.Errorf("%s read %d bytes that are no put's whole object (a patchwork?)", who, len(data))
		}
	}
	var (
		wg, rg   sync.WaitGroup
		done     atomic.Bool
		reads    atomic.Int64
		restarts atomic.Int64
	)
	start := make(chan struct{})
	for i := range readers {
		rg.Go(func() {
			<-start
			for !done.Load() {
				data, retry, err := stripedGet(ctx, s, name)
				if err != nil {
					t.Errorf("reader %d: %v", i, err)
					return
				}
				if retry {
					restarts.Add(1)
					continue
				}
				reads.Add(1)
				check(fmt.Sprintf("reader %d", i), data)
			}
		})
	}
	for i, w := range writers {
		wg.Go(func() {
			<-start
			put := stripedPut
			if w.plain {
				put = plainPut
			}
			if err := put(ctx, s, name, w.data); err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	done.Store(true)
	rg.Wait()
	got, retry, err := stripedGet(ctx, s, name)
	if err != nil || retry {
		t.Fatalf("read after the puts: %v (replaced: %v)", err, retry)
	}
	if who, ok := allowed[sha256.Sum256(got)]; !ok || who == "the previous round's object" {
		t.Fatalf("after the puts the object is %d bytes of %q, not one of theirs", len(got), who)
	}
	t.Logf("%d whole reads, %d restarted after the object was replaced", reads.Load(), restarts.Load())
	return got
}

// checkPieces checks that the pieces of name in the pool are those of
// its head, and only those: none left by the puts that lost.
func checkPieces(t *testing.T, s *rados.Striper, name string, size int, objectSize int) {
	t.Helper()
	ctx := testCtx(t)
	st, err := s.Stat(ctx, name)
	if err != nil || st.Size != uint64(size) {
		t.Fatalf("stat: %+v, %v", st, err)
	}
	pieces, insts := listPieces(t, s.IO, name)
	want := 0
	if st.Striped {
		want = max(1, (size+objectSize-1)/objectSize)
	}
	if len(pieces) != want || len(insts) > 1 {
		t.Fatalf("%d pieces of %d instance(s) in the pool, want the %d of the head's (striped: %v): %q", len(pieces), len(insts), want, st.Striped, pieces)
	}
	var orphans []string
	if err := s.Orphans(ctx, 0, func(oid string) error { orphans = append(orphans, oid); return nil }); err != nil || len(orphans) != 0 {
		t.Fatalf("orphans %q, %v", orphans, err)
	}
}

func randomData(rng *rand.Rand, lo, hi int) []byte {
	b := make([]byte, lo+rng.IntN(hi-lo))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// TestStriperConcurrentPuts: three striped puts of one name at once,
// over several rounds (seeds), with two readers.
func TestStriperConcurrentPuts(t *testing.T) {
	cl := startCluster(t)
	io := openPool(t, connect(t, cl, rados.Options{}), "data")
	const os = 64 << 10
	s := &rados.Striper{IO: io, ObjectSize: os, Concurrency: 4}
	const name = "racing"
	prev := []byte("the first object")
	if err := stripedPut(testCtx(t), s, name, prev); err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(6) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 13))
			writers := make([]raceWriter, 3)
			for i := range writers {
				writers[i].data = randomData(rng, 3*os, 6*os)
			}
			prev = raceRound(t, s, name, prev, writers, 2)
			checkPieces(t, s, name, len(prev), os)
		})
	}
}

// TestStriperMixedPuts: plain and striped puts of one name at once.
func TestStriperMixedPuts(t *testing.T) {
	cl := startCluster(t)
	io := openPool(t, connect(t, cl, rados.Options{}), "data")
	const os = 64 << 10
	s := &rados.Striper{IO: io, ObjectSize: os, Concurrency: 4}
	const name = "mixed"
	prev := []byte("the first object")
	if err := plainPut(testCtx(t), s, name, prev); err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(4) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			writers := []raceWriter{
				{plain: true, data: randomData(rng, 1, 2*os)},
				{data: randomData(rng, 3*os, 6*os)},
				{plain: true, data: randomData(rng, 1, 2*os)},
				{data: randomData(rng, 1, 2*os)},
			}
			rng.Shuffle(len(writers), func(i, j int) { writers[i], writers[j] = writers[j], writers[i] })
			prev = raceRound(t, s, name, prev, writers, 2)
			checkPieces(t, s, name, len(prev), os)
		})
	}
	// A remove racing a put: either wins, whole, and nothing is left
	// behind.
	ctx := testCtx(t)
	var wg sync.WaitGroup
	data := bytes.Repeat([]byte("r"), 3*os)
	wg.Go(func() {
		if err := stripedPut(ctx, s, name, data); err != nil {
			t.Errorf("put: %v", err)
		}
	})
	wg.Go(func() {
		if err := s.Remove(ctx, name); err != nil && !errors.Is(err, rados.ErrNotFound) {
			t.Errorf("remove: %v", err)
		}
	})
	wg.Wait()
	got, _, err := stripedGet(ctx, s, name)
	switch {
	case errors.Is(err, rados.ErrNotFound):
		if pieces, _ := listPieces(t, io, name); len(pieces) != 0 {
			t.Fatalf("removed, but pieces are left: %q", pieces)
		}
	case err != nil || !bytes.Equal(got, data):
		t.Fatalf("after a put and a remove: %d bytes, %v", len(got), err)
	default:
		checkPieces(t, s, name, len(data), os)
	}
}

// TestStriperErasure: the same on an erasure-coded pool (k=2, m=1),
// whose OSDs run the guarded switch on the shards.
func TestStriperErasure(t *testing.T) {
	cl := startCluster(t)
	c := connect(t, cl, rados.Options{})
	ctx := testCtx(t)
	prof := &pb.ECProfileSet{Name: "k2m1", Params: map[string]string{"k": "2", "m": "1", "crush-failure-domain": "host"}}
	if _, err := c.Command(ctx, &pb.CommandRequest{Cmd: &pb.CommandRequest_EcProfileSet{EcProfileSet: prof}}); err != nil {
		t.Fatal(err)
	}
	pool := &pb.PoolCreate{Name: "ec", PgNum: 8, Type: pb.PoolType_POOL_TYPE_ERASURE, EcProfile: "k2m1"}
	if _, err := c.Command(ctx, &pb.CommandRequest{Cmd: &pb.CommandRequest_PoolCreate{PoolCreate: pool}}); err != nil {
		t.Fatal(err)
	}
	cl.WaitClean(time.Minute)
	const os = 64 << 10
	s := &rados.Striper{IO: openPool(t, c, "ec"), ObjectSize: os, Concurrency: 4, ReadSize: 32 << 10}
	const name = "ec-mixed"
	prev := []byte("the first object")
	if err := stripedPut(ctx, s, name, prev); err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(2) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 21))
			writers := []raceWriter{
				{data: randomData(rng, 3*os, 5*os)},
				{plain: true, data: randomData(rng, os, 2*os)},
				{data: randomData(rng, 1, 2*os)},
			}
			prev = raceRound(t, s, name, prev, writers, 2)
			checkPieces(t, s, name, len(prev), os)
		})
	}
	if err := s.Remove(ctx, name); err != nil {
		t.Fatal(err)
	}
	if pieces, _ := listPieces(t, s.IO, name); len(pieces) != 0 {
		t.Fatalf("left: %q", pieces)
	}
}

// TestStriperNames: a striped object's name may have MaxStripedNameLen
// bytes; a longer one is refused before anything is written, and a
// plain object takes it. Errors name the object asked for.
func TestStriperNames(t *testing.T) {
	cl := startCluster(t)
	io := openPool(t, connect(t, cl, rados.Options{}), "data")
	ctx := testCtx(t)
	s := &rados.Striper{IO: io, ObjectSize: 4 << 10}
	data := bytes.Repeat([]byte("0123456789"), 1000)
	longest := strings.Repeat("s", rados.MaxStripedNameLen)
	if _, err := s.Put(ctx, longest, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if got, _, err := stripedGet(ctx, s, longest); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("get: %d bytes, %v", len(got), err)
	}
	if err := s.Remove(ctx, longest); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{rados.MaxStripedNameLen + 1, 2040, rados.MaxObjectNameLen} {
		name := strings.Repeat("p", n)
		_, err := s.Put(ctx, name, bytes.NewReader(data))
		wantErr(t, fmt.Sprintf("striped put of a %d-byte name", n), err, rados.ErrBadName)
		if _, err := s.WriteFull(ctx, name, data); err != nil {
			t.Fatalf("plain put of a %d-byte name: %v", n, err)
		}
		if st, err := s.Stat(ctx, name); err != nil || st.Striped || st.Size != uint64(len(data)) {
			t.Fatalf("stat of a %d-byte name: %+v, %v", n, st, err)
		}
		if err := s.Remove(ctx, name); err != nil {
			t.Fatalf("remove of a %d-byte name: %v", n, err)
		}
		_, err = s.Stat(ctx, name)
		wantErr(t, "stat after remove", err, rados.ErrNotFound)
		if !strings.Contains(err.Error(), name+": no such object") {
			t.Errorf("stat of a missing %d-byte name: %v", n, err)
		}
	}
	var left []string
	io.ListObjects(ctx, func(oid string) error { left = append(left, oid); return nil })
	if len(left) != 0 {
		t.Fatalf("left: %d objects", len(left))
	}
}

package store

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// benchApply writes b.N new objects of size bytes (write_full, Prepare
// then Apply with a log entry) from workers goroutines, and reports the
// write amplification: bytes Pebble wrote to disk (WAL, flushes,
// compactions, ingested sstables, after a final flush) per byte
// acknowledged.
func benchApply(b *testing.B, size, ingestMin, workers int) {
	s, err := Open(Options{Dir: b.TempDir(), ChecksumKey: testKey, IngestMin: ingestMin})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := randBytes(rand.New(rand.NewPCG(1, 1)), size)
	var next atomic.Uint64
	var failed atomic.Value
	b.SetBytes(int64(size))
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1)
				if n > uint64(b.N) {
					return
				}
				pg := PGID{Pool: 1, PS: uint32(n % 8)}
				v := &pb.Eversion{Epoch: 1, Version: n}
				oid := fmt.Sprintf("w%d-obj-%d", w, n)
				txn, _, err := s.Prepare(pg, oid, []*pb.OpStep{writeFullStep(data)}, v, time.Unix(0, int64(n)))
				if err == nil {
					err = s.Apply(pg, txn, &pb.LogEntry{Version: v, Oid: oid, ObjectVersion: n})
				}
				if err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	if err := s.db.Flush(); err != nil {
		b.Fatal(err)
	}
	ws := s.WriteStats()
	acked := float64(b.N) * float64(size)
	b.ReportMetric(float64(ws.Total)/acked, "wamp")
	b.ReportMetric(float64(ws.WAL)/acked, "wal/B")
	b.ReportMetric(float64(ws.Flush+ws.Compaction)/acked, "lsm/B")
	b.ReportMetric(float64(ws.Ingest)/acked, "ingest/B")
}

func BenchmarkApply4MiB(b *testing.B) {
	for _, ingest := range []struct {
		name string
		min  int
	}{{"ingest", 0}, {"noingest", -1}} {
		for _, workers := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/workers=%d", ingest.name, workers), func(b *testing.B) {
				benchApply(b, 4<<20, ingest.min, workers)
			})
		}
	}
}

func BenchmarkApply4KiB(b *testing.B) {
	for _, workers := range []int{1, 16} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			benchApply(b, 4<<10, 0, workers)
		})
	}
}

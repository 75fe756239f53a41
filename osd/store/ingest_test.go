package store

import (
	"testing"
	"time"

	"github.com/cockroachdb/pebble"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// chunkKeys lists the generations and indexes of an object's stored
// chunks, read raw.
func chunkKeys(t testing.TB, s *Store, pg PGID, oid string) map[uint64][]uint32 {
	t.Helper()
	p := objKey(pg, famData, oid)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	gens := map[uint64][]uint32{}
	for ok := it.First(); ok; ok = it.Next() {
		k, err := decodeKey(it.Key())
		if err != nil {
			t.Fatal(err)
		}
		gens[k.gen] = append(gens[k.gen], k.idx)
	}
	return gens
}

func pendingMarkers(t testing.TB, s *Store) int {
	t.Helper()
	p := pendingPrefix()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	return n
}

func TestIngest(t *testing.T) {
	for _, tc := range []struct {
		name   string
		min    int
		ingest bool
	}{{"on", 512, true}, {"off", -1, false}} {
		t.Run(tc.name, func(t *testing.T) {
			o := smallOpts(t.TempDir())
			o.IngestMin = tc.min
			s := openStore(t, o)
			d1, d2 := pattern(2000, 1), pattern(3000, 2)
			s.mustOp(testPG, "big", writeFullStep(d1))
			s.mustOp(testPG, "big", writeFullStep(d2), setxattrStep("x", []byte("y")))
			// A partial write of the same generation goes through the batch.
			s.mustOp(testPG, "big", writeStep(1000, []byte("partial")))
			copy(d2[1000:], "partial")
			got, err := s.read(testPG, "big")
			wantErr(t, err, nil)
			wantBytes(t, got, d2)
			gens := chunkKeys(t, s.Store, testPG, "big")
			if len(gens) != 1 || len(gens[2]) != 47 {
				t.Fatalf("stored chunks %v, want generation 2 only with 47 chunks", gens)
			}
			if ws := s.WriteStats(); (ws.Ingest > 0) != tc.ingest {
				t.Fatalf("write stats %+v: ingest expected %v", ws, tc.ingest)
			}
			if n := pendingMarkers(t, s.Store); n != 0 {
				t.Fatalf("%d pending markers left", n)
			}
			s.checkClean()
			s.reopen()
			got, err = s.read(testPG, "big")
			wantErr(t, err, nil)
			wantBytes(t, got, d2)
			s.checkClean()
		})
	}
}

func TestCrashBetweenIngestAndCommit(t *testing.T) {
	s := newStore(t)
	old := pattern(1500, 3)
	s.mustOp(testPG, "o", writeFullStep(old))
	oldGen := s.ver
	s.mustOp(testPG, "fresh", createStep(true))

	crash := true
	s.hooks.crashAfterIngest = func() bool { return crash }
	for _, oid := range []string{"o", "fresh", "new"} {
		_, err := s.op(testPG, oid, writeFullStep(pattern(2000, 4)))
		wantErr(t, err, ErrIO)
		if gens := chunkKeys(t, s.Store, testPG, oid); len(gens[s.ver]) == 0 {
			t.Fatalf("%s: the ingest did not happen (chunks %v)", oid, gens)
		}
	}
	if n := pendingMarkers(t, s.Store); n != 3 {
		t.Fatalf("%d pending markers, want 3", n)
	}
	s.reopen() // recovery runs in Open
	if n := pendingMarkers(t, s.Store); n != 0 {
		t.Fatalf("%d pending markers after reopen", n)
	}
	gens := chunkKeys(t, s.Store, testPG, "o")
	if len(gens) != 1 || len(gens[oldGen]) == 0 {
		t.Fatalf("chunks of o after recovery %v, want generation %d only", gens, oldGen)
	}
	for _, oid := range []string{"fresh", "new"} {
		if gens := chunkKeys(t, s.Store, testPG, oid); len(gens) != 0 {
			t.Fatalf("%s: orphan chunks %v survived", oid, gens)
		}
	}
	got, err := s.read(testPG, "o")
	wantErr(t, err, nil)
	wantBytes(t, got, old)
	_, err = s.read(testPG, "new")
	wantErr(t, err, ErrNotFound)
	s.checkClean()

	// A committed ingest keeps its chunks through a reopen.
	d := pattern(2500, 8)
	s.mustOp(testPG, "o", writeFullStep(d))
	s.reopen()
	got, err = s.read(testPG, "o")
	wantErr(t, err, nil)
	wantBytes(t, got, d)
	s.checkClean()
}

func TestIngestAfterRemove(t *testing.T) {
	// Remove, then recreate (and remove-and-recreate in one op) with a big
	// write: the new generation survives the removal's range deletion.
	s := newStore(t)
	s.mustOp(testPG, "o", writeFullStep(pattern(1200, 1)))
	s.mustOp(testPG, "o", removeStep())
	d := pattern(1300, 2)
	s.mustOp(testPG, "o", writeFullStep(d))
	got, _ := s.read(testPG, "o")
	wantBytes(t, got, d)
	d = pattern(1400, 3)
	s.mustOp(testPG, "o", removeStep(), writeFullStep(d), omapSetStep(kv("k", "v")))
	got, _ = s.read(testPG, "o")
	wantBytes(t, got, d)
	if ws := s.WriteStats(); ws.Ingest == 0 {
		t.Fatalf("no ingest: %+v", ws)
	}
	s.checkClean()
}

func TestApplyIdempotent(t *testing.T) {
	// A retransmitted transaction (and log entry) applies twice harmlessly.
	s := newStore(t)
	for _, d := range [][]byte{pattern(2000, 1), pattern(50, 2), pattern(300, 3)} {
		v := s.next()
		txn, _, err := s.Prepare(testPG, "o", []*pb.OpStep{writeFullStep(d)}, v, time.Now())
		wantErr(t, err, nil)
		e := &pb.LogEntry{Version: v, Oid: "o", ObjectVersion: v.Version}
		wantErr(t, s.Apply(testPG, txn, e), nil)
		wantErr(t, s.Apply(testPG, txn, e), nil)
		got, _ := s.read(testPG, "o")
		wantBytes(t, got, d)
		s.ver++ // the read above took no eversion; keep versions distinct anyway
	}
	log, _ := s.Log(testPG)
	if len(log) != 3 {
		t.Fatalf("log has %d entries, want 3", len(log))
	}
	s.checkClean()
}

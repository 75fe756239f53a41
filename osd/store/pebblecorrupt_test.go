package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// objectTables returns the paths of the sstables that hold the chunks of
// one object and nothing else (those a big write ingested), and of the
// others (flushed, shared by many objects, markers).
func objectTables(t *testing.T, s *Store) (object, shared []string) {
	t.Helper()
	levels, err := s.db.SSTables()
	if err != nil {
		t.Fatal(err)
	}
	for _, level := range levels {
		for _, f := range level {
			path := filepath.Join(s.opts.Dir, fmt.Sprintf("%06d.sst", f.BackingSSTNum))
			lo, hi := f.Smallest.UserKey, f.Largest.UserKey
			pl := pgPrefixLen + 1
			if len(lo) > pl+2 && len(hi) > pl+2 && lo[pgPrefixLen] == famData && hi[pgPrefixLen] == famData {
				n := pl + 2 + int(binary.BigEndian.Uint16(lo[pl:]))
				if len(lo) >= n && len(hi) >= n && bytes.Equal(lo[:n], hi[:n]) {
					object = append(object, path)
					continue
				}
			}
			shared = append(shared, path)
		}
	}
	return object, shared
}

// flipBits flips n random bits in each file (FlipFileBits).
func flipBits(t *testing.T, files []string, r *rand.Rand, n int) {
	t.Helper()
	for _, f := range files {
		if err := FlipFileBits(f, r, n); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPebbleCorruption flips bits inside Pebble's own sstables (not in
// the store's chunks, whose checksums the store checks itself), in half
// the files that hold one big object each (most of a store's bytes are
// in such files). Every read then returns the right data or an error
// wrapping ErrCorrupt (never ErrIO, never wrong bytes); scrub reports
// the object (it does not fail as a call); installing a good copy, as a
// repair from a peer does, makes the object read right again. Pebble's
// compactions run meanwhile: one that reads a damaged table before its
// object was repaired fails the store, with ErrCorrupt as the cause;
// then every later call fails and nothing wrong is returned.
func TestPebbleCorruption(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 7))
			dir := t.TempDir()
			s := openStore(t, smallOpts(dir))
			type obj struct {
				data []byte
				omap string
			}
			want := map[string]obj{}
			for i := range 150 {
				oid := fmt.Sprintf("obj%03d", i)
				o := obj{data: pattern([]int{50, 300, 2000}[i%3], byte(i))}
				steps := []*pb.OpStep{writeFullStep(o.data)}
				if i%4 == 0 {
					o.omap = fmt.Sprint("v", i)
					steps = append(steps, omapSetStep(kv("k", o.omap)))
				}
				want[oid] = o
				s.mustOp(testPG, oid, steps...)
			}
			if err := s.db.Flush(); err != nil {
				t.Fatal(err)
			}
			objFiles, _ := objectTables(t, s.Store)
			if len(objFiles) < 10 {
				t.Fatalf("only %d object sstables", len(objFiles))
			}
			r.Shuffle(len(objFiles), func(i, j int) { objFiles[i], objFiles[j] = objFiles[j], objFiles[i] })
			objFiles = objFiles[:len(objFiles)/2]
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			flipBits(t, objFiles, r, 2)
			st, err := Open(s.opts)
			if err != nil {
				t.Fatalf("open after damage: %v", err)
			}
			s.Store = st
			t.Cleanup(func() { _ = st.Close() })

			// failed reports whether err is the store having failed on
			// the damage (a compaction read it).
			failed := func(err error) bool {
				if cause := s.FailCause(); cause != nil {
					if !errors.Is(cause, ErrCorrupt) {
						t.Fatalf("the store failed with %v, not corruption", cause)
					}
					return errors.Is(err, ErrIO)
				}
				return false
			}
			check := func(oid string) error {
				res, err := s.op(testPG, oid, readStep(0, 0), omapValsStep("", "", 0))
				if err != nil {
					return err
				}
				wantBytes(t, res[0].Data, want[oid].data)
				if w := want[oid].omap; w != string(res[1].Kv["k"]) {
					t.Fatalf("%s: omap k = %q, want %q", oid, res[1].Kv["k"], w)
				}
				return nil
			}
			var bad []string
			for i := range 150 {
				oid := fmt.Sprintf("obj%03d", i)
				err := check(oid)
				if err == nil || failed(err) {
					continue
				}
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("%s: %v: Pebble's corruption is not ErrCorrupt", oid, err)
				}
				so, _, serr := s.ScrubObjects(testPG, "", 0, []string{oid}, true)
				if failed(serr) {
					continue
				}
				if serr != nil {
					t.Fatalf("scrub of %s failed as a call (%v); it should report the object", oid, serr)
				}
				if so[0].GetError() == "" {
					t.Errorf("deep scrub of %s found nothing, but reading it fails: %v", oid, err)
				}
				bad = append(bad, oid)
			}
			if len(bad) == 0 && s.FailCause() == nil {
				t.Fatal("the damage went unnoticed")
			}
			// Repair: a good copy installed over each bad one.
			for _, oid := range bad {
				w := want[oid]
				txn, err := s.WholeTxn(oid, &pb.ObjectMeta{Version: s.next()}, w.data)
				if err != nil {
					t.Fatal(err)
				}
				if w.omap != "" {
					txn.OmapSet = kv("k", w.omap)
				}
				if err := s.Install(testPG, []*pb.Txn{txn}, nil, nil, false); err != nil && !failed(err) {
					t.Fatalf("install over the damaged %s: %v", oid, err)
				}
				if err := check(oid); err != nil && !failed(err) {
					t.Fatalf("%s after repair: %v", oid, err)
				}
			}
			t.Logf("%d of 150 objects met damaged, repaired; store failed: %v", len(bad), s.FailCause())
		})
	}
}

// TestPebbleCorruptionFailsStore: a compaction that meets a damaged
// table fails the store with ErrCorrupt as the cause (Pebble would retry
// it hundreds of times a second and stall writes); Failed is closed and
// every call fails from then on.
func TestPebbleCorruptionFailsStore(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, smallOpts(dir))
	for i := range 40 {
		s.mustOp(testPG, fmt.Sprint("o", i), writeFullStep(pattern(300, byte(i))))
	}
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	_, shared := objectTables(t, s.Store)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	flipBits(t, shared, rand.New(rand.NewPCG(2, 2)), 8)
	st, err := Open(s.opts)
	if err != nil {
		// Damage in what Open reads is corruption too.
		wantErr(t, err, ErrCorrupt)
		return
	}
	s.Store = st
	t.Cleanup(func() { _ = st.Close() })
	err = s.db.Compact([]byte{0}, []byte{0xff}, false)
	if err == nil {
		t.Fatal("the compaction read the damaged table without an error")
	}
	select {
	case <-s.Failed():
	default:
		t.Fatalf("compaction failed (%v) but the store did not", err)
	}
	wantErr(t, s.FailCause(), ErrCorrupt)
	_, err = s.read(testPG, "o1")
	wantErr(t, err, ErrIO)
}

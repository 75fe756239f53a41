package store

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	"google.golang.org/protobuf/proto"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// keepOp runs an operation with Prepare, then ApplyKeep with a log entry;
// it returns the write's eversion (nil when no step wrote).
func (ts *tstore) keepOp(pg PGID, oid string, steps ...*pb.OpStep) (*pb.Eversion, error) {
	v := ts.next()
	txn, _, err := ts.Prepare(pg, oid, steps, v, time.Unix(0, int64(v.Version)*1000))
	if err != nil || txn == nil {
		return nil, err
	}
	e := &pb.LogEntry{Version: v, Oid: oid, ObjectVersion: v.Version, Reqid: &pb.ReqID{Client: "c", Tid: v.Version}}
	if txn.Meta == nil {
		e.ObjectVersion = 0
	}
	return v, ts.ApplyKeep(pg, txn, e)
}

func (ts *tstore) mustKeep(pg PGID, oid string, steps ...*pb.OpStep) *pb.Eversion {
	ts.t.Helper()
	v, err := ts.keepOp(pg, oid, steps...)
	if err != nil {
		ts.t.Fatalf("keep op on %q: %v", oid, err)
	}
	return v
}

// pgSnap is the whole visible state of a PG.
type pgSnap struct {
	objs map[string]*pb.Txn
	info *pb.PGInfo
	log  []*pb.LogEntry
}

func takeSnap(t testing.TB, s *tstore, pg PGID) pgSnap {
	t.Helper()
	oids, more, err := s.List(pg, "", 0)
	if err != nil || more {
		t.Fatalf("List: %v %v", err, more)
	}
	sn := pgSnap{objs: map[string]*pb.Txn{}}
	for _, oid := range oids {
		txn, err := s.Export(pg, oid)
		if err != nil {
			t.Fatalf("Export %s: %v", oid, err)
		}
		sn.objs[oid] = txn
	}
	if sn.info, err = s.Info(pg); err != nil {
		t.Fatalf("Info: %v", err)
	}
	if sn.log, err = s.Log(pg); err != nil {
		t.Fatalf("Log: %v", err)
	}
	return sn
}

// diffSnap describes how got differs from want (empty: equal).
func diffSnap(got, want pgSnap) string {
	for _, oid := range slices.Sorted(maps.Keys(want.objs)) {
		if !proto.Equal(got.objs[oid], want.objs[oid]) {
			return fmt.Sprintf("object %q: got %v, want %v", oid, brief(got.objs[oid]), brief(want.objs[oid]))
		}
	}
	for oid := range got.objs {
		if want.objs[oid] == nil {
			return fmt.Sprintf("object %q exists, want absent", oid)
		}
	}
	if !proto.Equal(got.info, want.info) {
		return fmt.Sprintf("info %v, want %v", got.info, want.info)
	}
	if len(got.log) != len(want.log) {
		return fmt.Sprintf("log of %d entries, want %d", len(got.log), len(want.log))
	}
	for i := range want.log {
		if !proto.Equal(got.log[i], want.log[i]) {
			return fmt.Sprintf("log entry %d: %v, want %v", i, got.log[i], want.log[i])
		}
	}
	return ""
}

func brief(t *pb.Txn) string {
	if t == nil {
		return "absent"
	}
	m := t.GetMeta()
	return fmt.Sprintf("size %d version %v gen %d inline %v xattrs %d chunks %d", m.GetSize(), m.GetVersion(), m.GetGen(), m.GetInlined(), len(m.GetXattrs()), len(t.GetChunks()))
}

// countRecordKeys counts a PG's rollback records, read raw.
func countRecordKeys(t testing.TB, s *Store, pg PGID) int {
	t.Helper()
	n, err := s.countRecords(pg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRollbackEachWrite(t *testing.T) {
	big := pattern(300, 1)   // chunked: 5 chunks of 64 (InlineMax 100)
	huge := pattern(2000, 2) // above IngestMin 512: ingested when fresh
	small := pattern(50, 3)  // inline
	sparse := func(s *tstore) { s.mustOp(testPG, "o", truncateStep(1000), writeStep(100, pattern(10, 4))) }
	type tc struct {
		name  string
		setup func(s *tstore)
		steps []*pb.OpStep
	}
	withBig := func(s *tstore) { s.mustOp(testPG, "o", writeFullStep(big), setxattrStep("a", []byte("1"))) }
	withSmall := func(s *tstore) { s.mustOp(testPG, "o", writeFullStep(small), setxattrStep("a", []byte("1"))) }
	withHuge := func(s *tstore) { s.mustOp(testPG, "o", writeFullStep(huge)) }
	none := func(*tstore) {}
	cases := []tc{
		{"create inline", none, []*pb.OpStep{writeFullStep(small)}},
		{"create empty", none, []*pb.OpStep{createStep(true)}},
		{"create chunked", none, []*pb.OpStep{writeFullStep(big), setxattrStep("x", nil)}},
		{"create ingested", none, []*pb.OpStep{writeFullStep(huge)}},
		{"write_full rewrite", withBig, []*pb.OpStep{writeFullStep(pattern(400, 9))}},
		{"write_full ingested over chunked", withBig, []*pb.OpStep{writeFullStep(huge)}},
		{"write_full ingested over ingested", withHuge, []*pb.OpStep{writeFullStep(pattern(1800, 7))}},
		{"write_full to inline", withBig, []*pb.OpStep{writeFullStep([]byte("tiny"))}},
		{"overwrite within a chunk", withBig, []*pb.OpStep{writeStep(70, []byte("xyz"))}},
		{"overwrite across chunks", withBig, []*pb.OpStep{writeStep(60, pattern(80, 5))}},
		{"overwrite whole chunks", withBig, []*pb.OpStep{writeStep(64, pattern(128, 6))}},
		{"overwrite big", withHuge, []*pb.OpStep{writeStep(100, pattern(900, 6))}},
		{"append", withBig, []*pb.OpStep{appendStep(pattern(100, 7))}},
		{"append to sparse", sparse, []*pb.OpStep{appendStep(pattern(10, 7))}},
		{"write into a hole", sparse, []*pb.OpStep{writeStep(500, pattern(70, 8))}},
		{"truncate down", withBig, []*pb.OpStep{truncateStep(130)}},
		{"truncate down on a boundary", withBig, []*pb.OpStep{truncateStep(128)}},
		{"truncate down big, ingested", withHuge, []*pb.OpStep{truncateStep(700)}},
		{"truncate down a little big", withHuge, []*pb.OpStep{truncateStep(1900)}},
		{"truncate down far", func(s *tstore) { s.mustOp(testPG, "o", writeFullStep(pattern(640, 3))) }, []*pb.OpStep{truncateStep(130)}},
		{"overwrite most of big, ingested", withHuge, []*pb.OpStep{writeStep(100, pattern(1800, 6))}},
		{"truncate up sparse", withBig, []*pb.OpStep{truncateStep(1000)}},
		{"truncate to inline", withBig, []*pb.OpStep{truncateStep(10)}},
		{"truncate inline", withSmall, []*pb.OpStep{truncateStep(5)}},
		{"zero", withBig, []*pb.OpStep{zeroStep(10, 150)}},
		{"zero to the end", withBig, []*pb.OpStep{zeroStep(100, 1000)}},
		{"remove chunked", withBig, []*pb.OpStep{removeStep()}},
		{"remove inline", withSmall, []*pb.OpStep{removeStep()}},
		{"remove big", withHuge, []*pb.OpStep{removeStep()}},
		{"remove and recreate", withBig, []*pb.OpStep{removeStep(), writeStep(0, pattern(200, 2))}},
		{"remove and recreate inline", withBig, []*pb.OpStep{removeStep(), writeStep(0, []byte("x"))}},
		{"setxattr chunked", withBig, []*pb.OpStep{setxattrStep("b", []byte("2"))}},
		{"rmxattr chunked", withBig, []*pb.OpStep{rmxattrStep("a")}},
		{"setxattr inline", withSmall, []*pb.OpStep{setxattrStep("a", []byte("changed"))}},
		{"rmxattr inline", withSmall, []*pb.OpStep{rmxattrStep("a")}},
		{"inline grows chunked", withSmall, []*pb.OpStep{appendStep(pattern(200, 5))}},
		{"inline grows ingested", withSmall, []*pb.OpStep{appendStep(huge)}},
		{"inline overwritten", withSmall, []*pb.OpStep{writeStep(10, []byte("abc"))}},
		{"chunked shrinks and grows", withBig, []*pb.OpStep{truncateStep(70), writeStep(200, []byte("z"))}},
	}
	for _, c := range cases {
		for _, mode := range []string{"rollback", "trim"} {
			t.Run(c.name+"/"+mode, func(t *testing.T) {
				s := openStore(t, inMem(smallOpts("")))
				s.mustOp(testPG, "other", writeFullStep(pattern(200, 9))) // the PG exists
				c.setup(s)
				before := takeSnap(t, s, testPG)
				r := s.checkClean()
				ingested := s.WriteStats().Ingest
				v := s.mustKeep(testPG, "o", c.steps...)
				if strings.Contains(c.name, "ingested") != (s.WriteStats().Ingest > ingested) {
					t.Fatalf("ingest expected %v, ingested %d bytes", strings.Contains(c.name, "ingested"), s.WriteStats().Ingest-ingested)
				}
				after := takeSnap(t, s, testPG)
				if diffSnap(after, before) == "" {
					t.Fatal("the write changed nothing")
				}
				if n := countRecordKeys(t, s.Store, testPG); n != 1 {
					t.Fatalf("%d rollback records, want 1", n)
				}
				s.checkClean()
				if mode == "rollback" {
					wantErr(t, s.RollbackTo(testPG, before.info.LastUpdate), nil)
					if d := diffSnap(takeSnap(t, s, testPG), before); d != "" {
						t.Fatalf("after rollback: %s", d)
					}
					r2 := s.checkClean()
					if r2.Chunks != r.Chunks {
						t.Fatalf("%d chunks after rollback, %d before", r2.Chunks, r.Chunks)
					}
				} else {
					wantErr(t, s.TrimRollback(testPG, v), nil)
					after.info.RollbackTail = v
					if d := diffSnap(takeSnap(t, s, testPG), after); d != "" {
						t.Fatalf("after trim: %s", d)
					}
					s.checkClean()
					// Only the current generation's chunks remain.
					m, _ := s.loadMeta(s.db, testPG, "o")
					for g := range chunkKeys(t, s.Store, testPG, "o") {
						if m == nil || m.Inlined || g != m.Gen {
							t.Fatalf("chunks of generation %d left after trim (meta %v)", g, m)
						}
					}
					wantErr(t, s.RollbackTo(testPG, before.info.LastUpdate), ErrNoRollback)
				}
				if n := countRecordKeys(t, s.Store, testPG); n != 0 {
					t.Fatalf("%d rollback records left", n)
				}
				// The store keeps working: write again over the result.
				s.mustKeep(testPG, "o", writeStep(30, []byte("again")))
				s.checkClean()
			})
		}
	}
}

// TestRollbackModel applies random writes with ApplyKeep, rolls back to
// random earlier versions and trims, comparing the whole PG with the
// snapshot taken after the write rolled back to.
func TestRollbackModel(t *testing.T) {
	for _, tc := range []struct {
		name      string
		disk      bool
		inlineMax int
		seed      uint64
		ops       int
	}{
		{"disk", true, 100, 1, 250},
		{"mem", false, 100, 2, 400},
		{"noinline", false, -1, 3, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := smallOpts(t.TempDir())
			if !tc.disk {
				o = inMem(o)
			}
			o.InlineMax = tc.inlineMax
			o.LogEntries = 40 // trimmed at 42: trims drop records too
			runRollbackModel(t, openStore(t, o), tc.seed, tc.ops)
		})
	}
}

func runRollbackModel(t *testing.T, s *tstore, seed uint64, ops int) {
	r := rand.New(rand.NewPCG(seed, 99))
	oids := []string{"a", "b", "c", "d/e"}
	type point struct {
		ver  *pb.Eversion // nil: before any write
		snap pgSnap
	}
	// hist holds the live writes, oldest first, after the state before
	// any write.
	hist := []point{{snap: pgSnap{objs: map[string]*pb.Txn{}, info: &pb.PGInfo{Pool: testPG.Pool, Ps: testPG.PS}}}}
	var trimRT *pb.Eversion // the rollback_tail TrimRollback asked for
	maxEv := func(a, b *pb.Eversion) *pb.Eversion {
		if a == nil || (b != nil && evLess(a, b)) {
			return b
		}
		return a
	}
	rollbacks, failed, trims := 0, 0, 0
	for i := range ops {
		k := r.IntN(20)
		desc := fmt.Sprintf("op %d", i)
		switch {
		case k < 13 || len(hist) == 1:
			oid := oids[r.IntN(len(oids))]
			var steps []*pb.OpStep
			for range 1 + r.IntN(2) {
				cur := hist[len(hist)-1].snap.objs[oid]
				steps = append(steps, randomStep(r, int(cur.GetMeta().GetSize())))
			}
			if r.IntN(6) == 0 {
				steps = append(steps, setxattrStep(fmt.Sprintf("x%d", r.IntN(3)), randBytes(r, r.IntN(5))))
			}
			v, err := s.keepOp(testPG, oid, steps...)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				t.Fatalf("%s: %s on %q: %v", desc, describe(steps), oid, err)
			}
			if v != nil {
				hist = append(hist, point{ver: v, snap: takeSnap(t, s, testPG)})
			}
		case k < 17:
			j := r.IntN(len(hist))
			if r.IntN(3) == 0 {
				j = max(len(hist)-1-r.IntN(4), 0) // often just a few back
			}
			before := takeSnap(t, s, testPG)
			rt := before.info.GetRollbackTail()
			wantFail := false
			for _, p := range hist[j+1:] {
				if rt != nil && !evLess(rt, p.ver) {
					wantFail = true
				}
			}
			target := hist[j].ver
			if target == nil {
				target = &pb.Eversion{Epoch: 1}
			}
			err := s.RollbackTo(testPG, target)
			desc = fmt.Sprintf("%s: roll back to %v (rollback_tail %v, last %v)", desc, target, rt, before.info.LastUpdate)
			if wantFail {
				failed++
				if !errors.Is(err, ErrNoRollback) {
					t.Fatalf("%s: error %v, want ErrNoRollback", desc, err)
				}
				if d := diffSnap(takeSnap(t, s, testPG), before); d != "" {
					t.Fatalf("%s: a failed rollback changed the PG: %s", desc, d)
				}
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", desc, err)
			}
			rollbacks++
			// The expected state: the snapshot, less the log entries
			// trimmed since, with today's rollback_tail.
			inLog := map[uint64]bool{}
			for _, e := range before.log {
				inLog[e.Version.Version] = true
			}
			want := hist[j].snap
			want.info = proto.Clone(want.info).(*pb.PGInfo)
			want.log = nil
			for _, e := range hist[j].snap.log {
				if inLog[e.Version.Version] {
					want.log = append(want.log, e)
				}
			}
			want.info.LogTail = nil
			if len(want.log) > 0 {
				want.info.LogTail = want.log[0].Version
			}
			want.info.RollbackTail = rt
			if d := diffSnap(takeSnap(t, s, testPG), want); d != "" {
				t.Fatalf("%s: %s", desc, d)
			}
			hist = hist[:j+1]
		case k < 19:
			trims++
			var v *pb.Eversion
			if r.IntN(5) == 0 {
				v = &pb.Eversion{Epoch: 1, Version: 1 << 40} // capped at last_update
			} else {
				v = hist[1+r.IntN(len(hist)-1)].ver
			}
			wantErr(t, s.TrimRollback(testPG, v), nil)
			lu := hist[len(hist)-1].ver
			if evLess(lu, v) {
				v = lu
			}
			trimRT = maxEv(trimRT, v)
		default:
			s.reopen()
		}
		// rollback_tail is what TrimRollback asked for, or the newest
		// write log trimming dropped.
		info, err := s.Info(testPG)
		wantErr(t, err, nil)
		log, err := s.Log(testPG)
		wantErr(t, err, nil)
		inLog := map[uint64]bool{}
		for _, e := range log {
			inLog[e.Version.Version] = true
		}
		wantRT := trimRT
		for _, p := range hist[1:] {
			if !inLog[p.ver.Version] {
				wantRT = maxEv(wantRT, p.ver)
			}
		}
		if wantRT != nil && evLess(hist[len(hist)-1].ver, wantRT) {
			t.Fatalf("%s: model rollback_tail %v past the newest write", desc, wantRT)
		}
		if (wantRT == nil) != (info.RollbackTail == nil) || (wantRT != nil && evCompare(wantRT, info.RollbackTail) != 0) {
			t.Fatalf("%s: rollback_tail %v, want %v", desc, info.RollbackTail, wantRT)
		}
		// Every write after rollback_tail has its record.
		n := 0
		for _, p := range hist[1:] {
			if wantRT == nil || evLess(wantRT, p.ver) {
				n++
			}
		}
		if got := countRecordKeys(t, s.Store, testPG); got != n {
			t.Fatalf("%s: %d rollback records, want %d", desc, got, n)
		}
		r := s.checkClean()
		if t.Failed() {
			t.Fatalf("%s: Check failed", desc)
		}
		if r.Objects != info.Objects {
			t.Fatalf("%s: Check found %d objects, info says %d", desc, r.Objects, info.Objects)
		}
	}
	t.Logf("%d rollbacks, %d refused, %d trims, %d live writes", rollbacks, failed, trims, len(hist)-1)
	if rollbacks < 10 || failed < 3 {
		t.Fatalf("the model exercised too little: %d rollbacks, %d refused", rollbacks, failed)
	}
}

func TestRollbackAcrossReopen(t *testing.T) {
	s := newStore(t)
	s.mustKeep(testPG, "a", writeFullStep(pattern(300, 1)))
	s.mustKeep(testPG, "b", writeFullStep([]byte("small")))
	want := takeSnap(t, s, testPG)
	s.mustKeep(testPG, "a", writeStep(10, pattern(100, 2)))
	s.mustKeep(testPG, "a", writeFullStep(pattern(2000, 3))) // ingested
	s.mustKeep(testPG, "b", removeStep())
	s.mustKeep(testPG, "c", writeFullStep(pattern(700, 4)))
	s.reopen()
	s.checkClean()
	// Listing, scanning and scrubbing see the objects only.
	oids, _, err := s.List(testPG, "", 0)
	wantErr(t, err, nil)
	scan, _, err := s.Scan(testPG, "", 0)
	wantErr(t, err, nil)
	scrub, _, err := s.ScrubObjects(testPG, "", 0, nil, true)
	wantErr(t, err, nil)
	if !slices.Equal(oids, []string{"a", "c"}) || len(scan) != 2 || len(scrub) != 2 {
		t.Fatalf("List %v, Scan %d, Scrub %d objects; want a and c", oids, len(scan), len(scrub))
	}
	for _, o := range scrub {
		if o.GetError() != "" {
			t.Fatalf("scrub of %s: %v", o.GetOid(), o.GetError())
		}
	}
	wantErr(t, s.RollbackTo(testPG, want.info.LastUpdate), nil)
	if d := diffSnap(takeSnap(t, s, testPG), want); d != "" {
		t.Fatal(d)
	}
	s.reopen()
	if d := diffSnap(takeSnap(t, s, testPG), want); d != "" {
		t.Fatalf("after reopen: %s", d)
	}
	s.checkClean()
}

func TestRollbackCrashAfterIngest(t *testing.T) {
	// A crash between the ingest of an ApplyKeep and its commit leaves
	// neither the new generation nor a record.
	s := newStore(t)
	old := pattern(1500, 3)
	s.mustKeep(testPG, "o", writeFullStep(old))
	before := takeSnap(t, s, testPG)
	s.hooks.crashAfterIngest = func() bool { return true }
	_, err := s.keepOp(testPG, "o", writeFullStep(pattern(2000, 4)))
	wantErr(t, err, ErrIO)
	s.reopen()
	if d := diffSnap(takeSnap(t, s, testPG), before); d != "" {
		t.Fatal(d)
	}
	if n := countRecordKeys(t, s.Store, testPG); n != 1 {
		t.Fatalf("%d records, want 1", n)
	}
	s.checkClean()
	wantErr(t, s.RollbackTo(testPG, &pb.Eversion{Epoch: 1}), nil)
	if oids, _, _ := s.List(testPG, "", 0); len(oids) != 0 {
		t.Fatalf("objects after rolling everything back: %v", oids)
	}
	s.checkClean()
}

func TestTrimRollbackDeletesGenerations(t *testing.T) {
	s := openStore(t, inMem(smallOpts("")))
	gens := map[uint64]bool{}
	for i := range 6 {
		v := s.mustKeep(testPG, "o", writeFullStep(pattern(300+10*i, byte(i))))
		gens[v.Version] = true
		s.mustKeep(testPG, "o", writeStep(5, []byte("same generation")))
	}
	last := s.mustKeep(testPG, "o", truncateStep(20)) // inline: leaves its generation too
	got := chunkKeys(t, s.Store, testPG, "o")
	if len(got) != 6 {
		t.Fatalf("generations on disk %v, want the 6 kept ones", slices.Sorted(maps.Keys(got)))
	}
	s.checkClean()
	// Trim half: the generations left by the trimmed writes go.
	wantErr(t, s.TrimRollback(testPG, &pb.Eversion{Epoch: 1, Version: 6}), nil)
	got = chunkKeys(t, s.Store, testPG, "o")
	if len(got) != 4 || got[1] != nil || got[3] != nil {
		t.Fatalf("generations after trimming to 6: %v", slices.Sorted(maps.Keys(got)))
	}
	s.checkClean()
	wantErr(t, s.TrimRollback(testPG, last), nil)
	if got = chunkKeys(t, s.Store, testPG, "o"); len(got) != 0 {
		t.Fatalf("generations after trimming all: %v", slices.Sorted(maps.Keys(got)))
	}
	if n := countRecordKeys(t, s.Store, testPG); n != 0 {
		t.Fatalf("%d records after trimming all", n)
	}
	info, _ := s.Info(testPG)
	if evCompare(info.RollbackTail, last) != 0 {
		t.Fatalf("rollback_tail %v, want %v", info.RollbackTail, last)
	}
	// Trimming again, or below, changes nothing.
	wantErr(t, s.TrimRollback(testPG, &pb.Eversion{Epoch: 1, Version: 2}), nil)
	info2, _ := s.Info(testPG)
	if !proto.Equal(info, info2) {
		t.Fatalf("info %v after a trim below rollback_tail, was %v", info2, info)
	}
	r := s.checkClean()
	if r.Chunks != 0 {
		t.Fatalf("%d chunks of an inline object", r.Chunks)
	}
}

func TestLogTrimDropsRecords(t *testing.T) {
	s := openStore(t, inMem(smallOpts(""))) // LogEntries 50, trimmed at 53
	for i := range 60 {
		s.mustKeep(testPG, "o", writeFullStep(pattern(200, byte(i))))
	}
	log, _ := s.Log(testPG)
	info, _ := s.Info(testPG)
	if len(log) == 60 || info.RollbackTail == nil || info.RollbackTail.Version != log[0].Version.Version-1 {
		t.Fatalf("log of %d from %v, rollback_tail %v", len(log), log[0].Version, info.RollbackTail)
	}
	if n := countRecordKeys(t, s.Store, testPG); n != len(log) {
		t.Fatalf("%d records for %d log entries", n, len(log))
	}
	if got := chunkKeys(t, s.Store, testPG, "o"); len(got) != len(log)+1 {
		t.Fatalf("%d generations for %d records (one kept per record, and the current one)", len(got), len(log))
	}
	s.checkClean()
	wantErr(t, s.RollbackTo(testPG, info.RollbackTail), nil)
	got, _ := s.read(testPG, "o")
	wantBytes(t, got, pattern(200, byte(info.RollbackTail.Version-1)))
	s.checkClean()
	wantErr(t, s.RollbackTo(testPG, &pb.Eversion{Epoch: 1, Version: 1}), ErrNoRollback)
}

func TestApplyAfterKeep(t *testing.T) {
	s := newStore(t)
	v1 := s.mustKeep(testPG, "a", writeFullStep(pattern(300, 1)))
	s.mustKeep(testPG, "a", writeFullStep(pattern(400, 2)))
	s.mustKeep(testPG, "b", writeFullStep(pattern(400, 3)))
	s.mustOp(testPG, "c", writeFullStep([]byte("replicated"))) // Apply
	info, _ := s.Info(testPG)
	if evCompare(info.RollbackTail, info.LastUpdate) != 0 || info.LastUpdate.Version != 4 {
		t.Fatalf("info after Apply %v: rollback_tail should be its entry", info)
	}
	if n := countRecordKeys(t, s.Store, testPG); n != 0 {
		t.Fatalf("%d records survive an Apply", n)
	}
	if got := chunkKeys(t, s.Store, testPG, "a"); len(got) != 1 {
		t.Fatalf("generations of a %v: the kept one should be gone", slices.Sorted(maps.Keys(got)))
	}
	s.checkClean()
	before := takeSnap(t, s, testPG)
	wantErr(t, s.RollbackTo(testPG, v1), ErrNoRollback)
	if d := diffSnap(takeSnap(t, s, testPG), before); d != "" {
		t.Fatal(d)
	}
	// Writes after it can be undone again, to it but not past it.
	v5 := s.mustKeep(testPG, "a", writeStep(0, []byte("x")))
	s.mustKeep(testPG, "b", removeStep())
	wantErr(t, s.RollbackTo(testPG, info.LastUpdate), nil)
	if d := diffSnap(takeSnap(t, s, testPG), before); d != "" {
		t.Fatal(d)
	}
	s.checkClean()
	// ApplyKeep of an entry at or before rollback_tail, or already in
	// the log, is refused.
	txn, _, err := s.Prepare(testPG, "a", []*pb.OpStep{appendStep([]byte("y"))}, v5, time.Now())
	wantErr(t, err, nil)
	wantErr(t, s.ApplyKeep(testPG, txn, &pb.LogEntry{Version: info.LastUpdate, Oid: "a"}), ErrInvalid)
	v6 := s.next()
	txn, _, _ = s.Prepare(testPG, "a", []*pb.OpStep{appendStep([]byte("y"))}, v6, time.Now())
	wantErr(t, s.ApplyKeep(testPG, txn, &pb.LogEntry{Version: v6, Oid: "a"}), nil)
	wantErr(t, s.ApplyKeep(testPG, txn, &pb.LogEntry{Version: v6, Oid: "a"}), ErrInvalid)
	s.checkClean()
	// ApplyUnlogged keeps no record and leaves rollback_tail alone.
	info, _ = s.Info(testPG)
	v7 := s.next()
	txn, _, _ = s.Prepare(testPG, "d", []*pb.OpStep{writeFullStep([]byte("unlogged"))}, v7, time.Now())
	wantErr(t, s.ApplyUnlogged(testPG, txn), nil)
	info2, _ := s.Info(testPG)
	if !proto.Equal(info.RollbackTail, info2.RollbackTail) || countRecordKeys(t, s.Store, testPG) != 1 {
		t.Fatalf("ApplyUnlogged changed rollback_tail %v -> %v or the records", info.RollbackTail, info2.RollbackTail)
	}
}

func TestInstallDropsRecords(t *testing.T) {
	for _, reset := range []bool{false, true} {
		t.Run(fmt.Sprint("reset=", reset), func(t *testing.T) {
			s := newStore(t)
			s.mustKeep(testPG, "a", writeFullStep(pattern(300, 1)))
			s.mustKeep(testPG, "a", writeFullStep(pattern(400, 2)))
			s.mustKeep(testPG, "b", writeFullStep(pattern(500, 3)))
			log, _ := s.Log(testPG)
			lu := &pb.Eversion{Epoch: 2, Version: 10}
			if reset {
				wantErr(t, s.ResetLog(testPG, log[:1], lu, true), nil)
			} else {
				ex, _ := s.Export(testPG, "b")
				wantErr(t, s.Install(testPG, []*pb.Txn{ex}, log[:1], lu, true), nil)
			}
			info, _ := s.Info(testPG)
			if evCompare(info.RollbackTail, lu) != 0 || countRecordKeys(t, s.Store, testPG) != 0 {
				t.Fatalf("info %v, %d records after an installed log", info, countRecordKeys(t, s.Store, testPG))
			}
			if got := chunkKeys(t, s.Store, testPG, "a"); len(got) != 1 {
				t.Fatalf("generations of a %v", slices.Sorted(maps.Keys(got)))
			}
			s.checkClean()
			wantErr(t, s.RollbackTo(testPG, log[0].Version), ErrNoRollback)
		})
	}
}

func TestRollbackBadInput(t *testing.T) {
	s := newStore(t)
	other := PGID{Pool: 9, PS: 9}
	wantErr(t, s.RollbackTo(other, &pb.Eversion{Epoch: 1, Version: 1}), ErrNotFound)
	wantErr(t, s.TrimRollback(other, &pb.Eversion{Epoch: 1, Version: 1}), ErrNotFound)
	if pgs, _ := s.PGs(); len(pgs) != 0 {
		t.Fatalf("bad input created PGs %v", pgs)
	}
	s.mustKeep(testPG, "o", writeFullStep(pattern(300, 1)), setxattrStep("a", nil))
	before := takeSnap(t, s, testPG)
	wantErr(t, s.RollbackTo(testPG, nil), ErrInvalid)
	wantErr(t, s.TrimRollback(testPG, nil), ErrInvalid)
	if d := diffSnap(takeSnap(t, s, testPG), before); d != "" {
		t.Fatalf("a nil version changed the PG: %s", d)
	}
	// Omap changes, replacing transactions, a missing entry.
	v := s.next()
	e := &pb.LogEntry{Version: v, Oid: "o"}
	for _, steps := range [][]*pb.OpStep{
		{omapSetStep(kv("k", "v"))},
		{writeStep(0, []byte("x")), omapRmStep("k")},
		{omapClearStep()},
	} {
		txn, _, err := s.Prepare(testPG, "o", steps, v, time.Now())
		wantErr(t, err, nil)
		wantErr(t, s.ApplyKeep(testPG, txn, e), ErrInvalid)
	}
	ex, _ := s.Export(testPG, "o")
	wantErr(t, s.ApplyKeep(testPG, ex, e), ErrInvalid)
	txn, _, _ := s.Prepare(testPG, "o", []*pb.OpStep{appendStep([]byte("x"))}, v, time.Now())
	wantErr(t, s.ApplyKeep(testPG, txn, nil), ErrInvalid)
	wantErr(t, s.ApplyKeep(testPG, nil, e), ErrInvalid)
	wantErr(t, s.ApplyKeep(testPG, txn, &pb.LogEntry{Oid: "o"}), ErrInvalid)
	bad := proto.Clone(txn).(*pb.Txn)
	bad.DropGen = 12345
	wantErr(t, s.ApplyKeep(testPG, bad, e), ErrInvalid)
	// Removing an object that has omap entries (written by Apply) is an
	// omap change too.
	s.mustOp(testPG, "om", writeFullStep([]byte("x")), omapSetStep(kv("k", "v")))
	before = takeSnap(t, s, testPG)
	v = s.next()
	txn, _, _ = s.Prepare(testPG, "om", []*pb.OpStep{removeStep()}, v, time.Now())
	wantErr(t, s.ApplyKeep(testPG, txn, &pb.LogEntry{Version: v, Oid: "om"}), ErrInvalid)
	if d := diffSnap(takeSnap(t, s, testPG), before); d != "" {
		t.Fatalf("refused input changed the PG: %s", d)
	}
	// An xattr change of that object keeps its omap: accepted.
	txn, _, _ = s.Prepare(testPG, "om", []*pb.OpStep{setxattrStep("x", nil)}, v, time.Now())
	wantErr(t, s.ApplyKeep(testPG, txn, &pb.LogEntry{Version: v, Oid: "om"}), nil)
	wantErr(t, s.RollbackTo(testPG, before.info.LastUpdate), nil)
	if d := diffSnap(takeSnap(t, s, testPG), before); d != "" {
		t.Fatalf("rollback of an xattr change on an object with omap: %s", d)
	}
	// Rolling back to last_update or later does nothing.
	wantErr(t, s.RollbackTo(testPG, before.info.LastUpdate), nil)
	wantErr(t, s.RollbackTo(testPG, &pb.Eversion{Epoch: 5}), nil)
	if d := diffSnap(takeSnap(t, s, testPG), before); d != "" {
		t.Fatal(d)
	}
	s.checkClean()
	wantErr(t, s.SetShard(testPG, -1), ErrInvalid)
}

func TestSetShard(t *testing.T) {
	s := newStore(t)
	pg := PGID{Pool: 4, PS: 1}
	wantErr(t, s.SetShard(pg, 2), nil)
	ok, err := s.HasPG(pg)
	if err != nil || !ok {
		t.Fatalf("HasPG after SetShard: %v %v", ok, err)
	}
	s.mustKeep(pg, "o", writeFullStep(pattern(300, 1)))
	s.reopen()
	info, _ := s.Info(pg)
	if info.Shard == nil || info.GetShard() != 2 || info.Objects != 1 {
		t.Fatalf("info %v", info)
	}
	wantErr(t, s.SetShard(pg, 0), nil)
	wantErr(t, s.ResetLog(pg, nil, info.LastUpdate, false), nil)
	if info, _ = s.Info(pg); info.Shard == nil || info.GetShard() != 0 {
		t.Fatalf("shard after ResetLog: %v", info)
	}
	// Replicated PGs have none.
	s.mustOp(testPG, "r", createStep(false))
	if info, _ = s.Info(testPG); info.Shard != nil {
		t.Fatalf("replicated PG has shard %d", info.GetShard())
	}
	s.checkClean()
}

func TestCheckRollbackRecords(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, s *tstore)
		want   string
	}{
		{"record without entry", func(t *testing.T, s *tstore) {
			rec, _ := proto.Marshal(&pb.RollbackRecord{Oid: "o"})
			setRaw(t, s, rollbackKey(testPG, &pb.Eversion{Epoch: 1, Version: 99}, 0, "o"), rec)
		}, "not in the log"},
		{"undecodable record", func(t *testing.T, s *tstore) {
			setRaw(t, s, rollbackKey(testPG, &pb.Eversion{Epoch: 1, Version: 3}, 0, "o"), []byte{0xff, 0xff})
		}, "undecodable rollback record"},
		{"record at rollback_tail", func(t *testing.T, s *tstore) {
			info, _ := s.Info(testPG)
			info.RollbackTail = info.LastUpdate
			v, _ := proto.Marshal(info)
			setRaw(t, s, infoKey(testPG), v)
		}, "at or before rollback_tail"},
		{"unkept old generation", func(t *testing.T, s *tstore) {
			setRaw(t, s, dataKey(testPG, "o", 2, 0), encodeChunk(s.sum([]byte("x")), []byte("x")))
		}, "not the object's"},
		{"record of another object", func(t *testing.T, s *tstore) {
			rec, _ := proto.Marshal(&pb.RollbackRecord{Oid: "p"})
			setRaw(t, s, rollbackKey(testPG, &pb.Eversion{Epoch: 1, Version: 3}, 0, "o"), rec)
		}, "under a key of"},
		{"corrupt kept chunk", func(t *testing.T, s *tstore) {
			setRaw(t, s, dataKey(testPG, "o", 1, 1), encodeChunk(1, []byte("x")))
		}, "checksum mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, inMem(smallOpts("")))
			s.mustKeep(testPG, "o", writeFullStep(pattern(300, 1))) // 1.1
			s.mustKeep(testPG, "o", writeStep(10, []byte("x")))     // 1.2, same generation
			s.mustKeep(testPG, "o", writeFullStep(pattern(400, 2))) // 1.3 keeps generation 1
			s.checkClean()
			tc.damage(t, s)
			r, err := s.Check()
			wantErr(t, err, nil)
			for _, p := range r.Problems {
				if strings.Contains(p.What, tc.want) {
					return
				}
			}
			t.Fatalf("problems %v, want one with %q", r.Problems, tc.want)
		})
	}
}

func setRaw(t *testing.T, s *tstore, k, v []byte) {
	t.Helper()
	if err := s.db.Set(k, v, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

func TestRollbackConcurrent(t *testing.T) {
	// Writers of distinct objects with ApplyKeep, trims and a checker run
	// together; then everything after a common point is rolled back.
	o := inMem(smallOpts(""))
	o.LogEntries = 1000
	s := openStore(t, o)
	for w := range 4 {
		s.mustKeep(testPG, fmt.Sprintf("w%d", w), writeFullStep(pattern(150, byte(w))))
	}
	base := takeSnap(t, s, testPG)
	var writers, others sync.WaitGroup
	errs := make(chan error, 16)
	stop := make(chan struct{})
	for w := range 4 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			oid := fmt.Sprintf("w%d", w)
			for i := range 15 {
				steps := []*pb.OpStep{writeStep(uint64(37*i%300), pattern(20+i*9, byte(i)))}
				switch i % 5 {
				case 3:
					steps = []*pb.OpStep{writeFullStep(pattern(100+40*i, byte(w)))}
				case 4:
					steps = []*pb.OpStep{truncateStep(uint64(50 * i))}
				}
				if _, err := s.keepOp(testPG, oid, steps...); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	loop := func(f func() error) {
		others.Add(1)
		go func() {
			defer others.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := f(); err != nil {
					errs <- err
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	loop(func() error { _, err := s.Check(); return err })
	// A trim that stays at the base keeps every new write undoable.
	loop(func() error { return s.TrimRollback(testPG, base.info.LastUpdate) })
	writers.Wait()
	close(stop)
	others.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s.checkClean()
	if n := countRecordKeys(t, s.Store, testPG); n != 4*15 {
		t.Fatalf("%d records, want %d", n, 4*15)
	}
	wantErr(t, s.RollbackTo(testPG, base.info.LastUpdate), nil)
	want := base
	want.info = proto.Clone(base.info).(*pb.PGInfo)
	want.info.RollbackTail = base.info.LastUpdate
	if d := diffSnap(takeSnap(t, s, testPG), want); d != "" {
		t.Fatal(d)
	}
	s.checkClean()
}

func TestRollbackWhileWriteInFlight(t *testing.T) {
	// A write that read the object before a rollback of it committed is
	// refused, and its ingested generation dropped.
	s := newStore(t)
	v1 := s.mustKeep(testPG, "o", writeFullStep(pattern(300, 1)))
	want := takeSnap(t, s, testPG)
	s.mustKeep(testPG, "o", writeStep(0, []byte("undone")))
	rolled := false
	s.hooks.crashAfterIngest = func() bool {
		if !rolled {
			rolled = true
			wantErr(t, s.RollbackTo(testPG, v1), nil)
		}
		return false
	}
	_, err := s.keepOp(testPG, "o", writeFullStep(pattern(2000, 2)))
	wantErr(t, err, ErrVersion)
	if !rolled {
		t.Fatal("the write was not ingested")
	}
	if d := diffSnap(takeSnap(t, s, testPG), want); d != "" {
		t.Fatal(d)
	}
	s.checkClean()
	// Prepared again, it goes through.
	s.mustKeep(testPG, "o", writeFullStep(pattern(2000, 2)))
	s.checkClean()
}

func TestRollbackGaps(t *testing.T) {
	// Versions without entries (operations that failed): a trim point or
	// a rollback target may fall between entries.
	s := newStore(t)
	s.mustKeep(testPG, "a", writeFullStep(pattern(300, 1))) // 1.1
	v2 := s.mustKeep(testPG, "b", writeFullStep([]byte("b")))
	at2 := takeSnap(t, s, testPG)
	gap := s.next()                                    // 1.3: no entry
	s.mustKeep(testPG, "a", writeStep(0, []byte("x"))) // 1.4
	gap2 := s.next()                                   // 1.5
	s.mustKeep(testPG, "b", removeStep())              // 1.6
	wantErr(t, s.TrimRollback(testPG, gap), nil)
	// Back to 1.5, between entries: last_update is the newest remaining
	// entry, 1.4.
	wantErr(t, s.RollbackTo(testPG, gap2), nil)
	info, _ := s.Info(testPG)
	if info.LastUpdate.Version != 4 || info.RollbackTail.Version != 3 {
		t.Fatalf("info after rolling back to a gap: %v", info)
	}
	s.checkClean()
	// Back to 1.2, below rollback_tail 1.3 with no write in between.
	wantErr(t, s.RollbackTo(testPG, v2), nil)
	want := at2
	want.info = proto.Clone(at2.info).(*pb.PGInfo)
	want.info.RollbackTail = v2 // lowered to last_update
	if d := diffSnap(takeSnap(t, s, testPG), want); d != "" {
		t.Fatal(d)
	}
	s.checkClean()
	wantErr(t, s.RollbackTo(testPG, &pb.Eversion{Epoch: 1, Version: 1}), ErrNoRollback)
}

func TestKeepConvert(t *testing.T) {
	// A same-generation write that would copy more chunks into its record
	// than it leaves untouched moves the object to a fresh generation.
	for _, tc := range []struct {
		name    string
		steps   []*pb.OpStep
		convert bool
		kept    int // chunks copied into the record
	}{
		{"truncate far", []*pb.OpStep{truncateStep(700)}, true, 0},
		{"truncate a little", []*pb.OpStep{truncateStep(1900)}, false, 3},
		{"overwrite most", []*pb.OpStep{writeStep(100, pattern(1800, 6))}, true, 0},
		{"overwrite some", []*pb.OpStep{writeStep(100, pattern(500, 6))}, false, 9},
		{"overwrite few", []*pb.OpStep{writeStep(1000, pattern(100, 6))}, false, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, inMem(smallOpts("")))
			s.mustOp(testPG, "o", writeFullStep(pattern(2000, 1))) // generation 1, 32 chunks
			before := takeSnap(t, s, testPG)
			v := s.mustKeep(testPG, "o", tc.steps...)
			it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: famKey(testPG, famRollback), UpperBound: prefixEnd(famKey(testPG, famRollback))})
			wantErr(t, err, nil)
			if !it.First() {
				t.Fatal("no record")
			}
			k, _ := decodeKey(it.Key())
			rec := &pb.RollbackRecord{}
			wantErr(t, proto.Unmarshal(it.Value(), rec), nil)
			_ = it.Close()
			gens := chunkKeys(t, s.Store, testPG, "o")
			if tc.convert {
				if k.gen != 1 || rec.NewGen != v.Version || len(rec.OldChunks) != 0 || len(gens) != 2 || len(gens[1]) != 32 {
					t.Fatalf("not converted: key keeps %d, record new_gen %d, %d old chunks, generations %v", k.gen, rec.NewGen, len(rec.OldChunks), gens)
				}
			} else if k.gen != 0 || rec.NewGen != 0 || len(rec.OldChunks) != tc.kept || len(gens) != 1 {
				t.Fatalf("converted: key keeps %d, record new_gen %d, %d old chunks (want %d), generations %v", k.gen, rec.NewGen, len(rec.OldChunks), tc.kept, gens)
			}
			s.checkClean()
			wantErr(t, s.RollbackTo(testPG, before.info.LastUpdate), nil)
			if d := diffSnap(takeSnap(t, s, testPG), before); d != "" {
				t.Fatal(d)
			}
			s.checkClean()
		})
	}
}

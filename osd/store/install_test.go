package store

import (
	"maps"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// fill writes a mix of objects: inline with xattrs and omap, chunked
// sparse, big (ingested), empty.
func fill(s *tstore, pg PGID) {
	s.mustOp(pg, "inline", writeFullStep([]byte("small data")), setxattrStep("x", []byte("1")), omapSetStep(kv("a", "1", "b", "2")))
	s.mustOp(pg, "sparse", truncateStep(5000), writeStep(3000, pattern(200, 3)), setxattrStep("y", nil))
	s.mustOp(pg, "big", writeFullStep(pattern(3000, 4)), omapSetStep(kv("k", "v")))
	s.mustOp(pg, "big", writeStep(100, []byte("patch")))
	s.mustOp(pg, "empty", createStep(true))
	s.mustOp(pg, "gone", writeFullStep([]byte("x")))
	s.mustOp(pg, "gone", removeStep())
}

func exportAll(t *testing.T, s *tstore, pg PGID) map[string]*pb.Txn {
	t.Helper()
	oids, more, err := s.List(pg, "", 0)
	if err != nil || more {
		t.Fatalf("List: %v %v", err, more)
	}
	m := map[string]*pb.Txn{}
	for _, oid := range oids {
		txn, err := s.Export(pg, oid)
		if err != nil {
			t.Fatalf("Export %s: %v", oid, err)
		}
		m[oid] = txn
	}
	return m
}

func TestInstallExportRoundTrip(t *testing.T) {
	a, b := newStore(t), newStore(t)
	fill(a, testPG)
	// b has other versions of some objects and one a does not have.
	b.ver = 100
	b.mustOp(testPG, "inline", writeFullStep(pattern(900, 9)), omapSetStep(kv("stale", "x")), setxattrStep("old", nil))
	b.mustOp(testPG, "big", writeFullStep([]byte("tiny")))
	b.mustOp(testPG, "extra", writeFullStep(pattern(700, 1)), omapSetStep(kv("e", "e")))

	want := exportAll(t, a, testPG)
	var objs []*pb.Txn
	for _, oid := range slices.Sorted(maps.Keys(want)) {
		objs = append(objs, want[oid])
	}
	objs = append(objs, &pb.Txn{Oid: "extra", Remove: true, Replace: true}) // absent on a
	log, err := a.Log(testPG)
	wantErr(t, err, nil)
	ainfo, _ := a.Info(testPG)
	wantErr(t, b.Install(testPG, objs, log, ainfo.LastUpdate, true), nil)

	got := exportAll(t, b, testPG)
	if len(got) != len(want) {
		t.Fatalf("b has %d objects, a %d", len(got), len(want))
	}
	for oid, w := range want {
		if !proto.Equal(got[oid], w) {
			t.Errorf("object %s differs after install:\n got %v\nwant %v", oid, got[oid], w)
		}
	}
	blog, _ := b.Log(testPG)
	if len(blog) != len(log) {
		t.Fatalf("log of %d entries, want %d", len(blog), len(log))
	}
	for i := range log {
		if !proto.Equal(blog[i], log[i]) {
			t.Fatalf("log entry %d: %v, want %v", i, blog[i], log[i])
		}
	}
	binfo, _ := b.Info(testPG)
	if !proto.Equal(binfo, ainfo) {
		t.Fatalf("info %v, want %v", binfo, ainfo)
	}
	b.checkClean()
	b.reopen()
	b.checkClean()

	// Install without the log keeps it; a big object is ingested.
	b.ver = 200
	c := newStore(t)
	c.mustOp(testPG, "x", writeFullStep(pattern(4000, 5)))
	tx, _ := c.Export(testPG, "x")
	tx.Meta.Version = &pb.Eversion{Epoch: 1, Version: 3}
	before := b.WriteStats().Ingest
	wantErr(t, b.Install(testPG, []*pb.Txn{tx}, nil, nil, false), nil)
	if b.WriteStats().Ingest == before {
		t.Errorf("a big install was not ingested")
	}
	blog2, _ := b.Log(testPG)
	if len(blog2) != len(log) {
		t.Fatalf("Install without setLog changed the log")
	}
	got2, _ := b.read(testPG, "x")
	wantBytes(t, got2, pattern(4000, 5))
	b.checkClean()
}

func TestInstallInvalid(t *testing.T) {
	s := newStore(t)
	tx := &pb.Txn{Oid: "a", Meta: &pb.ObjectMeta{Size: 1, Inlined: true, Inline: []byte("x"), InlineSum: s.sum([]byte("x"))}, Replace: true}
	wantErr(t, s.Install(testPG, []*pb.Txn{tx, tx}, nil, nil, false), ErrInvalid)
	log := []*pb.LogEntry{{Version: &pb.Eversion{Epoch: 1, Version: 2}}, {Version: &pb.Eversion{Epoch: 1, Version: 1}}}
	wantErr(t, s.Install(testPG, []*pb.Txn{tx}, log, nil, true), ErrInvalid)
	bad := proto.Clone(tx).(*pb.Txn)
	bad.Meta.InlineSum++
	wantErr(t, s.Install(testPG, []*pb.Txn{bad}, nil, nil, false), ErrCorrupt)
	past := &pb.Txn{Oid: "b", Meta: &pb.ObjectMeta{Size: 10, Gen: 1}, Chunks: []*pb.Chunk{{Index: 0, Data: make([]byte, 11)}}}
	past.Chunks[0].Sum = s.sum(past.Chunks[0].Data)
	wantErr(t, s.Apply(testPG, past, nil), ErrInvalid)
	wantErr(t, s.Apply(testPG, &pb.Txn{Oid: "c"}, nil), ErrInvalid)
	if pgs, _ := s.PGs(); len(pgs) != 0 {
		t.Fatalf("invalid input wrote PGs %v", pgs)
	}
}

func TestLogTrimAndInfo(t *testing.T) {
	s := newStore(t) // LogEntries 50
	for i := 0; i < 120; i++ {
		s.mustOp(testPG, "o", appendStep([]byte("ab")))
		if i == 70 {
			s.reopen() // the cached log length is rebuilt
		}
	}
	log, err := s.Log(testPG)
	wantErr(t, err, nil)
	// The log keeps the newest 50 entries at least, trimmed in steps of
	// 50/16 = 3.
	n := len(log)
	if n < 50 || n >= 53 || log[0].Version.Version != uint64(121-n) || log[n-1].Version.Version != 120 {
		t.Fatalf("log of %d entries from %v to %v, want 50..52 ending at 120", n, log[0].Version, log[n-1].Version)
	}
	info, _ := s.Info(testPG)
	if info.LogTail.Version != uint64(121-n) || info.LastUpdate.Version != 120 || info.Objects != 1 || info.Bytes != 240 {
		t.Fatalf("info %v", info)
	}
	s.mustOp(testPG, "p", writeFullStep(pattern(1000, 1)))
	s.mustOp(testPG, "o", truncateStep(10))
	info, _ = s.Info(testPG)
	if info.Objects != 2 || info.Bytes != 1010 {
		t.Fatalf("info after truncate %v", info)
	}
	s.mustOp(testPG, "p", removeStep())
	info, _ = s.Info(testPG)
	if info.Objects != 1 || info.Bytes != 10 || info.LastUpdate.Version != 123 {
		t.Fatalf("info after remove %v", info)
	}
	s.checkClean()

	// An Install with a longer log keeps the newest LogEntries.
	var long []*pb.LogEntry
	for i := uint64(1); i <= 80; i++ {
		long = append(long, &pb.LogEntry{Version: &pb.Eversion{Epoch: 2, Version: 200 + i}, Oid: "o"})
	}
	wantErr(t, s.Install(testPG, nil, long, &pb.Eversion{Epoch: 2, Version: 280}, true), nil)
	log, _ = s.Log(testPG)
	if len(log) != 50 || log[0].Version.Version != 231 {
		t.Fatalf("installed log: %d entries from %v", len(log), log[0].Version)
	}
	s.mustOp(testPG, "o", appendStep([]byte("c"))) // epoch 1 eversion, below last_update
	s.epoch = 3
	s.mustOp(testPG, "o", appendStep([]byte("d")))
	log, _ = s.Log(testPG)
	if len(log) != 52 || log[51].Version.Epoch != 3 { // two more, below the trim step
		t.Fatalf("log after appends: %d entries, last %v", len(log), log[len(log)-1].Version)
	}
}

func TestListScanPGs(t *testing.T) {
	s := newStore(t)
	pgs := []PGID{{Pool: -1, PS: 2}, {Pool: 0, PS: 0}, {Pool: 3, PS: 0x1f}, {Pool: 3, PS: 0x20}, {Pool: 1 << 40, PS: 1}}
	names := []string{"a", "b", "b0", "ba", "c\xc3\xa9", "z"}
	for _, pg := range pgs {
		for _, n := range names {
			s.mustOp(pg, n, createStep(false))
		}
	}
	got, err := s.PGs()
	wantErr(t, err, nil)
	if !slices.Equal(got, pgs) {
		t.Fatalf("PGs %v, want %v", got, pgs)
	}
	var all []string
	after := ""
	for {
		page, more, err := s.List(testPG, after, 4)
		wantErr(t, err, nil)
		all = append(all, page...)
		if !more {
			break
		}
		after = page[len(page)-1]
	}
	if !slices.Equal(all, names) {
		t.Fatalf("List pages %v, want %v", all, names)
	}
	objs, more, err := s.Scan(testPG, "b", 2)
	wantErr(t, err, nil)
	if len(objs) != 2 || !more || objs[0].Oid != "b0" || objs[0].Version.Version == 0 {
		t.Fatalf("Scan %v %v", objs, more)
	}
	wantErr(t, s.RemovePG(testPG), nil)
	got, _ = s.PGs()
	if slices.Contains(got, testPG) || len(got) != len(pgs)-1 {
		t.Fatalf("PGs after RemovePG %v", got)
	}
	info, _ := s.Info(testPG)
	if info.Objects != 0 || info.LastUpdate != nil || info.Pool != testPG.Pool || info.Ps != testPG.PS {
		t.Fatalf("info of a removed PG %v", info)
	}
	s.mustOp(testPG, "again", createStep(false))
	s.checkClean()
	if PGID(testPG).String() != "3.1f" {
		t.Errorf("PGID string %q", testPG.String())
	}
}

func TestClosed(t *testing.T) {
	s := newStore(t)
	wantErr(t, s.Close(), nil)
	wantErr(t, s.Close(), ErrClosed)
	_, _, err := s.Prepare(testPG, "a", []*pb.OpStep{statStep()}, nil, time.Time{})
	wantErr(t, err, ErrClosed)
	wantErr(t, s.Apply(testPG, &pb.Txn{Oid: "a", Remove: true}, nil), ErrClosed)
	_, err = s.Check()
	wantErr(t, err, ErrClosed)
	_, err = s.Info(testPG)
	wantErr(t, err, ErrClosed)
}

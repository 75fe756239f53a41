package store

import (
	"strings"
	"testing"

	"github.com/cockroachdb/pebble"
	"google.golang.org/protobuf/proto"

	pb "github.com/loligo/loligo/proto/loligopb"
)

func TestCheckDetects(t *testing.T) {
	type env struct {
		s    *tstore
		meta *pb.ObjectMeta // of "big"
	}
	set := func(t *testing.T, e env, k []byte, v []byte) {
		t.Helper()
		if err := e.s.db.Set(k, v, pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	setInfo := func(t *testing.T, e env, f func(*pb.PGInfo)) {
		info, err := e.s.Info(testPG)
		wantErr(t, err, nil)
		f(info)
		v, _ := proto.Marshal(info)
		set(t, e, infoKey(testPG), v)
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, e env)
		want   string
	}{
		{"chunk past size", func(t *testing.T, e env) {
			d := []byte("xyz")
			set(t, e, dataKey(testPG, "big", e.meta.Gen, 40), encodeChunk(e.s.sum(d), d))
		}, "extends past size"},
		{"short chunk past size", func(t *testing.T, e env) {
			d := make([]byte, 64) // the last chunk holds 1000-15*64 = 40 bytes
			set(t, e, dataKey(testPG, "big", e.meta.Gen, 15), encodeChunk(e.s.sum(d), d))
		}, "extends past size"},
		{"chunk of another gen", func(t *testing.T, e env) {
			d := []byte("old")
			set(t, e, dataKey(testPG, "big", e.meta.Gen-1, 0), encodeChunk(e.s.sum(d), d))
		}, "not the object's"},
		{"chunk of an inline object", func(t *testing.T, e env) {
			d := []byte("a")
			set(t, e, dataKey(testPG, "small", 5, 0), encodeChunk(e.s.sum(d), d))
		}, "not the object's"},
		{"bad checksum", func(t *testing.T, e env) { wantErr(t, e.s.FlipByte(testPG, "big", 500), nil) }, "checksum mismatch"},
		{"bad inline checksum", func(t *testing.T, e env) { wantErr(t, e.s.FlipByte(testPG, "small", 1), nil) }, "checksum mismatch"},
		{"short chunk value", func(t *testing.T, e env) { set(t, e, dataKey(testPG, "big", e.meta.Gen, 1), []byte{1, 2}) }, "shorter than its checksum"},
		{"undecodable meta", func(t *testing.T, e env) { set(t, e, metaKey(testPG, "small"), []byte{0xff, 0xff}) }, "undecodable metadata"},
		{"omap of absent object", func(t *testing.T, e env) { set(t, e, omapKey(testPG, "ghost", "k"), []byte("v")) }, "omap entries of an absent object"},
		{"chunks of absent object", func(t *testing.T, e env) {
			set(t, e, dataKey(testPG, "ghost", 3, 0), encodeChunk(e.s.sum(nil), nil))
		}, "chunks of an absent object"},
		{"log out of order", func(t *testing.T, e env) {
			v, _ := proto.Marshal(&pb.LogEntry{Version: &pb.Eversion{Epoch: 1, Version: 1}, Oid: "x"})
			set(t, e, logKey(testPG, &pb.Eversion{Epoch: 1, Version: 2}), v)
		}, "log out of order"},
		{"log entry after last_update", func(t *testing.T, e env) {
			ev := &pb.Eversion{Epoch: 9, Version: 1}
			v, _ := proto.Marshal(&pb.LogEntry{Version: ev, Oid: "x"})
			set(t, e, logKey(testPG, ev), v)
		}, "below the newest log entry"},
		{"log tail", func(t *testing.T, e env) { setInfo(t, e, func(i *pb.PGInfo) { i.LogTail.Version++ }) }, "not the oldest entry"},
		{"info objects", func(t *testing.T, e env) { setInfo(t, e, func(i *pb.PGInfo) { i.Objects++ }) }, "info counts"},
		{"info bytes", func(t *testing.T, e env) { setInfo(t, e, func(i *pb.PGInfo) { i.Bytes-- }) }, "info counts"},
		{"last_update below object", func(t *testing.T, e env) {
			setInfo(t, e, func(i *pb.PGInfo) { i.LastUpdate = &pb.Eversion{Epoch: 1, Version: 1} })
		}, "below the object's version"},
		{"undecodable key", func(t *testing.T, e env) { set(t, e, append(pgPrefix(testPG), 'X'), nil) }, "undecodable key"},
		{"stray global key", func(t *testing.T, e env) { set(t, e, []byte("Zzz"), nil) }, "undecodable key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, inMem(smallOpts("")))
			s.mustOp(testPG, "big", writeFullStep(pattern(1000, 1)), omapSetStep(kv("k", "v")))
			s.mustOp(testPG, "big", writeStep(10, []byte("x")))
			s.mustOp(testPG, "small", writeFullStep([]byte("abc")))
			s.mustOp(PGID{Pool: 1, PS: 1}, "other", writeFullStep(pattern(300, 2)))
			s.checkClean()
			m, err := s.loadMeta(s.db, testPG, "big")
			wantErr(t, err, nil)
			tc.damage(t, env{s: s, meta: m})
			r, err := s.Check()
			wantErr(t, err, nil)
			found := false
			for _, p := range r.Problems {
				if strings.Contains(p.What, tc.want) {
					found = true
				}
				if p.PG == (PGID{Pool: 1, PS: 1}) {
					t.Errorf("problem reported in an intact PG: %s", p)
				}
			}
			if !found {
				t.Fatalf("Check did not report %q; problems: %v", tc.want, r.Problems)
			}
		})
	}
}

func TestCheckCounts(t *testing.T) {
	s := newStore(t)
	s.mustOp(testPG, "a", writeFullStep(pattern(1000, 1))) // 16 chunks
	s.mustOp(testPG, "b", writeFullStep([]byte("xy")))
	r := s.checkClean()
	if r.Objects != 2 || r.Bytes != 1002 || r.Chunks != 16 {
		t.Fatalf("report %+v", r)
	}
}

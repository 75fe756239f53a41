package store

import (
	"bytes"
	"testing"

	"github.com/cockroachdb/pebble/vfs"

	pb "github.com/loligo/loligo/proto/loligopb"
)

func TestKeyOrder(t *testing.T) {
	// Pools order numerically (negative first), then placement seeds.
	pgs := []PGID{{Pool: -5, PS: 9}, {Pool: -1, PS: 0}, {Pool: 0, PS: 1}, {Pool: 1, PS: 0}, {Pool: 1, PS: 0xffffffff}, {Pool: 2, PS: 0}}
	for i := 1; i < len(pgs); i++ {
		if bytes.Compare(pgPrefix(pgs[i-1]), pgPrefix(pgs[i])) >= 0 || bytes.Compare(pgEnd(pgs[i-1]), pgPrefix(pgs[i])) > 0 {
			t.Errorf("%v does not sort before %v", pgs[i-1], pgs[i])
		}
	}
	// One object's data keys are contiguous, by generation then index,
	// whatever other names exist.
	a := [][]byte{dataKey(testPG, "a", 1, 0), dataKey(testPG, "a", 1, 7), dataKey(testPG, "a", 2, 0), genEnd(testPG, "a", 2)}
	for i := 1; i < len(a); i++ {
		if bytes.Compare(a[i-1], a[i]) >= 0 {
			t.Errorf("data key %d does not sort before %d", i-1, i)
		}
	}
	lo, hi := objKey(testPG, famData, "a"), prefixEnd(objKey(testPG, famData, "a"))
	for _, other := range []string{"", "ab", "b", "a\x00", "\x01"} {
		k := dataKey(testPG, other, 0, 0)
		if bytes.Compare(lo, k) <= 0 && bytes.Compare(k, hi) < 0 {
			t.Errorf("a key of %q falls among the keys of \"a\"", other)
		}
	}
	// Log keys sort by eversion.
	if bytes.Compare(logKey(testPG, &pb.Eversion{Epoch: 1, Version: 900}), logKey(testPG, &pb.Eversion{Epoch: 2, Version: 1})) >= 0 {
		t.Error("log keys do not sort by epoch first")
	}
	// Rollback records sort by eversion whatever they keep, and the
	// records at or before an eversion are a range.
	r1 := rollbackKey(testPG, &pb.Eversion{Epoch: 1, Version: 900}, 1<<63, "zzz")
	r2 := rollbackKey(testPG, &pb.Eversion{Epoch: 2, Version: 1}, 0, "a")
	if bytes.Compare(r1, r2) >= 0 || bytes.Compare(r1, rollbackUpTo(testPG, &pb.Eversion{Epoch: 1, Version: 900})) >= 0 ||
		bytes.Compare(r2, rollbackUpTo(testPG, &pb.Eversion{Epoch: 1, Version: 900})) < 0 {
		t.Error("rollback keys do not sort by eversion")
	}
}

func seedKeys(f *testing.F) {
	for _, k := range []key{
		{kind: kindData, pg: testPG, oid: "obj", gen: 7, idx: 3},
		{kind: kindInfo, pg: PGID{Pool: -1, PS: 2}},
		{kind: kindLog, pg: testPG, ver: &pb.Eversion{Epoch: 3, Version: 9}},
		{kind: kindMeta, pg: testPG, oid: "a/b"},
		{kind: kindOmap, pg: testPG, oid: "o", omap: "key\x00with nul"},
		{kind: kindFormat},
		{kind: kindPending, pg: testPG, gen: 12, oid: "big"},
		{kind: kindRollback, pg: testPG, ver: &pb.Eversion{Epoch: 2, Version: 5}, gen: 4, oid: "o"},
	} {
		f.Add(k.encode())
	}
	f.Add([]byte{})
	f.Add([]byte("P"))
	f.Add([]byte("G"))
}

// FuzzDecodeKey: decoding never panics, and what decodes re-encodes to
// the same bytes.
func FuzzDecodeKey(f *testing.F) {
	seedKeys(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := decodeKey(b)
		if err != nil {
			return
		}
		if got := k.encode(); !bytes.Equal(got, b) {
			t.Fatalf("decode(%x) = %+v re-encodes to %x", b, k, got)
		}
	})
}

// FuzzKeyRoundTrip: every key the store writes decodes to its parts.
func FuzzKeyRoundTrip(f *testing.F) {
	f.Add(int64(3), uint32(0x1f), "obj", uint64(7), uint32(3), "k", uint64(1), uint64(2))
	f.Add(int64(-1<<63), uint32(0), "x", uint64(1<<64-1), uint32(1<<32-1), "\x00", uint64(0), uint64(0))
	f.Fuzz(func(t *testing.T, pool int64, ps uint32, oid string, gen uint64, idx uint32, omap string, epoch, ver uint64) {
		pg := PGID{Pool: pool, PS: ps}
		if checkName(oid) != nil {
			return
		}
		keys := []key{
			{kind: kindData, pg: pg, oid: oid, gen: gen, idx: idx},
			{kind: kindMeta, pg: pg, oid: oid},
			{kind: kindInfo, pg: pg},
			{kind: kindLog, pg: pg, ver: &pb.Eversion{Epoch: epoch, Version: ver}},
			{kind: kindPending, pg: pg, oid: oid, gen: gen},
			{kind: kindRollback, pg: pg, ver: &pb.Eversion{Epoch: epoch, Version: ver}, gen: gen, oid: oid},
		}
		if omap != "" {
			keys = append(keys, key{kind: kindOmap, pg: pg, oid: oid, omap: omap})
		}
		for _, k := range keys {
			got, err := decodeKey(k.encode())
			if err != nil {
				t.Fatalf("%+v: %v", k, err)
			}
			if got.kind != k.kind || got.pg != k.pg || got.oid != k.oid || got.gen != k.gen || got.idx != k.idx || got.omap != k.omap ||
				got.ver.GetEpoch() != k.ver.GetEpoch() || got.ver.GetVersion() != k.ver.GetVersion() {
				t.Fatalf("round trip of %+v gave %+v", k, got)
			}
		}
	})
}

// FuzzDecodeChunk: chunk values decode without panics, and round-trip.
func FuzzDecodeChunk(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3})
	f.Add(encodeChunk(42, []byte("data")))
	f.Add(encodeChunk(0, nil))
	f.Fuzz(func(t *testing.T, v []byte) {
		sum, data, err := decodeChunk(v)
		if err != nil {
			if len(v) >= sumLen {
				t.Fatalf("decode of %d bytes failed: %v", len(v), err)
			}
			return
		}
		if got := encodeChunk(sum, data); !bytes.Equal(got, v) {
			t.Fatalf("re-encoded %x, want %x", got, v)
		}
	})
}

func TestPrefixEnd(t *testing.T) {
	for _, tc := range []struct{ in, want []byte }{
		{[]byte("ab"), []byte("ac")},
		{[]byte{'a', 0xff}, []byte("b")},
		{[]byte{0xff, 0xff}, nil},
	} {
		if got := prefixEnd(tc.in); !bytes.Equal(got, tc.want) {
			t.Errorf("prefixEnd(%x) = %x, want %x", tc.in, got, tc.want)
		}
	}
}

func TestOpenOptions(t *testing.T) {
	_, err := Open(Options{})
	wantErr(t, err, ErrInvalid)
	for _, o := range []Options{
		{Dir: "/x", ChunkSize: 8},
		{Dir: "/x", InlineMax: 2 << 20},
		{Dir: "/x", ChunkSize: 16, MaxObjectSize: 1 << 40},
		{Dir: "/x", LogEntries: -1},
	} {
		o.FS = vfs.NewMem()
		if _, err := Open(o); err == nil {
			t.Errorf("Open(%+v) accepted bad options", o)
		}
	}
	// The chunk size is fixed at creation.
	fs := vfs.NewMem()
	s, err := Open(Options{Dir: "/db", FS: fs, ChunkSize: 1024})
	wantErr(t, err, nil)
	wantErr(t, s.Close(), nil)
	_, err = Open(Options{Dir: "/db", FS: fs, ChunkSize: 2048})
	wantErr(t, err, ErrInvalid)
	_, err = Open(Options{Dir: "/db", FS: fs})
	wantErr(t, err, ErrInvalid) // default 64 KiB is not 1 KiB
	s, err = Open(Options{Dir: "/db", FS: fs, ChunkSize: 1024})
	wantErr(t, err, nil)
	wantErr(t, s.Close(), nil)
}

package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs/errorfs"
	"github.com/minio/highwayhash"
	"google.golang.org/protobuf/proto"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// scrubAll pages through pg's objects (pages of max) and returns them all.
func scrubAll(t testing.TB, s *tstore, pg PGID, max int, deep bool) []*pb.ScrubObject {
	t.Helper()
	var all []*pb.ScrubObject
	after := ""
	for {
		objs, more, err := s.ScrubObjects(pg, after, max, nil, deep)
		if err != nil {
			t.Fatalf("ScrubObjects after %q: %v", after, err)
		}
		if max > 0 && len(objs) > max {
			t.Fatalf("page of %d objects, max %d", len(objs), max)
		}
		all = append(all, objs...)
		if !more {
			return all
		}
		if len(objs) == 0 {
			t.Fatalf("empty page with more")
		}
		after = objs[len(objs)-1].Oid
	}
}

// scrubOne deep- or shallow-scrubs one object by name.
func scrubOne(t testing.TB, s *tstore, pg PGID, oid string, deep bool) *pb.ScrubObject {
	t.Helper()
	objs, more, err := s.ScrubObjects(pg, "", 0, []string{oid}, deep)
	if err != nil || more || len(objs) != 1 {
		t.Fatalf("ScrubObjects(%q): %d objects, more %v, %v", oid, len(objs), more, err)
	}
	return objs[0]
}

// naive versions of the digests, for comparison.
func naiveFields(fields ...[]byte) []byte {
	var b []byte
	for _, f := range fields {
		b = binary.BigEndian.AppendUint64(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

func naiveDigest(b []byte) uint64 { return highwayhash.Sum64(b, testKey[:]) }

func naiveKV(m map[string][]byte) uint64 {
	var fields [][]byte
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fields = append(fields, []byte(k), m[k])
	}
	return naiveDigest(naiveFields(fields...))
}

// The digest encodings are part of the cluster protocol (replicas of
// different versions compare them): changing one must break this test.
func TestScrubDigestGolden(t *testing.T) {
	s := openStore(t, inMem(smallOpts("")))
	data := pattern(1000, 3)
	s.mustOp(testPG, "o", writeFullStep(data), setxattrStep("b", []byte("2")), setxattrStep("a", []byte("1")),
		omapSetStep(kv("k2", "v2", "k1", "v1")))
	o := scrubOne(t, s, testPG, "o", true)
	if o.Error != "" {
		t.Fatalf("error %q", o.Error)
	}
	for _, tc := range []struct {
		name       string
		got, naive uint64
		golden     uint64
	}{
		{"xattr", o.XattrDigest, naiveKV(kv("a", "1", "b", "2")), 0x44754d5b781d7aa9},
		{"omap", o.OmapDigest, naiveKV(kv("k1", "v1", "k2", "v2")), 0x7d87f20fedaf7ef6},
		{"data", o.DataDigest, naiveDigest(data), 0x660b350e5f61dc64},
	} {
		if tc.got != tc.naive {
			t.Errorf("%s digest %#x, naive version %#x", tc.name, tc.got, tc.naive)
		}
		if tc.got != tc.golden {
			t.Errorf("%s digest %#x, golden %#x", tc.name, tc.got, tc.golden)
		}
	}
	h := s.newHash()
	if xattrDigest(h, kv("ab", "c")) == xattrDigest(h, kv("a", "bc")) {
		t.Errorf(`xattrs ("ab","c") and ("a","bc") have the same digest`)
	}
	if xattrDigest(h, kv("a", "", "b", "")) == xattrDigest(h, kv("ab", "")) {
		t.Errorf("xattrs a, b and ab have the same digest")
	}
	if got, want := xattrDigest(h, nil), naiveDigest(nil); got != want {
		t.Errorf("digest of no xattrs %#x, want H(empty) %#x", got, want)
	}
}

// scrubOps are operations on several objects: inline and chunked,
// sparse, rewritten, with xattrs and omap, empty, removed.
func scrubOps(s *tstore, pg PGID) {
	s.mustOp(pg, "inline", writeFullStep([]byte("small data")), setxattrStep("x", []byte("1")), omapSetStep(kv("a", "1", "b", "2")))
	s.mustOp(pg, "sparse", truncateStep(5000), writeStep(3000, pattern(200, 3)), setxattrStep("y", nil))
	s.mustOp(pg, "big", writeFullStep(pattern(3000, 4)), omapSetStep(kv("k", "v")))
	s.mustOp(pg, "big", writeStep(100, []byte("patch")), omapRmStep("k"), omapSetStep(kv("j", "w")))
	s.mustOp(pg, "grown", writeFullStep([]byte("tiny")))
	s.mustOp(pg, "grown", appendStep(pattern(700, 5)))
	s.mustOp(pg, "shrunk", writeFullStep(pattern(900, 6)))
	s.mustOp(pg, "shrunk", truncateStep(70))
	s.mustOp(pg, "holes", truncateStep(300), writeStep(260, []byte("end")), zeroStep(0, 10))
	s.mustOp(pg, "zeroed", writeFullStep(pattern(640, 7)), zeroStep(64, 128))
	s.mustOp(pg, "empty", createStep(true), setxattrStep("e", []byte("")))
	s.mustOp(pg, "gone", writeFullStep([]byte("x")))
	s.mustOp(pg, "gone", removeStep())
}

// Stores given the same operations describe their objects alike, whatever
// their chunk size, inline limit or ingest threshold; a store filled by
// Install from another's Export too.
func TestScrubSameObjects(t *testing.T) {
	// Each layout's options are made anew for each store.
	layout := func(cs, inlineMax, ingestMin int) func() Options {
		return func() Options {
			o := inMem(smallOpts(""))
			o.ChunkSize, o.InlineMax, o.IngestMin = cs, inlineMax, ingestMin
			return o
		}
	}
	layouts := []struct {
		name string
		opts func() Options
	}{
		{"small", layout(64, 100, 512)},
		{"tiny chunks, nothing inline", layout(16, -1, 0)},
		{"big chunks, nothing inline", layout(4096, -1, 0)},
		{"all inline", layout(64, 1<<20, 0)},
		{"no ingest", layout(64, 100, -1)},
		{"ingest all", layout(32, 8, 1)},
		{"on disk", func() Options { return smallOpts(t.TempDir()) }},
	}
	for _, deep := range []bool{false, true} {
		t.Run(fmt.Sprintf("deep=%v", deep), func(t *testing.T) {
			var ref []*pb.ScrubObject
			for i, l := range layouts {
				s := openStore(t, l.opts())
				scrubOps(s, testPG)
				s.mustOp(PGID{Pool: 1, PS: 1}, "other", writeFullStep(pattern(300, 2)))
				got := scrubAll(t, s, testPG, 3, deep)
				for _, o := range got {
					if o.Error != "" || o.Missing {
						t.Fatalf("%s: object %s: error %q, missing %v", l.name, o.Oid, o.Error, o.Missing)
					}
					if deep && o.DataDigest == 0 {
						t.Errorf("%s: object %s: no data digest in a deep scrub", l.name, o.Oid)
					}
					if !deep && (o.DataDigest != 0 || o.OmapDigest != 0) {
						t.Errorf("%s: object %s: deep digests in a shallow scrub", l.name, o.Oid)
					}
				}
				if i == 0 {
					ref = got
					if len(ref) != 8 {
						t.Fatalf("%d objects, want 8", len(ref))
					}
					continue
				}
				compareScrubs(t, l.name, got, ref)
			}

			// Export from one store, Install into an empty one.
			a, b := openStore(t, inMem(smallOpts(""))), openStore(t, inMem(smallOpts("")))
			scrubOps(a, testPG)
			var txns []*pb.Txn
			oids, _, err := a.List(testPG, "", 0)
			wantErr(t, err, nil)
			for _, oid := range oids {
				txn, err := a.Export(testPG, oid)
				wantErr(t, err, nil)
				txns = append(txns, txn)
			}
			log, err := a.Log(testPG)
			wantErr(t, err, nil)
			info, err := a.Info(testPG)
			wantErr(t, err, nil)
			wantErr(t, b.Install(testPG, txns, log, info.LastUpdate, true), nil)
			compareScrubs(t, "installed", scrubAll(t, b, testPG, 0, deep), ref)
			b.checkClean()
		})
	}
}

func compareScrubs(t *testing.T, name string, got, want []*pb.ScrubObject) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d objects, want %d", name, len(got), len(want))
	}
	for i := range got {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("%s: object %d:\n got %v\nwant %v", name, i, got[i], want[i])
		}
	}
}

// scrubDiff names the fields in which two descriptions differ.
func scrubDiff(a, b *pb.ScrubObject) []string {
	var d []string
	add := func(name string, differ bool) {
		if differ {
			d = append(d, name)
		}
	}
	add("oid", a.Oid != b.Oid)
	add("version", !proto.Equal(a.Version, b.Version))
	add("size", a.Size != b.Size)
	add("xattr", a.XattrDigest != b.XattrDigest)
	add("omap", a.OmapDigest != b.OmapDigest)
	add("data", a.DataDigest != b.DataDigest)
	add("error", a.Error != b.Error)
	add("missing", a.Missing != b.Missing)
	return d
}

// One difference between two stores' objects shows in the fields it
// should, and in no other.
func TestScrubDigestsChange(t *testing.T) {
	base := [][]*pb.OpStep{
		{writeFullStep(pattern(500, 1)), setxattrStep("x", []byte("1")), setxattrStep("ab", []byte("c"))},
		{omapSetStep(kv("k", "v", "l", "w"))},
	}
	for _, tc := range []struct {
		name      string
		a, b      []*pb.OpStep // last operation on each store
		shallow   []string     // fields a shallow scrub finds different
		deep      []string     // fields a deep scrub finds different
		inlineToo bool         // also run on an inline object
	}{
		{"same", []*pb.OpStep{setxattrStep("x", []byte("2"))}, []*pb.OpStep{setxattrStep("x", []byte("2"))}, nil, nil, true},
		{"xattr value", []*pb.OpStep{setxattrStep("x", []byte("2"))}, []*pb.OpStep{setxattrStep("x", []byte("3"))}, []string{"xattr"}, []string{"xattr"}, true},
		{"xattr split", []*pb.OpStep{rmxattrStep("ab"), setxattrStep("ab", []byte("c"))}, []*pb.OpStep{rmxattrStep("ab"), setxattrStep("a", []byte("bc"))}, []string{"xattr"}, []string{"xattr"}, true},
		{"xattr empty value", []*pb.OpStep{setxattrStep("z", nil)}, []*pb.OpStep{setxattrStep("x", []byte("1"))}, []string{"xattr"}, []string{"xattr"}, true},
		{"data byte", []*pb.OpStep{writeStep(10, []byte("a"))}, []*pb.OpStep{writeStep(10, []byte("b"))}, nil, []string{"data"}, true},
		{"data in a later chunk", []*pb.OpStep{writeStep(450, []byte("a"))}, []*pb.OpStep{writeStep(450, []byte("b"))}, nil, []string{"data"}, false},
		{"zeroed chunks vs written zeros", []*pb.OpStep{zeroStep(64, 128)}, []*pb.OpStep{writeStep(64, make([]byte, 128))}, nil, nil, false},
		{"zeroed vs written zeros", []*pb.OpStep{zeroStep(10, 20)}, []*pb.OpStep{writeStep(10, make([]byte, 20))}, nil, nil, true},
		{"size", []*pb.OpStep{truncateStep(400)}, []*pb.OpStep{truncateStep(401)}, []string{"size"}, []string{"size", "data"}, true},
		{"omap value", []*pb.OpStep{omapSetStep(kv("k", "v2"))}, []*pb.OpStep{omapSetStep(kv("k", "v3"))}, nil, []string{"omap"}, true},
		{"omap split", []*pb.OpStep{omapSetStep(kv("kk", "v"))}, []*pb.OpStep{omapSetStep(kv("k", "kv"))}, nil, []string{"omap"}, true},
		{"omap cleared", []*pb.OpStep{omapClearStep()}, []*pb.OpStep{omapRmStep("k")}, nil, []string{"omap"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sizes := []int{500}
			if tc.inlineToo {
				sizes = append(sizes, 80) // inline (InlineMax 100)
			}
			for _, size := range sizes {
				a, b := openStore(t, inMem(smallOpts(""))), openStore(t, inMem(smallOpts("")))
				for _, s := range []*tstore{a, b} {
					for i, steps := range base {
						if i == 0 {
							steps = append([]*pb.OpStep{writeFullStep(pattern(size, 1))}, steps[1:]...)
						}
						s.mustOp(testPG, "o", steps...)
					}
				}
				a.mustOp(testPG, "o", tc.a...)
				b.mustOp(testPG, "o", tc.b...)
				for _, deep := range []bool{false, true} {
					oa, ob := scrubOne(t, a, testPG, "o", deep), scrubOne(t, b, testPG, "o", deep)
					want := tc.shallow
					if deep {
						want = tc.deep
					}
					if got := scrubDiff(oa, ob); !slices.Equal(got, want) {
						t.Errorf("size %d deep=%v: differing fields %v, want %v\n a %v\n b %v", size, deep, got, want, oa, ob)
					}
				}
				if oa := scrubOne(t, a, testPG, "o", true); tc.name == "omap cleared" && oa.OmapDigest != 0 {
					t.Errorf("object without omap entries: omap digest %#x, want 0", oa.OmapDigest)
				}
			}
		})
	}
}

// The data digest is the hash of the logical bytes: an inline object and
// a chunked one (of any chunk size) holding the same bytes agree, and
// holes hash as zeros.
func TestScrubInlineVsChunked(t *testing.T) {
	sparse := append(append(make([]byte, 150), pattern(30, 9)...), make([]byte, 20)...)
	for _, tc := range []struct {
		name  string
		steps []*pb.OpStep
		data  []byte
	}{
		{"dense", []*pb.OpStep{writeFullStep(pattern(80, 2))}, pattern(80, 2)},
		{"sparse", []*pb.OpStep{truncateStep(200), writeStep(150, pattern(30, 9))}, sparse},
		{"empty", []*pb.OpStep{createStep(true)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := naiveDigest(tc.data)
			for _, l := range []struct {
				cs, inlineMax int
				inlined       bool
			}{{64, 1000, true}, {64, -1, false}, {16, -1, false}, {4096, -1, false}} {
				o := inMem(smallOpts(""))
				o.ChunkSize, o.InlineMax = l.cs, l.inlineMax
				s := openStore(t, o)
				s.mustOp(testPG, "o", tc.steps...)
				m, err := s.loadMeta(s.db, testPG, "o")
				wantErr(t, err, nil)
				if inl := l.inlined || len(tc.data) == 0; m.GetInlined() != inl {
					t.Fatalf("chunk size %d, inline max %d: inlined %v, want %v", l.cs, l.inlineMax, m.GetInlined(), inl)
				}
				got := scrubOne(t, s, testPG, "o", true)
				if got.Error != "" || got.DataDigest != want || got.Size != uint64(len(tc.data)) {
					t.Errorf("chunk size %d, inline max %d: %v; want data digest %#x", l.cs, l.inlineMax, got, want)
				}
			}
		})
	}
}

// Damage shows in the object's error (a deep scrub's, or even a shallow
// one's when no data need be read) and counts as corruption like a read
// does, without failing the call or hiding the other objects.
func TestScrubDamage(t *testing.T) {
	set := func(t *testing.T, s *tstore, k, v []byte) {
		t.Helper()
		if err := s.db.Set(k, v, pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	meta := func(t *testing.T, s *tstore, oid string) *pb.ObjectMeta {
		t.Helper()
		m, err := s.loadMeta(s.db, testPG, oid)
		wantErr(t, err, nil)
		return m
	}
	setMeta := func(t *testing.T, s *tstore, oid string, f func(*pb.ObjectMeta)) {
		m := meta(t, s, oid)
		f(m)
		v, err := proto.Marshal(m)
		wantErr(t, err, nil)
		set(t, s, metaKey(testPG, oid), v)
	}
	for _, tc := range []struct {
		name    string
		oid     string
		damage  func(t *testing.T, s *tstore)
		shallow string // substring of the shallow error ("": none)
		deep    string
		counts  [2]uint64 // CorruptionCount increase of a shallow, a deep scrub
		readErr bool      // a read of the object fails (and counts as much)
	}{
		{"flipped chunk byte", "big", func(t *testing.T, s *tstore) { wantErr(t, s.FlipByte(testPG, "big", 3*64+5), nil) },
			"", "chunk 3: checksum mismatch", [2]uint64{0, 1}, true},
		{"flipped byte of the last chunk", "big", func(t *testing.T, s *tstore) { wantErr(t, s.FlipByte(testPG, "big", 999), nil) },
			"", "chunk 15: checksum mismatch", [2]uint64{0, 1}, true},
		{"two bad chunks", "big", func(t *testing.T, s *tstore) {
			wantErr(t, s.FlipByte(testPG, "big", 0), nil)
			wantErr(t, s.FlipByte(testPG, "big", 640), nil)
		}, "", "chunk 0: checksum mismatch; chunk 10: checksum mismatch", [2]uint64{0, 2}, true},
		{"flipped inline byte", "small", func(t *testing.T, s *tstore) { wantErr(t, s.FlipByte(testPG, "small", 1), nil) },
			"", "inline data: checksum mismatch", [2]uint64{0, 1}, true},
		{"short chunk value", "big", func(t *testing.T, s *tstore) {
			set(t, s, dataKey(testPG, "big", meta(t, s, "big").Gen, 1), []byte{1, 2})
		}, "", "chunk 1: chunk value shorter than its checksum", [2]uint64{0, 1}, true},
		{"chunk past size", "big", func(t *testing.T, s *tstore) {
			d := []byte("xyz")
			set(t, s, dataKey(testPG, "big", meta(t, s, "big").Gen, 40), encodeChunk(s.sum(d), d))
		}, "", "chunk 40: past size 1000", [2]uint64{0, 0}, false},
		{"chunk longer than the size", "big", func(t *testing.T, s *tstore) {
			d := make([]byte, 64) // the last chunk holds 1000-15*64 = 40 bytes
			set(t, s, dataKey(testPG, "big", meta(t, s, "big").Gen, 15), encodeChunk(s.sum(d), d))
		}, "", "chunk 15: 64 bytes extend past size 1000", [2]uint64{0, 0}, false},
		{"undecodable metadata", "small", func(t *testing.T, s *tstore) { set(t, s, metaKey(testPG, "small"), []byte{0xff, 0xff}) },
			"undecodable metadata", "undecodable metadata", [2]uint64{1, 1}, true},
		{"inline data too short", "small", func(t *testing.T, s *tstore) {
			setMeta(t, s, "small", func(m *pb.ObjectMeta) { m.Size++ })
		}, "inline data of 3 bytes for size 4", "inline data of 3 bytes for size 4", [2]uint64{1, 1}, true},
		{"chunked with inline data", "big", func(t *testing.T, s *tstore) {
			setMeta(t, s, "big", func(m *pb.ObjectMeta) { m.Inline = []byte("x") })
		}, "chunked object with 1 bytes of inline data", "chunked object with 1 bytes of inline data", [2]uint64{0, 0}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, inMem(smallOpts("")))
			s.mustOp(testPG, "a", writeFullStep(pattern(300, 3)))
			s.mustOp(testPG, "big", writeFullStep(pattern(1000, 1)), omapSetStep(kv("k", "v")))
			s.mustOp(testPG, "small", writeFullStep([]byte("abc")))
			s.mustOp(testPG, "z", writeFullStep([]byte("zz")), omapSetStep(kv("k", "v")))
			before := map[bool][]*pb.ScrubObject{false: scrubAll(t, s, testPG, 0, false), true: scrubAll(t, s, testPG, 0, true)}
			tc.damage(t, s)
			for i, deep := range []bool{false, true} {
				n := s.CorruptionCount()
				objs := scrubAll(t, s, testPG, 0, deep)
				if got := s.CorruptionCount() - n; got != tc.counts[i] {
					t.Errorf("deep=%v: corruption count rose by %d, want %d", deep, got, tc.counts[i])
				}
				want := tc.shallow
				if deep {
					want = tc.deep
				}
				if len(objs) != len(before[deep]) {
					t.Fatalf("deep=%v: %d objects, want %d", deep, len(objs), len(before[deep]))
				}
				for j, o := range objs {
					if o.Oid != tc.oid {
						if !proto.Equal(o, before[deep][j]) {
							t.Errorf("deep=%v: intact object changed: %v, was %v", deep, o, before[deep][j])
						}
						continue
					}
					switch {
					case want == "" && o.Error != "":
						t.Errorf("deep=%v: error %q, want none", deep, o.Error)
					case want != "" && !strings.Contains(o.Error, want):
						t.Errorf("deep=%v: error %q, want %q", deep, o.Error, want)
					case want != "" && o.DataDigest != 0:
						t.Errorf("deep=%v: data digest %#x of a damaged object", deep, o.DataDigest)
					}
				}
				// The oids form reports the same.
				one := scrubOne(t, s, testPG, tc.oid, deep)
				if (want == "") != (one.Error == "") || !strings.Contains(one.Error, want) {
					t.Errorf("deep=%v: by name: error %q, want %q", deep, one.Error, want)
				}
			}
			// A read counts (at least) one corruption where scrub does.
			n := s.CorruptionCount()
			_, err := s.read(testPG, tc.oid)
			if tc.readErr {
				wantErr(t, err, ErrCorrupt)
				if s.CorruptionCount() == n {
					t.Errorf("read did not count the corruption")
				}
			} else {
				wantErr(t, err, nil)
			}
		})
	}
}

func TestScrubOIDs(t *testing.T) {
	s := openStore(t, inMem(smallOpts("")))
	for _, oid := range []string{"a", "b", "c"} {
		s.mustOp(testPG, oid, writeFullStep(pattern(200, oid[0])), setxattrStep("n", []byte(oid)))
	}
	s.mustOp(PGID{Pool: 1, PS: 1}, "elsewhere", writeFullStep([]byte("x")))
	for _, deep := range []bool{false, true} {
		all := scrubAll(t, s, testPG, 0, deep)
		byName := map[string]*pb.ScrubObject{}
		for _, o := range all {
			byName[o.Oid] = o
		}
		oids := []string{"c", "absent", "a", "elsewhere", "c"}
		got, more, err := s.ScrubObjects(testPG, "zzz", 1, oids, deep)
		wantErr(t, err, nil)
		if more || len(got) != len(oids) {
			t.Fatalf("deep=%v: %d objects, more %v", deep, len(got), more)
		}
		for i, oid := range oids {
			want := byName[oid]
			if want == nil {
				want = &pb.ScrubObject{Oid: oid, Missing: true}
			}
			if !proto.Equal(got[i], want) {
				t.Errorf("deep=%v: %s: %v, want %v", deep, oid, got[i], want)
			}
		}
	}
	_, _, err := s.ScrubObjects(testPG, "", 0, []string{"a", ""}, false)
	wantErr(t, err, ErrInvalid)
	_, _, err = s.ScrubObjects(testPG, "", 0, make([]string, maxScrubObjects+1), false)
	wantErr(t, err, ErrTooBig)
	objs, more, err := s.ScrubObjects(PGID{Pool: 9, PS: 9}, "", 0, nil, true)
	if err != nil || more || len(objs) != 0 {
		t.Fatalf("scrub of an empty PG: %v %v %v", objs, more, err)
	}
	wantErr(t, s.Close(), nil)
	_, _, err = s.ScrubObjects(testPG, "", 0, nil, false)
	wantErr(t, err, ErrClosed)
}

func TestScrubPaging(t *testing.T) {
	s := openStore(t, inMem(smallOpts("")))
	var want []string
	for i := range 57 {
		oid := fmt.Sprintf("obj-%03d", (i*37)%57) // not written in name order
		s.mustOp(testPG, oid, writeFullStep(pattern(10+i, byte(i))))
	}
	for i := range 57 {
		want = append(want, fmt.Sprintf("obj-%03d", i))
	}
	s.mustOp(PGID{Pool: testPG.Pool, PS: testPG.PS + 1}, "next-pg", createStep(true))
	for _, max := range []int{1, 2, 7, 56, 57, 58, 0, -1, maxScrubObjects + 1} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			var got []string
			for _, o := range scrubAll(t, s, testPG, max, false) {
				got = append(got, o.Oid)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("objects %v, want %v", got, want)
			}
		})
	}
	// A page that ends with the last object says so.
	objs, more, err := s.ScrubObjects(testPG, "obj-049", 7, nil, false)
	if err != nil || more || len(objs) != 7 {
		t.Fatalf("last page: %d objects, more %v, %v", len(objs), more, err)
	}
	objs, more, err = s.ScrubObjects(testPG, "obj-048", 7, nil, false)
	if err != nil || !more || len(objs) != 7 || objs[0].Oid != "obj-049" {
		t.Fatalf("page before the last: %d objects, more %v, %v", len(objs), more, err)
	}
	// startAfter need not name an object.
	objs, _, err = s.ScrubObjects(testPG, "obj-0305", 1, nil, false)
	if err != nil || len(objs) != 1 || objs[0].Oid != "obj-031" {
		t.Fatalf("after a name between objects: %v, %v", objs, err)
	}
}

func TestScrubDefaultPage(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 1001 objects")
	}
	o := inMem(smallOpts(""))
	o.LogEntries = 10
	s := openStore(t, o)
	for i := range defaultScrubMax + 1 {
		s.mustOp(testPG, fmt.Sprintf("o%04d", i), createStep(true))
	}
	for _, max := range []int{0, -5, maxScrubObjects + 1} {
		objs, more, err := s.ScrubObjects(testPG, "", max, nil, false)
		if err != nil || !more || len(objs) != defaultScrubMax {
			t.Fatalf("max %d: %d objects, more %v, %v", max, len(objs), more, err)
		}
	}
	objs, more, err := s.ScrubObjects(testPG, "", maxScrubObjects, nil, false)
	if err != nil || more || len(objs) != defaultScrubMax+1 {
		t.Fatalf("max %d: %d objects, more %v, %v", maxScrubObjects, len(objs), more, err)
	}
}

// A 10 MiB object (160 chunks of 64 KiB), dense and sparse, is hashed
// through one chunk at a time.
func TestScrubLarge(t *testing.T) {
	o := inMem(smallOpts(""))
	o.ChunkSize, o.InlineMax, o.IngestMin = DefaultChunkSize, DefaultInlineMax, DefaultIngestMin
	s := openStore(t, o)
	data := randBytes(rand.New(rand.NewPCG(7, 7)), 10<<20)
	s.mustOp(testPG, "dense", writeFullStep(data))
	sparse := make([]byte, 10<<20)
	copy(sparse[5<<20+100:], data[:1<<20])
	s.mustOp(testPG, "sparse", truncateStep(10<<20), writeStep(5<<20+100, data[:1<<20]))
	for oid, want := range map[string][]byte{"dense": data, "sparse": sparse} {
		got := scrubOne(t, s, testPG, oid, true)
		if got.Error != "" || got.Size != 10<<20 || got.DataDigest != naiveDigest(want) {
			t.Errorf("%s: %v, want data digest %#x", oid, got, naiveDigest(want))
		}
	}
}

// Scrubs running alongside writes of the object see one whole version of
// it: never an error, always the digest of some version's data.
func TestScrubDuringWrites(t *testing.T) {
	o := inMem(smallOpts(""))
	o.IngestMin = 256 // some rewrites ingest their chunks before committing
	s := openStore(t, o)
	versions := map[uint64]bool{}
	var datas [][]byte
	for i := range 20 {
		d := pattern(300+i*37, byte(i))
		datas = append(datas, d)
		versions[naiveDigest(d)] = true
	}
	s.mustOp(testPG, "o", writeFullStep(datas[0]))
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := range 200 {
			if _, err := s.op(testPG, "o", writeFullStep(datas[i%len(datas)])); err != nil {
				t.Errorf("write: %v", err)
				return
			}
		}
	}()
	var failure string
	scrubs := 0
	for running := true; running && failure == ""; scrubs++ {
		select {
		case <-done:
			running = false
		default:
		}
		objs, _, err := s.ScrubObjects(testPG, "", 0, nil, true)
		switch {
		case err != nil:
			failure = fmt.Sprintf("scrub: %v", err)
		case len(objs) != 1 || objs[0].Error != "" || !versions[objs[0].DataDigest]:
			failure = fmt.Sprintf("scrub %d during writes: %v", scrubs, objs)
		}
	}
	wg.Wait()
	if failure != "" {
		t.Fatal(failure)
	}
	s.checkClean()
}

// BenchmarkScrubDeep deep-scrubs 64 MiB of 4 MiB objects (default
// options, on disk: the chunks of large objects were written with
// O_DIRECT and are mostly not in the page cache), a page of 4 objects
// per call; MB/s is the deep-scrub read rate.
func BenchmarkScrubDeep(b *testing.B) {
	const size, total, page = 4 << 20, 64 << 20, 4
	s := openStore(b, Options{Dir: b.TempDir(), ChecksumKey: testKey})
	data := randBytes(rand.New(rand.NewPCG(1, 1)), size)
	for i := range total / size {
		data[0] = byte(i) // distinct objects
		s.mustOp(testPG, fmt.Sprintf("obj-%02d", i), writeFullStep(data))
	}
	if err := s.db.Flush(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(total)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		n := 0
		for _, o := range scrubAll(b, s, testPG, page, true) {
			if o.Error != "" {
				b.Fatalf("%s: %s", o.Oid, o.Error)
			}
			n++
		}
		if n != total/size {
			b.Fatalf("%d objects", n)
		}
	}
}

// Injected read errors fail the call (ErrIO, or ErrCorrupt where Pebble
// takes them for corruption) instead of marking objects; a call that
// succeeds describes every object exactly as without errors.
func TestScrubReadErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var rmu sync.Mutex
	inj := &switchInjector{match: func(op errorfs.Op, path string) bool {
		rmu.Lock()
		defer rmu.Unlock()
		return (op == errorfs.OpFileRead || op == errorfs.OpFileReadAt) && strings.HasSuffix(path, ".sst") && r.IntN(30) == 0
	}}
	s, _ := errorStore(t, inj)
	for i, oid := range []string{"a", "b", "c", "d", "e", "f"} {
		s.mustOp(testPG, oid, writeFullStep(pattern(90+i*700, byte(i))), omapSetStep(kv("k", oid)), setxattrStep("x", []byte(oid)))
	}
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	want := scrubAll(t, s, testPG, 0, true)
	var failed, ok int
	for range 40 {
		s.reopen() // an empty block cache
		inj.on.Store(true)
		got, _, err := s.ScrubObjects(testPG, "", 0, nil, true)
		inj.on.Store(false)
		if err != nil {
			if !errors.Is(err, ErrIO) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("scrub error %v is neither ErrIO nor ErrCorrupt", err)
			}
			failed++
			continue
		}
		compareScrubs(t, "with read errors", got, want)
		ok++
	}
	if failed == 0 || ok == 0 {
		t.Fatalf("%d scrubs failed, %d succeeded: the injection did not bite", failed, ok)
	}
	s.checkClean()
}

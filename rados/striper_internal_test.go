package rados

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	pb "github.com/loligo/loligo/proto/loligopb"
)

func TestStripeName(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		n      uint64
		want   string
	}{
		{"obj", 0, "obj.00000000"},
		{"obj", 0x1f, "obj.0000001f"},
		{"10000000abc", 0xdeadbeef, "10000000abc.deadbeef"},
		{"x", 0x123456789, "x.123456789"},
		{fmt.Sprintf("%x", 0x10000000001), 2, "10000000001.00000002"},
	} {
		if got := StripeName(tc.prefix, tc.n); got != tc.want {
			t.Errorf("StripeName(%q, %d) = %q, want %q", tc.prefix, tc.n, got, tc.want)
		}
	}
}

func TestPieceName(t *testing.T) {
	const inst = "0123456789abcdef"
	for _, tc := range []struct {
		name string
		n    uint64
		want string
	}{
		{"obj", 0, "obj.~0123456789abcdef.00000000"},
		{"a.b", 0x1f, "a.b.~0123456789abcdef.0000001f"},
		{"x.~0123456789abcdef.00000001", 0xffffffffffffffff, "x.~0123456789abcdef.00000001.~0123456789abcdef.ffffffffffffffff"},
	} {
		got := pieceName(tc.name, inst, tc.n)
		if got != tc.want {
			t.Errorf("pieceName(%q, %d) = %q, want %q", tc.name, tc.n, got, tc.want)
		}
		name, in, n, ok := ParsePieceName(got)
		if !ok || name != tc.name || in != inst || n != tc.n {
			t.Errorf("ParsePieceName(%q) = %q %q %d %v", got, name, in, n, ok)
		}
	}
	// The longest name a striped object may have makes the longest piece
	// name an object may have.
	long := strings.Repeat("n", MaxStripedNameLen)
	if got := len(pieceName(long, inst, 1<<64-1)); got != MaxObjectNameLen {
		t.Errorf("longest piece name: %d bytes, want %d", got, MaxObjectNameLen)
	}
	for _, oid := range []string{
		"obj", "obj.00000000", "obj.~0123456789abcdef", ".~0123456789abcdef.00000000",
		"obj.~0123456789ABCDEF.00000000", "obj.~0123456789abcde.00000000", "obj.0123456789abcdef.00000000",
		"obj.~0123456789abcdef.0000000", "obj.~0123456789abcdef.000000001", "obj.~0123456789abcdef.0000000g",
		"obj.~0123456789abcdef.00000000000000001",
	} {
		if name, inst, n, ok := ParsePieceName(oid); ok {
			t.Errorf("ParsePieceName(%q) = %q %q %d, want not a piece", oid, name, inst, n)
		}
	}
}

func TestStripeLayout(t *testing.T) {
	const os = 64 << 10
	for _, tc := range []struct {
		size   uint64
		pieces uint64
		last   uint64
	}{
		{0, 1, 0},
		{1, 1, 1},
		{os - 1, 1, os - 1},
		{os, 1, os},
		{os + 1, 2, 1},
		{3*os + 5, 4, 5},
	} {
		l := stripeLayout{size: tc.size, objectSize: os}
		if got := l.pieces(); got != tc.pieces {
			t.Errorf("size %d: %d pieces, want %d", tc.size, got, tc.pieces)
		}
		var sum uint64
		for n := range l.pieces() {
			sum += l.pieceLen(n)
			if n < l.pieces()-1 && l.pieceLen(n) != os {
				t.Errorf("size %d: piece %d has %d bytes", tc.size, n, l.pieceLen(n))
			}
		}
		if got := l.pieceLen(l.pieces() - 1); got != tc.last {
			t.Errorf("size %d: last piece %d, want %d", tc.size, got, tc.last)
		}
		if sum != tc.size || l.pieceLen(l.pieces()) != 0 {
			t.Errorf("size %d: pieces add up to %d", tc.size, sum)
		}
	}

	l := stripeLayout{instance: "00112233445566ff", size: 100, objectSize: 64}
	raw := l.encode()
	if string(raw) != "v1 instance=00112233445566ff size=100 object_size=64" {
		t.Errorf("encode: %q", raw)
	}
	if got, err := parseLayout(raw); err != nil || got != l {
		t.Errorf("parseLayout(%q) = %+v, %v", raw, got, err)
	}
	for _, bad := range []string{
		"", "v1", "v2 instance=00112233445566ff size=100 object_size=64",
		"v1 instance=0011 size=100 object_size=64", "v1 instance=00112233445566FF size=100 object_size=64",
		"v1 instance=00112233445566ff size=x object_size=64", "v1 instance=00112233445566ff size=100 object_size=0",
		"v1 instance=00112233445566ff object_size=64 size=100", "v1 instance=00112233445566ff size=100 object_size=64 x=1",
	} {
		if got, err := parseLayout([]byte(bad)); err == nil {
			t.Errorf("parseLayout(%q) = %+v, want an error", bad, got)
		}
	}

	ll, ok, err := parseLegacyLayout(map[string][]byte{legacySizeXattr: []byte("100"), legacyObjectSizeXattr: []byte("64")})
	if err != nil || !ok || ll != (stripeLayout{size: 100, objectSize: 64}) || ll.piece("o", 1) != "o.00000001" {
		t.Errorf("parseLegacyLayout = %v %v %v", ll, ok, err)
	}
	if _, ok, err := parseLegacyLayout(map[string][]byte{legacySizeXattr: []byte("100")}); ok || err != nil {
		t.Errorf("parseLegacyLayout without object size = %v %v", ok, err)
	}
	if _, _, err := parseLegacyLayout(map[string][]byte{legacySizeXattr: []byte("x"), legacyObjectSizeXattr: []byte("64")}); err == nil {
		t.Error("parseLegacyLayout accepted a bad size")
	}
	if _, _, err := parseLegacyLayout(map[string][]byte{legacySizeXattr: []byte("1"), legacyObjectSizeXattr: []byte("0")}); err == nil {
		t.Error("parseLegacyLayout accepted object size 0")
	}
}

// pieceNames returns the names among oids that are pieces of name, and
// their instances.
func pieceNames(oids []string, name string) (pieces []string, insts []string) {
	for _, oid := range oids {
		if h, inst, _, ok := ParsePieceName(oid); ok && h == name {
			pieces = append(pieces, oid)
			if !slices.Contains(insts, inst) {
				insts = append(insts, inst)
			}
		}
	}
	return pieces, insts
}

func TestStriperFake(t *testing.T) {
	fc := newFakeCluster(t, 3)
	io := fc.ioctx(fc.conn(fc.m, time.Second))
	ctx := ctxT(t, 30*time.Second)
	const os = 1 << 10
	s := &Striper{IO: io, ObjectSize: os, Concurrency: 3, ReadSize: 2 * os}
	for _, size := range []int{0, 1, os - 1, os, os + 1, 3*os + 5, 20*os + 7} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i*7 + size)
		}
		n, err := s.Put(ctx, "big", bytes.NewReader(data))
		if err != nil || n != uint64(size) {
			t.Fatalf("put %d: %d, %v", size, n, err)
		}
		var buf bytes.Buffer
		st, err := s.Get(ctx, "big", &buf)
		if err != nil || st.Size != uint64(size) || !st.Striped || !bytes.Equal(buf.Bytes(), data) {
			t.Fatalf("get %d: %+v, %v, equal %v", size, st, err, bytes.Equal(buf.Bytes(), data))
		}
		if st, err := s.Stat(ctx, "big"); err != nil || st.Size != uint64(size) || !st.Striped || st.Version == 0 {
			t.Fatalf("stat %d: %+v, %v", size, st, err)
		}
		// The head and the pieces of one instance: the replaced
		// instance's pieces are gone.
		pieces, insts := pieceNames(fc.objects(), "big")
		if want := max(1, (size+os-1)/os); len(pieces) != want || len(insts) != 1 || !slices.Contains(fc.objects(), "big") {
			t.Fatalf("after a put of %d bytes: objects %v", size, fc.objects())
		}
	}
	// A plain object replaces the striped one, and the other way round.
	if _, err := s.WriteFull(ctx, "big", []byte("plain")); err != nil {
		t.Fatal(err)
	}
	if objs := fc.objects(); !slices.Equal(objs, []string{"big"}) {
		t.Fatalf("after a plain write over a striped object: %v", objs)
	}
	var buf bytes.Buffer
	if st, err := s.Get(ctx, "big", &buf); err != nil || st.Striped || st.Size != 5 || buf.String() != "plain" {
		t.Fatalf("get of the plain object: %+v %q %v", st, buf.String(), err)
	}
	// A plain object longer than ReadSize takes reads guarded by its
	// version.
	long := bytes.Repeat([]byte("0123456789"), 700)
	if _, err := s.WriteFull(ctx, "big", long); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if st, err := s.Get(ctx, "big", &buf); err != nil || st.Striped || !bytes.Equal(buf.Bytes(), long) {
		t.Fatalf("get of a long plain object: %+v %d bytes %v", st, buf.Len(), err)
	}
	if _, err := s.Put(ctx, "big", bytes.NewReader(make([]byte, os+1))); err != nil {
		t.Fatal(err)
	}
	if pieces, _ := pieceNames(fc.objects(), "big"); len(pieces) != 2 || len(fc.objects()) != 3 {
		t.Fatalf("after a striped put over a plain object: %v", fc.objects())
	}
	if xa := fc.objs["big"].xattrs; len(xa) != 1 || len(fc.objs["big"].data) != 0 {
		t.Fatalf("head: %q, %d bytes", xa, len(fc.objs["big"].data))
	}
	if err := s.Remove(ctx, "big"); err != nil {
		t.Fatal(err)
	}
	if left := fc.objects(); len(left) != 0 {
		t.Fatalf("left after remove: %v", left)
	}
	if _, err := s.Stat(ctx, "big"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "big: no such object") {
		t.Fatalf("stat after remove: %v", err)
	}
	if _, err := s.Get(ctx, "big", &bytes.Buffer{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get after remove: %v", err)
	}
	if err := s.Remove(ctx, "big"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("remove after remove: %v", err)
	}

	// A put that fails half way leaves the object as it was and removes
	// the pieces it wrote. One piece at a time: no write the failure
	// cancels may land later.
	s.Concurrency = 1
	before := make([]byte, 2*os)
	before[7] = 7
	if _, err := s.Put(ctx, "half", bytes.NewReader(before)); err != nil {
		t.Fatal(err)
	}
	objs := fc.objects()
	fc.setHook(func(sctx context.Context, osd int32, req *pb.OpRequest) (*pb.OpReply, error, bool) {
		if name, _, n, ok := ParsePieceName(req.GetOid()); ok && name == "half" && n == 2 {
			return fail(pb.Result_IO_ERROR, 0, "disk on fire"), nil, false
		}
		return nil, nil, true
	})
	if _, err := s.Put(ctx, "half", bytes.NewReader(make([]byte, 3*os))); !errors.Is(err, ErrIO) {
		t.Fatalf("failing put: %v", err)
	}
	fc.setHook(nil)
	if !slices.Equal(fc.objects(), objs) {
		t.Fatalf("a failed put left %v, want %v", fc.objects(), objs)
	}
	buf.Reset()
	if st, err := s.Get(ctx, "half", &buf); err != nil || st.Size != 2*os || !bytes.Equal(buf.Bytes(), before) {
		t.Fatalf("get after a failed put: %+v, %v", st, err)
	}
	if err := s.Remove(ctx, "half"); err != nil {
		t.Fatal(err)
	}

	// A striped put refuses a name its pieces' names would not fit,
	// before writing anything; a plain one takes it.
	longName := strings.Repeat("l", MaxStripedNameLen+1)
	reqs := len(fc.requests())
	if _, err := s.Put(ctx, longName, bytes.NewReader([]byte("x"))); !errors.Is(err, ErrBadName) || !errors.Is(err, ErrInvalid) ||
		!strings.Contains(err.Error(), "more than the 2013 a striped object's may have") {
		t.Fatalf("striped put of a %d-byte name: %v", len(longName), err)
	}
	if got := len(fc.requests()); got != reqs {
		t.Fatalf("the refused put sent %d requests", got-reqs)
	}
	// Nor may an object have a piece's name: ls would hide it, and
	// Orphans take it for an orphan.
	piece := pieceName("obj", "0123456789abcdef", 1)
	if _, err := s.Put(ctx, piece, bytes.NewReader([]byte("x"))); !errors.Is(err, ErrBadName) || !strings.Contains(err.Error(), "the pieces of striped objects (this one of obj)") {
		t.Fatalf("striped put of %s: %v", piece, err)
	}
	if _, err := s.WriteFull(ctx, piece, []byte("x")); !errors.Is(err, ErrBadName) {
		t.Fatalf("plain put of %s: %v", piece, err)
	}
	if got := len(fc.requests()); got != reqs {
		t.Fatalf("the refused puts sent %d requests", got-reqs)
	}
	if _, err := s.WriteFull(ctx, longName, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, longName); err != nil {
		t.Fatal(err)
	}
	if left := fc.objects(); len(left) != 0 {
		t.Fatalf("left: %v", left)
	}
}

// TestStriperLegacy: an object striped before instances (pieces
// NAME.%08x, the layout on piece 0, no head) is read while no head hides
// it, removed by Remove, and removed by a put that creates the head.
func TestStriperLegacy(t *testing.T) {
	fc := newFakeCluster(t, 3)
	io := fc.ioctx(fc.conn(fc.m, time.Second))
	ctx := ctxT(t, 30*time.Second)
	s := &Striper{IO: io, ObjectSize: 4}
	legacy := func(name, data string) {
		t.Helper()
		for n := 0; n*3 < max(len(data), 1); n++ {
			if err := io.WriteFull(ctx, StripeName(name, uint64(n)), []byte(data[n*3:min(len(data), n*3+3)])); err != nil {
				t.Fatal(err)
			}
		}
		op := NewWriteOp().SetXattr(legacySizeXattr, fmt.Appendf(nil, "%d", len(data))).SetXattr(legacyObjectSizeXattr, []byte("3"))
		if _, err := io.Operate(ctx, StripeName(name, 0), op); err != nil {
			t.Fatal(err)
		}
	}
	legacy("old", "abcdefgh")
	if st, err := s.Stat(ctx, "old"); err != nil || st.Size != 8 || !st.Striped {
		t.Fatalf("stat: %+v %v", st, err)
	}
	var buf bytes.Buffer
	if st, err := s.Get(ctx, "old", &buf); err != nil || st.Size != 8 || buf.String() != "abcdefgh" {
		t.Fatalf("get: %+v %q %v", st, buf.String(), err)
	}
	if err := s.Remove(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	if left := fc.objects(); len(left) != 0 {
		t.Fatalf("left after remove: %v", left)
	}
	// A put of the name removes the old object: a remove of the new one
	// must not bring it back.
	legacy("old", "abcdefgh")
	if _, err := s.WriteFull(ctx, "old", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if objs := fc.objects(); !slices.Equal(objs, []string{"old"}) {
		t.Fatalf("after a put over an old striped object: %v", objs)
	}
	legacy("old2", "abcdefgh")
	if _, err := s.Put(ctx, "old2", strings.NewReader("new")); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, "old2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "old2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("stat after remove: %v", err)
	}
	// Piece 0 without the layout is not a striped object's.
	if err := io.WriteFull(ctx, StripeName("plain", 0), []byte("p")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "plain"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("stat of a name whose piece 0 has no layout: %v", err)
	}
	if err := s.Remove(ctx, "plain"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("remove: %v", err)
	}
	if _, err := io.Stat(ctx, StripeName("plain", 0)); err != nil {
		t.Fatalf("remove of another name took %s: %v", StripeName("plain", 0), err)
	}
}

// TestStriperOrphans: pieces whose head is absent, plain or names
// another instance are orphans; a striped object's own are not, nor the
// pieces of a head whose layout does not parse.
func TestStriperOrphans(t *testing.T) {
	fc := newFakeCluster(t, 3)
	io := fc.ioctx(fc.conn(fc.m, time.Second))
	ctx := ctxT(t, 30*time.Second)
	s := &Striper{IO: io, ObjectSize: 4}
	for _, name := range []string{"striped", "plain", "bad"} {
		if _, err := s.Put(ctx, name, strings.NewReader("0123456789")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.WriteFull(ctx, "plain", []byte("p")); err != nil {
		t.Fatal(err)
	}
	if err := io.SetXattr(ctx, "bad", layoutXattr, []byte("v0")); err != nil {
		t.Fatal(err)
	}
	want := []string{
		pieceName("gone", "00000000000000aa", 0), pieceName("plain", "00000000000000bb", 3),
		pieceName("striped", "00000000000000cc", 0), pieceName("striped", "00000000000000cc", 1),
	}
	for _, oid := range append(slices.Clone(want), pieceName("bad", "00000000000000dd", 0)) {
		if err := io.WriteFull(ctx, oid, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	if err := s.Orphans(ctx, 0, func(oid string) error { got = append(got, oid); return nil }); err != nil {
		t.Fatal(err)
	}
	if slices.Sort(want); !slices.Equal(got, want) {
		t.Errorf("orphans %q, want %q", got, want)
	}
	stop := errors.New("stop")
	if err := s.Orphans(ctx, 0, func(string) error { return stop }); err != stop {
		t.Errorf("an error from fn: %v", err)
	}
}

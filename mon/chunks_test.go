package mon

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// mapLike returns n bytes that look like an encoded map: repetitive
// records with small differences, not random noise.
func mapLike(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		b.WriteString("osd.")
		b.WriteByte(byte('0' + i%10))
		b.WriteString(strings.Repeat("x", r.IntN(40)))
		var rnd [8]byte
		for j := range rnd {
			rnd[j] = byte(r.Uint32())
		}
		b.Write(rnd[:])
	}
	return b.Bytes()[:n]
}

// assembleStored reads a stored value back the way store.resolve does,
// with every chunk at hand.
func assembleStored(t *testing.T, v *storedValue) []byte {
	t.Helper()
	inline, man, ids, err := decodeStored(v.key)
	if err != nil {
		t.Fatal(err)
	}
	if man == nil {
		return inline
	}
	if len(ids) != len(v.ids) {
		t.Fatalf("manifest names %d distinct chunks, the value has %d", len(ids), len(v.ids))
	}
	out, err := assemble(man, v.chunks)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestStoredValueRoundTrip: values up to inlineMax are stored as they
// are (what older monitors wrote and read); larger ones as chunks of
// chunkMin..chunkMax bytes (the last may be shorter) that reassemble to
// the value, with a manifest far below one etcd request.
func TestStoredValueRoundTrip(t *testing.T) {
	for _, n := range []int{1, 1000, inlineMax, inlineMax + 1, 3 << 20, 9<<20 + 7} {
		val := mapLike(n, uint64(n))
		v, err := encodeValue(val)
		if err != nil {
			t.Fatal(err)
		}
		if got := assembleStored(t, v); !bytes.Equal(got, val) {
			t.Fatalf("%d bytes: read back %d different bytes", n, len(got))
		}
		if v.sum != sha256.Sum256(val) || v.size != n {
			t.Fatalf("%d bytes: checksum or size wrong", n)
		}
		if n <= inlineMax {
			if v.chunked() || !bytes.Equal(v.key, val) {
				t.Fatalf("%d bytes: not stored inline", n)
			}
			continue
		}
		if !v.chunked() || v.key[0] != manifestTag {
			t.Fatalf("%d bytes: not chunked", n)
		}
		if len(v.key) > 64<<10 {
			t.Fatalf("%d bytes: manifest of %d bytes", n, len(v.key))
		}
		_, man, _, _ := decodeStored(v.key)
		for i, s := range man.GetSizes() {
			if s > chunkMax || (s < chunkMin && i != len(man.GetSizes())-1) {
				t.Fatalf("%d bytes: chunk %d of %d bytes, outside %d..%d", n, i, s, chunkMin, chunkMax)
			}
		}
		t.Logf("%d bytes: %d chunks, manifest %d bytes", n, len(man.GetSizes()), len(v.key))
	}
}

// TestChunksFollowContent: a change in the middle of a large value
// (bytes inserted, as when an OSD entry grows) changes the chunks around
// it only, so an epoch writes a few chunks, not the whole map.
func TestChunksFollowContent(t *testing.T) {
	val := mapLike(4<<20, 7)
	edited := append(append(append([]byte{}, val[:2<<20]...), []byte("a longer OSD entry")...), val[2<<20:]...)
	a, err := encodeValue(val)
	if err != nil {
		t.Fatal(err)
	}
	b, err := encodeValue(edited)
	if err != nil {
		t.Fatal(err)
	}
	newChunks := 0
	for _, id := range b.ids {
		if _, ok := a.chunks[id]; !ok {
			newChunks++
		}
	}
	if newChunks > 2 {
		t.Fatalf("an 18-byte insertion changed %d of %d chunks", newChunks, len(b.ids))
	}
	t.Logf("an insertion in a 4 MiB value: %d new chunks of %d", newChunks, len(b.ids))
}

// TestDecodeStoredRejects: a manifest that is damaged, or whose chunks
// are missing, mixed up or torn, is an error, never a wrong value; a
// map written inline by an older monitor reads as it is.
func TestDecodeStoredRejects(t *testing.T) {
	old, err := proto.Marshal(&pb.OSDMap{Fsid: "f", Epoch: 9, MaxOsd: 3})
	if err != nil {
		t.Fatal(err)
	}
	if inline, man, ids, err := decodeStored(old); err != nil || man != nil || ids != nil || !bytes.Equal(inline, old) {
		t.Fatalf("an inline map: %v %v", man, err)
	}

	val := mapLike(2<<20, 3)
	v, err := encodeValue(val)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := decodeStored(append([]byte{manifestTag}, 0xff, 0xff)); err == nil {
		t.Fatal("a manifest that does not decode was accepted")
	}
	_, man, _, err := decodeStored(v.key)
	if err != nil {
		t.Fatal(err)
	}
	bad := proto.Clone(man).(*pb.ChunkManifest)
	bad.Length++
	b, err := proto.Marshal(bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := decodeStored(append([]byte{manifestTag}, b...)); err == nil {
		t.Fatal("a manifest whose sizes do not add up was accepted")
	}
	missing := map[chunkID][]byte{}
	for id, c := range v.chunks {
		missing[id] = c
	}
	delete(missing, v.ids[1])
	if _, err := assemble(man, missing); err == nil {
		t.Fatal("a value with a chunk missing was assembled")
	}
	torn := map[chunkID][]byte{}
	for id, c := range v.chunks {
		torn[id] = c
	}
	torn[v.ids[0]] = append([]byte{}, v.chunks[v.ids[0]]...)
	torn[v.ids[0]][5] ^= 1
	if _, err := assemble(man, torn); err == nil {
		t.Fatal("a value with a changed chunk was assembled")
	}
	// Chunks of the right ids but a manifest of another value: the
	// whole checksum catches it.
	other := proto.Clone(man).(*pb.ChunkManifest)
	other.Sha256 = make([]byte, sha256.Size)
	if _, err := assemble(other, v.chunks); err == nil {
		t.Fatal("a value that does not match its manifest's checksum was assembled")
	}
}

// TestChunkRefsNext: a commit's chunks stay while the map or a kept
// incremental names them; those of the replaced map and of trimmed
// incrementals that nothing else names are the dead ones.
func TestChunkRefsNext(t *testing.T) {
	id := func(b byte) chunkID { return chunkID{b} }
	ids := func(bs ...byte) []chunkID {
		var out []chunkID
		for _, b := range bs {
			out = append(out, id(b))
		}
		return out
	}
	// Epoch 10's map is chunks 1 2 3; epoch 8's incremental (a CRUSH
	// change) shares 2 with it; epoch 9's shares 3.
	r := newChunkRefs(ids(1, 2, 3), map[uint64][]chunkID{8: ids(2, 7), 9: ids(3, 8)})
	// Epoch 11 (window 2: keeps 10, 11) keeps 1 and 3, adds 4; its
	// incremental is inline. Epochs 8 and 9 are trimmed.
	n, dead := r.next(11, 2, ids(1, 3, 4), nil)
	if want := ids(2, 7, 8); !equalIDs(dead, want) {
		t.Fatalf("dead %v, want %v", dead, want)
	}
	for _, c := range ids(1, 3, 4) {
		if !n.has(c) {
			t.Fatalf("chunk %v dropped", c)
		}
	}
	if !r.has(id(2)) || r.has(id(4)) {
		t.Fatal("next changed the references it started from")
	}
	// Epoch 12's chunked incremental names 5 and 1; its map 1 5.
	n2, dead := n.next(12, 2, ids(1, 5), ids(5, 1))
	if want := ids(3, 4); !equalIDs(dead, want) {
		t.Fatalf("dead %v, want %v", dead, want)
	}
	// Epoch 13 replaces the map; 5 stays while epoch 12's incremental
	// is kept, and goes with it at epoch 14.
	n3, dead := n2.next(13, 2, ids(6), nil)
	if want := ids(); !equalIDs(dead, want) || !n3.has(id(5)) || !n3.has(id(1)) {
		t.Fatalf("dead %v, want none", dead)
	}
	_, dead = n3.next(14, 2, ids(6), nil)
	if want := ids(1, 5); !equalIDs(dead, want) {
		t.Fatalf("dead %v, want %v", dead, want)
	}
}

func equalIDs(a, b []chunkID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestMaxMapSizeConfig: the limit defaults to DefaultMaxMapSize and may
// not exceed what one gRPC message carries.
func TestMaxMapSizeConfig(t *testing.T) {
	base := Config{Name: "a", FSID: "f", Addr: "127.0.0.1:0", CAFile: "ca", CertFile: "c", KeyFile: "k",
		EtcdCAFile: "eca", EtcdCertFile: "ec", EtcdKeyFile: "ek",
		EtcdEndpoints: []string{"https://127.0.0.1:1"}}
	c, err := base.withDefaults()
	if err != nil || c.MaxMapSize != DefaultMaxMapSize {
		t.Fatalf("default MaxMapSize %d, %v", c.MaxMapSize, err)
	}
	for _, bad := range []int{-1, MaxMapSizeLimit + 1} {
		b := base
		b.MaxMapSize = bad
		if _, err := b.withDefaults(); !errors.Is(err, ErrInvalid) {
			t.Fatalf("MaxMapSize %d: %v, want ErrInvalid", bad, err)
		}
	}
	b := base
	b.MaxMapSize = MaxMapSizeLimit
	if _, err := b.withDefaults(); err != nil {
		t.Fatal(err)
	}
}

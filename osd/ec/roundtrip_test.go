package ec

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/klauspost/reedsolomon"
)

type profile struct{ k, m, su int }

func (p profile) String() string { return fmt.Sprintf("k%dm%dsu%d", p.k, p.m, p.su) }

// allProfiles is every k in 2..8, m in 1..3 with su 4096, and a few with
// other stripe units (and k=1).
func allProfiles() []profile {
	var ps []profile
	for k := 2; k <= 8; k++ {
		for m := 1; m <= 3; m++ {
			ps = append(ps, profile{k, m, 4096})
		}
	}
	return append(ps,
		profile{2, 1, 512}, profile{4, 2, 512}, profile{8, 3, 512},
		profile{4, 2, 65536}, profile{3, 3, 65536},
		profile{1, 1, 512}, profile{1, 3, 4096})
}

func sizesFor(c *Code) []int {
	w := c.StripeWidth()
	return []int{0, 1, w - 1, w, w + 1, 2*w + 17, 7*w - 3, 40 * w}
}

// TestRoundTrip: Encode then Decode gives the data back, every cell
// passes its checksum and the parity checks, for every profile and
// sizes around the stripe boundaries.
func TestRoundTrip(t *testing.T) {
	for _, p := range allProfiles() {
		t.Run(p.String(), func(t *testing.T) {
			c := mustNew(t, p.k, p.m, p.su)
			for _, size := range sizesFor(c) {
				data := randBytes(uint64(size), size)
				shards := encode(t, c, data)
				if bad := decodeEqual(t, c, shards, data); bad != nil {
					t.Fatalf("size %d: bad = %v", size, bad)
				}
				for i, b := range shards {
					if bad, err := c.VerifyShard(b); err != nil || bad != nil {
						t.Fatalf("size %d: VerifyShard(shard %d) = %v, %v", size, i, bad, err)
					}
				}
				if bad, err := c.CheckParity(shards); err != nil || bad != nil {
					t.Fatalf("size %d: CheckParity = %v, %v", size, bad, err)
				}
			}
		})
	}
}

// TestEmpty: an empty object has N empty (non-nil) shards, and they
// decode to nothing.
func TestEmpty(t *testing.T) {
	c := mustNew(t, 4, 2, 4096)
	shards := encode(t, c, nil)
	for i, b := range shards {
		if b == nil || len(b) != 0 {
			t.Fatalf("shard %d = %v, want empty non-nil", i, b)
		}
	}
	got, bad, err := c.Decode(shards)
	if err != nil || len(got) != 0 || bad != nil {
		t.Fatalf("Decode(empty) = %d bytes, %v, %v", len(got), bad, err)
	}
	got, bad, err = c.Decode(make([][]byte, c.N()))
	if err != nil || len(got) != 0 || bad != nil {
		t.Fatalf("Decode(all nil) = %d bytes, %v, %v", len(got), bad, err)
	}
	rec, err := c.Reconstruct(make([][]byte, c.N()), []int{0, 5})
	if err != nil || len(rec) != 2 || len(rec[0]) != 0 || len(rec[1]) != 0 {
		t.Fatalf("Reconstruct(all nil) = %v, %v", rec, err)
	}
}

// TestLayout checks the on-disk layout cell by cell against the package
// doc, independently of Decode: data cells are the object's bytes in
// stripe order (zero-padded), parity cells are reedsolomon.New(k, m)
// applied to each stripe on its own, every cell is followed by the
// big-endian HighwayHash-64 of its bytes under SumKey.
func TestLayout(t *testing.T) {
	for _, p := range []profile{{2, 1, 512}, {4, 2, 4096}, {5, 3, 64}} {
		t.Run(p.String(), func(t *testing.T) {
			c := mustNew(t, p.k, p.m, p.su)
			w, su, cs := c.StripeWidth(), c.StripeUnit(), c.CellSize()
			data := randBytes(7, 5*w+su+3)
			shards := encode(t, c, data)
			rs, err := reedsolomon.New(p.k, p.m)
			if err != nil {
				t.Fatal(err)
			}
			padded := append(slices.Clone(data), make([]byte, 6*w-len(data))...)
			for s := range 6 {
				cells := make([][]byte, c.N())
				for j := range c.K() {
					cells[j] = padded[s*w+j*su : s*w+(j+1)*su]
				}
				for i := c.K(); i < c.N(); i++ {
					cells[i] = make([]byte, su)
				}
				if err := rs.Encode(cells); err != nil {
					t.Fatal(err)
				}
				for i := range c.N() {
					cell := shards[i][s*cs : (s+1)*cs]
					if !bytes.Equal(cell[:su], cells[i]) {
						t.Fatalf("stripe %d shard %d: cell bytes differ", s, i)
					}
					if got, want := binary.BigEndian.Uint64(cell[su:]), cellSum(cells[i]); got != want {
						t.Fatalf("stripe %d shard %d: sum %x, want %x", s, i, got, want)
					}
				}
			}
		})
	}
}

// TestFormatGolden pins the on-disk format: if this fails, the sum key,
// the hash, the matrix or the layout changed, and every stored shard
// would become unreadable. Do not update the constants; fix the code.
func TestFormatGolden(t *testing.T) {
	if got, want := cellSum([]byte("loligo")), uint64(0x214c4b40bba811dd); got != want {
		t.Fatalf("cellSum(loligo) = %#x, want %#x", got, want)
	}
	c := mustNew(t, 3, 2, 64)
	data := make([]byte, 500)
	for i := range data {
		data[i] = byte(i * 7)
	}
	shards := encode(t, c, data)
	h := sha256.New()
	for _, b := range shards {
		h.Write(b)
	}
	got := hex.EncodeToString(h.Sum(nil))
	const want = "994286b416085cfb5fe22c83a0227b2e3977b3f1df0a955165839cdd25e1f637"
	if got != want {
		t.Fatalf("sha256 of the shards of the golden object = %s, want %s", got, want)
	}
}

// TestConcurrent: one Code used from several goroutines (run with -race).
func TestConcurrent(t *testing.T) {
	c := mustNew(t, 4, 2, 512)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for r := range 5 {
				data := randBytes(uint64(g*100+r), 3*c.StripeWidth()*(g+1)+r)
				shards, err := c.Encode(data)
				if err != nil {
					t.Error(err)
					return
				}
				shards[g%c.N()] = nil
				got, _, err := c.Decode(shards)
				if err != nil || !bytes.Equal(got[:len(data)], data) {
					t.Errorf("goroutine %d round %d: decode failed: %v", g, r, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestReuse: EncodeTo and DecodeTo overwrite dirty buffers completely,
// and allocate what does not fit.
func TestReuse(t *testing.T) {
	c := mustNew(t, 3, 2, 512)
	w := c.StripeWidth()
	data := randBytes(4, 4*w-9)
	want := encode(t, c, data)
	dst := make([][]byte, c.N())
	for i := range dst {
		dst[i] = bytes.Repeat([]byte{0xee}, len(want[i])+10)
	}
	dst[2] = make([]byte, 3) // too small: allocated
	got, err := c.EncodeTo(dst, data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("EncodeTo: shard %d differs", i)
		}
		if i != 2 && &got[i][0] != &dst[i][0] {
			t.Fatalf("EncodeTo: shard %d not written into dst", i)
		}
	}
	if _, err := c.EncodeTo(dst[:2], data); !isErr(err, ErrInvalid) {
		t.Fatalf("EncodeTo with 2 buffers: %v, want ErrInvalid", err)
	}
	for _, lost := range [][]int{nil, {0, 4}, {1}} {
		shards := cloneShards(want)
		for _, i := range lost {
			shards[i] = nil
		}
		buf := bytes.Repeat([]byte{0xee}, 4*w+1)
		out, _, err := c.DecodeTo(buf, shards)
		if err != nil || len(out) != 4*w || &out[0] != &buf[0] {
			t.Fatalf("lost %v: DecodeTo = %d bytes, %v", lost, len(out), err)
		}
		if !bytes.Equal(out[:len(data)], data) || !allZero(out[len(data):]) {
			t.Fatalf("lost %v: DecodeTo: wrong data", lost)
		}
	}
}

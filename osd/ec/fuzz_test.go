package ec

import (
	"bytes"
	"testing"
)

// fuzzCodes are small profiles for the fuzzer (su=64 keeps inputs small).
var fuzzCodes = func() []*Code {
	var cs []*Code
	for _, p := range []profile{{2, 1, 64}, {3, 2, 64}, {4, 3, 128}} {
		c, err := New(p.k, p.m, p.su)
		if err != nil {
			panic(err)
		}
		cs = append(cs, c)
	}
	return cs
}()

// FuzzDecode feeds Decode, Reconstruct, VerifyShard and CheckParity
// arbitrary shards and checks they do not panic and that their results
// are consistent.
//
// mode bit 0 clear: blob is cut into N shards, shard i of length
// len(blob)/N minus cut for shard (cut>>8)%N, absent when bit i of absent
// is set: arbitrary bytes and lengths.
// mode bit 0 set: blob is the object; it is encoded, fewer than m shards
// are dropped (from absent) and one byte flipped (at pos), so Decode must
// return blob exactly.
func FuzzDecode(f *testing.F) {
	f.Add(uint8(0), uint8(0), uint16(0), uint32(0), uint16(0), []byte{})
	f.Add(uint8(1), uint8(1), uint16(1), uint32(77), uint16(0), []byte("hello, erasure coded world"))
	f.Add(uint8(0), uint8(0), uint16(0), uint32(0), uint16(0), make([]byte, 3*72))
	f.Add(uint8(1), uint8(3), uint16(2), uint32(1000), uint16(3), bytes.Repeat([]byte{0xab}, 700))
	f.Add(uint8(2), uint8(0), uint16(5), uint32(0), uint16(0x0101), make([]byte, 7*136+5))
	f.Add(uint8(0), uint8(2), uint16(0), uint32(9), uint16(7), bytes.Repeat([]byte{1, 0}, 300))
	f.Fuzz(func(t *testing.T, profile, mode uint8, absent uint16, pos uint32, cut uint16, blob []byte) {
		c := fuzzCodes[int(profile)%len(fuzzCodes)]
		n := c.N()
		if mode&1 == 1 {
			if len(blob) > 1<<16 {
				return
			}
			shards, err := c.Encode(blob)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			dropped := 0
			for i := range n {
				if absent&(1<<i) != 0 && dropped < c.M()-1 {
					shards[i] = nil
					dropped++
				}
			}
			if i := int(pos>>16) % n; len(shards[i]) > 0 {
				shards[i][int(pos&0xffff)%len(shards[i])] ^= mode | 1
			}
			got, _, err := c.Decode(shards)
			if err != nil {
				t.Fatalf("Decode of %d bytes with %d dropped and one flip: %v", len(blob), dropped, err)
			}
			if len(got) < len(blob) || !bytes.Equal(got[:len(blob)], blob) {
				t.Fatalf("Decode of %d bytes with %d dropped and one flip: wrong data", len(blob), dropped)
			}
			return
		}
		shards := make([][]byte, n)
		size := len(blob) / n
		for i := range n {
			if absent&(1<<i) != 0 {
				continue
			}
			l := size
			if i == int(cut>>8)%n {
				l -= min(int(cut&0xff), l)
			}
			shards[i] = blob[i*size : i*size+l]
		}
		orig := cloneShards(shards)
		got, bad, err := c.Decode(shards)
		if err == nil {
			l := 0
			for _, b := range shards {
				l = max(l, len(b))
			}
			if want := l / c.CellSize() * c.StripeWidth(); len(got) != want {
				t.Fatalf("Decode returned %d bytes for shards of %d, want %d", len(got), l, want)
			}
		}
		for x := 1; x < len(bad); x++ {
			if bad[x] <= bad[x-1] || bad[x] >= n {
				t.Fatalf("bad = %v: not sorted shard indexes", bad)
			}
		}
		c.Reconstruct(shards, []int{0, n - 1})
		c.CheckParity(shards)
		for i, b := range shards {
			if !bytes.Equal(b, orig[i]) {
				t.Fatalf("shard %d was modified", i)
			}
			vb, err := c.VerifyShard(b)
			if err == nil && uint64(len(vb)) > uint64(len(b)/c.CellSize()) {
				t.Fatalf("VerifyShard: %d bad stripes of %d", len(vb), len(b)/c.CellSize())
			}
		}
	})
}

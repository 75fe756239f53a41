package ec

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
)

// TestHoles: stripes whose cells are all zero (data and sum), as a sparse
// store returns them, decode as zeros, pass VerifyShard and CheckParity,
// and survive lost shards.
func TestHoles(t *testing.T) {
	for _, p := range []profile{{2, 1, 512}, {4, 2, 4096}, {8, 3, 512}} {
		c := mustNew(t, p.k, p.m, p.su)
		w, cs := c.StripeWidth(), c.CellSize()
		const stripes = 8
		data := randBytes(5, stripes*w-7)
		shards := encode(t, c, data)
		// Punch stripes 2..4 out of every shard.
		for i := range shards {
			clear(shards[i][2*cs : 5*cs])
		}
		clear(data[2*w : 5*w])
		if bad := decodeEqual(t, c, shards, data); bad != nil {
			t.Fatalf("%v: bad = %v", p, bad)
		}
		for i, b := range shards {
			if bad, err := c.VerifyShard(b); bad != nil || err != nil {
				t.Fatalf("%v: VerifyShard(%d) = %v, %v", p, i, bad, err)
			}
		}
		if bad, err := c.CheckParity(shards); bad != nil || err != nil {
			t.Fatalf("%v: CheckParity = %v, %v", p, bad, err)
		}
		// A hole in some shards only, explicit zero cells in the others:
		// still consistent (the parity of zeros is zeros, with real sums).
		zero := encode(t, c, make([]byte, w))
		for i := range shards {
			if i%2 == 1 {
				copy(shards[i][3*cs:4*cs], zero[i])
			}
		}
		if bad, err := c.CheckParity(shards); bad != nil || err != nil {
			t.Fatalf("%v: CheckParity with mixed holes = %v, %v", p, bad, err)
		}
		// Lose m shards (shard 0 among them): the holes rebuild as zeros.
		lost := []int{0}
		for i := 1; i < c.M(); i++ {
			lost = append(lost, c.N()-i)
		}
		degraded := cloneShards(shards)
		for _, i := range lost {
			degraded[i] = nil
		}
		decodeEqual(t, c, degraded, data)
		rec, err := c.Reconstruct(degraded, lost)
		if err != nil {
			t.Fatalf("%v: Reconstruct: %v", p, err)
		}
		for x, i := range lost {
			// Rebuilt cells always carry their sum: a hole comes back as an
			// explicit zero cell, which is equivalent.
			for s := range stripes {
				got, orig := rec[x][s*cs:(s+1)*cs], shards[i][s*cs:(s+1)*cs]
				if allZero(orig) {
					if !allZero(got[:c.StripeUnit()]) || binary.BigEndian.Uint64(got[c.StripeUnit():]) != cellSum(got[:c.StripeUnit()]) {
						t.Fatalf("%v: rebuilt hole of shard %d stripe %d is not a zero cell with its sum", p, i, s)
					}
				} else if !bytes.Equal(got, orig) {
					t.Fatalf("%v: rebuilt shard %d stripe %d differs", p, i, s)
				}
			}
		}
	}
}

// TestHoleCells: which cells count as valid.
func TestHoleCells(t *testing.T) {
	c := mustNew(t, 2, 1, 64)
	su, cs := c.StripeUnit(), c.CellSize()
	sumOfZeros := cellSum(make([]byte, su))
	cell := func(data byte, sum uint64) []byte {
		b := make([]byte, cs)
		b[7] = data
		binary.BigEndian.PutUint64(b[su:], sum)
		return b
	}
	for _, tc := range []struct {
		name string
		cell []byte
		good bool
	}{
		{"hole", cell(0, 0), true},
		{"zeros with their sum", cell(0, sumOfZeros), true},
		{"zeros with a wrong sum", cell(0, 12345), false},
		{"zeros with a sum of one bit", cell(0, 1), false},
		{"data with a zero sum", cell(9, 0), false},
		{"data with its sum", cell(9, cellSum(cell(9, 0)[:su])), true},
		{"data with the sum of zeros", cell(9, sumOfZeros), false},
	} {
		shard := slices.Concat(cell(0, sumOfZeros), tc.cell, cell(0, 0))
		bad, err := c.VerifyShard(shard)
		if err != nil {
			t.Fatal(err)
		}
		want := []uint64{1}
		if tc.good {
			want = nil
		}
		if !slices.Equal(bad, want) {
			t.Errorf("%s: VerifyShard = %v, want %v", tc.name, bad, want)
		}
	}
}

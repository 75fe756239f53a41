package ec

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// flip flips one byte of cell s of shard i, at offset off within the
// cell (off < su: the data, else the sum).
func flip(c *Code, shards [][]byte, i, s, off int) {
	shards[i][s*c.CellSize()+off] ^= 0x5a
}

// TestCorruptUpToM: one flipped byte (in data or sum) in each of up to m
// shards, in the same stripe or in different ones: Decode returns the
// data and reports the flipped shards it read, VerifyShard finds them
// all, Reconstruct repairs them.
func TestCorruptUpToM(t *testing.T) {
	for _, p := range []profile{{2, 1, 512}, {3, 2, 512}, {4, 2, 512}, {8, 3, 512}, {4, 3, 64}} {
		for _, bs := range []int{0, 2} {
			base := mustNew(t, p.k, p.m, p.su)
			c := base
			if bs > 0 {
				c = withBatch(base, bs)
			}
			t.Run(fmt.Sprintf("%v/batch%d", p, c.batch), func(t *testing.T) {
				const stripes = 7
				data := randBytes(uint64(p.k), stripes*c.StripeWidth()-11)
				orig := encode(t, c, data)
				rng := rand.New(rand.NewPCG(uint64(p.k), uint64(p.m)))
				for trial := range 40 {
					count := 1 + trial%c.M()
					sameStripe := trial%2 == 0
					flipped := rng.Perm(c.N())[:count]
					slices.Sort(flipped)
					shards := cloneShards(orig)
					s := rng.IntN(stripes)
					badStripe := map[int]int{}
					for x, i := range flipped {
						if !sameStripe {
							s = rng.IntN(stripes)
						}
						off := rng.IntN(c.CellSize())
						if x == 0 && trial%4 == 1 {
							off = c.StripeUnit() + rng.IntN(SumSize) // in the sum
						}
						flip(c, shards, i, s, off)
						badStripe[i] = s
					}
					bad := decodeEqual(t, c, shards, data)
					want := []int(nil)
					if flipped[0] < c.K() {
						want = flipped // a data cell is bad: every shard gets verified
					}
					if !slices.Equal(bad, want) {
						t.Fatalf("trial %d: flipped %v: bad = %v, want %v", trial, flipped, bad, want)
					}
					for _, i := range flipped {
						got, err := c.VerifyShard(shards[i])
						if err != nil || !slices.Equal(got, []uint64{uint64(badStripe[i])}) {
							t.Fatalf("trial %d: VerifyShard(%d) = %v, %v; want [%d]", trial, i, got, err, badStripe[i])
						}
					}
					rec, err := c.Reconstruct(shards, flipped)
					if err != nil {
						t.Fatalf("trial %d: Reconstruct(%v): %v", trial, flipped, err)
					}
					for x, i := range flipped {
						if !bytes.Equal(rec[x], orig[i]) {
							t.Fatalf("trial %d: repaired shard %d differs at %d", trial, i, firstDiff(rec[x], orig[i]))
						}
					}
				}
			})
		}
	}
}

// TestCorruptTooMany: bad cells in m+1 shards of one stripe cannot be
// worked around: ErrTooFew naming the stripe. Likewise m absent shards
// and one bad cell.
func TestCorruptTooMany(t *testing.T) {
	for _, p := range []profile{{2, 1, 512}, {4, 2, 512}, {8, 3, 512}} {
		c := mustNew(t, p.k, p.m, p.su)
		orig := encode(t, c, randBytes(9, 6*c.StripeWidth()))
		shards := cloneShards(orig)
		for i := range c.M() + 1 {
			flip(c, shards, c.N()-1-i, 2, 3)
		}
		if _, _, err := c.Decode(shards); !isErr(err, ErrTooFew) || !contains(err, "stripe 2 ") {
			t.Fatalf("%v: Decode, %d bad cells in stripe 2: %v, want ErrTooFew naming stripe 2", p, c.M()+1, err)
		}
		if _, err := c.Reconstruct(shards, []int{c.N() - 1}); !isErr(err, ErrTooFew) {
			t.Fatalf("%v: Reconstruct: %v, want ErrTooFew", p, err)
		}

		shards = cloneShards(orig)
		for i := range c.M() {
			shards[c.N()-1-i] = nil
		}
		flip(c, shards, 0, 4, c.StripeUnit()+1)
		if _, _, err := c.Decode(shards); !isErr(err, ErrTooFew) || !contains(err, "stripe 4 ") {
			t.Fatalf("%v: Decode, m absent and a bad cell in stripe 4: %v, want ErrTooFew naming stripe 4", p, err)
		}
	}
}

// TestCorruptPerStripe: bad cells in m+1 different shards, but in
// different stripes (each stripe has at most m): the whole-buffer
// rebuild lacks K wholly good shards, the stripe-by-stripe one succeeds.
func TestCorruptPerStripe(t *testing.T) {
	for _, p := range []profile{{2, 1, 512}, {4, 2, 512}, {8, 3, 512}, {3, 3, 64}} {
		for _, bs := range []int{0, 1, 2} {
			c := mustNew(t, p.k, p.m, p.su)
			if bs > 0 {
				c = withBatch(c, bs)
			}
			const stripes = 9
			data := randBytes(uint64(p.k+bs), stripes*c.StripeWidth())
			orig := encode(t, c, data)
			shards := cloneShards(orig)
			var flipped []int
			for x := range c.M() + 1 {
				i := (x * 2) % c.N() // includes shard 0, a data shard
				for slices.Contains(flipped, i) {
					i = (i + 1) % c.N()
				}
				flipped = append(flipped, i)
				flip(c, shards, i, x*2, x*5)
			}
			slices.Sort(flipped)
			bad := decodeEqual(t, c, shards, data)
			if !slices.Equal(bad, flipped) {
				t.Fatalf("%v batch %d: bad = %v, want %v", p, bs, bad, flipped)
			}
			rec, err := c.Reconstruct(shards, flipped)
			if err != nil {
				t.Fatalf("%v batch %d: Reconstruct: %v", p, bs, err)
			}
			for x, i := range flipped {
				if !bytes.Equal(rec[x], orig[i]) {
					t.Fatalf("%v batch %d: repaired shard %d differs", p, bs, i)
				}
			}
			// And with one of them absent instead of flipped (then a stripe
			// with a bad cell lacks two cells: needs m >= 2).
			if c.M() >= 2 {
				shards[flipped[len(flipped)-1]] = nil
				decodeEqual(t, c, shards, data)
			}
		}
	}
}

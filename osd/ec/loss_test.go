package ec

import (
	"bytes"
	"fmt"
	"testing"
)

// lossProfiles are the profiles of the exhaustive loss tests.
var lossProfiles = []profile{
	{2, 1, 512}, {3, 2, 512}, {4, 2, 512}, {4, 3, 1024}, {6, 3, 512}, {8, 3, 512}, {1, 2, 512}, {5, 4, 64},
}

// withBatch returns a copy of c whose whole-buffer batches are bs
// stripes, so small objects exercise several batches and a partial last
// one.
func withBatch(c *Code, bs int) *Code {
	d := *c
	d.batch = bs
	return &d
}

// TestAnyMLost: for every subset of at most m shards removed, Decode
// returns the data and Reconstruct rebuilds exactly the removed shards.
func TestAnyMLost(t *testing.T) {
	for _, p := range lossProfiles {
		base := mustNew(t, p.k, p.m, p.su)
		for _, bs := range []int{base.batch, 3} {
			c := withBatch(base, bs)
			t.Run(fmt.Sprintf("%v/batch%d", p, bs), func(t *testing.T) {
				size := 10*c.StripeWidth() - c.StripeUnit() - 5
				data := randBytes(uint64(p.k*10+p.m), size)
				orig := encode(t, c, data)
				combos(c.N(), c.M(), func(lost []int) {
					shards := cloneShards(orig)
					for _, i := range lost {
						shards[i] = nil
					}
					if bad := decodeEqual(t, c, shards, data); bad != nil {
						t.Fatalf("lost %v: bad = %v", lost, bad)
					}
					rec, err := c.Reconstruct(shards, lost)
					if err != nil {
						t.Fatalf("lost %v: Reconstruct: %v", lost, err)
					}
					for x, i := range lost {
						if !bytes.Equal(rec[x], orig[i]) {
							t.Fatalf("lost %v: rebuilt shard %d differs at byte %d", lost, i, firstDiff(rec[x], orig[i]))
						}
					}
				})
			})
		}
	}
}

// TestReconstructAll: Reconstruct of every shard returns copies of the
// present ones and rebuilds the absent ones; the result does not alias
// the input.
func TestReconstructAll(t *testing.T) {
	c := mustNew(t, 4, 2, 512)
	data := randBytes(3, 5*c.StripeWidth()+1)
	orig := encode(t, c, data)
	shards := cloneShards(orig)
	shards[1], shards[4] = nil, nil
	all := []int{5, 4, 3, 2, 1, 0}
	rec, err := c.Reconstruct(shards, all)
	if err != nil {
		t.Fatal(err)
	}
	for x, i := range all {
		if !bytes.Equal(rec[x], orig[i]) {
			t.Fatalf("shard %d differs", i)
		}
	}
	rec[5][0] ^= 1 // shard 0
	if shards[0][0] != orig[0][0] {
		t.Fatal("Reconstruct's result aliases its input")
	}
	if rec, err := c.Reconstruct(shards, nil); err != nil || len(rec) != 0 {
		t.Fatalf("Reconstruct(want nil) = %v, %v", rec, err)
	}
}

// TestTooManyLost: m+1 absent shards is ErrTooFew, naming stripe 0.
func TestTooManyLost(t *testing.T) {
	for _, p := range []profile{{2, 1, 512}, {4, 2, 512}, {8, 3, 512}} {
		c := mustNew(t, p.k, p.m, p.su)
		shards := encode(t, c, randBytes(1, 3*c.StripeWidth()))
		for i := range c.M() + 1 {
			shards[c.N()-1-i] = nil // parity first, then data
		}
		if _, _, err := c.Decode(shards); !isErr(err, ErrTooFew) || !contains(err, "stripe 0") {
			t.Fatalf("%v: Decode with %d shards absent: %v, want ErrTooFew at stripe 0", p, c.M()+1, err)
		}
		if _, err := c.Reconstruct(shards, []int{c.N() - 1}); !isErr(err, ErrTooFew) {
			t.Fatalf("%v: Reconstruct with %d shards absent: %v, want ErrTooFew", p, c.M()+1, err)
		}
	}
}

package ec

import (
	"slices"
	"testing"
)

// rewrite replaces the data of cell s of shard i with other bytes and a
// matching sum: only the parity can tell.
func rewrite(c *Code, shards [][]byte, i, s int) {
	cell := shards[i][s*c.CellSize() : (s+1)*c.CellSize()]
	cell[5] ^= 0xff
	cell[c.StripeUnit()-1]++
	c.putSum(cell)
}

// TestCheckParity: cells with a good checksum but wrong content are found
// by the parity; with enough redundancy left the shard is identified.
func TestCheckParity(t *testing.T) {
	type tc struct {
		name      string
		p         profile
		rewritten []int // shards with a rewritten cell in stripe 1
		flipped   []int // shards with a checksum failure in stripe 1
		bad       []int
		errIs     error
	}
	cases := []tc{
		{name: "data cell, m=2", p: profile{4, 2, 512}, rewritten: []int{1}, bad: []int{1}},
		{name: "parity cell, m=2", p: profile{4, 2, 512}, rewritten: []int{5}, bad: []int{5}},
		{name: "data cell, m=3", p: profile{8, 3, 512}, rewritten: []int{0}, bad: []int{0}},
		{name: "parity cell, m=3", p: profile{8, 3, 512}, rewritten: []int{9}, bad: []int{9}},
		{name: "data cell, m=1: detected only", p: profile{4, 1, 512}, rewritten: []int{2}, errIs: ErrCorrupt},
		{name: "parity cell, m=1: detected only", p: profile{4, 1, 512}, rewritten: []int{4}, errIs: ErrCorrupt},
		{name: "two cells, m=2: detected only", p: profile{4, 2, 512}, rewritten: []int{0, 4}, errIs: ErrCorrupt},
		{name: "two cells, m=4: identified", p: profile{4, 4, 512}, rewritten: []int{1, 6}, bad: []int{1, 6}},
		{name: "bad sum and rewritten, m=3", p: profile{4, 3, 512}, rewritten: []int{2}, flipped: []int{6}, bad: []int{2, 6}},
		{name: "bad sum and rewritten, m=2", p: profile{4, 2, 512}, rewritten: []int{2}, flipped: []int{5}, bad: []int{5}, errIs: ErrCorrupt},
		{name: "bad sums only", p: profile{4, 2, 512}, flipped: []int{0, 5}, bad: []int{0, 5}},
		{name: "too many bad sums", p: profile{4, 2, 512}, flipped: []int{0, 1, 5}, bad: []int{0, 1, 5}, errIs: ErrTooFew},
		{name: "clean", p: profile{3, 2, 512}},
	}
	for _, tc := range cases {
		for _, bs := range []int{0, 1} {
			c := mustNew(t, tc.p.k, tc.p.m, tc.p.su)
			if bs > 0 {
				c = withBatch(c, bs)
			}
			shards := encode(t, c, randBytes(11, 4*c.StripeWidth()-100))
			for _, i := range tc.rewritten {
				rewrite(c, shards, i, 1)
			}
			for _, i := range tc.flipped {
				flip(c, shards, i, 1, 20)
			}
			bad, err := c.CheckParity(shards)
			if !slices.Equal(bad, tc.bad) {
				t.Errorf("%s (batch %d): bad = %v, want %v (err %v)", tc.name, c.batch, bad, tc.bad, err)
			}
			switch {
			case tc.errIs == nil && err != nil:
				t.Errorf("%s (batch %d): err = %v, want nil", tc.name, c.batch, err)
			case tc.errIs != nil && (!isErr(err, tc.errIs) || !contains(err, "stripe 1")):
				t.Errorf("%s (batch %d): err = %v, want %v naming stripe 1", tc.name, c.batch, err, tc.errIs)
			}
		}
	}
}

// TestSubsets checks the subset enumeration CheckParity uses.
func TestSubsets(t *testing.T) {
	for _, tc := range []struct{ n, t, want int }{{5, 1, 5}, {5, 2, 10}, {6, 3, 20}, {11, 0, 1}, {256, 3, maxSubsets + 1}} {
		if got := subsets(tc.n, tc.t); got != tc.want {
			t.Errorf("subsets(%d, %d) = %d, want %d", tc.n, tc.t, got, tc.want)
		}
		if tc.want > maxSubsets {
			continue
		}
		idx := make([]int, tc.t)
		for x := range idx {
			idx[x] = x
		}
		count := 1
		for nextSubset(idx, tc.n) {
			count++
		}
		if count != tc.want {
			t.Errorf("nextSubset over C(%d, %d) gave %d subsets", tc.n, tc.t, count)
		}
	}
}

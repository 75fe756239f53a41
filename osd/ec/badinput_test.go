package ec

import (
	"math"
	"testing"
)

func TestNewInvalid(t *testing.T) {
	for _, tc := range []struct{ k, m, su int }{
		{0, 1, 4096}, {-1, 2, 4096}, {2, 0, 4096}, {2, -1, 4096},
		{200, 57, 4096}, {256, 1, 4096}, {1, 256, 4096}, {math.MaxInt, math.MaxInt, 4096},
		{4, 2, 0}, {4, 2, -512}, {4, 2, 100}, {4, 2, 4097}, {4, 2, 32}, {4, 2, MaxStripeUnit + 64},
	} {
		if c, err := New(tc.k, tc.m, tc.su); !isErr(err, ErrInvalid) || c != nil {
			t.Errorf("New(%d, %d, %d) = %v, %v; want ErrInvalid", tc.k, tc.m, tc.su, c, err)
		}
	}
	for _, tc := range []struct{ k, m, su int }{{1, 1, 64}, {1, 255, 64}, {16, 240, 64}, {4, 2, MaxStripeUnit}, {4, 2, 512}} {
		if _, err := New(tc.k, tc.m, tc.su); err != nil {
			t.Errorf("New(%d, %d, %d): %v", tc.k, tc.m, tc.su, err)
		}
	}
}

func TestAccessors(t *testing.T) {
	c := mustNew(t, 4, 2, 4096)
	if c.K() != 4 || c.M() != 2 || c.N() != 6 || c.StripeUnit() != 4096 || c.StripeWidth() != 16384 || c.CellSize() != 4104 {
		t.Fatalf("accessors: %d %d %d %d %d %d", c.K(), c.M(), c.N(), c.StripeUnit(), c.StripeWidth(), c.CellSize())
	}
	for _, tc := range []struct{ size, stripes uint64 }{{0, 0}, {1, 1}, {16383, 1}, {16384, 1}, {16385, 2}, {math.MaxUint64, math.MaxUint64/16384 + 1}} {
		if got := c.Stripes(tc.size); got != tc.stripes {
			t.Errorf("Stripes(%d) = %d, want %d", tc.size, got, tc.stripes)
		}
		if tc.stripes < 1<<40 {
			if got := c.ShardSize(tc.size); got != tc.stripes*4104 {
				t.Errorf("ShardSize(%d) = %d, want %d", tc.size, got, tc.stripes*4104)
			}
		}
	}
	for _, tc := range []struct{ off, n, first, count uint64 }{
		{0, 0, 0, 0}, {20000, 0, 1, 0}, {0, 1, 0, 1}, {0, 16384, 0, 1}, {0, 16385, 0, 2},
		{16383, 2, 0, 2}, {16384, 16384, 1, 1}, {16384*3 + 5, 16384 * 2, 3, 3},
		{math.MaxUint64 - 10, 100, math.MaxUint64 / 16384, 1},
		{0, math.MaxUint64, 0, math.MaxUint64/16384 + 1},
	} {
		first, count := c.StripeSpan(tc.off, tc.n)
		if first != tc.first || count != tc.count {
			t.Errorf("StripeSpan(%d, %d) = %d, %d; want %d, %d", tc.off, tc.n, first, count, tc.first, tc.count)
		}
	}
}

// TestBadShards: malformed shard sets are ErrInvalid, never a panic.
func TestBadShards(t *testing.T) {
	c := mustNew(t, 4, 2, 512)
	good := encode(t, c, randBytes(1, 3*c.StripeWidth()))
	cs := c.CellSize()
	mutate := func(f func(s [][]byte) [][]byte) [][]byte { return f(cloneShards(good)) }
	for name, shards := range map[string][][]byte{
		"nil":            nil,
		"too few":        good[:5],
		"too many":       append(cloneShards(good), good[0]),
		"lengths differ": mutate(func(s [][]byte) [][]byte { s[3] = s[3][:2*cs]; return s }),
		"one byte short": mutate(func(s [][]byte) [][]byte { s[1] = s[1][:len(s[1])-1]; return s }),
		"not whole cells": mutate(func(s [][]byte) [][]byte {
			for i := range s {
				s[i] = s[i][:cs+1]
			}
			return s
		}),
		"just a sum": mutate(func(s [][]byte) [][]byte {
			for i := range s {
				s[i] = s[i][:SumSize]
			}
			return s
		}),
	} {
		if _, _, err := c.Decode(shards); !isErr(err, ErrInvalid) {
			t.Errorf("Decode(%s): %v, want ErrInvalid", name, err)
		}
		if _, err := c.Reconstruct(shards, []int{0}); !isErr(err, ErrInvalid) {
			t.Errorf("Reconstruct(%s): %v, want ErrInvalid", name, err)
		}
		if _, err := c.CheckParity(shards); !isErr(err, ErrInvalid) {
			t.Errorf("CheckParity(%s): %v, want ErrInvalid", name, err)
		}
	}
	for _, want := range [][]int{{-1}, {6}, {1, 1}, {0, 2, 0}} {
		if _, err := c.Reconstruct(good, want); !isErr(err, ErrInvalid) {
			t.Errorf("Reconstruct(want %v): %v, want ErrInvalid", want, err)
		}
	}
	absent := cloneShards(good)
	absent[2] = nil
	if _, err := c.CheckParity(absent); !isErr(err, ErrInvalid) {
		t.Errorf("CheckParity with an absent shard: %v, want ErrInvalid", err)
	}
	for _, n := range []int{1, cs - 1, cs + 1, 3*cs - SumSize} {
		if _, err := c.VerifyShard(make([]byte, n)); !isErr(err, ErrInvalid) {
			t.Errorf("VerifyShard(%d bytes): %v, want ErrInvalid", n, err)
		}
	}
	if bad, err := c.VerifyShard(nil); bad != nil || err != nil {
		t.Errorf("VerifyShard(nil) = %v, %v", bad, err)
	}
	// Fewer than k shards present.
	few := make([][]byte, c.N())
	few[0], few[5] = good[0], good[5]
	if _, _, err := c.Decode(few); !isErr(err, ErrTooFew) {
		t.Errorf("Decode with 2 shards: %v, want ErrTooFew", err)
	}
}

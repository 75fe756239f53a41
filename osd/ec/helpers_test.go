package ec

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func mustNew(t testing.TB, k, m, su int) *Code {
	t.Helper()
	c, err := New(k, m, su)
	if err != nil {
		t.Fatalf("New(%d, %d, %d): %v", k, m, su, err)
	}
	return c
}

// randBytes returns n pseudo-random bytes, the same for the same seed.
func randBytes(seed uint64, n int) []byte {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	s[2] = byte(seed >> 16)
	b := make([]byte, n)
	rand.NewChaCha8(s).Read(b)
	return b
}

// cloneShards deep-copies a shard set.
func cloneShards(shards [][]byte) [][]byte {
	out := make([][]byte, len(shards))
	for i, b := range shards {
		if b != nil {
			out[i] = slices.Clone(b)
		}
	}
	return out
}

// encode is Encode that fails the test on error and checks the shard
// lengths.
func encode(t testing.TB, c *Code, data []byte) [][]byte {
	t.Helper()
	shards, err := c.Encode(data)
	if err != nil {
		t.Fatalf("%v: Encode(%d bytes): %v", c, len(data), err)
	}
	if len(shards) != c.N() {
		t.Fatalf("%v: Encode returned %d shards", c, len(shards))
	}
	want := c.ShardSize(uint64(len(data)))
	for i, b := range shards {
		if b == nil || uint64(len(b)) != want {
			t.Fatalf("%v: shard %d of %d bytes has %d bytes (nil %v), want %d", c, i, len(data), len(b), b == nil, want)
		}
	}
	return shards
}

// decodeEqual decodes shards and checks the result against data (the
// decoded bytes past len(data) must be zeros).
func decodeEqual(t testing.TB, c *Code, shards [][]byte, data []byte) []int {
	t.Helper()
	got, bad, err := c.Decode(shards)
	if err != nil {
		t.Fatalf("%v: Decode(%d bytes): %v", c, len(data), err)
	}
	want := c.Stripes(uint64(len(data))) * uint64(c.StripeWidth())
	if uint64(len(got)) != want {
		t.Fatalf("%v: Decode returned %d bytes, want %d", c, len(got), want)
	}
	if !bytes.Equal(got[:len(data)], data) {
		t.Fatalf("%v: Decode of %d bytes: data differs at byte %d", c, len(data), firstDiff(got, data))
	}
	if !allZero(got[len(data):]) {
		t.Fatalf("%v: Decode of %d bytes: padding is not zero", c, len(data))
	}
	return bad
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// combos calls f with every subset of [0, n) of size 0..max.
func combos(n, max int, f func([]int)) {
	var rec func(start int, cur []int)
	rec = func(start int, cur []int) {
		f(cur)
		if len(cur) == max {
			return
		}
		for i := start; i < n; i++ {
			rec(i+1, append(cur, i))
		}
	}
	rec(0, make([]int, 0, max))
}

func isErr(err, target error) bool { return err != nil && errors.Is(err, target) }

func contains(err error, s string) bool { return err != nil && strings.Contains(err.Error(), s) }

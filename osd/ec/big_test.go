package ec

import (
	"bytes"
	"testing"
)

// Test100MiB round-trips one 100 MiB random object (generated once)
// through Encode and Decode for every profile k=2..8, m=1..3 with su=4096,
// and decodes it once more with data shard 0 absent (the whole-buffer
// rebuild over many batches).
//
// Time: without -race a profile takes about 0.15 s (all 21 about 5 s on
// two cores). Under -race every byte the copies and compares touch goes
// through the race runtime's shadow memory, and a profile takes about
// 2.5 s: all 21 would be about 60 s, the whole budget of the package on
// the two shared cores it runs on. So under -race (race_test.go sets
// raceEnabled) it runs two profiles, k=4,m=2 and k=8,m=3, which cover the
// same code paths; the full sweep runs in the ordinary (non-race) test
// run. -short skips it.
func Test100MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MiB objects: skipped with -short")
	}
	const size = 100 << 20
	data := randBytes(100, size)
	var ps []profile
	if raceEnabled {
		ps = []profile{{4, 2, 4096}, {8, 3, 4096}}
	} else {
		for k := 2; k <= 8; k++ {
			for m := 1; m <= 3; m++ {
				ps = append(ps, profile{k, m, 4096})
			}
		}
	}
	for _, p := range ps {
		t.Run(p.String(), func(t *testing.T) {
			c := mustNew(t, p.k, p.m, p.su)
			shards := encode(t, c, data)
			decodeEqual(t, c, shards, data)
			shards[0] = nil
			got, bad, err := c.Decode(shards)
			if err != nil || bad != nil {
				t.Fatalf("Decode without shard 0: bad %v, %v", bad, err)
			}
			if !bytes.Equal(got[:size], data) {
				t.Fatalf("Decode without shard 0: data differs at byte %d", firstDiff(got, data))
			}
		})
	}
}

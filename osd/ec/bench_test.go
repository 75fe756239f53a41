package ec

import (
	"testing"

	"github.com/klauspost/reedsolomon"
)

const benchSize = 4 << 20

func BenchmarkEncode(b *testing.B) {
	c := mustNew(b, 4, 2, 4096)
	data := randBytes(1, benchSize)
	b.Run("k4m2su4096/4MiB", func(b *testing.B) {
		b.SetBytes(benchSize)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Encode(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	// EncodeTo reusing its buffers: no allocation (and no page faults).
	b.Run("k4m2su4096/4MiB/reuse", func(b *testing.B) {
		b.SetBytes(benchSize)
		b.ReportAllocs()
		dst := encode(b, c, data)
		for b.Loop() {
			if _, err := c.EncodeTo(dst, data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	c := mustNew(b, 4, 2, 4096)
	data := randBytes(1, benchSize)
	shards := encode(b, c, data)
	run := func(name string, shards [][]byte) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(benchSize)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := c.Decode(shards); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	run("k4m2su4096/4MiB", shards)
	b.Run("k4m2su4096/4MiB/reuse", func(b *testing.B) {
		b.SetBytes(benchSize)
		b.ReportAllocs()
		dst := make([]byte, benchSize)
		for b.Loop() {
			if _, _, err := c.DecodeTo(dst, shards); err != nil {
				b.Fatal(err)
			}
		}
	})
	missing := cloneShards(shards)
	missing[0], missing[2] = nil, nil
	run("k4m2su4096/4MiB/2missing", missing)
	perStripe := cloneShards(shards)
	perStripe[0] = nil
	flip(c, perStripe, 1, 0, 0)
	flip(c, perStripe, 5, 1, 0)
	run("k4m2su4096/4MiB/perstripe", perStripe)
}

func BenchmarkReconstruct(b *testing.B) {
	c := mustNew(b, 4, 2, 4096)
	shards := encode(b, c, randBytes(1, benchSize))
	missing := cloneShards(shards)
	missing[1] = nil
	b.Run("k4m2su4096/4MiB/1shard", func(b *testing.B) {
		b.SetBytes(benchSize)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Reconstruct(missing, []int{1}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkCheckParity(b *testing.B) {
	c := mustNew(b, 4, 2, 4096)
	shards := encode(b, c, randBytes(1, benchSize))
	b.Run("k4m2su4096/4MiB", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			if bad, err := c.CheckParity(shards); bad != nil || err != nil {
				b.Fatal(bad, err)
			}
		}
	})
}

// BenchmarkRawReedSolomon is reedsolomon's Encode on the same profile and
// size (4 shards of 1 MiB, parity preallocated): the floor for Encode.
func BenchmarkRawReedSolomon(b *testing.B) {
	enc, err := reedsolomon.New(4, 2)
	if err != nil {
		b.Fatal(err)
	}
	data := randBytes(1, benchSize)
	shards := make([][]byte, 6)
	for i := range 4 {
		shards[i] = data[i*benchSize/4 : (i+1)*benchSize/4]
	}
	shards[4], shards[5] = make([]byte, benchSize/4), make([]byte, benchSize/4)
	b.Run("k4m2/4MiB", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			if err := enc.Encode(shards); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("k4m2/4MiB/reconstruct2", func(b *testing.B) {
		b.SetBytes(benchSize)
		work := make([][]byte, 6)
		for b.Loop() {
			copy(work, shards)
			work[0], work[2] = work[0][:0], work[2][:0] // reuse as outputs
			if err := enc.ReconstructData(work); err != nil {
				b.Fatal(err)
			}
		}
	})
}

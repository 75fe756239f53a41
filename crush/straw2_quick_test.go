package crush

import (
	"math"
	"math/rand/v2"
	"testing"
)

// naiveStraw2 is straw2 written from its definition with real numbers:
// each item draws u uniform in (0, 1] from the same hash, and the item
// with the largest ln(u)/weight wins (the minimum of exponential clocks
// with rates proportional to weight). It shares nothing with the fixed
// point code but the hash.
func naiveStraw2(items []int32, weights []uint32, x uint32, r int32) int32 {
	best, bestDraw := 0, math.Inf(-1)
	for i, it := range items {
		if weights[i] == 0 {
			continue
		}
		u := float64(Hash3(x, uint32(it), uint32(r))&0xffff+1) / 65536
		if d := math.Log(u) / float64(weights[i]); d > bestDraw {
			best, bestDraw = i, d
		}
	}
	return items[best]
}

// TestStraw2AgainstNaiveDraw compares the fixed-point straw2 choice with
// the real-number one on random buckets: they must agree on nearly every
// input (they can differ only where two draws are within the fixed-point
// rounding of each other), and both must pick items in proportion to
// their weights.
func TestStraw2AgainstNaiveDraw(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 7))
	for trial := 0; trial < 40; trial++ {
		n := 2 + rng.IntN(12)
		b := &Bucket{ID: -1, Alg: AlgStraw2, Items: make([]int32, n), Weights: make([]uint32, n)}
		var total float64
		for i := range b.Items {
			b.Items[i] = int32(i)
			w := uint32(rng.IntN(8*WeightOne)) + 1
			if rng.IntN(8) == 0 {
				w = 0
			}
			b.Weights[i] = w
			total += float64(w)
		}
		if total == 0 {
			continue
		}
		const draws = 40000
		counts := make([]int, n)
		disagree := 0
		for x := uint32(0); x < draws; x++ {
			r := int32(x % 3)
			got := straw2Choose(b, x, r, nil, 0)
			if got != naiveStraw2(b.Items, b.Weights, x, r) {
				disagree++
			}
			counts[got]++
		}
		if disagree > draws/1000 {
			t.Errorf("trial %d: fixed point and real straw2 disagree on %d of %d inputs", trial, disagree, draws)
		}
		// chi-square goodness of fit against weight/total
		var chi2 float64
		df := -1
		for i, c := range counts {
			exp := draws * float64(b.Weights[i]) / total
			if exp == 0 {
				if c != 0 {
					t.Fatalf("trial %d: zero-weight item %d chosen %d times", trial, i, c)
				}
				continue
			}
			chi2 += (float64(c) - exp) * (float64(c) - exp) / exp
			df++
		}
		// Loose bound: far above the 99.99th percentile for df <= 13
		// (about 45), so the test fails only on a real bias.
		if df > 0 && chi2 > 60 {
			t.Errorf("trial %d: choices are not proportional to weights: chi2 %.1f with %d degrees of freedom (weights %v, counts %v)",
				trial, chi2, df, b.Weights, counts)
		}
	}
}

// TestStraw2WeightChangeMovesOnlyToOrFromThatItem: straw2's defining
// property. Raising one item's weight moves inputs only to that item;
// lowering it moves inputs only away from it.
func TestStraw2WeightChangeMovesOnlyToOrFromThatItem(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	for trial := 0; trial < 20; trial++ {
		n := 3 + rng.IntN(10)
		b := &Bucket{ID: -1, Alg: AlgStraw2, Items: make([]int32, n), Weights: make([]uint32, n)}
		for i := range b.Items {
			b.Items[i] = int32(100 + i)
			b.Weights[i] = uint32(rng.IntN(4*WeightOne)) + WeightOne/4
		}
		k := rng.IntN(n)
		before := make([]int32, 5000)
		for x := range before {
			before[x] = straw2Choose(b, uint32(x), 0, nil, 0)
		}
		b.Weights[k] *= 2
		for x := range before {
			after := straw2Choose(b, uint32(x), 0, nil, 0)
			if after != before[x] && after != b.Items[k] {
				t.Fatalf("trial %d: raising item %d moved x=%d from %d to %d", trial, b.Items[k], x, before[x], after)
			}
		}
	}
}

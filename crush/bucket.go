package crush

import (
	"math"
)

// This file holds the per-algorithm item choice of one bucket
// (Ceph's bucket_*_choose) and the straw (v1) length calculation.
// Every operation mirrors Ceph's integer widths: hashes and items are
// 32-bit, draws 64-bit, and ids are hashed as their unsigned bit pattern.

// permWork is the per-bucket state of the permutation choice, valid for
// one mapping (one x). gen ties it to the mapping that filled it.
type permWork struct {
	gen   uint32
	permX uint32
	permN uint32
	perm  []uint32
}

// permChoose picks the item at position r mod size of a pseudo-random
// permutation of the bucket's items seeded by (x, bucket id). It keeps
// Ceph's incremental construction, including the shortcut for the first
// position, because the shortcut and the full shuffle must agree.
func permChoose(b *Bucket, w *permWork, gen uint32, x uint32, r int32) int32 {
	size := uint32(len(b.Items))
	pr := uint32(r) % size
	if w.gen != gen {
		w.gen = gen
		w.permN = 0
	}
	if cap(w.perm) < int(size) {
		w.perm = make([]uint32, size)
	}
	perm := w.perm[:size]
	if w.permX != x || w.permN == 0 {
		w.permX = x
		if pr == 0 {
			s := hash3(b.Hash, x, uint32(b.ID), 0) % size
			perm[0] = s
			w.permN = 0xffff // first position only, see below
			return b.Items[s]
		}
		for i := range perm {
			perm[i] = uint32(i)
		}
		w.permN = 0
	} else if w.permN == 0xffff {
		// Expand the first-position shortcut into the real permutation.
		for i := uint32(1); i < size; i++ {
			perm[i] = i
		}
		perm[perm[0]] = 0
		w.permN = 1
	}
	for w.permN <= pr {
		p := w.permN
		if p < size-1 {
			i := hash3(b.Hash, x, uint32(b.ID), p) % (size - p)
			if i != 0 {
				perm[p+i], perm[p] = perm[p], perm[p+i]
			}
		}
		w.permN++
	}
	return b.Items[perm[pr]]
}

func listChoose(b *Bucket, x uint32, r int32) int32 {
	for i := len(b.Items) - 1; i >= 0; i-- {
		w := uint64(hash4(b.Hash, x, uint32(b.Items[i]), uint32(r), uint32(b.ID)) & 0xffff)
		w = (w * uint64(b.sumWeights[i])) >> 16
		if w < uint64(b.Weights[i]) {
			return b.Items[i]
		}
	}
	return b.Items[0]
}

func treeChoose(b *Bucket, x uint32, r int32) int32 {
	n := len(b.nodeWeights) >> 1
	for n&1 == 0 {
		w := b.nodeWeights[n]
		t := (uint64(hash4(b.Hash, x, uint32(n), uint32(r), uint32(b.ID))) * uint64(w)) >> 32
		h := treeHeight(n)
		l := n - (1 << (h - 1))
		if t < uint64(b.nodeWeights[l]) {
			n = l
		} else {
			n += 1 << (h - 1)
		}
	}
	if i := n >> 1; i < len(b.Items) {
		return b.Items[i]
	}
	// With a zero total weight and a size that is not a power of two the
	// walk runs right past the last leaf. Ceph then reads beyond its item
	// array (undefined); answer with the first item, as straw2 does when
	// every weight is 0.
	return b.Items[0]
}

func strawChoose(b *Bucket, x uint32, r int32) int32 {
	high := 0
	var highDraw uint64
	for i, it := range b.Items {
		draw := uint64(hash3(b.Hash, x, uint32(it), uint32(r))&0xffff) * uint64(b.Straws[i])
		if i == 0 || draw > highDraw {
			high, highDraw = i, draw
		}
	}
	return b.Items[high]
}

// straw2Choose draws an exponential variable per item, scaled by its
// weight, and keeps the largest: items win in proportion to weight, and a
// weight change only moves data to or from the changed item.
func straw2Choose(b *Bucket, x uint32, r int32, arg *ChooseArg, position int) int32 {
	weights, ids := b.Weights, b.Items
	if arg != nil {
		if n := len(arg.WeightSet); n > 0 {
			if position >= n {
				position = n - 1
			}
			weights = arg.WeightSet[position]
		}
		if arg.IDs != nil {
			ids = arg.IDs
		}
	}
	high := 0
	var highDraw int64
	weights = weights[:len(ids)]
	for i, id := range ids {
		draw := int64(math.MinInt64)
		if w := weights[i]; w != 0 {
			u := hash3(b.Hash, x, uint32(id), uint32(r)) & 0xffff
			ln := lnMinus48[u]
			// crushtool 16.2.15 divides weights of 2^31 and above (32768.0)
			// as negative numbers (the weight goes through a C int), which
			// makes such an item always win; the extra golden vectors
			// check this.
			draw = ln / int64(int32(w))
		}
		if i == 0 || draw > highDraw {
			high, highDraw = i, draw
		}
	}
	return b.Items[high]
}

// calcStraws computes straw (v1) lengths from item weights exactly as
// Ceph's crush_calc_straw, including its double-precision arithmetic and
// the unsigned 32-bit product in wnext.
func calcStraws(weights []uint32, version uint32) []uint32 {
	size := len(weights)
	straws := make([]uint32, size)
	// Indices sorted by ascending weight; equal weights keep index order.
	rev := make([]int, size)
	for i := 1; i < size; i++ {
		j := 0
		for ; j < i; j++ {
			if weights[i] < weights[rev[j]] {
				copy(rev[j+1:i+1], rev[j:i])
				rev[j] = i
				break
			}
		}
		if j == i {
			rev[i] = i
		}
	}
	numleft := int32(size)
	straw, wbelow, lastw := 1.0, 0.0, 0.0
	for i := 0; i < size; {
		if weights[rev[i]] == 0 {
			straws[rev[i]] = 0
			i++
			if version >= 1 {
				numleft--
			}
			continue
		}
		straws[rev[i]] = doubleToU32(straw * 0x10000)
		i++
		if i == size {
			break
		}
		if version == 0 {
			if weights[rev[i]] == weights[rev[i-1]] {
				continue
			}
			wbelow += (float64(weights[rev[i-1]]) - lastw) * float64(numleft)
			for j := i; j < size; j++ {
				if weights[rev[j]] != weights[rev[i]] {
					break
				}
				numleft--
			}
		} else {
			wbelow += (float64(weights[rev[i-1]]) - lastw) * float64(numleft)
			numleft--
		}
		wnext := float64(uint32(numleft) * (weights[rev[i]] - weights[rev[i-1]]))
		pbelow := wbelow / (wbelow + wnext)
		straw *= math.Pow(1.0/pbelow, 1.0/float64(numleft))
		lastw = float64(weights[rev[i-1]])
	}
	return straws
}

// doubleToU32 converts like x86-64 C code converting a double to a 32-bit
// unsigned: truncate to a 64-bit integer, keep the low 32 bits; values
// that do not fit (and NaN) become the "integer indefinite" 1<<63.
func doubleToU32(v float64) uint32 {
	if math.IsNaN(v) || v >= 1<<63 || v < -(1<<63) {
		return 0
	}
	return uint32(int64(v))
}

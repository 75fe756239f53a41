package ec

import (
	"bytes"
	"fmt"
)

// maxSubsets bounds the search for the culprits of a parity mismatch in
// one stripe (the number of shard subsets tried).
const maxSubsets = 4096

// CheckParity reports whether the N shards (all present, one length, a
// multiple of CellSize; else ErrInvalid) are consistent: every cell's
// checksum is good and every stripe's parity matches its data. Deep scrub
// uses it.
//
// bad lists, in order, the shards found bad: those with a cell failing
// its checksum, and those identified as holding a cell with a good
// checksum but wrong content. Identification: when a stripe's good cells
// are inconsistent, CheckParity looks for the smallest set of t of them
// whose exclusion leaves the rest consistent; with r = (good cells - K)
// it tries t up to r/2, where the answer is unique. So with m >= 2 and
// no checksum failure in the stripe one rewritten cell is identified;
// with m = 1 (or too many checksum failures) a mismatch is only
// detected. (Identification assumes at most r/2 wrong cells in the
// stripe, as any decoder must: more, crafted to agree, could be
// misattributed.) An unattributed mismatch makes err wrap ErrCorrupt, a stripe
// with fewer than K good cells makes it wrap ErrTooFew (both name the
// first such stripe); bad is meaningful with either. err is nil when
// every inconsistency was attributed to the shards in bad (or there was
// none).
//
// An all-zero cell counts as good (see holes in the package doc): a
// stripe of holes is consistent, and a hole where the parity says there
// is data is a mismatch like any other.
func (c *Code) CheckParity(shards [][]byte) (bad []int, err error) {
	if len(shards) != c.n {
		return nil, fmt.Errorf("%w: %d shards, the profile has %d", ErrInvalid, len(shards), c.n)
	}
	size := len(shards[0])
	for i, b := range shards {
		if len(b) != size {
			return nil, fmt.Errorf("%w: shard %d has %d bytes, shard 0 has %d: CheckParity needs every shard, of one length",
				ErrInvalid, i, len(b), size)
		}
	}
	if size%c.cs != 0 {
		return nil, fmt.Errorf("%w: shard length %d is not a multiple of the cell size %d", ErrInvalid, size, c.cs)
	}
	stripes := size / c.cs
	if stripes == 0 {
		return nil, nil
	}
	h := newHealth(c, shards, stripes)
	for i := range c.n {
		h.verify(c, shards, i)
	}
	p := &parityCheck{c: c, shards: shards, h: h,
		culprit: make([]bool, c.n),
		rs:      make([][]byte, c.n),
		req:     make([]bool, c.n),
		tmp:     make([]byte, c.n*c.su),
	}
	n, su, cs := c.n, c.su, c.cs
	bs := min(c.batch, stripes)
	var sc *[]byte
	defer func() { putScratch(sc) }()
	rs := make([][]byte, n)
	for b0 := 0; b0 < stripes; b0 += bs {
		b1 := min(b0+bs, stripes)
		nb := b1 - b0
		whole := true
		for i := range n {
			whole = whole && h.goodRange(i, b0, b1)
		}
		if whole {
			// Fast path: every cell good, check the batch's parity in
			// one call over de-interleaved buffers.
			if sc == nil {
				sc = getScratch(n * bs * su)
			}
			for i := range n {
				b := (*sc)[i*bs*su : i*bs*su+nb*su]
				for t := range nb {
					copy(b[t*su:(t+1)*su], shards[i][(b0+t)*cs:])
				}
				rs[i] = b
			}
			ok, err := c.enc.Verify(rs)
			if err != nil {
				return nil, c.rsError(err, b0)
			}
			if ok {
				continue
			}
		}
		for s := b0; s < b1; s++ {
			if err := p.stripe(s); err != nil && p.err == nil {
				p.err = err
			}
		}
	}
	for i := range n {
		if h.nbad[i] > 0 || p.culprit[i] {
			bad = append(bad, i)
		}
	}
	return bad, p.err
}

// parityCheck is the state of the stripe-by-stripe part of CheckParity.
type parityCheck struct {
	c       *Code
	shards  [][]byte
	h       *health
	culprit []bool // shards identified as holding a wrong cell
	err     error  // first unexplained stripe
	rs      [][]byte
	req     []bool
	tmp     []byte // N*su: rebuilt cells to compare
	good    []int
	rest    []int
}

// stripe checks stripe s from its good cells and marks the culprits of a
// mismatch it can attribute.
func (p *parityCheck) stripe(s int) error {
	c, h := p.c, p.h
	p.good = p.good[:0]
	for i := range c.n {
		if h.good(i, s) {
			p.good = append(p.good, i)
		}
	}
	r := len(p.good) - c.k
	if r < 0 {
		return fmt.Errorf("%w: stripe %d has %d usable cells of %d, needs %d", ErrTooFew, s, len(p.good), c.n, c.k)
	}
	if r == 0 {
		return nil // nothing to check against
	}
	ok, err := p.consistent(s, p.good)
	if err != nil || ok {
		return err
	}
	// Find the smallest set of cells whose exclusion leaves the rest
	// consistent. With t <= r/2 it is unique: two such sets would give
	// two codewords of the punctured code (minimum distance r+1) that
	// differ in at most 2t <= r places.
	good := append([]int(nil), p.good...)
	idx := make([]int, 0, r/2)
	for t := 1; 2*t <= r; t++ {
		if subsets(len(good), t) > maxSubsets {
			break
		}
		idx = idx[:t]
		for x := range idx {
			idx[x] = x
		}
		for {
			p.rest = p.rest[:0]
			e := 0
			for x, i := range good {
				if e < t && idx[e] == x {
					e++
					continue
				}
				p.rest = append(p.rest, i)
			}
			ok, err := p.consistent(s, p.rest)
			if err != nil {
				return err
			}
			if ok {
				for _, x := range idx {
					p.culprit[good[x]] = true
				}
				return nil
			}
			if !nextSubset(idx, len(good)) {
				break
			}
		}
	}
	return fmt.Errorf("%w: stripe %d: the parity does not match the data and the wrong cell cannot be identified",
		ErrCorrupt, s)
}

// consistent reports whether the cells of stripe s of the shards in set
// (more than K, all good) are one codeword: the cells past the first K
// are rebuilt from the first K and compared.
func (p *parityCheck) consistent(s int, set []int) (bool, error) {
	c := p.c
	su, cs := c.su, c.cs
	for i := range c.n {
		p.rs[i] = nil
		p.req[i] = false
	}
	for x, i := range set {
		if x < c.k {
			p.rs[i] = p.shards[i][s*cs : s*cs+su : s*cs+su]
			continue
		}
		p.rs[i] = p.tmp[i*su : i*su : (i+1)*su]
		p.req[i] = true
	}
	if err := c.enc.ReconstructSome(p.rs, p.req); err != nil {
		return false, c.rsError(err, s)
	}
	for _, i := range set[c.k:] {
		if !bytes.Equal(p.rs[i], p.shards[i][s*cs:s*cs+su]) {
			return false, nil
		}
	}
	return true, nil
}

// subsets is C(n, t), or maxSubsets+1 if larger.
func subsets(n, t int) int {
	v := 1
	for x := range t {
		v = v * (n - x) / (x + 1)
		if v > maxSubsets {
			return maxSubsets + 1
		}
	}
	return v
}

// nextSubset advances idx (increasing indexes into [0, n)) to the next
// subset in lexicographic order; false after the last.
func nextSubset(idx []int, n int) bool {
	t := len(idx)
	for x := t - 1; x >= 0; x-- {
		if idx[x] < n-t+x {
			idx[x]++
			for y := x + 1; y < t; y++ {
				idx[y] = idx[y-1] + 1
			}
			return true
		}
	}
	return false
}

package ec

import (
	"errors"
	"fmt"

	"github.com/klauspost/reedsolomon"
)

// Decode returns the logical bytes of the stripes held by shards.
//
// shards has N entries, shard i at index i; an absent shard is nil or
// empty (an entry is absent when it is empty and another is not). The
// present shards must all have the same length, a multiple of CellSize;
// otherwise the error wraps ErrInvalid. When every entry is empty the
// result is empty (the object has no stripes).
//
// Decode verifies every cell it uses; a cell failing its checksum is
// treated as missing. It returns count*StripeWidth bytes for count
// stripes (the caller trims to the object's size) and the sorted indexes
// of the shards with at least one bad cell among those it checked, so
// the caller can repair them (bad may be non-nil on error too).
//
// When data shards 0..K-1 are present and good there is no Reed-Solomon
// work and the parity shards are not read, so a bad parity cell is
// found by VerifyShard or CheckParity, not by Decode. Otherwise every
// present shard is verified and the missing data cells are rebuilt: for
// each batch of stripes, shards with any bad cell in it count as wholly
// missing and the data is rebuilt over whole buffers; if that leaves
// fewer than K shards, stripe by stripe from each stripe's good cells. A
// stripe with fewer than K good cells fails the call with an error
// wrapping ErrTooFew that names the stripe.
//
// The result is a fresh buffer; shards are not modified.
func (c *Code) Decode(shards [][]byte) (data []byte, bad []int, err error) {
	return c.DecodeTo(nil, shards)
}

// DecodeTo is Decode writing the data into dst[:count*StripeWidth] when
// dst has the capacity (every byte of it is overwritten, so it need not
// be cleared; on error its content is unspecified), otherwise into a
// fresh buffer, to let callers reuse memory. dst must not overlap the
// shards.
func (c *Code) DecodeTo(dst []byte, shards [][]byte) (data []byte, bad []int, err error) {
	stripes, err := c.stripesOf(shards)
	if err != nil {
		return nil, nil, err
	}
	k, su, cs, w := c.k, c.su, c.cs, c.width
	var out []byte
	if dst != nil && cap(dst) >= stripes*w {
		out = dst[:stripes*w]
	} else {
		out = make([]byte, stripes*w)
	}
	if stripes == 0 {
		return out, nil, nil
	}
	h := newHealth(c, shards, stripes)
	complete := true
	for j := range k {
		if !h.present[j] {
			complete = false
			continue
		}
		b := shards[j]
		for s := range stripes {
			cell := b[s*cs : (s+1)*cs]
			if !c.cellOK(cell) {
				h.mark(j, s)
				complete = false
				continue
			}
			copy(out[s*w+j*su:], cell[:su])
		}
	}
	if complete {
		return out, nil, nil
	}
	need := make([]bool, c.n)
	for i := range c.n {
		if i >= k {
			h.verify(c, shards, i)
		} else {
			need[i] = !h.present[i] || h.nbad[i] > 0
		}
	}
	err = c.rebuild(shards, h, need, func(i, s int) []byte {
		return out[s*w+i*su : s*w+(i+1)*su]
	})
	if err != nil {
		return nil, h.badShards(), err
	}
	return out, h.badShards(), nil
}

// Reconstruct returns the shard buffers (cells with their sums) of the
// shards whose indexes are in want, rebuilt from the present good cells
// of shards (same input rules as Decode). The result is parallel to
// want: result[x] is shard want[x], Stripes*CellSize bytes, a fresh
// buffer. Recovery uses it to rebuild an OSD's shard, reads to repair a
// bad one.
//
// Every present shard is verified. A wanted shard that is present is
// copied and its bad cells (if any) rebuilt; an absent one is rebuilt
// entirely. Good cells of a wanted shard are kept byte for byte (a hole
// stays a hole); a rebuilt cell always carries its sum, so a rebuilt
// hole is written as su zeros with the sum of zeros. want must hold
// distinct indexes in [0, N) (else ErrInvalid); a stripe whose wanted
// cells cannot be rebuilt (fewer than K good cells) fails the call with
// an error wrapping ErrTooFew.
func (c *Code) Reconstruct(shards [][]byte, want []int) ([][]byte, error) {
	stripes, err := c.stripesOf(shards)
	if err != nil {
		return nil, err
	}
	slot := make([]int, c.n) // shard -> index in want, plus one
	for x, i := range want {
		if i < 0 || i >= c.n {
			return nil, fmt.Errorf("%w: wanted shard %d, the profile has %d", ErrInvalid, i, c.n)
		}
		if slot[i] != 0 {
			return nil, fmt.Errorf("%w: shard %d wanted twice", ErrInvalid, i)
		}
		slot[i] = x + 1
	}
	cs, su := c.cs, c.su
	size := stripes * cs
	block := make([]byte, len(want)*size)
	res := make([][]byte, len(want))
	for x := range res {
		res[x] = block[x*size : (x+1)*size : (x+1)*size]
	}
	if stripes == 0 || len(want) == 0 {
		return res, nil
	}
	h := newHealth(c, shards, stripes)
	for i := range c.n {
		h.verify(c, shards, i)
	}
	need := make([]bool, c.n)
	anyNeed := false
	for x, i := range want {
		if h.present[i] {
			copy(res[x], shards[i])
		}
		need[i] = !h.present[i] || h.nbad[i] > 0
		anyNeed = anyNeed || need[i]
	}
	if !anyNeed {
		return res, nil
	}
	err = c.rebuild(shards, h, need, func(i, s int) []byte {
		return res[slot[i]-1][s*cs : s*cs+su]
	})
	if err != nil {
		return nil, err
	}
	for x, i := range want {
		if !need[i] {
			continue
		}
		for s := range stripes {
			if !h.good(i, s) {
				c.putSum(res[x][s*cs : (s+1)*cs])
			}
		}
	}
	return res, nil
}

// rebuild computes, for every shard i with need[i], the data bytes of each
// of its cells that is not good, and writes them into dst(i, s) (su
// bytes). Every present shard must have been verified into h.
//
// It works a batch of stripes at a time. If at least K shards have every
// cell of the batch good, the first K of them are de-interleaved into
// contiguous buffers and the missing shards of the batch are rebuilt with
// one reedsolomon call over the whole batch (shards with a bad cell in
// the batch count as missing). Otherwise each stripe of the batch is
// rebuilt on its own from its good cells, written straight into dst.
func (c *Code) rebuild(shards [][]byte, h *health, need []bool, dst func(i, s int) []byte) error {
	k, n, su, cs := c.k, c.n, c.su, c.cs
	stripes := h.stripes
	bs := min(c.batch, stripes)
	nneed := 0
	for _, v := range need {
		if v {
			nneed++
		}
	}
	var sc *[]byte // k input slots then nneed output slots of bs*su bytes
	defer func() { putScratch(sc) }()
	rs := make([][]byte, n)
	req := make([]bool, n)
	for b0 := 0; b0 < stripes; b0 += bs {
		b1 := min(b0+bs, stripes)
		nb := b1 - b0
		missing := false
		for i := range n {
			req[i] = need[i] && !h.goodRange(i, b0, b1)
			missing = missing || req[i]
		}
		if !missing {
			continue
		}
		inputs := 0
		for i := range n {
			if !req[i] && inputs < k && h.goodRange(i, b0, b1) {
				inputs++
			}
		}
		if inputs < k {
			if err := c.rebuildStripes(shards, h, need, dst, b0, b1, rs, req); err != nil {
				return err
			}
			continue
		}
		if sc == nil {
			sc = getScratch((k + nneed) * bs * su)
		}
		next := 0
		take := func() []byte {
			b := (*sc)[next*bs*su : next*bs*su+nb*su : next*bs*su+nb*su]
			next++
			return b
		}
		inputs = 0
		for i := range n {
			rs[i] = nil
			switch {
			case req[i]:
				rs[i] = take()[:0]
			case inputs < k && h.goodRange(i, b0, b1):
				inputs++
				b := take()
				for t := range nb {
					copy(b[t*su:(t+1)*su], shards[i][(b0+t)*cs:])
				}
				rs[i] = b
			}
		}
		if err := c.enc.ReconstructSome(rs, req); err != nil {
			return c.rsError(err, b0)
		}
		for i := range n {
			if !req[i] {
				continue
			}
			b := rs[i]
			for t := range nb {
				if !h.good(i, b0+t) {
					copy(dst(i, b0+t), b[t*su:(t+1)*su])
				}
			}
		}
	}
	return nil
}

// rebuildStripes is rebuild's stripe-by-stripe path for stripes b0..b1-1.
// rs and req are N-entry scratch slices.
func (c *Code) rebuildStripes(shards [][]byte, h *health, need []bool, dst func(i, s int) []byte, b0, b1 int, rs [][]byte, req []bool) error {
	k, n, su, cs := c.k, c.n, c.su, c.cs
	for s := b0; s < b1; s++ {
		missing := false
		usable := 0
		for i := range n {
			rs[i] = nil
			req[i] = need[i] && !h.good(i, s)
			switch {
			case req[i]:
				missing = true
				d := dst(i, s)
				rs[i] = d[:0:len(d)]
			case h.good(i, s) && usable < k:
				usable++
				rs[i] = shards[i][s*cs : s*cs+su : s*cs+su]
			}
		}
		if !missing {
			continue
		}
		if usable < k {
			good := 0
			for i := range n {
				if h.good(i, s) {
					good++
				}
			}
			return fmt.Errorf("%w: stripe %d has %d usable cells of %d, needs %d", ErrTooFew, s, good, n, k)
		}
		if err := c.enc.ReconstructSome(rs, req); err != nil {
			return c.rsError(err, s)
		}
	}
	return nil
}

// rsError wraps an error of reedsolomon (which the checks above should
// make impossible).
func (c *Code) rsError(err error, stripe int) error {
	if errors.Is(err, reedsolomon.ErrTooFewShards) {
		return fmt.Errorf("%w: stripe %d: reedsolomon: %v", ErrTooFew, stripe, err)
	}
	return fmt.Errorf("ec: stripe %d: reedsolomon: %v", stripe, err)
}

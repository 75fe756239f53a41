package ec

import "fmt"

// Encode cuts data (of any length; the last stripe is zero-padded) into
// stripes and returns the N shard buffers, shard i at index i, each
// Stripes(len(data))*CellSize bytes of cells with their sums. Encoding
// empty data returns N empty, non-nil slices. The buffers are fresh
// (they share one allocation but are capped, so appending to one never
// overwrites another) and do not alias data.
func (c *Code) Encode(data []byte) ([][]byte, error) { return c.EncodeTo(nil, data) }

// EncodeTo is Encode writing the shards into the caller's buffers, to
// reuse memory: dst is nil or has N entries, and shard i is written to
// dst[i][:ShardSize(len(data))] when dst[i] has the capacity (every byte
// of it is overwritten, so it need not be cleared), otherwise to a fresh
// buffer. It returns the shard slices. dst must not overlap data.
func (c *Code) EncodeTo(dst [][]byte, data []byte) ([][]byte, error) {
	if dst != nil && len(dst) != c.n {
		return nil, fmt.Errorf("%w: %d destination buffers, the profile has %d shards", ErrInvalid, len(dst), c.n)
	}
	stripes := int(c.Stripes(uint64(len(data))))
	size := stripes * c.cs
	out := make([][]byte, c.n)
	fresh := 0
	for i := range out {
		if dst != nil && cap(dst[i]) >= size {
			out[i] = dst[i][:size]
		} else {
			fresh++
		}
	}
	if fresh > 0 {
		block := make([]byte, fresh*size)
		for i := range out {
			if out[i] == nil {
				out[i] = block[:size:size]
				block = block[size:]
			}
		}
	}
	if stripes == 0 {
		return out, nil
	}
	if err := c.encode(out, data, stripes); err != nil {
		return nil, err
	}
	return out, nil
}

// encode fills the shard buffers out (N of stripes*CellSize bytes) with
// the cells of data, a batch of stripes at a time: de-interleave the data
// cells into contiguous per-shard buffers, compute the parity of the
// whole batch in one reedsolomon call, then copy every cell into its
// shard with its sum.
func (c *Code) encode(out [][]byte, data []byte, stripes int) error {
	k, n, su, cs, w := c.k, c.n, c.su, c.cs, c.width
	bs := min(c.batch, stripes)
	sc := getScratch(n * bs * su)
	defer putScratch(sc)
	bufs := make([][]byte, n)
	for b0 := 0; b0 < stripes; b0 += bs {
		nb := min(bs, stripes-b0)
		for i := range bufs {
			bufs[i] = (*sc)[i*bs*su : i*bs*su+nb*su]
		}
		for j := range k {
			for t := range nb {
				dst := bufs[j][t*su : (t+1)*su]
				off := (b0+t)*w + j*su
				if off >= len(data) {
					clear(dst)
					continue
				}
				if m := copy(dst, data[off:]); m < su {
					clear(dst[m:])
				}
			}
		}
		if err := c.enc.Encode(bufs); err != nil {
			return fmt.Errorf("ec: reedsolomon encode: %v", err)
		}
		for i, buf := range bufs {
			for t := range nb {
				cell := out[i][(b0+t)*cs : (b0+t+1)*cs]
				copy(cell, buf[t*su:(t+1)*su])
				c.putSum(cell)
			}
		}
	}
	return nil
}

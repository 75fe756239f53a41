package ec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/minio/highwayhash"
)

// cellSum is the checksum of a cell's su data bytes.
func cellSum(data []byte) uint64 { return highwayhash.Sum64(data, sumKey) }

// putSum writes the sum of cell's data bytes into its last SumSize bytes.
func (c *Code) putSum(cell []byte) {
	binary.BigEndian.PutUint64(cell[c.su:c.cs], cellSum(cell[:c.su]))
}

// cellOK reports whether a cell (CellSize bytes) is valid: its sum
// matches its data, or it is a hole (all CellSize bytes zero).
func (c *Code) cellOK(cell []byte) bool {
	data := cell[:c.su]
	sum := binary.BigEndian.Uint64(cell[c.su:c.cs])
	if sum == 0 && allZero(data) {
		return true
	}
	return cellSum(data) == sum
}

var zeros [4096]byte

func allZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeros))
		if !bytes.Equal(b[:n], zeros[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// VerifyShard checks every cell of one shard buffer and returns the
// indexes of the stripes whose cell is bad, in increasing order (nil when
// every cell is good; an all-zero cell is good, see the package doc on
// holes). A length that is not a multiple of CellSize is refused with
// ErrInvalid.
func (c *Code) VerifyShard(b []byte) ([]uint64, error) {
	if len(b)%c.cs != 0 {
		return nil, fmt.Errorf("%w: shard length %d is not a multiple of the cell size %d", ErrInvalid, len(b), c.cs)
	}
	var bad []uint64
	for s := 0; s < len(b)/c.cs; s++ {
		if !c.cellOK(b[s*c.cs : (s+1)*c.cs]) {
			bad = append(bad, uint64(s))
		}
	}
	return bad, nil
}

// health records which cells of a shard set are usable: a cell is good
// when its shard is present and, once the shard has been verified, the
// cell passed its checksum. Only verified shards may be asked about.
type health struct {
	n, stripes int
	present    []bool
	nbad       []int  // bad cells per shard
	bad        []bool // [i*stripes+s]: cell s of shard i is bad; nil until one is
}

func newHealth(c *Code, shards [][]byte, stripes int) *health {
	h := &health{n: c.n, stripes: stripes, present: make([]bool, c.n), nbad: make([]int, c.n)}
	for i, b := range shards {
		h.present[i] = len(b) > 0
	}
	return h
}

func (h *health) mark(i, s int) {
	if h.bad == nil {
		h.bad = make([]bool, h.n*h.stripes)
	}
	h.bad[i*h.stripes+s] = true
	h.nbad[i]++
}

// verify checks every cell of shard i (if present).
func (h *health) verify(c *Code, shards [][]byte, i int) {
	if !h.present[i] {
		return
	}
	b := shards[i]
	for s := 0; s < h.stripes; s++ {
		if !c.cellOK(b[s*c.cs : (s+1)*c.cs]) {
			h.mark(i, s)
		}
	}
}

// good reports whether cell s of shard i is usable.
func (h *health) good(i, s int) bool {
	return h.present[i] && (h.nbad[i] == 0 || !h.bad[i*h.stripes+s])
}

// goodRange reports whether cells s0..s1-1 of shard i are all usable.
func (h *health) goodRange(i, s0, s1 int) bool {
	if !h.present[i] {
		return false
	}
	if h.nbad[i] == 0 {
		return true
	}
	for _, b := range h.bad[i*h.stripes+s0 : i*h.stripes+s1] {
		if b {
			return false
		}
	}
	return true
}

// badShards lists the shards with at least one bad cell, in order.
func (h *health) badShards() []int {
	var out []int
	for i, nb := range h.nbad {
		if nb > 0 {
			out = append(out, i)
		}
	}
	return out
}

// Scratch buffers for the whole-buffer batches. A buffer is at most
// N*batchBytes (plus one stripe unit's worth per shard when su exceeds
// batchBytes), so the pool holds little; sync.Pool drops idle ones at GC.
var scratchPool sync.Pool // of *[]byte

// maxPooled bounds the buffers kept for reuse (a huge stripe unit makes
// huge scratch buffers; those are not worth keeping).
const maxPooled = 64 << 20

func getScratch(n int) *[]byte {
	if p, ok := scratchPool.Get().(*[]byte); ok {
		if cap(*p) >= n {
			*p = (*p)[:n]
			return p
		}
		scratchPool.Put(p)
	}
	b := make([]byte, n)
	return &b
}

func putScratch(p *[]byte) {
	if p != nil && cap(*p) <= maxPooled {
		scratchPool.Put(p)
	}
}

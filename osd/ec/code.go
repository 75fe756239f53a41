package ec

import (
	"errors"
	"fmt"
	"math"

	"github.com/klauspost/reedsolomon"
)

// Errors. Functions wrap them with %w; test with errors.Is.
var (
	// ErrInvalid: a bad profile or a bad argument (wrong number of
	// shards, shard lengths that differ or are not a whole number of
	// cells, a shard index out of range).
	ErrInvalid = errors.New("ec: invalid argument")
	// ErrCorrupt: the shards are inconsistent in a way that could not be
	// worked around or attributed to a shard (CheckParity).
	ErrCorrupt = errors.New("ec: corrupt")
	// ErrTooFew: some stripe has fewer than k usable cells (present and
	// passing their checksum), so its data cannot be rebuilt. The error
	// names the stripe.
	ErrTooFew = errors.New("ec: too few usable cells")
)

const (
	// SumSize is the size of the checksum that follows every cell's su
	// bytes in a shard: a big-endian HighwayHash-64 under SumKey.
	SumSize = 8

	// SumKey is the 32-byte HighwayHash key of the cell sums. It is part
	// of the on-disk format: every stored cell's sum depends on it, so it
	// must never change.
	SumKey = "loligo osd/ec cell checksum v1.0"

	// MaxShards is the largest k+m: the limit of Reed-Solomon over
	// GF(2^8) (reedsolomon switches to another code above it, which
	// would change the parity bytes).
	MaxShards = 256

	// StripeUnitAlign: the stripe unit must be a multiple of it (keeps
	// cells aligned for the vector code paths of reedsolomon).
	StripeUnitAlign = 64

	// MaxStripeUnit is the largest stripe unit New accepts (16 MiB, the
	// monitor's limit too).
	MaxStripeUnit = 16 << 20
)

// SumKey is exactly 32 bytes (these fail to compile otherwise).
const (
	_ = uint(len(SumKey)) - 32
	_ = 32 - uint(len(SumKey))
)

// sumKey is SumKey as the byte slice highwayhash wants. Never modified.
var sumKey = []byte(SumKey)

// batchBytes is the number of bytes per shard the whole-buffer paths
// (Encode, the rebuild of Decode and Reconstruct, CheckParity) hand to
// reedsolomon in one call: a run of stripes is de-interleaved into
// contiguous per-shard buffers of about this size, coded in one call,
// and interleaved back. Large enough that the call overhead and the
// library's goroutine split pay off, small enough that the scratch
// buffers stay in cache and bounded for any object size.
const batchBytes = 256 << 10

// Code is an erasure code profile: k data shards, m parity shards and a
// stripe unit. It is immutable and safe for concurrent use.
type Code struct {
	k, m, n int
	su      int // stripe unit: data bytes per cell
	cs      int // cell size on disk: su + SumSize
	width   int // stripe width: k*su
	batch   int // stripes per whole-buffer batch (>= 1)
	enc     reedsolomon.Encoder
}

// New returns the code with k data shards, m parity shards and stripe
// unit su bytes. It requires 1 <= k, 1 <= m, k+m <= MaxShards, and su a
// positive multiple of StripeUnitAlign no larger than MaxStripeUnit;
// anything else is refused with an error wrapping ErrInvalid.
func New(k, m, su int) (*Code, error) {
	switch {
	case k < 1:
		return nil, fmt.Errorf("%w: k=%d, need at least 1 data shard", ErrInvalid, k)
	case m < 1:
		return nil, fmt.Errorf("%w: m=%d, need at least 1 parity shard", ErrInvalid, m)
	case k > MaxShards || m > MaxShards || k+m > MaxShards:
		return nil, fmt.Errorf("%w: k+m=%d+%d, at most %d shards", ErrInvalid, k, m, MaxShards)
	case su <= 0 || su%StripeUnitAlign != 0 || su > MaxStripeUnit:
		return nil, fmt.Errorf("%w: stripe unit %d, need a positive multiple of %d up to %d",
			ErrInvalid, su, StripeUnitAlign, MaxStripeUnit)
	}
	enc, err := reedsolomon.New(k, m)
	if err != nil {
		return nil, fmt.Errorf("%w: reedsolomon.New(%d, %d): %v", ErrInvalid, k, m, err)
	}
	return &Code{
		k: k, m: m, n: k + m,
		su: su, cs: su + SumSize, width: k * su,
		batch: max(1, batchBytes/su),
		enc:   enc,
	}, nil
}

// K is the number of data shards.
func (c *Code) K() int { return c.k }

// M is the number of parity shards.
func (c *Code) M() int { return c.m }

// N is the number of shards, K+M.
func (c *Code) N() int { return c.n }

// StripeUnit is the number of data bytes in a cell.
func (c *Code) StripeUnit() int { return c.su }

// StripeWidth is the number of logical bytes in a stripe, K*StripeUnit.
func (c *Code) StripeWidth() int { return c.width }

// CellSize is the number of bytes a cell takes in a shard, StripeUnit
// plus SumSize.
func (c *Code) CellSize() int { return c.cs }

// String describes the profile, e.g. "k=4 m=2 su=4096".
func (c *Code) String() string { return fmt.Sprintf("k=%d m=%d su=%d", c.k, c.m, c.su) }

// Stripes is the number of stripes of an object of size bytes:
// ceil(size / StripeWidth).
func (c *Code) Stripes(size uint64) uint64 {
	w := uint64(c.width)
	return size/w + min(size%w, 1)
}

// ShardSize is the length of each shard of an object of size bytes:
// Stripes(size) * CellSize.
func (c *Code) ShardSize(size uint64) uint64 { return c.Stripes(size) * uint64(c.cs) }

// StripeSpan returns the stripes the logical byte range [off, off+n)
// touches: stripes first .. first+count-1. count is 0 when n is 0 (first
// is then the stripe holding off). A range running past 2^64 is cut
// there.
func (c *Code) StripeSpan(off, n uint64) (first, count uint64) {
	w := uint64(c.width)
	first = off / w
	if n == 0 {
		return first, 0
	}
	end := off + n
	if end < off {
		end = math.MaxUint64
	}
	return first, (end-1)/w - first + 1
}

// stripesOf checks a shard set (N entries, an empty entry an absent
// shard, the present ones of one length that is a whole number of
// cells) and returns its number of stripes (0 when every shard is
// empty).
func (c *Code) stripesOf(shards [][]byte) (int, error) {
	if len(shards) != c.n {
		return 0, fmt.Errorf("%w: %d shards, the profile has %d", ErrInvalid, len(shards), c.n)
	}
	size := 0
	for i, b := range shards {
		switch {
		case len(b) == 0:
		case size == 0:
			size = len(b)
		case len(b) != size:
			return 0, fmt.Errorf("%w: shard %d has %d bytes, another has %d", ErrInvalid, i, len(b), size)
		}
	}
	if size%c.cs != 0 {
		return 0, fmt.Errorf("%w: shard length %d is not a multiple of the cell size %d", ErrInvalid, size, c.cs)
	}
	return size / c.cs, nil
}

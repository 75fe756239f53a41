package store

import (
	"encoding/binary"
	"fmt"

	"github.com/minio/highwayhash"
)

// sumLen is the length of the checksum in front of a chunk's data.
const sumLen = 8

// sum is the HighwayHash-64 of data under the store's key.
func (s *Store) sum(data []byte) uint64 { return highwayhash.Sum64(data, s.opts.ChecksumKey[:]) }

// encodeChunk builds a chunk's stored value.
func encodeChunk(sum uint64, data []byte) []byte {
	return appendChunk(make([]byte, 0, sumLen+len(data)), sum, data)
}

// appendChunk appends a chunk's stored value to dst.
func appendChunk(dst []byte, sum uint64, data []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, sum)
	return append(dst, data...)
}

var errShortChunk = fmt.Errorf("chunk value shorter than its checksum: %w", ErrCorrupt)

// decodeChunk splits a stored chunk value into its checksum and data (which
// aliases v).
func decodeChunk(v []byte) (sum uint64, data []byte, err error) {
	if len(v) < sumLen {
		return 0, nil, errShortChunk
	}
	return binary.BigEndian.Uint64(v), v[sumLen:], nil
}

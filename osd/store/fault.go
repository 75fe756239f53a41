package store

import (
	"fmt"

	"github.com/cockroachdb/pebble"
	"google.golang.org/protobuf/proto"
)

// FlipByte is for fault-injection tests: it rewrites the stored value
// holding byte offset of the object (its chunk, or the inline data) with
// one bit flipped, without updating the checksum. When the chunk holds
// fewer bytes than offset's place in it, a bit of its stored checksum is
// flipped instead. ErrNoData when no chunk holds the byte.
func (s *Store) FlipByte(pg PGID, oid string, offset uint64) error {
	if err := checkName(oid); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	m, err := s.loadMeta(s.db, pg, oid)
	if err != nil {
		return err
	}
	if m == nil {
		return fmt.Errorf("pg %s object %q: %w", pg, oid, ErrNotFound)
	}
	if offset >= m.GetSize() {
		return fmt.Errorf("offset %d past size %d: %w", offset, m.GetSize(), ErrInvalid)
	}
	if m.GetInlined() {
		m.Inline[offset] ^= 1
		v, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			return fmt.Errorf("encode metadata: %w: %w", ErrInvalid, err)
		}
		return s.dbErr("flip byte", s.db.Set(metaKey(pg, oid), v, pebble.Sync))
	}
	cs := uint64(s.opts.ChunkSize)
	k := dataKey(pg, oid, m.GetGen(), uint32(offset/cs))
	v, found, err := s.get(s.db, k)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("pg %s object %q: no chunk holds byte %d: %w", pg, oid, offset, ErrNoData)
	}
	if i := sumLen + offset%cs; i < uint64(len(v)) {
		v[i] ^= 1
	} else {
		v[0] ^= 1
	}
	return s.dbErr("flip byte", s.db.Set(k, v, pebble.Sync))
}

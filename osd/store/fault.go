package store

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"

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

// Tables is for fault-injection tests: the paths of the sstables of the
// store in o.Dir (which must not be open) whose keys all belong to
// which: "object" are those that hold the data of pg's object oid and
// nothing else (written by ingest), "all" every one.
func Tables(o Options, pg PGID, oid, which string) ([]string, error) {
	o.noCompactions = true
	s, err := Open(o)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	// What the WAL held goes to sstables too, so "all" is all the data.
	if err := s.db.Flush(); err != nil {
		return nil, s.dbErr("flush", err)
	}
	levels, err := s.db.SSTables()
	if err != nil {
		return nil, s.dbErr("list sstables", err)
	}
	lo := objKey(pg, famData, oid)
	var out []string
	for _, level := range levels {
		for _, f := range level {
			if which == "object" && !(bytes.HasPrefix(f.Smallest.UserKey, lo) && bytes.HasPrefix(f.Largest.UserKey, lo) &&
				len(f.Smallest.UserKey) == len(lo)+12 && len(f.Largest.UserKey) == len(lo)+12) {
				continue
			}
			out = append(out, s.opts.FS.PathJoin(s.opts.Dir, fmt.Sprintf("%06d.sst", f.BackingSSTNum)))
		}
	}
	return out, nil
}

// FlipFileBits is for fault-injection tests: it flips n random bits in
// the first 70% of the file at path (an sstable's data blocks; its index
// and footer are at its end), as bit rot on the disk would.
func FlipFileBits(path string, r *rand.Rand, n int) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(b) == 0 {
		return fmt.Errorf("%s is empty: %w", path, ErrInvalid)
	}
	for range n {
		b[r.IntN(max(len(b)*7/10, 1))] ^= 1 << r.IntN(8)
	}
	return os.WriteFile(path, b, 0o644)
}

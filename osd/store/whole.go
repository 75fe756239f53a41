package store

import (
	"fmt"

	pb "github.com/loligo/loligo/proto/loligopb"
	"google.golang.org/protobuf/proto"
)

// WholeTxn builds the replacing transaction Export would return for an
// object with metadata meta (version, mtime, xattrs; its size, gen and
// inline fields are set here) and data, laid out in this store's chunk
// size and inline limit. Erasure-coded recovery uses it to install a
// shard rebuilt from the other shards, which no store holds as a whole.
func (s *Store) WholeTxn(oid string, meta *pb.ObjectMeta, data []byte) (*pb.Txn, error) {
	if err := checkName(oid); err != nil {
		return nil, err
	}
	if meta.GetVersion().GetVersion() == 0 {
		return nil, fmt.Errorf("%w: object %q: a whole object needs its version", ErrInvalid, oid)
	}
	m := proto.Clone(meta).(*pb.ObjectMeta)
	m.Size = uint64(len(data))
	m.Inlined, m.Inline, m.InlineSum, m.Gen, m.Omap = false, nil, 0, 0, false
	t := &pb.Txn{Oid: oid, Replace: true, Meta: m}
	if len(data) <= s.opts.InlineMax {
		m.Inlined, m.Inline, m.InlineSum = true, append([]byte{}, data...), s.sum(data)
		return t, nil
	}
	m.Gen = m.GetVersion().GetVersion()
	cs := s.opts.ChunkSize
	for i := 0; i*cs < len(data); i++ {
		c := data[i*cs : min(len(data), (i+1)*cs)]
		t.Chunks = append(t.Chunks, &pb.Chunk{Index: uint32(i), Data: c, Sum: s.sum(c)})
	}
	return t, nil
}

// Compare evaluates a CMPXATTR-style comparison of cur against val, as
// Prepare does (an erasure-coded pool's primary runs guards itself).
func Compare(cmp pb.CmpOp, cur, val []byte) (bool, error) { return compare(cmp, cur, val) }

// Meta returns an object's metadata (xattrs, size, version, mtime; the
// layout fields as stored), or an error wrapping ErrNotFound.
func (s *Store) Meta(pg PGID, oid string) (*pb.ObjectMeta, error) {
	if err := checkName(oid); err != nil {
		return nil, err
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.exit()
	m, err := s.loadMeta(s.db, pg, oid)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("pg %s object %q: %w", pg, oid, ErrNotFound)
	}
	return m, nil
}

package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble"
	"github.com/minio/highwayhash"
	"google.golang.org/protobuf/proto"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// Page sizes of ScrubObjects.
const (
	// defaultScrubMax is the page size of a walk with max 0 (or above
	// maxScrubObjects).
	defaultScrubMax = 1000
	// maxScrubObjects bounds a walk's page and the oids of one call.
	maxScrubObjects = 10000
	// maxScrubProblems is how many problems of one object its error
	// spells out; the rest are counted.
	maxScrubProblems = 4
)

// ScrubObjects describes objects of pg for scrub. With oids empty it walks
// the PG's objects in name order after startAfter, at most max (0 or
// >10000: 1000), and reports more=true when objects remain. With oids set
// it describes exactly those, in the order given (startAfter/max
// ignored), marking absent ones Missing; more than 10000 oids is ErrTooBig
// and an invalid name ErrInvalid.
//
// Every object gets its oid, version, size and xattr digest. A shallow
// scrub reads only metadata and checks what needs no data: the metadata
// decodes, inline data is as long as the size, a chunked object holds no
// inline data. A deep scrub (deep) also reads every byte of the data,
// verifying every checksum, and the omap, giving their digests. The
// digests depend only on the object's logical content, not on the
// store's chunk size or inline limit, so replicas compare them directly
// (the store's ChecksumKey keys them; it is cluster-wide):
//
//	xattr_digest = H(for each xattr, by name: len(name) | name | len(value) | value)
//	omap_digest  = H(for each omap entry, by key: len(key) | key | len(value) | value); 0 without entries
//	data_digest  = H(the size bytes of data, holes and absent chunks as zeros)
//
// with H the HighwayHash-64 under ChecksumKey and lengths 8 bytes big
// endian. data_digest of an inline object is therefore its inline_sum.
//
// A problem found in one object (undecodable metadata, a checksum
// mismatch, a chunk past the size) goes into that object's Error, as
// "chunk 3: checksum mismatch"; its data_digest is then 0. Checksum
// mismatches and undecodable values count in CorruptionCount, once per
// bad value, as reads count them. The error of the call is for failures
// that are not the object's: a Pebble error other than corruption
// (ErrIO), a closed or failed store, bad arguments.
//
// The call reads one Pebble snapshot and takes no lock writers wait for;
// the snapshot keeps Pebble from dropping data overwritten meanwhile, so
// a deep scrub should ask for a few objects at a time. Data streams
// through the hash one chunk at a time, whatever the object's size.
func (s *Store) ScrubObjects(pg PGID, startAfter string, max int, oids []string, deep bool) (objs []*pb.ScrubObject, more bool, err error) {
	if len(oids) > maxScrubObjects {
		return nil, false, fmt.Errorf("scrub of %d objects (at most %d): %w", len(oids), maxScrubObjects, ErrTooBig)
	}
	for _, oid := range oids {
		if err := checkName(oid); err != nil {
			return nil, false, err
		}
	}
	if err := s.enter(); err != nil {
		return nil, false, err
	}
	defer s.exit()
	snap := s.db.NewSnapshot()
	defer snap.Close()
	sc := &scrubber{s: s, r: snap, pg: pg, deep: deep, h: s.newHash()}
	if len(oids) > 0 {
		objs = make([]*pb.ScrubObject, 0, len(oids))
		for _, oid := range oids {
			o, err := sc.describeOID(oid)
			if err != nil {
				return nil, false, err
			}
			objs = append(objs, o)
		}
		return objs, false, nil
	}
	if max <= 0 || max > maxScrubObjects {
		max = defaultScrubMax
	}
	more, err = sc.walk(startAfter, func(o *pb.ScrubObject) bool {
		objs = append(objs, o)
		return len(objs) < max
	})
	if err != nil {
		return nil, false, err
	}
	return objs, more, nil
}

// scrubber describes the objects of one PG as of one snapshot.
type scrubber struct {
	s    *Store
	r    pebble.Reader
	pg   PGID
	deep bool
	h    hash.Hash64 // reused for every digest
}

// newHash returns a streaming HighwayHash-64 under the store's key.
func (s *Store) newHash() hash.Hash64 {
	h, err := highwayhash.New64(s.opts.ChecksumKey[:])
	if err != nil {
		// The key is a [32]byte, the one length New64 accepts.
		panic(fmt.Sprintf("store: highwayhash.New64: %v", err))
	}
	return h
}

// walk describes the PG's objects after startAfter, in name order,
// passing each to fn until fn returns false; more says whether objects
// follow the last one passed.
func (sc *scrubber) walk(startAfter string, fn func(*pb.ScrubObject) bool) (more bool, err error) {
	lower := famKey(sc.pg, famMeta)
	if startAfter != "" {
		lower = append(metaKey(sc.pg, startAfter), 0)
	}
	it, err := sc.r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(famKey(sc.pg, famMeta))})
	if err != nil {
		return false, sc.s.indexErr("scrub list", err)
	}
	full := false
	for ok := it.First(); ok; ok = it.Next() {
		if full {
			more = true
			break
		}
		// A failure to read metadata here, even corruption, fails the
		// call: the iterator stops, and which objects follow is unknown.
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return false, sc.s.indexErr("scrub list", err)
		}
		o, err := sc.describe(string(it.Key()[pgPrefixLen+1:]), v)
		if err != nil {
			_ = it.Close()
			return false, err
		}
		full = !fn(o)
	}
	if err := it.Close(); err != nil {
		return false, sc.s.indexErr("scrub list", err)
	}
	return more, nil
}

// describeOID describes one named object (Missing when absent).
func (sc *scrubber) describeOID(oid string) (*pb.ScrubObject, error) {
	v, found, err := sc.s.get(sc.r, metaKey(sc.pg, oid))
	if err != nil {
		return sc.readFailed(oid, "metadata", err)
	}
	if !found {
		return &pb.ScrubObject{Oid: oid, Missing: true}, nil
	}
	return sc.describe(oid, v)
}

// readFailed turns a failed read of an object's what into the object's
// error when it is corruption (already counted by dbErr), and fails the
// call otherwise.
func (sc *scrubber) readFailed(oid, what string, err error) (*pb.ScrubObject, error) {
	if !errors.Is(err, ErrCorrupt) {
		return nil, err
	}
	return &pb.ScrubObject{Oid: oid, Error: fmt.Sprintf("%s: %v", what, err)}, nil
}

// problems collects an object's problems.
type problems struct {
	list []string
	n    int
}

func (p *problems) add(format string, args ...any) {
	p.n++
	if len(p.list) < maxScrubProblems {
		p.list = append(p.list, fmt.Sprintf(format, args...))
	}
}

func (p *problems) String() string {
	s := strings.Join(p.list, "; ")
	if p.n > len(p.list) {
		s += fmt.Sprintf("; and %d more", p.n-len(p.list))
	}
	return s
}

// describe describes the object oid whose metadata value is v.
func (sc *scrubber) describe(oid string, v []byte) (*pb.ScrubObject, error) {
	s := sc.s
	o := &pb.ScrubObject{Oid: oid}
	m := &pb.ObjectMeta{}
	if err := proto.Unmarshal(v, m); err != nil {
		s.corrupt.Add(1) // as loadMeta counts it
		o.Error = "undecodable metadata"
		return o, nil
	}
	o.Version, o.Size = m.GetVersion(), m.GetSize()
	o.XattrDigest = xattrDigest(sc.h, m.GetXattrs())

	var p problems
	structural := true
	switch {
	case m.GetInlined() && uint64(len(m.GetInline())) != m.GetSize():
		s.corrupt.Add(1) // as checkInline counts it
		p.add("inline data of %d bytes for size %d", len(m.GetInline()), m.GetSize())
		structural = false
	case !m.GetInlined() && len(m.GetInline()) > 0:
		p.add("chunked object with %d bytes of inline data", len(m.GetInline()))
		structural = false
	}
	if sc.deep {
		if structural {
			d, err := sc.dataDigest(oid, m, &p)
			if err != nil {
				return nil, err
			}
			if p.n == 0 {
				o.DataDigest = d
			}
		}
		d, err := sc.omapDigest(oid, &p)
		if err != nil {
			return nil, err
		}
		o.OmapDigest = d
	}
	if p.n > 0 {
		o.Error = p.String()
	}
	return o, nil
}

// dataDigest hashes the object's logical data, verifying every chunk;
// problems go to p (the digest is then meaningless).
func (sc *scrubber) dataDigest(oid string, m *pb.ObjectMeta, p *problems) (uint64, error) {
	s := sc.s
	if m.GetInlined() {
		sum := s.sum(m.GetInline())
		if sum != m.GetInlineSum() {
			s.corrupt.Add(1)
			p.add("inline data: checksum mismatch")
		}
		return sum, nil
	}
	size, cs := m.GetSize(), uint64(s.opts.ChunkSize)
	nchunks := s.nchunks(size)
	h := sc.h
	h.Reset()
	var pos uint64  // bytes of the logical stream hashed so far
	var next uint64 // the index after the last chunk seen
	readErr := false
	it, err := sc.r.NewIter(&pebble.IterOptions{
		LowerBound: dataKey(sc.pg, oid, m.GetGen(), 0),
		UpperBound: genEnd(sc.pg, oid, m.GetGen()),
	})
	if err != nil {
		return 0, s.dbErr("scrub read chunks", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		idx := binary.BigEndian.Uint32(k[len(k)-4:])
		next = uint64(idx) + 1
		if uint64(idx) >= nchunks {
			// Reads never look past the size; Check reports these too.
			p.add("chunk %d: past size %d", idx, size)
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			// The iterator stops here, and Close returns err again.
			readErr = true
			err = s.dbErr("scrub read chunk", err)
			if !errors.Is(err, ErrCorrupt) {
				_ = it.Close()
				return 0, err
			}
			p.add("chunk %d: %v", idx, err)
			break
		}
		sum, data, err := decodeChunk(v)
		if err != nil {
			s.corrupt.Add(1)
			p.add("chunk %d: %v", idx, err)
			continue
		}
		if s.sum(data) != sum {
			s.corrupt.Add(1)
			p.add("chunk %d: checksum mismatch", idx)
			continue
		}
		start := uint64(idx) * cs
		if uint64(len(data)) > cs || start+uint64(len(data)) > size {
			p.add("chunk %d: %d bytes extend past size %d", idx, len(data), size)
			continue
		}
		if p.n > 0 {
			continue // the digest is lost; only verify the rest
		}
		hashZeros(h, start-pos)
		_, _ = h.Write(data)
		pos = start + uint64(len(data))
	}
	if err := it.Close(); err != nil && !readErr {
		// Pebble found corruption in a block: the chunks that follow
		// are unreadable.
		err = s.dbErr("scrub read chunks", err)
		if !errors.Is(err, ErrCorrupt) {
			return 0, err
		}
		p.add("chunks from %d on: %v", next, err)
	}
	if p.n > 0 {
		return 0, nil
	}
	hashZeros(h, size-pos)
	return h.Sum64(), nil
}

// zeros is what holes hash as.
var zeros [64 << 10]byte

// hashZeros writes n zero bytes to h.
func hashZeros(h hash.Hash64, n uint64) {
	for n > 0 {
		k := min(n, uint64(len(zeros)))
		_, _ = h.Write(zeros[:k])
		n -= k
	}
}

// omapDigest hashes the object's omap entries (0 when it has none).
// Reads look at the entries whatever the metadata's omap flag says, and
// so does scrub.
func (sc *scrubber) omapDigest(oid string, p *problems) (uint64, error) {
	h := sc.h
	h.Reset()
	n := 0
	err := sc.s.eachOmap(sc.r, sc.pg, oid, objKey(sc.pg, famOmap, oid), nil, func(k string, v []byte) (bool, error) {
		n++
		hashField(h, []byte(k))
		hashField(h, v)
		return true, nil
	})
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			return 0, err
		}
		p.add("omap: %v", err)
		return 0, nil
	}
	if n == 0 {
		return 0, nil
	}
	return h.Sum64(), nil
}

// xattrDigest hashes xattrs by name with h (reset first).
func xattrDigest(h hash.Hash64, xattrs map[string][]byte) uint64 {
	h.Reset()
	names := make([]string, 0, len(xattrs))
	for name := range xattrs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		hashField(h, []byte(name))
		hashField(h, xattrs[name])
	}
	return h.Sum64()
}

// hashField writes b to h after its length (8 bytes big endian), so a
// sequence of fields hashes unambiguously.
func hashField(h hash.Hash64, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	_, _ = h.Write(n[:])
	_, _ = h.Write(b)
}

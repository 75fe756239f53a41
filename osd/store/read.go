package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble"
	"google.golang.org/protobuf/proto"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// get reads one key; found is false when it is absent. The value is a copy.
func (s *Store) get(r pebble.Reader, k []byte) (v []byte, found bool, err error) {
	val, closer, err := r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, s.dbErr("read", err)
	}
	v = append([]byte(nil), val...)
	if err := closer.Close(); err != nil {
		return nil, false, s.dbErr("read", err)
	}
	return v, true, nil
}

// loadMeta reads an object's metadata (nil when absent).
func (s *Store) loadMeta(r pebble.Reader, pg PGID, oid string) (*pb.ObjectMeta, error) {
	v, found, err := s.get(r, metaKey(pg, oid))
	if err != nil {
		return nil, fmt.Errorf("pg %s object %q: metadata: %w", pg, oid, err)
	}
	if !found {
		return nil, nil
	}
	m := &pb.ObjectMeta{}
	if err := proto.Unmarshal(v, m); err != nil {
		return nil, s.corruptErr("pg %s object %q: undecodable metadata", pg, oid)
	}
	return m, nil
}

// checkInline verifies an inline object's data against its sum.
func (s *Store) checkInline(pg PGID, oid string, m *pb.ObjectMeta) error {
	if uint64(len(m.GetInline())) != m.GetSize() {
		return s.corruptErr("pg %s object %q: inline data of %d bytes for size %d", pg, oid, len(m.GetInline()), m.GetSize())
	}
	if s.sum(m.GetInline()) != m.GetInlineSum() {
		return s.corruptErr("pg %s object %q: inline data checksum mismatch", pg, oid)
	}
	return nil
}

// checkChunk decodes a stored chunk value, verifying its sum; data
// aliases v.
func (s *Store) checkChunk(pg PGID, oid string, idx uint32, v []byte) ([]byte, uint64, error) {
	sum, data, err := decodeChunk(v)
	if err != nil {
		s.corrupt.Add(1)
		return nil, 0, fmt.Errorf("pg %s object %q chunk %d: %w", pg, oid, idx, err)
	}
	if s.sum(data) != sum {
		return nil, 0, s.corruptErr("pg %s object %q chunk %d: checksum mismatch", pg, oid, idx)
	}
	return data, sum, nil
}

// readChunk reads and verifies one chunk of gen (nil when absent).
func (s *Store) readChunk(r pebble.Reader, pg PGID, oid string, gen uint64, idx uint32) ([]byte, error) {
	v, found, err := s.get(r, dataKey(pg, oid, gen, idx))
	if err != nil || !found {
		return nil, err
	}
	data, _, err := s.checkChunk(pg, oid, idx, v)
	return data, err
}

// eachChunk calls fn, in index order, with every stored chunk of gen whose
// index is in [lo, hi), verified; data is valid only during the call.
//
// It reads with an iterator. An iterator positioned in an sstable loads
// whole blocks, so it can fail on a corrupt block that holds no key of
// this generation (an older generation's chunks, shadowed since a repair
// rewrote the object, or a neighbour's). When the iterator fails on
// Pebble corruption, the chunks not yet delivered are read one key at a
// time instead: a point read stops at the newest level holding its key,
// so it reaches the corrupt block only if a chunk of this generation
// lives there, and then the error is this object's.
func (s *Store) eachChunk(r pebble.Reader, pg PGID, oid string, gen uint64, lo, hi uint64, fn func(idx uint32, data []byte, sum uint64) error) error {
	if lo >= hi {
		return nil
	}
	upper := genEnd(pg, oid, gen)
	if hi <= 1<<32-1 {
		upper = dataKey(pg, oid, gen, uint32(hi))
	}
	next := lo // the first index not yet passed to fn
	fallback := func(err error) error {
		if !IsPebbleCorruption(err) || hi > 1<<32-1 {
			return s.dbErr(fmt.Sprintf("pg %s object %q: read chunks", pg, oid), err)
		}
		for idx := next; idx < hi; idx++ {
			v, found, err := s.get(r, dataKey(pg, oid, gen, uint32(idx)))
			if err != nil {
				return fmt.Errorf("pg %s object %q chunk %d: %w", pg, oid, idx, err)
			}
			if !found {
				continue
			}
			data, sum, err := s.checkChunk(pg, oid, uint32(idx), v)
			if err == nil {
				err = fn(uint32(idx), data, sum)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: dataKey(pg, oid, gen, uint32(lo)), UpperBound: upper})
	if err != nil {
		return fallback(err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		idx := binary.BigEndian.Uint32(k[len(k)-4:])
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return fallback(err)
		}
		data, sum, err := s.checkChunk(pg, oid, idx, v)
		if err == nil {
			err = fn(idx, data, sum)
		}
		if err != nil {
			_ = it.Close()
			return err
		}
		next = uint64(idx) + 1
	}
	if err := it.Close(); err != nil {
		return fallback(err)
	}
	return nil
}

// readParts is how many iterators read one long range at once, and
// readPartMin the fewest chunks worth one of them.
const (
	readParts   = 4
	readPartMin = 8
)

// eachChunkParallel is eachChunk over [lo, hi) cut into up to readParts
// parts read at once; fn may be called concurrently (for distinct
// chunks) and in any order.
func (s *Store) eachChunkParallel(pg PGID, oid string, gen uint64, lo, hi uint64, fn func(idx uint32, data []byte, sum uint64) error) error {
	if hi <= lo {
		return nil
	}
	parts := min(uint64(readParts), (hi-lo)/readPartMin)
	if parts <= 1 {
		return s.eachChunk(s.db, pg, oid, gen, lo, hi, fn)
	}
	// One snapshot, so every part sees the same state.
	snap := s.db.NewSnapshot()
	defer snap.Close()
	step := (hi - lo + parts - 1) / parts
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for i := range parts {
		a, b := lo+i*step, min(lo+(i+1)*step, hi)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.eachChunk(snap, pg, oid, gen, a, b, fn)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Export returns the whole object as a replacing transaction (meta, every
// chunk with its sum, the omap as omap_set), verifying checksums.
// ErrNotFound when the object does not exist.
func (s *Store) Export(pg PGID, oid string) (*pb.Txn, error) {
	if err := checkName(oid); err != nil {
		return nil, err
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.exit()
	snap := s.db.NewSnapshot()
	defer snap.Close()
	m, err := s.loadMeta(snap, pg, oid)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("pg %s object %q: %w", pg, oid, ErrNotFound)
	}
	txn := &pb.Txn{Oid: oid, Replace: true, Meta: m}
	if m.GetInlined() {
		if err := s.checkInline(pg, oid, m); err != nil {
			return nil, err
		}
	} else {
		err := s.eachChunk(snap, pg, oid, m.GetGen(), 0, s.nchunks(m.GetSize()), func(idx uint32, data []byte, sum uint64) error {
			txn.Chunks = append(txn.Chunks, &pb.Chunk{Index: idx, Data: append([]byte(nil), data...), Sum: sum})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	txn.OmapSet = map[string][]byte{}
	err = s.eachOmap(snap, pg, oid, objKey(pg, famOmap, oid), nil, func(k string, v []byte) (bool, error) {
		txn.OmapSet[k] = append([]byte(nil), v...)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return txn, nil
}

// eachOmap calls fn with the omap entries of oid with keys in [lower,
// upper) (upper nil: to the end of the object's omap) until fn returns
// false.
func (s *Store) eachOmap(r pebble.Reader, pg PGID, oid string, lower, upper []byte, fn func(k string, v []byte) (bool, error)) error {
	base := objKey(pg, famOmap, oid)
	if upper == nil {
		upper = prefixEnd(base)
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return s.dbErr("read omap", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return s.dbErr("read omap", err)
		}
		more, err := fn(string(it.Key()[len(base):]), v)
		if err != nil || !more {
			cerr := it.Close()
			if err == nil && cerr != nil {
				err = s.dbErr("read omap", cerr)
			}
			return err
		}
	}
	if err := it.Close(); err != nil {
		return s.dbErr("read omap", err)
	}
	return nil
}

// nchunks is the number of chunk spans an object of size bytes covers.
func (s *Store) nchunks(size uint64) uint64 {
	cs := uint64(s.opts.ChunkSize)
	return (size + cs - 1) / cs
}

// readInfo reads a PG's info (zero info with pool and ps when absent).
func (s *Store) readInfo(r pebble.Reader, pg PGID) (*pb.PGInfo, error) {
	v, found, err := s.get(r, infoKey(pg))
	if err != nil {
		return nil, err
	}
	info := &pb.PGInfo{}
	if found {
		if err := proto.Unmarshal(v, info); err != nil {
			return nil, s.corruptErr("pg %s: undecodable info", pg)
		}
	}
	info.Pool, info.Ps = pg.Pool, pg.PS
	return info, nil
}

// Info returns a PG's info; a PG without data has a zero info (with pool
// and ps set).
func (s *Store) Info(pg PGID) (*pb.PGInfo, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.exit()
	return s.readInfo(s.db, pg)
}

// Log returns a PG's log, oldest first.
func (s *Store) Log(pg PGID) ([]*pb.LogEntry, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.exit()
	snap := s.db.NewSnapshot()
	defer snap.Close()
	info, err := s.readInfo(snap, pg)
	if err != nil {
		return nil, err
	}
	var log []*pb.LogEntry
	err = s.eachLog(snap, pg, info.GetLogTail(), func(ev *pb.Eversion, e *pb.LogEntry) bool {
		log = append(log, e)
		return true
	})
	return log, err
}

// eachLog calls fn with the log entries of pg from tail (nil: the start)
// until fn returns false.
func (s *Store) eachLog(r pebble.Reader, pg PGID, tail *pb.Eversion, fn func(keyVer *pb.Eversion, e *pb.LogEntry) bool) error {
	lower := famKey(pg, famLog)
	if tail != nil {
		lower = logKey(pg, tail)
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(famKey(pg, famLog))})
	if err != nil {
		return s.indexErr("read log", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return s.indexErr("read log", err)
		}
		k, kerr := decodeKey(it.Key())
		e := &pb.LogEntry{}
		if kerr != nil || k.kind != kindLog || proto.Unmarshal(v, e) != nil {
			_ = it.Close()
			return s.corruptErr("pg %s: undecodable log entry %x", pg, it.Key())
		}
		if !fn(k.ver, e) {
			break
		}
	}
	if err := it.Close(); err != nil {
		return s.indexErr("read log", err)
	}
	return nil
}

// eachMeta calls fn with the metadata keys and values of pg's objects
// after startAfter, in name order, until fn returns false.
func (s *Store) eachMeta(r pebble.Reader, pg PGID, startAfter string, fn func(oid string, v []byte) (bool, error)) error {
	lower := famKey(pg, famMeta)
	if startAfter != "" {
		lower = append(metaKey(pg, startAfter), 0)
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(famKey(pg, famMeta))})
	if err != nil {
		return s.indexErr("list", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return s.indexErr("list", err)
		}
		more, err := fn(string(it.Key()[pgPrefixLen+1:]), v)
		if err != nil || !more {
			cerr := it.Close()
			if err == nil && cerr != nil {
				err = s.indexErr("list", cerr)
			}
			return err
		}
	}
	if err := it.Close(); err != nil {
		return s.indexErr("list", err)
	}
	return nil
}

// List returns up to max (default 1000 when max <= 0) object names of pg
// after startAfter, in name order; more says whether names follow.
func (s *Store) List(pg PGID, startAfter string, max int) (oids []string, more bool, err error) {
	if err := s.enter(); err != nil {
		return nil, false, err
	}
	defer s.exit()
	if max <= 0 {
		max = defaultListMax
	}
	err = s.eachMeta(s.db, pg, startAfter, func(oid string, _ []byte) (bool, error) {
		if len(oids) == max {
			more = true
			return false, nil
		}
		oids = append(oids, oid)
		return true, nil
	})
	if err != nil {
		return nil, false, err
	}
	return oids, more, nil
}

// Scan is List with each object's version (for backfill and scrub).
func (s *Store) Scan(pg PGID, startAfter string, max int) (objs []*pb.ObjectVersion, more bool, err error) {
	if err := s.enter(); err != nil {
		return nil, false, err
	}
	defer s.exit()
	if max <= 0 {
		max = defaultListMax
	}
	err = s.eachMeta(s.db, pg, startAfter, func(oid string, v []byte) (bool, error) {
		if len(objs) == max {
			more = true
			return false, nil
		}
		m := &pb.ObjectMeta{}
		if err := proto.Unmarshal(v, m); err != nil {
			return false, s.corruptErr("pg %s object %q: undecodable metadata", pg, oid)
		}
		objs = append(objs, &pb.ObjectVersion{Oid: oid, Version: m.GetVersion()})
		return true, nil
	})
	if err != nil {
		return nil, false, err
	}
	return objs, more, nil
}

// PGs lists the PGs with any key (info, log or objects), in key order.
func (s *Store) PGs() ([]PGID, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.exit()
	return s.listPGs(s.db)
}

func (s *Store) listPGs(r pebble.Reader) ([]PGID, error) {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixPG}, UpperBound: []byte{prefixPG + 1}})
	if err != nil {
		return nil, s.indexErr("list PGs", err)
	}
	var pgs []PGID
	for ok := it.First(); ok; {
		k := it.Key()
		if len(k) < pgPrefixLen {
			ok = it.Next()
			continue
		}
		pg := decodePGID(k[1:])
		pgs = append(pgs, pg)
		end := pgEnd(pg)
		if end == nil {
			break
		}
		ok = it.SeekGE(end)
	}
	if err := it.Close(); err != nil {
		return nil, s.indexErr("list PGs", err)
	}
	return pgs, nil
}

// RemovePG deletes every key of pg (one range deletion) durably.
func (s *Store) RemovePG(pg PGID) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	st := s.pgState(pg)
	st.mu.Lock()
	defer st.mu.Unlock()
	b := s.db.NewBatch()
	defer b.Close()
	_ = b.DeleteRange(pgPrefix(pg), pgEnd(pg), nil)
	pp := appendPGID(pendingPrefix(), pg)
	_ = b.DeleteRange(pp, prefixEnd(pp), nil)
	if err := s.commitBatch(b); err != nil {
		return err
	}
	st.loaded, st.info, st.logLen = false, nil, 0
	return nil
}

// HasPG reports whether the store holds a copy of pg (its info was ever
// written), as opposed to a PG it never had.
func (s *Store) HasPG(pg PGID) (bool, error) {
	if err := s.enter(); err != nil {
		return false, err
	}
	defer s.exit()
	_, found, err := s.get(s.db, infoKey(pg))
	return found, err
}

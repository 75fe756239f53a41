package store

import (
	"fmt"

	"github.com/cockroachdb/pebble"
	"google.golang.org/protobuf/proto"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// Report is the outcome of Check.
type Report struct {
	Objects uint64 // objects found
	Chunks  uint64 // data chunks found
	Bytes   uint64 // total size of the objects
	// Problems lists every inconsistency found (empty: consistent).
	Problems []Problem
}

// Problem is one inconsistency.
type Problem struct {
	PG   PGID
	OID  string // empty for PG-level problems
	What string
}

func (p Problem) String() string {
	if p.OID == "" {
		return fmt.Sprintf("pg %s: %s", p.PG, p.What)
	}
	return fmt.Sprintf("pg %s object %q: %s", p.PG, p.OID, p.What)
}

// Check reads the whole store (a consistent snapshot) and verifies the
// invariants of doc.go: metadata and log entries decode, every checksum
// matches, chunks belong to their object's generation (or to one a
// rollback record keeps) and end within its size, omap entries belong to
// existing objects, log keys match their entries, PG info counts match
// the objects and last_update covers every object and log entry,
// rollback records decode, agree with their keys and belong to log
// entries newer than rollback_tail, which is at most last_update. Checksum mismatches count in CorruptionCount. The
// error is for failures to read; inconsistencies are in the report.
func (s *Store) Check() (*Report, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.exit()
	snap := s.db.NewSnapshot()
	defer snap.Close()
	r := &Report{}
	if err := s.checkGlobal(snap, r); err != nil {
		return nil, err
	}
	pgs, err := s.listPGs(snap)
	if err != nil {
		return nil, err
	}
	for _, pg := range pgs {
		if err := s.checkPG(snap, pg, r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// checkGlobal checks the keys outside PGs.
func (s *Store) checkGlobal(snap pebble.Reader, r *Report) error {
	format := false
	for _, bounds := range [][2][]byte{{nil, {prefixPG}}, {{prefixPG + 1}, nil}} {
		it, err := snap.NewIter(&pebble.IterOptions{LowerBound: bounds[0], UpperBound: bounds[1]})
		if err != nil {
			return s.dbErr("check", err)
		}
		for ok := it.First(); ok; ok = it.Next() {
			k, err := decodeKey(it.Key())
			switch {
			case err != nil:
				r.Problems = append(r.Problems, Problem{What: fmt.Sprintf("undecodable key %x", it.Key())})
			case k.kind == kindFormat:
				format = true
			}
		}
		if err := it.Close(); err != nil {
			return s.dbErr("check", err)
		}
	}
	if !format {
		r.Problems = append(r.Problems, Problem{What: "no format key"})
	}
	return nil
}

// objCheck is what checkPG knows of one object.
type objCheck struct {
	meta         *pb.ObjectMeta
	reportedGens map[uint64]bool
}

// checkPG checks one PG.
func (s *Store) checkPG(snap pebble.Reader, pg PGID, r *Report) error {
	problem := func(oid, format string, args ...any) {
		r.Problems = append(r.Problems, Problem{PG: pg, OID: oid, What: fmt.Sprintf(format, args...)})
	}
	// The objects first: data keys sort before metadata keys.
	objs := map[string]*objCheck{}
	var objects, bytes uint64
	var maxObjVer *pb.Eversion
	maxObjOID := ""
	err := s.eachMeta(snap, pg, "", func(oid string, v []byte) (bool, error) {
		m := &pb.ObjectMeta{}
		if err := proto.Unmarshal(v, m); err != nil {
			s.corrupt.Add(1)
			problem(oid, "undecodable metadata")
			return true, nil
		}
		objs[oid] = &objCheck{meta: m}
		objects++
		bytes += m.GetSize()
		if maxObjVer == nil || evLess(maxObjVer, m.GetVersion()) {
			maxObjVer, maxObjOID = m.GetVersion(), oid
		}
		if m.GetInlined() {
			if err := s.checkInline(pg, oid, m); err != nil {
				problem(oid, "%v", err)
			}
		} else if len(m.GetInline()) > 0 {
			problem(oid, "chunked object with inline data")
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	r.Objects += objects
	r.Bytes += bytes

	kept, recs, err := s.checkRecords(snap, pg, r)
	if err != nil {
		return err
	}
	logVers := map[[2]uint64]bool{}

	var info *pb.PGInfo
	var firstLog, lastLog *pb.Eversion
	absentOmap := map[string]bool{}
	absentData := map[string]bool{}
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: pgPrefix(pg), UpperBound: pgEnd(pg)})
	if err != nil {
		return s.dbErr("check", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		k, kerr := decodeKey(it.Key())
		if kerr != nil {
			problem("", "undecodable key %x", it.Key())
			continue
		}
		if k.kind == kindMeta || k.kind == kindRollback {
			continue // checked above
		}
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return s.dbErr("check", err)
		}
		switch k.kind {
		case kindData:
			r.Chunks++
			o := objs[k.oid]
			if km := kept[genRef{k.oid, k.gen}]; km != nil && (o == nil || o.meta.GetInlined() || o.meta.GetGen() != k.gen) {
				// A generation a rollback record keeps, as it was when the
				// object left it.
				s.checkChunkValue(pg, k, v, km, problem)
				continue
			}
			switch {
			case o == nil:
				if !absentData[k.oid] {
					absentData[k.oid] = true
					problem(k.oid, "chunks of an absent object")
				}
				continue
			case o.meta.GetInlined() || o.meta.GetGen() != k.gen:
				if o.reportedGens == nil {
					o.reportedGens = map[uint64]bool{}
				}
				if !o.reportedGens[k.gen] {
					o.reportedGens[k.gen] = true
					problem(k.oid, "chunks of generation %d, not the object's (gen %d, inline %v)", k.gen, o.meta.GetGen(), o.meta.GetInlined())
				}
				continue
			}
			s.checkChunkValue(pg, k, v, o.meta, problem)
		case kindInfo:
			info = &pb.PGInfo{}
			if err := proto.Unmarshal(v, info); err != nil {
				s.corrupt.Add(1)
				problem("", "undecodable info")
			}
		case kindLog:
			e := &pb.LogEntry{}
			if err := proto.Unmarshal(v, e); err != nil {
				s.corrupt.Add(1)
				problem("", "undecodable log entry %d.%d", k.ver.GetEpoch(), k.ver.GetVersion())
				continue
			}
			if evCompare(e.GetVersion(), k.ver) != 0 {
				problem("", "log out of order: entry %v stored as %d.%d", e.GetVersion(), k.ver.GetEpoch(), k.ver.GetVersion())
			}
			if firstLog == nil {
				firstLog = k.ver
			}
			lastLog = k.ver
			logVers[[2]uint64{k.ver.GetEpoch(), k.ver.GetVersion()}] = true
		case kindOmap:
			if objs[k.oid] != nil && !objs[k.oid].meta.GetOmap() && !absentOmap[k.oid] {
				absentOmap[k.oid] = true
				problem(k.oid, "omap entries of an object whose metadata says it has none")
			}
			if objs[k.oid] == nil && !absentOmap[k.oid] {
				absentOmap[k.oid] = true
				problem(k.oid, "omap entries of an absent object")
			}
		}
	}
	if err := it.Close(); err != nil {
		return s.dbErr("check", err)
	}

	if info == nil {
		info = &pb.PGInfo{}
	}
	if info.GetObjects() != objects || info.GetBytes() != bytes {
		problem("", "info counts %d objects, %d bytes; found %d objects, %d bytes", info.GetObjects(), info.GetBytes(), objects, bytes)
	}
	lu := info.GetLastUpdate()
	if maxObjVer != nil && evLess(lu, maxObjVer) {
		problem(maxObjOID, "last_update %v is below the object's version %v", lu, maxObjVer)
	}
	if lastLog != nil && evLess(lu, lastLog) {
		problem("", "last_update %v is below the newest log entry %d.%d", lu, lastLog.GetEpoch(), lastLog.GetVersion())
	}
	switch {
	case firstLog != nil && (info.GetLogTail() == nil || evCompare(info.GetLogTail(), firstLog) != 0):
		problem("", "log_tail %v is not the oldest entry %d.%d", info.GetLogTail(), firstLog.GetEpoch(), firstLog.GetVersion())
	case firstLog == nil && info.GetLogTail() != nil:
		problem("", "log_tail %v but no log", info.GetLogTail())
	}
	rt := info.GetRollbackTail()
	if rt != nil && evLess(lu, rt) {
		problem("", "rollback_tail %v is after last_update %v", rt, lu)
	}
	for _, k := range recs {
		if !logVers[[2]uint64{k.ver.GetEpoch(), k.ver.GetVersion()}] {
			problem(k.oid, "rollback record of entry %d.%d, which is not in the log", k.ver.GetEpoch(), k.ver.GetVersion())
		}
		if rt != nil && !evLess(rt, k.ver) {
			problem(k.oid, "rollback record of entry %d.%d, at or before rollback_tail %v", k.ver.GetEpoch(), k.ver.GetVersion(), rt)
		}
		if o := objs[k.oid]; k.gen != 0 && o != nil && !o.meta.GetInlined() && o.meta.GetGen() == k.gen {
			problem(k.oid, "rollback record of entry %d.%d keeps the object's current generation %d", k.ver.GetEpoch(), k.ver.GetVersion(), k.gen)
		}
	}
	return nil
}

// checkChunkValue checks a stored chunk against the metadata of the
// object on its generation.
func (s *Store) checkChunkValue(pg PGID, k key, v []byte, m *pb.ObjectMeta, problem func(oid, format string, args ...any)) {
	cs := uint64(s.opts.ChunkSize)
	sum, data, err := decodeChunk(v)
	if err != nil {
		s.corrupt.Add(1)
		problem(k.oid, "chunk %d: %v", k.idx, err)
		return
	}
	if s.sum(data) != sum {
		s.corrupt.Add(1)
		problem(k.oid, "chunk %d: checksum mismatch", k.idx)
	}
	if uint64(len(data)) > cs || uint64(k.idx)*cs+uint64(len(data)) > m.GetSize() {
		problem(k.oid, "chunk %d of %d bytes extends past size %d", k.idx, len(data), m.GetSize())
	}
}

// checkRecords checks pg's rollback records on their own (they decode,
// agree with their keys, their kept chunks match their sums) and returns
// the generations they keep (with the object's metadata on each) and
// their keys, oldest first.
func (s *Store) checkRecords(snap pebble.Reader, pg PGID, r *Report) (map[genRef]*pb.ObjectMeta, []key, error) {
	problem := func(oid, format string, args ...any) {
		r.Problems = append(r.Problems, Problem{PG: pg, OID: oid, What: fmt.Sprintf(format, args...)})
	}
	lower := famKey(pg, famRollback)
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return nil, nil, s.dbErr("check", err)
	}
	kept := map[genRef]*pb.ObjectMeta{}
	var keys []key
	cs := uint64(s.opts.ChunkSize)
	for ok := it.First(); ok; ok = it.Next() {
		k, kerr := decodeKey(it.Key())
		if kerr != nil {
			continue // the main pass reports it
		}
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return nil, nil, s.dbErr("check", err)
		}
		rec := &pb.RollbackRecord{}
		if err := proto.Unmarshal(v, rec); err != nil {
			s.corrupt.Add(1)
			problem(k.oid, "undecodable rollback record of entry %d.%d", k.ver.GetEpoch(), k.ver.GetVersion())
			continue
		}
		keys = append(keys, k)
		if err := checkRecord(k, rec); err != nil {
			problem(k.oid, "rollback record of entry %d.%d: %v", k.ver.GetEpoch(), k.ver.GetVersion(), err)
			continue
		}
		if k.gen != 0 {
			if kept[genRef{k.oid, k.gen}] != nil {
				problem(k.oid, "generation %d kept by two rollback records", k.gen)
			}
			kept[genRef{k.oid, k.gen}] = rec.GetOldMeta()
		}
		for _, c := range rec.GetOldChunks() {
			if s.sum(c.GetData()) != c.GetSum() {
				s.corrupt.Add(1)
				problem(k.oid, "rollback record of entry %d.%d: kept chunk %d: checksum mismatch", k.ver.GetEpoch(), k.ver.GetVersion(), c.GetIndex())
			}
			if uint64(len(c.GetData())) > cs || uint64(c.GetIndex())*cs+uint64(len(c.GetData())) > rec.GetOldMeta().GetSize() {
				problem(k.oid, "rollback record of entry %d.%d: kept chunk %d extends past the old size", k.ver.GetEpoch(), k.ver.GetVersion(), c.GetIndex())
			}
		}
		if om := rec.GetOldMeta(); om != nil && om.GetInlined() {
			if err := s.checkInline(pg, k.oid, om); err != nil {
				problem(k.oid, "rollback record of entry %d.%d: %v", k.ver.GetEpoch(), k.ver.GetVersion(), err)
			}
		}
	}
	if err := it.Close(); err != nil {
		return nil, nil, s.dbErr("check", err)
	}
	return kept, keys, nil
}

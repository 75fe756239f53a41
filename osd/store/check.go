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
// matches, chunks belong to their object's generation and end within its
// size, omap entries belong to existing objects, log keys match their
// entries, PG info counts match the objects and last_update covers every
// object and log entry. Checksum mismatches count in CorruptionCount. The
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

	var info *pb.PGInfo
	var firstLog, lastLog *pb.Eversion
	absentOmap := map[string]bool{}
	absentData := map[string]bool{}
	cs := uint64(s.opts.ChunkSize)
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
		if k.kind == kindMeta {
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
			sum, data, err := decodeChunk(v)
			if err != nil {
				s.corrupt.Add(1)
				problem(k.oid, "chunk %d: %v", k.idx, err)
				continue
			}
			if s.sum(data) != sum {
				s.corrupt.Add(1)
				problem(k.oid, "chunk %d: checksum mismatch", k.idx)
			}
			if uint64(len(data)) > cs || uint64(k.idx)*cs+uint64(len(data)) > o.meta.GetSize() {
				problem(k.oid, "chunk %d of %d bytes extends past size %d", k.idx, len(data), o.meta.GetSize())
			}
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
	return nil
}

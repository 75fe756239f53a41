package store

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble"
	"google.golang.org/protobuf/proto"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// ApplyKeep is Apply that also keeps what the transaction overwrites, in
// a rollback record keyed by entry's version (in the same atomic batch),
// so RollbackTo can undo it until TrimRollback (or log trimming, Apply,
// Install with a log, ResetLog) drops the record. Erasure-coded pools
// apply their shards' writes this way.
//
// The record holds the object's metadata before the write (nil: it did
// not exist). A write that moves the object off its generation (a fresh
// generation, an inline object, a removal) leaves the old generation's
// chunks in place until the record goes; a write within the generation
// copies the stored values of the chunks it overwrites or drops into the
// record and lists the ones it creates, unless copying the chunks it
// leaves untouched to a fresh generation costs less (see keepConvert and
// doc.go). entry is required, must be newer than the PG's rollback_tail
// and not already in the log. Transactions that change the omap
// (omap_set, omap_rm, omap_clear, replace, or removing an object that has
// omap entries) are refused with ErrInvalid: erasure-coded objects have
// no omap. So is a drop_gen that is not the object's generation.
func (s *Store) ApplyKeep(pg PGID, txn *pb.Txn, entry *pb.LogEntry) error {
	if txn == nil {
		return fmt.Errorf("nil transaction: %w", ErrInvalid)
	}
	if entry == nil {
		return fmt.Errorf("ApplyKeep without a log entry: %w", ErrInvalid)
	}
	if err := checkEntry(entry); err != nil {
		return err
	}
	if len(txn.GetOmapSet()) > 0 || len(txn.GetOmapRm()) > 0 || txn.GetOmapClear() || txn.GetReplace() {
		return fmt.Errorf("pg %s object %q: ApplyKeep of a transaction that changes the omap or replaces the object: %w", pg, txn.GetOid(), ErrInvalid)
	}
	return s.write(pg, &writeReq{txns: []*pb.Txn{txn}, entry: entry, keep: true})
}

// genRef names one generation of one object.
type genRef struct {
	oid string
	gen uint64
}

// keepPlan builds the rollback record of an ApplyKeep plan (p.old is
// read): what the transaction overwrites, read before the batch. The
// caller serializes writes per object, so the chunks stay as read.
func (s *Store) keepPlan(pg PGID, p *plan, ev *pb.Eversion) error {
	t, old, m := p.txn, p.old, p.txn.GetMeta()
	oid := t.GetOid()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("pg %s object %q: ApplyKeep: %s: %w", pg, oid, fmt.Sprintf(format, args...), ErrInvalid)
	}
	if old.GetOmap() && (m == nil || t.GetRemove() || !m.GetOmap()) {
		return bad("the transaction removes the object's omap")
	}
	oldChunked := old != nil && !old.GetInlined()
	newChunked := m != nil && !m.GetInlined()
	same := oldChunked && newChunked && old.GetGen() == m.GetGen()
	if g := t.GetDropGen(); g != 0 && (!oldChunked || g != old.GetGen()) {
		return bad("drop_gen %d is not the object's generation", g)
	}
	if same && t.GetRemove() {
		return bad("removes and recreates the object in its own generation")
	}
	// A retransmission would record the written state as the old one
	// (checked again under the PG lock; checked here before an ingest
	// could write into a generation the first application keeps).
	if _, found, err := s.get(s.db, logKey(pg, ev)); err != nil {
		return err
	} else if found {
		return fmt.Errorf("pg %s: ApplyKeep of entry %v, which the log holds already: %w", pg, ev, ErrInvalid)
	}
	if same {
		nt, err := s.keepConvert(pg, p, ev)
		if err != nil {
			return err
		}
		if nt != nil {
			p.txn, m, same = nt, nt.GetMeta(), false
		}
	}
	rec := &pb.RollbackRecord{Oid: oid, OldMeta: old}
	if same {
		if err := s.keepChunks(pg, p, rec); err != nil {
			return err
		}
	} else {
		if newChunked {
			rec.NewGen = m.GetGen()
		}
		if oldChunked {
			p.kept = old.GetGen()
		}
	}
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(rec)
	if err != nil {
		return fmt.Errorf("pg %s object %q: encode rollback record: %w: %w", pg, oid, ErrInvalid, err)
	}
	p.recKey, p.recVal = rollbackKey(pg, ev, p.kept, oid), v
	return nil
}

// convertMin is the fewest chunk spans a same-generation write must
// overwrite or drop before ApplyKeep considers moving the object to a
// fresh generation instead of copying them into the record.
const convertMin = 4

// keepConvert decides how a same-generation write is kept. Keeping it in
// place copies every chunk it overwrites or drops into the record; moving
// the object to a fresh generation (the entry's version) copies the
// chunks it leaves untouched instead, and keeps the old generation whole.
// When the second copies less (a truncation dropping most of a large
// object, an overwrite of most of it), keepConvert returns the
// transaction rewritten that way: the same metadata with the new
// generation, the written chunks and the old surviving ones as stored
// (sum and data, not re-verified, as a rollback would restore them).
// Otherwise it returns nil.
func (s *Store) keepConvert(pg PGID, p *plan, ev *pb.Eversion) (*pb.Txn, error) {
	t, old := p.txn, p.old
	oid, gen := t.GetOid(), old.GetGen()
	if ev.GetVersion() == gen {
		return nil, nil
	}
	n := s.nchunks(old.GetSize())
	survive := n
	if t.GetDropChunks() {
		survive = min(n, uint64(t.GetDropChunksFrom()))
	}
	written := map[uint32]*pb.Chunk{}
	touched := uint64(0)
	for _, c := range t.GetChunks() {
		written[c.GetIndex()] = c
		if uint64(c.GetIndex()) < survive {
			touched++
		}
	}
	recordCost := touched + (n - survive)
	untouched := survive - touched
	if recordCost < convertMin || untouched >= recordCost {
		return nil, nil
	}
	m := proto.Clone(t.GetMeta()).(*pb.ObjectMeta)
	m.Gen = ev.GetVersion()
	nt := &pb.Txn{Oid: oid, Meta: m, DropGen: gen}
	if survive > 0 {
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: dataKey(pg, oid, gen, 0), UpperBound: dataKey(pg, oid, gen, uint32(survive))})
		if err != nil {
			return nil, s.dbErr("read chunks", err)
		}
		for ok := it.First(); ok; ok = it.Next() {
			k := it.Key()
			idx := binary.BigEndian.Uint32(k[len(k)-4:])
			if written[idx] != nil {
				continue
			}
			v, err := it.ValueAndErr()
			if err != nil {
				_ = it.Close()
				return nil, s.dbErr("read chunk", err)
			}
			sum, data, err := decodeChunk(v)
			if err != nil {
				_ = it.Close()
				s.corrupt.Add(1)
				return nil, fmt.Errorf("pg %s object %q chunk %d: %w", pg, oid, idx, err)
			}
			nt.Chunks = append(nt.Chunks, &pb.Chunk{Index: idx, Data: append([]byte{}, data...), Sum: sum})
		}
		if err := it.Close(); err != nil {
			return nil, s.dbErr("read chunks", err)
		}
	}
	nt.Chunks = append(nt.Chunks, t.GetChunks()...)
	slices.SortFunc(nt.Chunks, func(a, b *pb.Chunk) int { return cmp.Compare(a.GetIndex(), b.GetIndex()) })
	return nt, nil
}

// keepChunks fills a same-generation record: the stored values (sum and
// data as stored, not verified: a rollback puts back exactly what was
// there) of the chunks the transaction writes or drops, and the indexes
// it writes that did not exist.
func (s *Store) keepChunks(pg PGID, p *plan, rec *pb.RollbackRecord) error {
	t, old := p.txn, p.old
	oid, gen := t.GetOid(), old.GetGen()
	// Chunks never extend past the size: nothing exists at or above n.
	n := s.nchunks(old.GetSize())
	found := map[uint32]bool{}
	keep := func(idx uint32, v []byte) error {
		sum, data, err := decodeChunk(v)
		if err != nil {
			s.corrupt.Add(1)
			return fmt.Errorf("pg %s object %q chunk %d: %w", pg, oid, idx, err)
		}
		rec.OldChunks = append(rec.OldChunks, &pb.Chunk{Index: idx, Data: append([]byte{}, data...), Sum: sum})
		found[idx] = true
		return nil
	}
	from := uint64(1) << 32
	if t.GetDropChunks() {
		from = uint64(t.GetDropChunksFrom())
		if from < n {
			it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: dataKey(pg, oid, gen, uint32(from)), UpperBound: genEnd(pg, oid, gen)})
			if err != nil {
				return s.dbErr("read chunks", err)
			}
			for ok := it.First(); ok; ok = it.Next() {
				k := it.Key()
				idx := binary.BigEndian.Uint32(k[len(k)-4:])
				v, err := it.ValueAndErr()
				if err != nil {
					_ = it.Close()
					return s.dbErr("read chunk", err)
				}
				if err := keep(idx, v); err != nil {
					_ = it.Close()
					return err
				}
			}
			if err := it.Close(); err != nil {
				return s.dbErr("read chunks", err)
			}
		}
	}
	for _, c := range t.GetChunks() {
		idx := c.GetIndex()
		if uint64(idx) >= from || uint64(idx) >= n {
			continue
		}
		v, ok, err := s.get(s.db, dataKey(pg, oid, gen, idx))
		if err != nil {
			return err
		}
		if ok {
			if err := keep(idx, v); err != nil {
				return err
			}
		}
	}
	for _, c := range t.GetChunks() {
		if !found[c.GetIndex()] {
			rec.CreatedChunks = append(rec.CreatedChunks, c.GetIndex())
		}
	}
	slices.Sort(rec.CreatedChunks)
	slices.SortFunc(rec.OldChunks, func(a, b *pb.Chunk) int { return cmp.Compare(a.GetIndex(), b.GetIndex()) })
	return nil
}

// recheckPlans re-reads, under the PG lock, the metadata of objects read
// before a RollbackTo of the PG committed: a write prepared against the
// state a rollback undid is refused.
func (s *Store) recheckPlans(pg PGID, plans []*plan) error {
	for _, p := range plans {
		cur, err := s.loadMeta(s.db, pg, p.txn.GetOid())
		if err != nil {
			return err
		}
		if (cur == nil) != (p.old == nil) || (cur != nil && !proto.Equal(cur, p.old)) {
			return fmt.Errorf("pg %s object %q: rolled back while the write was in flight; prepare it again: %w", pg, p.txn.GetOid(), ErrVersion)
		}
	}
	return nil
}

// checkKeepEntry refuses an ApplyKeep entry that could not be undone (at
// or before rollback_tail) or that the log holds already (applying it
// again would record the written state as the old one). st.mu is held.
func (s *Store) checkKeepEntry(pg PGID, info *pb.PGInfo, ev *pb.Eversion) error {
	if rt := info.GetRollbackTail(); rt != nil && !evLess(rt, ev) {
		return fmt.Errorf("pg %s: ApplyKeep of entry %v at or before rollback_tail %v: %w", pg, ev, rt, ErrInvalid)
	}
	if lu := info.GetLastUpdate(); lu != nil && !evLess(lu, ev) {
		_, found, err := s.get(s.db, logKey(pg, ev))
		if err != nil {
			return err
		}
		if found {
			return fmt.Errorf("pg %s: ApplyKeep of entry %v, which the log holds already: %w", pg, ev, ErrInvalid)
		}
	}
	return nil
}

func cloneEv(v *pb.Eversion) *pb.Eversion {
	if v == nil {
		return nil
	}
	return &pb.Eversion{Epoch: v.GetEpoch(), Version: v.GetVersion()}
}

// raiseRollbackTail sets info's rollback_tail to v if v is newer.
func raiseRollbackTail(info *pb.PGInfo, v *pb.Eversion) {
	if v != nil && (info.GetRollbackTail() == nil || evLess(info.GetRollbackTail(), v)) {
		info.RollbackTail = cloneEv(v)
	}
}

// countRecords counts pg's rollback records.
func (s *Store) countRecords(pg PGID) (int, error) {
	lower := famKey(pg, famRollback)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return 0, s.dbErr("read rollback records", err)
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	if err := it.Close(); err != nil {
		return 0, s.dbErr("read rollback records", err)
	}
	return n, nil
}

// batchDropRecords adds to b the deletion of pg's rollback records of
// entries at or before upTo (nil: every record) and of the generations
// they keep, except generations in protect (the batch writes them) and an
// object's current generation (which no record keeps; skipped, should it
// happen). It reads only keys: a record's key names what it keeps. It
// returns the number of records dropped; st.mu is held.
func (s *Store) batchDropRecords(b *pebble.Batch, pg PGID, upTo *pb.Eversion, protect map[genRef]bool) (int, error) {
	lower := famKey(pg, famRollback)
	upper := prefixEnd(lower)
	if upTo != nil {
		upper = rollbackUpTo(pg, upTo)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return 0, s.dbErr("read rollback records", err)
	}
	n := 0
	var kept []key
	for ok := it.First(); ok; ok = it.Next() {
		k, err := decodeKey(it.Key())
		if err != nil || k.kind != kindRollback {
			_ = it.Close()
			return 0, s.corruptErr("pg %s: undecodable rollback record key %x", pg, it.Key())
		}
		n++
		if k.gen != 0 {
			kept = append(kept, k)
		}
	}
	if err := it.Close(); err != nil {
		return 0, s.dbErr("read rollback records", err)
	}
	if n == 0 {
		return 0, nil
	}
	_ = b.DeleteRange(lower, upper, nil)
	for _, k := range kept {
		if protect[genRef{k.oid, k.gen}] {
			continue
		}
		m, err := s.loadMeta(s.db, pg, k.oid)
		if err != nil || (m != nil && !m.GetInlined() && m.GetGen() == k.gen) {
			// Never delete data that may be live; Check reports leftovers.
			s.log.Warn("rollback record keeps the object's current generation (or its metadata is unreadable); generation not deleted",
				"pg", pg.String(), "oid", k.oid, "gen", k.gen, "err", err)
			continue
		}
		deleteGens(b, pg, k.oid, k.gen, k.gen, 0, false)
	}
	return n, nil
}

// errNoPG is the error of an operation on a PG the store does not hold.
func errNoPG(pg PGID) error {
	return fmt.Errorf("pg %s: no such PG on this store: %w", pg, ErrNotFound)
}

// lockPG takes pg's lock and loads its state; the PG must exist (have an
// info). On success the caller must unlock st.mu.
func (s *Store) lockPG(pg PGID) (*pgState, error) {
	st := s.pgState(pg)
	st.mu.Lock()
	_, found, err := s.get(s.db, infoKey(pg))
	if err == nil && !found {
		err = errNoPG(pg)
	}
	if err == nil {
		err = s.loadPGLocked(pg, st)
	}
	if err != nil {
		st.mu.Unlock()
		return nil, err
	}
	return st, nil
}

// rbRecord is one rollback record read for RollbackTo.
type rbRecord struct {
	key key
	raw []byte // the key
	rec *pb.RollbackRecord
}

// RollbackTo undoes every logged write of pg newer than v (eversion
// order), newest first, from their rollback records, in one atomic
// durable batch: each object returns to its state before the write
// (metadata with xattrs, size, version and generation; data chunks; an
// object the write created is removed, one it removed comes back), the
// log loses those entries and their records, objects and bytes are
// recounted from the objects' old and new sizes. last_update becomes the
// newest remaining log entry, or the older of rollback_tail and v if that
// is newer (writes up to rollback_tail are applied, whether the log still
// holds them or not); rollback_tail is lowered to last_update if above
// it (nothing lies between). The caller passes an entry of the log or the
// log's last_update, and then last_update becomes v; with v at or after
// last_update nothing happens.
//
// If a write newer than v may not be undoable, RollbackTo returns an
// error wrapping ErrNoRollback and changes nothing: an entry newer than
// v without a record (applied by Apply, installed, or its record
// trimmed), or v before rollback_tail with writes in between, or that
// may have some the log does not show (v before the log's tail, an empty
// log, or rollback_tail after the newest entry). A nil v is ErrInvalid,
// a PG the store does not hold ErrNotFound.
//
// Writes without a log entry (ApplyUnlogged, Install without a log) are
// not undone. The caller must not have writes to the objects concerned
// in flight: one that read an object's metadata before the rollback
// committed fails with ErrVersion.
func (s *Store) RollbackTo(pg PGID, v *pb.Eversion) error {
	if v == nil {
		return fmt.Errorf("pg %s: RollbackTo without a version: %w", pg, ErrInvalid)
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	st, err := s.lockPG(pg)
	if err != nil {
		return err
	}
	defer st.mu.Unlock()
	info := proto.Clone(st.info).(*pb.PGInfo)
	lu, rt, tail := info.GetLastUpdate(), info.GetRollbackTail(), info.GetLogTail()
	if lu == nil || !evLess(v, lu) {
		return nil
	}
	// The entries to undo, and the newest one to keep.
	var undo []*pb.Eversion
	var newest *pb.Eversion
	err = s.eachLog(s.db, pg, tail, func(kv *pb.Eversion, _ *pb.LogEntry) bool {
		if evLess(v, kv) {
			undo = append(undo, kv)
		} else {
			newest = kv
		}
		return true
	})
	if err != nil {
		return err
	}
	if rt != nil && evLess(v, rt) {
		// Writes in (v, rollback_tail] cannot be undone. Those the log
		// holds are seen; others may exist before its tail (trimmed) or
		// after its newest entry (an installed last_update), or anywhere
		// when it is empty.
		last := newest
		if len(undo) > 0 {
			last = undo[len(undo)-1]
		}
		if tail == nil || last == nil || evLess(v, tail) || evLess(last, rt) || (len(undo) > 0 && !evLess(rt, undo[0])) {
			return fmt.Errorf("pg %s: roll back to %v: writes after it at or before rollback_tail %v cannot be undone: %w", pg, v, rt, ErrNoRollback)
		}
	}
	recs, err := s.readRecords(pg, v)
	if err != nil {
		return err
	}
	byVer := map[[2]uint64]bool{}
	for _, r := range recs {
		byVer[[2]uint64{r.key.ver.GetEpoch(), r.key.ver.GetVersion()}] = true
	}
	for _, e := range undo {
		if !byVer[[2]uint64{e.GetEpoch(), e.GetVersion()}] {
			return fmt.Errorf("pg %s: roll back to %v: entry %v has no rollback record: %w", pg, v, e, ErrNoRollback)
		}
	}

	b := s.db.NewBatch()
	defer b.Close()
	before := map[string]*pb.ObjectMeta{} // each object's metadata now
	after := map[string]*pb.ObjectMeta{}  // and after the rollback
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		oid := r.key.oid
		if _, ok := before[oid]; !ok {
			m, err := s.loadMeta(s.db, pg, oid)
			if err != nil {
				return err
			}
			before[oid] = m
		}
		if err := s.batchUndo(b, pg, r); err != nil {
			return err
		}
		after[oid] = r.rec.GetOldMeta()
		_ = b.Delete(r.raw, nil)
	}
	for _, e := range undo {
		_ = b.Delete(logKey(pg, e), nil)
	}
	objects, bytes := int64(info.GetObjects()), int64(info.GetBytes())
	for oid, m := range after {
		if o := before[oid]; o != nil {
			objects--
			bytes -= int64(o.GetSize())
		}
		if m != nil {
			objects++
			bytes += int64(m.GetSize())
		}
	}
	info.Objects, info.Bytes = uint64(max(objects, 0)), uint64(max(bytes, 0))
	logLen := max(st.logLen-len(undo), 0)
	if newest == nil {
		info.LogTail = nil
		logLen = 0
	}
	// The copy holds every write up to the newest remaining entry, and
	// every one up to rollback_tail (but none in (v, rollback_tail]).
	info.LastUpdate = cloneEv(newest)
	floor := rt
	if floor != nil && evLess(v, floor) {
		floor = v
	}
	raiseLastUpdate(info, floor)
	if rt != nil && evLess(info.GetLastUpdate(), rt) {
		info.RollbackTail = cloneEv(info.GetLastUpdate())
	}
	val, err := proto.MarshalOptions{Deterministic: true}.Marshal(info)
	if err != nil {
		return fmt.Errorf("encode info: %w", ErrInvalid)
	}
	_ = b.Set(infoKey(pg), val, nil)
	if err := s.commitBatch(b); err != nil {
		return err
	}
	st.info, st.logLen, st.records = info, logLen, max(st.records-len(recs), 0)
	st.rollbacks.Add(1)
	return nil
}

// raiseLastUpdate sets info's last_update to v if v is newer.
func raiseLastUpdate(info *pb.PGInfo, v *pb.Eversion) {
	if v != nil && (info.GetLastUpdate() == nil || evLess(info.GetLastUpdate(), v)) {
		info.LastUpdate = cloneEv(v)
	}
}

// readRecords reads pg's rollback records of entries newer than v, oldest
// first.
func (s *Store) readRecords(pg PGID, v *pb.Eversion) ([]rbRecord, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: rollbackUpTo(pg, v), UpperBound: prefixEnd(famKey(pg, famRollback))})
	if err != nil {
		return nil, s.dbErr("read rollback records", err)
	}
	var recs []rbRecord
	for ok := it.First(); ok; ok = it.Next() {
		k, kerr := decodeKey(it.Key())
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return nil, s.dbErr("read rollback record", err)
		}
		rec := &pb.RollbackRecord{}
		if kerr != nil || k.kind != kindRollback || proto.Unmarshal(v, rec) != nil {
			_ = it.Close()
			return nil, s.corruptErr("pg %s: undecodable rollback record %x", pg, it.Key())
		}
		if err := checkRecord(k, rec); err != nil {
			_ = it.Close()
			return nil, s.corruptErr("pg %s: rollback record of %v: %v", pg, k.ver, err)
		}
		recs = append(recs, rbRecord{key: k, raw: append([]byte(nil), it.Key()...), rec: rec})
	}
	if err := it.Close(); err != nil {
		return nil, s.dbErr("read rollback records", err)
	}
	return recs, nil
}

// checkRecord verifies that a record agrees with its key and with itself.
func checkRecord(k key, r *pb.RollbackRecord) error {
	om := r.GetOldMeta()
	oldChunked := om != nil && !om.GetInlined()
	switch {
	case r.GetOid() != k.oid:
		return fmt.Errorf("record of object %q under a key of %q", r.GetOid(), k.oid)
	case k.gen != 0 && (!oldChunked || om.GetGen() != k.gen):
		return fmt.Errorf("key keeps generation %d, the old metadata has %d (inline %v)", k.gen, om.GetGen(), om.GetInlined())
	case oldChunked && r.GetNewGen() == om.GetGen():
		return fmt.Errorf("new generation %d is the old one", r.GetNewGen())
	case (len(r.GetOldChunks()) > 0 || len(r.GetCreatedChunks()) > 0) && (!oldChunked || k.gen != 0 || r.GetNewGen() != 0):
		return fmt.Errorf("chunks kept for a write that left its generation")
	}
	return nil
}

// batchUndo adds to b the undoing of one record's write.
func (s *Store) batchUndo(b *pebble.Batch, pg PGID, r rbRecord) error {
	rec := r.rec
	oid, om := rec.GetOid(), rec.GetOldMeta()
	if g := rec.GetNewGen(); g != 0 {
		deleteGens(b, pg, oid, g, g, 0, false)
	}
	if om == nil {
		_ = b.Delete(metaKey(pg, oid), nil)
		return nil
	}
	for _, idx := range rec.GetCreatedChunks() {
		_ = b.Delete(dataKey(pg, oid, om.GetGen(), idx), nil)
	}
	for _, c := range rec.GetOldChunks() {
		_ = b.Set(dataKey(pg, oid, om.GetGen(), c.GetIndex()), encodeChunk(c.GetSum(), c.GetData()), nil)
	}
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(om)
	if err != nil {
		return fmt.Errorf("pg %s object %q: encode metadata: %w: %w", pg, oid, ErrInvalid, err)
	}
	_ = b.Set(metaKey(pg, oid), v, nil)
	return nil
}

// TrimRollback drops the rollback records of pg's entries at or before v
// and sets rollback_tail to the newer of itself and v, capped at
// last_update, in one durable batch; the old generations those records
// kept alive are deleted with them. The caller calls it once every shard
// has applied the writes up to v. A nil v is ErrInvalid, a PG the store
// does not hold ErrNotFound.
func (s *Store) TrimRollback(pg PGID, v *pb.Eversion) error {
	if v == nil {
		return fmt.Errorf("pg %s: TrimRollback without a version: %w", pg, ErrInvalid)
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	st, err := s.lockPG(pg)
	if err != nil {
		return err
	}
	defer st.mu.Unlock()
	info := proto.Clone(st.info).(*pb.PGInfo)
	lu := info.GetLastUpdate()
	if lu == nil {
		return nil // no write yet: nothing to trim
	}
	to := v
	if evLess(lu, to) {
		to = lu
	}
	old := info.GetRollbackTail()
	raiseRollbackTail(info, to)
	changed := old == nil || evCompare(old, info.GetRollbackTail()) != 0
	if !changed && st.records == 0 {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	n, err := s.batchDropRecords(b, pg, info.GetRollbackTail(), nil)
	if err != nil {
		return err
	}
	if !changed && n == 0 {
		return nil
	}
	val, err := proto.MarshalOptions{Deterministic: true}.Marshal(info)
	if err != nil {
		return fmt.Errorf("encode info: %w", ErrInvalid)
	}
	_ = b.Set(infoKey(pg), val, nil)
	if err := s.commitBatch(b); err != nil {
		return err
	}
	st.info, st.records = info, max(st.records-n, 0)
	return nil
}

// SetShard records which erasure-code shard (0 or more) this copy of pg
// holds (PGInfo.shard), creating the PG's info if it has none, durably.
func (s *Store) SetShard(pg PGID, shard int32) error {
	if shard < 0 {
		return fmt.Errorf("pg %s: shard %d: %w", pg, shard, ErrInvalid)
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	st := s.pgState(pg)
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := s.loadPGLocked(pg, st); err != nil {
		return err
	}
	info := proto.Clone(st.info).(*pb.PGInfo)
	info.Shard = proto.Int32(shard)
	val, err := proto.MarshalOptions{Deterministic: true}.Marshal(info)
	if err != nil {
		return fmt.Errorf("encode info: %w", ErrInvalid)
	}
	b := s.db.NewBatch()
	defer b.Close()
	_ = b.Set(infoKey(pg), val, nil)
	if err := s.commitBatch(b); err != nil {
		return err
	}
	st.info = info
	return nil
}

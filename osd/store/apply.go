package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"unicode/utf8"

	"github.com/cockroachdb/pebble"
	"google.golang.org/protobuf/proto"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// Apply applies txn to pg and appends entry (nil: none) to the PG log,
// updating the PG info (last_update = max(last_update, entry.version),
// object and byte counts), atomically and durably: when it returns nil
// the change is fsync'd; otherwise nothing was applied (or the store has
// failed). A chunk whose data does not match its sum refuses the whole
// transaction with ErrCorrupt.
func (s *Store) Apply(pg PGID, txn *pb.Txn, entry *pb.LogEntry) error {
	if txn == nil {
		return fmt.Errorf("nil transaction: %w", ErrInvalid)
	}
	if entry != nil {
		if err := checkEntry(entry); err != nil {
			return err
		}
	}
	return s.write(pg, &writeReq{txns: []*pb.Txn{txn}, entry: entry})
}

// ApplyUnlogged applies a transaction without a log entry and without
// moving the PG's last_update: a member that is still being caught up
// takes new writes this way, so its info keeps saying how far its log
// really goes until recovery hands it the authoritative log.
func (s *Store) ApplyUnlogged(pg PGID, txn *pb.Txn) error {
	if txn == nil {
		return fmt.Errorf("nil transaction: %w", ErrInvalid)
	}
	return s.write(pg, &writeReq{txns: []*pb.Txn{txn}, unlogged: true})
}

// ResetLog replaces the PG's log and last_update like Install with
// setLog, and marks the copy incomplete (PGInfo.incomplete) or not: a
// member being brought up to date is marked so peering never takes it
// for the authoritative copy; the Install that hands it the
// authoritative log clears the mark.
func (s *Store) ResetLog(pg PGID, log []*pb.LogEntry, lastUpdate *pb.Eversion, incomplete bool) error {
	for i, e := range log {
		if err := checkEntry(e); err != nil {
			return err
		}
		if i > 0 && !evLess(log[i-1].GetVersion(), e.GetVersion()) {
			return fmt.Errorf("log entry %d out of order: %w", i, ErrInvalid)
		}
	}
	return s.write(pg, &writeReq{replace: true, setLog: true, log: log, lastUpdate: lastUpdate, incomplete: incomplete})
}

// Install applies whole-object transactions (recovery: each replaces the
// object, or removes it when it has no meta) and, if setLog, replaces the
// PG's log with log (oldest first; only the newest LogEntries are kept)
// and sets last_update, in one durable batch.
func (s *Store) Install(pg PGID, objs []*pb.Txn, log []*pb.LogEntry, lastUpdate *pb.Eversion, setLog bool) error {
	seen := map[string]bool{}
	for _, t := range objs {
		if t == nil {
			return fmt.Errorf("nil transaction: %w", ErrInvalid)
		}
		if seen[t.GetOid()] {
			return fmt.Errorf("object %q installed twice: %w", t.GetOid(), ErrInvalid)
		}
		seen[t.GetOid()] = true
	}
	if setLog {
		for i, e := range log {
			if err := checkEntry(e); err != nil {
				return err
			}
			if i > 0 && !evLess(log[i-1].GetVersion(), e.GetVersion()) {
				return fmt.Errorf("log entry %d out of order: %w", i, ErrInvalid)
			}
		}
	}
	return s.write(pg, &writeReq{txns: objs, replace: true, setLog: setLog, log: log, lastUpdate: lastUpdate})
}

// checkEntry rejects log entries that have no version or do not encode.
func checkEntry(e *pb.LogEntry) error {
	if e == nil || e.GetVersion() == nil {
		return fmt.Errorf("log entry without a version: %w", ErrInvalid)
	}
	if _, err := proto.Marshal(e); err != nil {
		return fmt.Errorf("log entry: %w: %w", ErrInvalid, err)
	}
	return nil
}

// writeReq is one Apply, ApplyKeep or Install.
type writeReq struct {
	txns       []*pb.Txn
	replace    bool // every transaction replaces its object (Install)
	unlogged   bool // ApplyUnlogged: info's last_update stays
	keep       bool // ApplyKeep: keep a rollback record (one txn, with entry)
	incomplete bool // with setLog: mark the copy incomplete
	entry      *pb.LogEntry
	setLog     bool
	log        []*pb.LogEntry
	lastUpdate *pb.Eversion

	plans []*plan
	// rollbacks is the PG's rollback count when the plans' metadata was
	// read.
	rollbacks uint64
}

// plan is how one transaction is applied.
type plan struct {
	txn    *pb.Txn
	old    *pb.ObjectMeta // the object on disk before
	ingest bool           // chunks go through an ingested sstable
	// wipe: Install over metadata that failed to read (corruption): every
	// generation and the omap of the object are deleted, whatever the
	// lost metadata named.
	wipe bool

	// ApplyKeep: the rollback record (key and encoded value) and the
	// generation it keeps alive (0: none).
	recKey, recVal []byte
	kept           uint64
}

// validateTxn checks a transaction without I/O: names, shapes, sums.
func (s *Store) validateTxn(pg PGID, t *pb.Txn) error {
	oid := t.GetOid()
	if err := checkName(oid); err != nil {
		return err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("pg %s object %q: transaction %s: %w", pg, oid, fmt.Sprintf(format, args...), ErrInvalid)
	}
	m := t.GetMeta()
	if m == nil {
		if !t.GetRemove() {
			return bad("without meta does not remove")
		}
		if len(t.GetChunks()) > 0 || len(t.GetOmapSet()) > 0 {
			return bad("removes the object but writes to it")
		}
		return nil
	}
	if m.GetInlined() {
		if len(t.GetChunks()) > 0 {
			return bad("has chunks for an inline object")
		}
		if uint64(len(m.GetInline())) != m.GetSize() {
			return bad("has %d inline bytes for size %d", len(m.GetInline()), m.GetSize())
		}
		if s.sum(m.GetInline()) != m.GetInlineSum() {
			return s.corruptErr("pg %s object %q: received inline data fails its checksum", pg, oid)
		}
	} else {
		if len(m.GetInline()) > 0 || m.GetGen() == 0 {
			return bad("is chunked with inline data or generation 0")
		}
		if t.GetDropGen() == m.GetGen() {
			return bad("drops its own generation")
		}
	}
	cs := uint64(s.opts.ChunkSize)
	seen := map[uint32]bool{}
	for _, c := range t.GetChunks() {
		if seen[c.GetIndex()] {
			return bad("writes chunk %d twice", c.GetIndex())
		}
		seen[c.GetIndex()] = true
		if uint64(len(c.GetData())) > cs || uint64(c.GetIndex())*cs+uint64(len(c.GetData())) > m.GetSize() {
			return bad("chunk %d of %d bytes does not fit size %d", c.GetIndex(), len(c.GetData()), m.GetSize())
		}
		if s.sum(c.GetData()) != c.GetSum() {
			return s.corruptErr("pg %s object %q: received chunk %d fails its checksum", pg, oid, c.GetIndex())
		}
	}
	for k := range t.GetOmapSet() {
		if k == "" || !utf8.ValidString(k) {
			return bad("sets an empty or non-UTF-8 omap key")
		}
	}
	for _, k := range t.GetOmapRm() {
		if k == "" || !utf8.ValidString(k) {
			return bad("removes an empty or non-UTF-8 omap key")
		}
	}
	for k := range m.GetXattrs() {
		if !utf8.ValidString(k) {
			return bad("has a non-UTF-8 xattr name")
		}
	}
	return nil
}

// write applies a request: validate, read the objects' metadata, ingest
// big new generations, then commit one batch under the PG's lock.
func (s *Store) write(pg PGID, req *writeReq) error {
	for _, t := range req.txns {
		if err := s.validateTxn(pg, t); err != nil {
			return err
		}
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	// The caller serializes writes per object, so the metadata read here
	// stays current until the batch commits (but for a concurrent
	// RollbackTo, which commitWrite detects).
	req.rollbacks = s.pgState(pg).rollbacks.Load()
	var ingest []*plan
	for _, t := range req.txns {
		old, err := s.loadMeta(s.db, pg, t.GetOid())
		wipe := false
		if err != nil {
			// A replacing install is how a corrupt copy is repaired: it
			// needs nothing of the old object.
			if !req.replace || !errors.Is(err, ErrCorrupt) {
				return err
			}
			s.log.Warn("replacing an object whose metadata is corrupt", "pg", pg.String(), "oid", t.GetOid(), "err", err)
			old, wipe = nil, true
		}
		p := &plan{txn: t, old: old, wipe: wipe}
		if req.keep {
			if err := s.keepPlan(pg, p, req.entry.GetVersion()); err != nil {
				return err
			}
		}
		p.ingest = s.shouldIngest(p)
		if p.ingest {
			ingest = append(ingest, p)
		}
		req.plans = append(req.plans, p)
	}
	if len(ingest) > 0 {
		err := s.ingest(pg, ingest)
		if errors.Is(err, ErrCorrupt) {
			// Ingesting splits the sstable the new one lands in, which
			// reads it: a corrupt block there fails the ingest, though
			// the write needs nothing of it. The chunks go through the
			// batch instead (a repair must not depend on the damage).
			s.log.Warn("ingest met a corrupt sstable; writing through the log instead", "pg", pg.String(), "err", err)
			for _, p := range ingest {
				p.ingest = false
			}
			ingest, err = nil, nil
		}
		if err != nil {
			return err
		}
		if s.hooks.crashAfterIngest != nil && s.hooks.crashAfterIngest() {
			return fmt.Errorf("simulated crash after ingest: %w", ErrIO)
		}
	}
	err := s.commitWrite(pg, req)
	if err != nil && len(ingest) > 0 && s.failedErr() == nil {
		s.dropIngested(pg, ingest)
	}
	return err
}

// shouldIngest: the transaction writes at least IngestMin bytes of chunks
// of a generation that is not on disk.
func (s *Store) shouldIngest(p *plan) bool {
	m := p.txn.GetMeta()
	if s.opts.IngestMin < 0 || m == nil || m.GetInlined() || p.txn.GetDropChunks() {
		return false
	}
	if p.old != nil && !p.old.GetInlined() && p.old.GetGen() == m.GetGen() {
		return false
	}
	n := 0
	for _, c := range p.txn.GetChunks() {
		n += len(c.GetData())
	}
	return n > 0 && n >= s.opts.IngestMin
}

// commitWrite builds and commits the batch of a request under the PG lock.
func (s *Store) commitWrite(pg PGID, req *writeReq) error {
	st := s.pgState(pg)
	st.mu.Lock()
	locked := true
	defer func() {
		if locked {
			st.mu.Unlock()
		}
	}()
	if err := s.loadPGLocked(pg, st); err != nil {
		return err
	}
	if !req.replace && st.rollbacks.Load() != req.rollbacks {
		if err := s.recheckPlans(pg, req.plans); err != nil {
			return err
		}
	}
	if req.keep {
		if err := s.checkKeepEntry(pg, st.info, req.entry.GetVersion()); err != nil {
			return err
		}
	}
	info := proto.Clone(st.info).(*pb.PGInfo)
	objects, bytes := int64(info.GetObjects()), int64(info.GetBytes())
	b := s.db.NewBatch()
	defer b.Close()
	records := st.records
	for _, p := range req.plans {
		if err := s.batchTxn(b, pg, p, req.replace); err != nil {
			return err
		}
		if p.recKey != nil {
			_ = b.Set(p.recKey, p.recVal, nil)
			records++
		}
		if p.old != nil {
			objects--
			bytes -= int64(p.old.GetSize())
		}
		if p.wipe {
			objects-- // it existed; its size is lost with its metadata
		}
		if m := p.txn.GetMeta(); m != nil {
			objects++
			bytes += int64(m.GetSize())
		}
	}
	info.Objects, info.Bytes = uint64(max(objects, 0)), uint64(max(bytes, 0))
	logLen := st.logLen
	var err error
	// Rollback records to drop: all (dropAll) or those at or before dropTo.
	var dropTo *pb.Eversion
	dropAll := false
	switch {
	case req.setLog:
		logLen, err = s.batchSetLog(b, pg, info, req.log, req.lastUpdate)
		if err != nil {
			return err
		}
		info.Incomplete = req.incomplete
		// An installed log cannot be undone.
		info.RollbackTail = cloneEv(info.GetLastUpdate())
		dropAll = true
	case req.entry != nil:
		var trimmed *pb.Eversion
		logLen, trimmed, err = s.batchLogEntry(b, pg, info, st.logLen, req.entry)
		if err != nil {
			return err
		}
		if !req.keep {
			// Nothing at or before a write applied without a record can
			// be undone.
			raiseRollbackTail(info, req.entry.GetVersion())
			dropTo = info.GetRollbackTail()
		}
		if trimmed != nil {
			// The records of trimmed entries go with them.
			raiseRollbackTail(info, trimmed)
			dropTo = info.GetRollbackTail()
		}
	}
	if dropAll || dropTo != nil {
		if st.records > 0 {
			// Generations this batch writes stay.
			protect := map[genRef]bool{}
			for _, p := range req.plans {
				if m := p.txn.GetMeta(); m != nil && !m.GetInlined() {
					protect[genRef{p.txn.GetOid(), m.GetGen()}] = true
				}
			}
			n, err := s.batchDropRecords(b, pg, dropTo, protect)
			if err != nil {
				return err
			}
			records -= n
		}
		for _, p := range req.plans {
			if p.recKey != nil && (dropAll || !evLess(dropTo, req.entry.GetVersion())) {
				// The record of this very write is dropped at once (its
				// entry was trimmed: it committed after newer ones).
				_ = b.Delete(p.recKey, nil)
				records--
				if p.kept != 0 {
					deleteGens(b, pg, p.txn.GetOid(), p.kept, p.kept, 0, false)
				}
			}
		}
	}
	if !req.replace && !req.unlogged {
		// Without a log entry (tests), the write is still the newest.
		if v := req.txns[0].GetMeta().GetVersion(); v != nil && evLess(info.GetLastUpdate(), v) {
			info.LastUpdate = proto.Clone(v).(*pb.Eversion)
		}
	}
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(info)
	if err != nil {
		return fmt.Errorf("encode info: %w", ErrInvalid)
	}
	_ = b.Set(infoKey(pg), v, nil)
	if err := s.db.ApplyNoSyncWait(b, pebble.Sync); err != nil {
		return s.commitFailed(err)
	}
	if err := s.failedErr(); err != nil {
		return err
	}
	// The batch is visible (in order) now; let the next writer of the PG
	// in before waiting for the fsync, so concurrent writers share it.
	st.info, st.logLen, st.records = info, logLen, records
	st.mu.Unlock()
	locked = false
	if err := b.SyncWait(); err != nil {
		return s.commitFailed(err)
	}
	return nil
}

// commitBatch commits a batch durably.
func (s *Store) commitBatch(b *pebble.Batch) error {
	if err := s.db.ApplyNoSyncWait(b, pebble.Sync); err != nil {
		return s.commitFailed(err)
	}
	if err := s.failedErr(); err != nil {
		return err
	}
	if err := b.SyncWait(); err != nil {
		return s.commitFailed(err)
	}
	return nil
}

// commitFailed fails the store: a batch may be visible but not durable.
func (s *Store) commitFailed(err error) error {
	s.fail(err)
	return s.dbErr("commit", err)
}

// loadPGLocked fills st from the database once; st.mu must be held.
func (s *Store) loadPGLocked(pg PGID, st *pgState) error {
	if st.loaded {
		return nil
	}
	info, err := s.readInfo(s.db, pg)
	if err != nil {
		return err
	}
	n := 0
	err = s.eachLog(s.db, pg, info.GetLogTail(), func(*pb.Eversion, *pb.LogEntry) bool { n++; return true })
	if err != nil {
		return err
	}
	recs, err := s.countRecords(pg)
	if err != nil {
		return err
	}
	st.loaded, st.info, st.logLen, st.records = true, info, n, recs
	return nil
}

// deleteGens deletes the chunks of generations lo..hi (inclusive) of an
// object, except generation keep (when keepOK).
func deleteGens(b *pebble.Batch, pg PGID, oid string, lo, hi uint64, keep uint64, keepOK bool) {
	if lo > hi {
		return
	}
	if keepOK && keep >= lo && keep <= hi {
		if keep > lo {
			_ = b.DeleteRange(dataKey(pg, oid, lo, 0), dataKey(pg, oid, keep, 0), nil)
		}
		if keep < hi {
			_ = b.DeleteRange(dataKey(pg, oid, keep+1, 0), genEnd(pg, oid, hi), nil)
		}
		return
	}
	_ = b.DeleteRange(dataKey(pg, oid, lo, 0), genEnd(pg, oid, hi), nil)
}

// batchTxn adds one transaction's changes to b. Deletions come first, so
// the writes of the same batch (later sequence numbers) survive them.
func (s *Store) batchTxn(b *pebble.Batch, pg PGID, p *plan, replace bool) error {
	t, old, m := p.txn, p.old, p.txn.GetMeta()
	oid := t.GetOid()
	oldChunked := old != nil && !old.GetInlined()
	newChunked := m != nil && !m.GetInlined()
	omapAll := objKey(pg, famOmap, oid)
	if p.recKey != nil {
		// ApplyKeep: no generation is deleted (the old one stays for the
		// rollback record; keepPlan refused omap changes).
		if t.GetDropChunks() && newChunked {
			_ = b.DeleteRange(dataKey(pg, oid, m.GetGen(), t.GetDropChunksFrom()), genEnd(pg, oid, m.GetGen()), nil)
		}
		if m == nil {
			_ = b.Delete(metaKey(pg, oid), nil)
		}
	} else if p.wipe {
		// The lost metadata named the generations; delete them all, but
		// for a new one already ingested.
		all := objKey(pg, famData, oid)
		if newChunked && p.ingest {
			_ = b.DeleteRange(all, dataKey(pg, oid, m.GetGen(), 0), nil)
			_ = b.DeleteRange(genEnd(pg, oid, m.GetGen()), prefixEnd(all), nil)
		} else {
			_ = b.DeleteRange(all, prefixEnd(all), nil)
		}
		_ = b.DeleteRange(omapAll, prefixEnd(omapAll), nil)
		if m == nil {
			_ = b.Delete(metaKey(pg, oid), nil)
		}
	} else if replace || t.GetRemove() || t.GetReplace() {
		// Everything of the object goes (up to the newest generation known).
		top := t.GetDropGen()
		if oldChunked {
			top = max(top, old.GetGen())
		}
		if newChunked && !p.ingest {
			top = max(top, m.GetGen())
		}
		if top > 0 {
			deleteGens(b, pg, oid, 0, top, m.GetGen(), p.ingest)
		}
		if old.GetOmap() || replace || t.GetReplace() {
			_ = b.DeleteRange(omapAll, prefixEnd(omapAll), nil)
		}
		if m == nil {
			_ = b.Delete(metaKey(pg, oid), nil)
		}
	} else {
		if g := t.GetDropGen(); g != 0 {
			deleteGens(b, pg, oid, g, g, 0, false)
		}
		if oldChunked && (!newChunked || old.GetGen() != m.GetGen()) && old.GetGen() != t.GetDropGen() {
			deleteGens(b, pg, oid, old.GetGen(), old.GetGen(), 0, false)
		}
		if t.GetDropChunks() && newChunked {
			_ = b.DeleteRange(dataKey(pg, oid, m.GetGen(), t.GetDropChunksFrom()), genEnd(pg, oid, m.GetGen()), nil)
		}
		if t.GetOmapClear() && old.GetOmap() {
			_ = b.DeleteRange(omapAll, prefixEnd(omapAll), nil)
		}
		for _, k := range t.GetOmapRm() {
			_ = b.Delete(omapKey(pg, oid, k), nil)
		}
	}
	if m == nil {
		return nil
	}
	for _, k := range slices.Sorted(maps.Keys(t.GetOmapSet())) {
		_ = b.Set(omapKey(pg, oid, k), t.GetOmapSet()[k], nil)
	}
	if p.ingest {
		_ = b.Delete(pendingKey(pg, m.GetGen(), oid), nil)
	} else {
		for _, c := range t.GetChunks() {
			// Built in place in the batch: no chunk-sized copy in between.
			k := dataKey(pg, oid, m.GetGen(), c.GetIndex())
			op := b.SetDeferred(len(k), sumLen+len(c.GetData()))
			copy(op.Key, k)
			binary.BigEndian.PutUint64(op.Value, c.GetSum())
			copy(op.Value[sumLen:], c.GetData())
			_ = op.Finish()
		}
	}
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return fmt.Errorf("pg %s object %q: encode metadata: %w: %w", pg, oid, ErrInvalid, err)
	}
	_ = b.Set(metaKey(pg, oid), v, nil)
	return nil
}

// trimStep is how far past LogEntries a PG's log grows before it is
// trimmed back: finding the oldest entries takes an iterator, which a
// write should not pay for every time.
func (s *Store) trimStep() int { return max(1, s.opts.LogEntries/16) }

// batchLogEntry adds a log entry, trimming the log to LogEntries; it
// returns the new log length and the newest entry trimmed (nil: none).
func (s *Store) batchLogEntry(b *pebble.Batch, pg PGID, info *pb.PGInfo, logLen int, e *pb.LogEntry) (int, *pb.Eversion, error) {
	ev := e.GetVersion()
	k := logKey(pg, ev)
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(e)
	if err != nil {
		return 0, nil, fmt.Errorf("encode log entry: %w: %w", ErrInvalid, err)
	}
	isNew := true
	if info.GetLastUpdate() != nil && !evLess(info.GetLastUpdate(), ev) {
		// Possibly a retransmission of an entry the log holds.
		_, found, err := s.get(s.db, k)
		if err != nil {
			return 0, nil, err
		}
		isNew = !found
	}
	_ = b.Set(k, v, nil)
	if info.GetLastUpdate() == nil || evLess(info.GetLastUpdate(), ev) {
		info.LastUpdate = &pb.Eversion{Epoch: ev.GetEpoch(), Version: ev.GetVersion()}
	}
	if !isNew {
		return logLen, nil, nil
	}
	logLen++
	tail := info.GetLogTail()
	if tail == nil || evLess(ev, tail) {
		info.LogTail = &pb.Eversion{Epoch: ev.GetEpoch(), Version: ev.GetVersion()}
	}
	excess := logLen - s.opts.LogEntries
	if excess < s.trimStep() {
		return logLen, nil, nil
	}
	// The oldest excess+1 entries: those on disk from the tail, merged
	// with the new one.
	var oldest []*pb.Eversion
	err = s.eachLog(s.db, pg, tail, func(kv *pb.Eversion, _ *pb.LogEntry) bool {
		oldest = append(oldest, kv)
		return len(oldest) <= excess
	})
	if err != nil {
		return 0, nil, err
	}
	oldest = append(oldest, ev)
	slices.SortFunc(oldest, evCompare)
	excess = min(excess, len(oldest)-1) // should the cached length be off
	for _, d := range oldest[:excess] {
		_ = b.Delete(logKey(pg, d), nil)
	}
	info.LogTail = oldest[excess]
	var trimmed *pb.Eversion
	if excess > 0 {
		trimmed = oldest[excess-1]
	}
	return logLen - excess, trimmed, nil
}

// batchSetLog replaces the PG's log and last_update; it returns the new
// log length.
func (s *Store) batchSetLog(b *pebble.Batch, pg PGID, info *pb.PGInfo, log []*pb.LogEntry, lastUpdate *pb.Eversion) (int, error) {
	lf := famKey(pg, famLog)
	_ = b.DeleteRange(lf, prefixEnd(lf), nil)
	if len(log) > s.opts.LogEntries {
		log = log[len(log)-s.opts.LogEntries:]
	}
	for _, e := range log {
		v, err := proto.MarshalOptions{Deterministic: true}.Marshal(e)
		if err != nil {
			return 0, fmt.Errorf("encode log entry: %w: %w", ErrInvalid, err)
		}
		_ = b.Set(logKey(pg, e.GetVersion()), v, nil)
	}
	info.LogTail = nil
	if len(log) > 0 {
		info.LogTail = proto.Clone(log[0].GetVersion()).(*pb.Eversion)
	}
	info.LastUpdate = nil
	if lastUpdate != nil {
		info.LastUpdate = proto.Clone(lastUpdate).(*pb.Eversion)
	}
	return len(log), nil
}

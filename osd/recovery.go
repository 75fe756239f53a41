package osd

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/loligo/loligo/clustermap"
	pgplan "github.com/loligo/loligo/osd/pg"
	"github.com/loligo/loligo/osd/store"
	pb "github.com/loligo/loligo/proto/loligopb"
	"google.golang.org/protobuf/proto"
)

// Recovery and backfill, run by the primary of an active PG:
//   - log recovery: every member's missing objects are copied from the
//     primary (a client op on such an object copies it first, see
//     recoverForOp);
//   - backfill: a target is compared with the primary object by object,
//     in name order, a page at a time; objects up to its cursor take
//     writes as they happen, the rest are copied when the scan gets
//     there;
//   - a member whose objects are in step is handed the primary's log
//     (with writes held back for that moment) and counts as complete;
//   - when acting is not up (a pg_temp), the PG peers again, which
//     clears the pg_temp; then strays are told to drop their copies.
// Copies take a slot of the OSD's recovery throttle (PGs with the fewest
// complete copies first) and its byte rate.

// pushBytes bounds the object bytes in one Push or Pull message (below
// transport.MaxMessage with room for the envelope).
const pushBytes = 32 << 20

// backfillPage is how many objects one backfill scan page compares.
const backfillPage = 256

// recoverPG runs recovery for generation gen.
func (o *OSD) recoverPG(ctx context.Context, p *pg, gen uint64) {
	err := o.recoverOnce(ctx, p, gen)
	if err != nil && ctx.Err() == nil {
		o.log.Warn("recovery failed; peering again", "pg", p.id.String(), "err", err)
		select {
		case <-ctx.Done():
			return
		case <-o.cfg.Clock.After(o.cfg.SyncRetry):
		}
		p.repeer(gen)
	}
}

func (o *OSD) recoverOnce(ctx context.Context, p *pg, gen uint64) error {
	m := o.Map()
	p.mu.Lock()
	if p.gen != gen {
		p.mu.Unlock()
		return nil
	}
	v := p.viewLocked()
	var logMembers, backfills, prune []*member
	for _, mem := range p.members {
		switch {
		case mem.backfill:
			backfills = append(backfills, mem)
		case mem.catchingUp:
			logMembers = append(logMembers, mem)
			if mem.prune {
				prune = append(prune, mem)
			}
		}
	}
	p.recovering = len(logMembers) > 0 || len(p.selfMissing) > 0
	p.mu.Unlock()
	o.kickStats()
	for _, mem := range prune {
		if err := o.pruneMissing(ctx, p, v, m, mem); err != nil {
			return err
		}
	}
	p.mu.Lock()
	missing := map[string]bool{}
	for _, mem := range logMembers {
		for oid := range mem.missing {
			missing[oid] = true
		}
	}
	for oid := range p.selfMissing {
		missing[oid] = true
	}
	p.mu.Unlock()

	// Log recovery: copy every missing object, then hand over the log.
	if len(missing) > 0 || len(logMembers) > 0 {
		if err := o.recoverObjects(ctx, p, v, m, slices.Sorted(maps.Keys(missing))); err != nil {
			return err
		}
		for _, mem := range logMembers {
			if err := o.completeMember(ctx, p, v, m, mem); err != nil {
				return err
			}
		}
		if v.code != nil {
			if err := o.completeSelf(ctx, p, v); err != nil {
				return err
			}
		}
	}
	p.mu.Lock()
	p.recovering = false
	p.backfilling = len(backfills) > 0
	p.mu.Unlock()
	o.kickStats()
	slices.SortFunc(backfills, func(a, b *member) int { return int(a.id - b.id) })
	for _, mem := range backfills {
		if err := o.backfill(ctx, p, v, m, mem); err != nil {
			return err
		}
		if err := o.completeMember(ctx, p, v, m, mem); err != nil {
			return err
		}
	}
	p.mu.Lock()
	p.backfilling = false
	stillGen := p.gen == gen
	p.mu.Unlock()
	o.kickStats()
	if !stillGen {
		return nil
	}
	if len(backfills)+len(logMembers) > 0 && !slices.Equal(v.acting, v.up) {
		// Members became complete: peering again can now clear the
		// pg_temp (or hand the lead back to the up primary). Without
		// such progress the acting set is already the best peering
		// can choose (an up set too small, say), so peering again
		// would only loop.
		p.repeer(gen)
		return nil
	}
	if len(v.acting) == v.size {
		o.purgeStrays(ctx, p, v, m)
	}
	return nil
}

// recoverObjects copies oids from the primary to every member missing
// them, a throttle slot per object.
func (o *OSD) recoverObjects(ctx context.Context, p *pg, v view, m *clustermap.Map, oids []string) error {
	return o.throttled(ctx, len(v.acting), oids, func(oid string) error {
		unlock := p.lockObject(oid)
		defer unlock()
		return o.recoverObject(ctx, p, v, m, oid)
	})
}

// throttled runs f for each oid in parallel, each holding a slot of the
// OSD's recovery throttle (prio: the PG's complete copies, fewest
// first); it stops starting new ones after the first error and returns
// it.
func (o *OSD) throttled(ctx context.Context, prio int, oids []string, f func(oid string) error) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return firstErr != nil
	}
	for _, oid := range oids {
		if err := o.throttle.acquire(ctx, prio); err != nil {
			wg.Wait()
			return err
		}
		if failed() {
			o.throttle.release()
			break
		}
		wg.Go(func() {
			defer o.throttle.release()
			if err := f(oid); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return firstErr
}

// recoverObject copies one object to every member that lacks it; the
// object's lock is held.
func (o *OSD) recoverObject(ctx context.Context, p *pg, v view, m *clustermap.Map, oid string) error {
	p.mu.Lock()
	var to []int32
	for id, mem := range p.members {
		if mem.missing[oid] {
			to = append(to, id)
		}
	}
	self := p.selfMissing[oid]
	p.mu.Unlock()
	if v.code != nil {
		return o.ecRecoverObject(ctx, p, v, m, oid, to, self)
	}
	if len(to) == 0 {
		return nil
	}
	t, err := o.exportRepairing(ctx, p, oid)
	if err != nil {
		return err
	}
	n := txnBytes(t)
	if err := o.throttle.bytes(ctx, n*len(to)); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(to))
	for i, id := range to {
		wg.Go(func() { errs[i] = o.pushObjects(ctx, m, p, v, id, []*pb.Txn{t}) })
	}
	wg.Wait()
	p.mu.Lock()
	for i, id := range to {
		if errs[i] == nil {
			if mem := p.members[id]; mem != nil && mem.missing[oid] {
				delete(mem.missing, oid)
				mem.objectsLeft = uint64(len(mem.missing))
				p.recoveredBytes += uint64(n)
				p.recoveredObjects++
			}
		}
	}
	p.mu.Unlock()
	return errors.Join(errs...)
}

// recoverForOp copies an object a client op is about to touch to the
// members that lack it, ahead of the recovery queue; the object's lock
// is held.
func (o *OSD) recoverForOp(ctx context.Context, p *pg, v view, oid string) error {
	p.mu.Lock()
	need := p.selfMissing[oid]
	for _, mem := range p.members {
		need = need || mem.missing[oid]
	}
	p.mu.Unlock()
	if !need {
		return nil
	}
	return o.recoverObject(ctx, p, v, o.Map(), oid)
}

// exportObject reads an object as a replacing transaction (a removal
// when it does not exist).
func (o *OSD) exportObject(id store.PGID, oid string) (*pb.Txn, error) {
	t, err := o.store.Export(id, oid)
	if errors.Is(err, store.ErrNotFound) {
		return &pb.Txn{Oid: oid, Remove: true, Replace: true}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s to copy it: %w", oid, err)
	}
	return t, nil
}

// exportRepairing is exportObject that, when the local copy fails its
// checksum, first repairs it from another member.
func (o *OSD) exportRepairing(ctx context.Context, p *pg, oid string) (*pb.Txn, error) {
	t, err := o.exportObject(p.id, oid)
	if !errors.Is(err, store.ErrCorrupt) {
		return t, err
	}
	if rerr := o.repairObject(ctx, p, oid); rerr != nil {
		return nil, fmt.Errorf("%w; repair from another copy failed: %v", err, rerr)
	}
	return o.exportObject(p.id, oid)
}

// pushObjects installs whole objects on a member, in messages of at most
// pushBytes.
func (o *OSD) pushObjects(ctx context.Context, m *clustermap.Map, p *pg, v view, id int32, objs []*pb.Txn) error {
	var batch []*pb.Txn
	size := 0
	send := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := o.push(ctx, m, id, &pb.PushRequest{Pool: p.id.Pool, Ps: p.id.PS, Interval: v.interval, Epoch: v.epoch, Objects: batch})
		batch, size = nil, 0
		if err != nil {
			return fmt.Errorf("pushing to osd.%d: %w", id, err)
		}
		return nil
	}
	for _, t := range objs {
		for _, part := range splitTxn(t, pushBytes) {
			n := txnBytes(part)
			if size+n > pushBytes {
				if err := send(); err != nil {
					return err
				}
			}
			batch = append(batch, part)
			size += n
		}
	}
	return send()
}

// pruneMissing drops from a log-recovering member's missing set the
// objects it already holds at the primary's version. A copy cut short
// while it was being filled (a backfill target or an empty member
// stopped halfway) holds objects its empty log does not show: log
// recovery from the PG's first write would copy them all again. A
// version read on each side at a different moment can only differ
// because of a write in between, which keeps the object missing; equal
// versions are the same write.
func (o *OSD) pruneMissing(ctx context.Context, p *pg, v view, m *clustermap.Map, mem *member) error {
	cl, err := o.peerOf(m, mem.id)
	if err != nil {
		return err
	}
	held, after := 0, ""
	for {
		rep, err := o.scanPage(ctx, cl, p, v, after)
		if err != nil {
			return fmt.Errorf("scanning osd.%d for what it holds: %w", mem.id, err)
		}
		var same []string
		for _, ov := range rep.GetObjects() {
			p.mu.Lock()
			want := mem.missing[ov.GetOid()]
			p.mu.Unlock()
			if !want {
				continue
			}
			mine, err := o.store.Meta(p.id, ov.GetOid())
			if err == nil && pgplan.EvCompare(mine.GetVersion(), ov.GetVersion()) == 0 {
				same = append(same, ov.GetOid())
			}
		}
		p.mu.Lock()
		if p.gen != v.gen {
			p.mu.Unlock()
			return nil
		}
		for _, oid := range same {
			if mem.missing[oid] {
				delete(mem.missing, oid)
				if mem.objectsLeft > 0 {
					mem.objectsLeft--
				}
				held++
			}
		}
		p.mu.Unlock()
		objs := rep.GetObjects()
		if !rep.GetMore() || len(objs) == 0 {
			break
		}
		after = objs[len(objs)-1].GetOid()
	}
	if held > 0 {
		o.log.Info("pg member already holds part of what it lacked", "pg", p.id.String(), "osd", mem.id, "held", held)
	}
	return nil
}

// scanPage asks a member for one page of its objects and versions after
// name after.
func (o *OSD) scanPage(ctx context.Context, cl pb.OSDClient, p *pg, v view, after string) (*pb.ScanReply, error) {
	cctx, cancel := context.WithTimeout(ctx, o.cfg.PeerTimeout)
	defer cancel()
	rep, err := cl.Scan(cctx, &pb.ScanRequest{Pool: p.id.Pool, Ps: p.id.PS, Interval: v.interval, Epoch: v.epoch, StartAfter: after, Max: backfillPage})
	if err == nil && rep.GetResult() != pb.Result_OK {
		err = fmt.Errorf("%s: %s", rep.GetResult(), rep.GetMessage())
	}
	return rep, err
}

// completeMember hands a member whose objects are in step the primary's
// log, with writes held back so that no entry is missed, and marks it
// complete.
func (o *OSD) completeMember(ctx context.Context, p *pg, v view, m *clustermap.Map, mem *member) error {
	release, ok, err := p.holdWrites(ctx, v.gen, nil)
	if !ok {
		return err
	}
	defer release()
	info, err := o.store.Info(p.id)
	if err != nil {
		return err
	}
	log, err := o.store.Log(p.id)
	if err != nil {
		return err
	}
	push := &pb.PushRequest{Pool: p.id.Pool, Ps: p.id.PS, Interval: v.interval, Epoch: v.epoch,
		Log: log, LastUpdate: info.GetLastUpdate(), SetLog: true}
	if v.code != nil {
		push.Shard = proto.Int32(int32(v.position(mem.id)))
	}
	err = o.push(ctx, m, mem.id, push)
	if err != nil {
		return fmt.Errorf("handing the log to osd.%d: %w", mem.id, err)
	}
	p.mu.Lock()
	mem.catchingUp = false
	mem.objectsLeft = 0
	p.mu.Unlock()
	o.log.Info("pg member in step", "pg", p.id.String(), "osd", mem.id, "backfilled", mem.backfill)
	return nil
}

// waitRoomFor holds a backfill while its target is backfillfull in the
// newest map (Ceph's backfill_toofull): no data moves to an OSD past the
// backfillfull ratio, so backfill cannot fill it up. It returns once the
// target has room, and stop when the PG moved on meanwhile.
func (o *OSD) waitRoomFor(ctx context.Context, p *pg, v view, mem *member) (stop bool, err error) {
	for {
		m := o.Map()
		st, ok := m.OSDs[mem.id]
		full := ok && st.Fullness >= clustermap.FullnessBackfill
		p.mu.Lock()
		moved := p.gen != v.gen
		changed := mem.toofull != full
		mem.toofull = full && !moved
		p.mu.Unlock()
		if changed {
			o.kickStats()
			if full {
				o.log.Warn("backfill waits: its target is backfillfull", "pg", p.id.String(), "osd", mem.id)
			}
		}
		if moved {
			return true, nil
		}
		if !full {
			return false, nil
		}
		if o.waitMap(ctx, m.Epoch+1); ctx.Err() != nil {
			return true, ctx.Err()
		}
	}
}

// backfill brings a target in step by comparing its objects with the
// primary's, in name order.
func (o *OSD) backfill(ctx context.Context, p *pg, v view, m *clustermap.Map, mem *member) error {
	cl, err := o.peerOf(m, mem.id)
	if err != nil {
		return err
	}
	prio := len(v.acting)
	after := ""
	for {
		if stop, err := o.waitRoomFor(ctx, p, v, mem); stop || err != nil {
			return err
		}
		mine, moreMine, err := o.store.Scan(p.id, after, backfillPage)
		if err != nil {
			return err
		}
		rep, err := o.scanPage(ctx, cl, p, v, after)
		if err != nil {
			return fmt.Errorf("scanning backfill target osd.%d: %w", mem.id, err)
		}
		theirs, moreTheirs := rep.GetObjects(), rep.GetMore()
		// The page covers names up to end: the smaller of the two pages'
		// last names, when a side has more.
		end, last := "", !moreMine && !moreTheirs
		if moreMine {
			end = mine[len(mine)-1].GetOid()
		}
		if moreTheirs {
			if t := theirs[len(theirs)-1].GetOid(); end == "" || t < end {
				end = t
			}
		}
		within := func(oid string) bool { return last || oid <= end }
		want := map[string]*pb.Eversion{}
		for _, ov := range mine {
			if within(ov.GetOid()) {
				want[ov.GetOid()] = ov.GetVersion()
			}
		}
		var todo []string
		for _, ov := range theirs {
			if !within(ov.GetOid()) {
				continue
			}
			if w, ok := want[ov.GetOid()]; ok && pgplan.EvCompare(w, ov.GetVersion()) == 0 {
				delete(want, ov.GetOid())
				continue
			}
			if _, ok := want[ov.GetOid()]; !ok {
				todo = append(todo, ov.GetOid()) // only on the target: remove
			}
		}
		for oid := range want {
			todo = append(todo, oid)
		}
		slices.Sort(todo)
		p.mu.Lock()
		if p.gen != v.gen {
			p.mu.Unlock()
			return nil
		}
		mem.pageEnd, mem.pageLast, mem.dirty = end, last, map[string]bool{}
		p.mu.Unlock()
		if err := o.copyTo(ctx, p, v, m, mem, todo, prio); err != nil {
			return err
		}
		// Everything up to the page end is in step, except what was
		// written meanwhile past the old cursor: copy that again, now
		// that new writes reach the target.
		p.mu.Lock()
		if last {
			mem.done = true
		} else {
			mem.cursor = end
		}
		dirty := slices.Sorted(maps.Keys(mem.dirty))
		mem.dirty = nil
		p.mu.Unlock()
		if err := o.copyTo(ctx, p, v, m, mem, dirty, prio); err != nil {
			return err
		}
		if last {
			return nil
		}
		after = end
	}
}

// copyTo copies objects (or their absence) to a backfill target.
func (o *OSD) copyTo(ctx context.Context, p *pg, v view, m *clustermap.Map, mem *member, oids []string, prio int) error {
	return o.throttled(ctx, prio, oids, func(oid string) error {
		unlock := p.lockObject(oid)
		defer unlock()
		var t *pb.Txn
		var err error
		if v.code != nil {
			pos := v.position(mem.id)
			var txns map[int]*pb.Txn
			txns, err = o.ecShardTxns(ctx, p, v, oid, []int{pos})
			t = txns[pos]
		} else {
			t, err = o.exportRepairing(ctx, p, oid)
		}
		if err != nil {
			return err
		}
		n := txnBytes(t)
		if err := o.throttle.bytes(ctx, n); err != nil {
			return err
		}
		if err := o.pushObjects(ctx, m, p, v, mem.id, []*pb.Txn{t}); err != nil {
			return err
		}
		p.mu.Lock()
		p.recoveredBytes += uint64(n)
		p.recoveredObjects++
		mem.copied = true
		if mem.objectsLeft > 0 {
			mem.objectsLeft--
		}
		p.mu.Unlock()
		return nil
	})
}

// sendsTo says whether a write to oid goes to member mem, and whether
// unlogged; p.mu is held. A backfill target gets writes only for objects
// its cursor passed; one within the page being copied is noted so the
// page copies it again.
func (mem *member) sendsTo(oid string) (send, unlogged bool) {
	if !mem.backfill || mem.done || oid <= mem.cursor {
		return true, mem.catchingUp
	}
	if mem.dirty != nil && (mem.pageLast || oid <= mem.pageEnd) {
		mem.dirty[oid] = true
	}
	return false, false
}

// pullFrom installs objects from another OSD into the local copy.
func (o *OSD) pullFrom(ctx context.Context, m *clustermap.Map, p *pg, v view, from int32, oids []string) error {
	cl, err := o.peerOf(m, from)
	if err != nil {
		return err
	}
	for len(oids) > 0 {
		n := min(len(oids), 8)
		cctx, cancel := context.WithTimeout(ctx, o.cfg.PeerTimeout)
		rep, err := cl.Pull(cctx, &pb.PullRequest{Pool: p.id.Pool, Ps: p.id.PS, Interval: v.interval, Epoch: v.epoch, Oids: oids[:n]})
		cancel()
		if err == nil && rep.GetResult() != pb.Result_OK {
			err = fmt.Errorf("%s: %s", rep.GetResult(), rep.GetMessage())
		}
		if err != nil {
			return err
		}
		if err := o.store.Install(p.id, rep.GetObjects(), nil, nil, false); err != nil {
			return err
		}
		p.mu.Lock()
		for _, t := range rep.GetObjects() {
			p.recoveredBytes += uint64(txnBytes(t))
			p.recoveredObjects++
		}
		p.mu.Unlock()
		oids = oids[n:]
	}
	return nil
}

// purgeStrays tells OSDs that answered peering with a copy, but are no
// longer up or acting, to drop it.
func (o *OSD) purgeStrays(ctx context.Context, p *pg, v view, m *clustermap.Map) {
	p.mu.Lock()
	probed := p.probed
	p.probed = nil
	p.mu.Unlock()
	for _, id := range probed {
		if slices.Contains(v.acting, id) || slices.Contains(v.up, id) || !m.IsUp(id) {
			continue
		}
		cl, err := o.peerOf(m, id)
		if err != nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, o.cfg.PeerTimeout)
		rep, err := cl.Purge(cctx, &pb.PurgeRequest{Pool: p.id.Pool, Ps: p.id.PS, Epoch: m.Epoch})
		cancel()
		if err != nil || rep.GetResult() != pb.Result_OK {
			o.log.Info("stray copy not purged", "pg", p.id.String(), "osd", id, "err", err, "message", rep.GetMessage())
			continue
		}
		o.log.Debug("stray copy purged", "pg", p.id.String(), "osd", id)
	}
}

// repairObject replaces the local copy of an object that failed its
// checksum with a good copy of the same version from another member.
func (o *OSD) repairObject(ctx context.Context, p *pg, oid string) error {
	_, res, err := o.store.Prepare(p.id, oid, []*pb.OpStep{{Code: pb.OpCode_OP_STAT}}, nil, o.cfg.Clock.Now())
	if err != nil {
		return fmt.Errorf("the object's metadata: %w", err)
	}
	want := res[0].GetVersion()
	v := p.view()
	m := o.Map()
	var errs []error
	for _, id := range v.acting {
		if id == o.cfg.ID {
			continue
		}
		t, err := o.pullOne(ctx, m, p, v, id, oid)
		if err != nil {
			errs = append(errs, fmt.Errorf("osd.%d: %w", id, err))
			continue
		}
		if got := t.GetMeta().GetVersion().GetVersion(); got != want {
			errs = append(errs, fmt.Errorf("osd.%d holds version %d, not %d", id, got, want))
			continue
		}
		if err := o.store.Install(p.id, []*pb.Txn{t}, nil, nil, false); err != nil {
			return fmt.Errorf("installing the good copy: %w", err)
		}
		o.log.Warn("repaired a corrupt object from another copy", "pg", p.id.String(), "oid", oid, "from", id)
		return nil
	}
	return errors.Join(errs...)
}

// pullOne fetches one object from another OSD.
func (o *OSD) pullOne(ctx context.Context, m *clustermap.Map, p *pg, v view, from int32, oid string) (*pb.Txn, error) {
	cl, err := o.peerOf(m, from)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, o.cfg.PeerTimeout)
	defer cancel()
	rep, err := cl.Pull(cctx, &pb.PullRequest{Pool: p.id.Pool, Ps: p.id.PS, Interval: v.interval, Epoch: v.epoch, Oids: []string{oid}})
	if err == nil && rep.GetResult() != pb.Result_OK {
		err = fmt.Errorf("%s: %s", rep.GetResult(), rep.GetMessage())
	}
	if err != nil {
		return nil, err
	}
	if len(rep.GetObjects()) != 1 {
		return nil, fmt.Errorf("asked for 1 object, got %d", len(rep.GetObjects()))
	}
	return rep.GetObjects()[0], nil
}

func txnBytes(t *pb.Txn) int {
	n := len(t.GetMeta().GetInline())
	for _, c := range t.GetChunks() {
		n += len(c.GetData())
	}
	for k, val := range t.GetOmapSet() {
		n += len(k) + len(val)
	}
	return n
}

// splitTxn cuts a replacing transaction too big for one message into
// parts. Until the last part lands the object carries version zero, so
// an interrupted copy is seen as different by the next comparison.
func splitTxn(t *pb.Txn, limit int) []*pb.Txn {
	if txnBytes(t) <= limit || len(t.GetChunks()) < 2 {
		return []*pb.Txn{t}
	}
	var parts []*pb.Txn
	cur := &pb.Txn{Oid: t.GetOid(), Replace: true, OmapSet: t.GetOmapSet()}
	size := 0
	for _, c := range t.GetChunks() {
		if size+len(c.GetData()) > limit && len(cur.GetChunks()) > 0 {
			parts = append(parts, cur)
			cur, size = &pb.Txn{Oid: t.GetOid()}, 0
		}
		cur.Chunks = append(cur.Chunks, c)
		size += len(c.GetData())
	}
	parts = append(parts, cur)
	for i, part := range parts {
		meta := t.GetMeta()
		if i < len(parts)-1 {
			meta = cloneMeta(meta)
			meta.Version = &pb.Eversion{}
		}
		part.Meta = meta
	}
	return parts
}

func cloneMeta(m *pb.ObjectMeta) *pb.ObjectMeta {
	return &pb.ObjectMeta{Size: m.GetSize(), Version: m.GetVersion(), MtimeNs: m.GetMtimeNs(), Gen: m.GetGen(),
		Inline: m.GetInline(), InlineSum: m.GetInlineSum(), Inlined: m.GetInlined(), Xattrs: m.GetXattrs(), Omap: m.GetOmap()}
}

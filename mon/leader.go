package mon

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"google.golang.org/protobuf/proto"

	"github.com/loligo/loligo/clustermap"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// proposal is one change for the leader to make: fn edits a private copy
// of the newest map, which becomes part of the next epoch if fn and the
// map's validation succeed.
type proposal struct {
	fn func(m *clustermap.Map, epoch uint64, now time.Time) (cmdResult, error)
	// dryRun reports what fn would do and changes nothing.
	dryRun bool
	// confirm asks for the movement check: without yes, a change that
	// moves more PGs than the threshold is refused.
	confirm, yes bool
	// onCommit, if set, runs in the leader goroutine once the change is
	// written (or found to be a no-op), before any later tick.
	onCommit func(det *detector, now time.Time)
	done     chan proposalResult
}

type proposalResult struct {
	res   cmdResult
	mv    *clustermap.Movement
	epoch uint64 // 0: nothing written
	err   error
}

// osdEvent is a beacon or a peer report for the failure detector.
type osdEvent struct {
	id, reporter int32
	report       bool // false: a beacon from id
	failed       bool
	// A beacon's file system figures (0: none).
	fsTotal, fsAvail uint64
}

// leading is a running leadership: handlers put proposals and events in
// its channels; the leader goroutine alone reads them.
type leading struct {
	proposals chan *proposal
	events    chan osdEvent
	done      chan struct{} // closed when the leadership ends

	// mu guards the newest map this leadership loaded or wrote, which
	// handlers that must check against the committed map (PGActivate)
	// read. The leader goroutine alone sets it, after each commit.
	mu struct {
		sync.Mutex
		m       *clustermap.Map // finalized; never changed once set
		rev     int64           // etcd mod revision of the osdmap key holding m
		changed chan struct{}   // closed when m is replaced
	}

	// How the leader keeps etcd, its goroutine's alone. refs counts what
	// the committed values name (nil: unknown, count before writing).
	// unsure: a write's outcome is unknown, so before the next one the
	// leader writes the fence (no earlier write can land after it) and
	// reads the map back; pending then holds the checksum of the map
	// whose epoch may have been written. fenceRev is the fence's
	// revision every write requires. sweep: delete the chunks nothing
	// names (after failures, and every sweepEvery epochs).
	refs       *chunkRefs
	unsure     bool
	pending    *[sha256.Size]byte
	fenceRev   int64
	sweep      bool
	sinceSweep int
}

// guard is what the leader's next write to etcd requires.
func (l *leading) guard(el *concurrency.Election, mapRev int64) guard {
	return guard{mapRev: mapRev, leaderKey: el.Key(), leaderRev: el.Rev(), fenceRev: l.fenceRev}
}

// sweepEvery is how many epochs pass between sweeps of unnamed chunks
// (a leader that lost the election while writing chunks leaves some).
const sweepEvery = 512

// setCommitted publishes m, which the osdmap key holds at revision rev.
// Only the leader goroutine calls it.
func (l *leading) setCommitted(m *clustermap.Map, rev int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.rev == rev && l.mu.m != nil {
		return
	}
	l.mu.m, l.mu.rev = m, rev
	if l.mu.changed != nil {
		close(l.mu.changed)
	}
	l.mu.changed = make(chan struct{})
}

// committed returns the newest committed map, the revision the osdmap
// key holds it at, and a channel closed when a newer one is published.
func (l *leading) committed() (*clustermap.Map, int64, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.m, l.mu.rev, l.mu.changed
}

// waitCommitted waits until the published map satisfies ok, the
// leadership ends (ErrStale) or ctx ends, and returns it.
func (l *leading) waitCommitted(ctx context.Context, ok func(m *clustermap.Map, rev int64) bool) (*clustermap.Map, int64, error) {
	for {
		m, rev, changed := l.committed()
		if ok(m, rev) {
			return m, rev, nil
		}
		select {
		case <-changed:
		case <-l.done:
			return nil, 0, fmt.Errorf("%w: leadership ended", ErrStale)
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("%w: waiting for the leader's next map: %v", ErrStale, ctx.Err())
		}
	}
}

// maxBatch bounds how many queued proposals go into one epoch.
const maxBatch = 256

// lead campaigns for leadership and, while leading, makes every change.
// It returns when ctx ends or the session is lost.
func (mo *Mon) lead(ctx context.Context, sess *concurrency.Session) error {
	el := concurrency.NewElection(sess, mo.st.electionPrefix())
	if err := el.Campaign(ctx, mo.cfg.Name+" "+mo.Addr()); err != nil {
		return err
	}
	mo.log.Info("elected leader", "key", el.Key())
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), mo.cfg.RequestTimeout)
		defer cancel()
		_ = el.Resign(rctx)
	}()

	mpb, rev, err := mo.loadOrCreate(ctx)
	if err != nil {
		return err
	}
	cur, err := clustermap.FromProto(mpb)
	if err != nil {
		return fmt.Errorf("mon: the stored map (epoch %d) is invalid: %w", mpb.GetEpoch(), err)
	}
	l := &leading{proposals: make(chan *proposal, maxBatch), events: make(chan osdEvent, 4096), done: make(chan struct{})}
	l.setCommitted(cur, rev)
	mo.leader.Store(l)
	defer func() {
		mo.leader.CompareAndSwap(l, nil)
		close(l.done)
	}()
	// Count the chunks (reads only) now, so the first change need not.
	// No write of an earlier leadership can land: each required its own
	// election key.
	if cur, rev, err = mo.resync(ctx, el, l, cur, rev); errors.Is(err, errLostLead) {
		return err
	} else if err != nil {
		mo.log.Warn("reading the stored map's chunks; trying again before the next change", "err", err)
	}
	det := newDetector(mo.cfg.BeaconGrace, mo.cfg.DownOutInterval, mo.cfg.MinReporters)
	det.check(cur, mo.clk.Now()) // everything up counts as heard from now
	tick := mo.clk.NewTicker(mo.cfg.TickInterval)
	defer tick.Stop()

	// carry holds proposals a batch left for the next: those after one
	// refused as too big.
	var carry []*proposal
	for {
		batch := carry
		carry = nil
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-sess.Done():
				return fmt.Errorf("%w: etcd session expired", ErrStale)
			case ev := <-l.events:
				now := mo.clk.Now()
				switch {
				case ev.report:
					det.report(ev.id, ev.reporter, ev.failed, now)
				default:
					det.beacon(ev.id, now)
					det.reportSpace(ev.id, ev.fsTotal, ev.fsAvail)
				}
				continue
			case <-tick.C():
				if l.unsure || l.refs == nil || l.sweep {
					next, nextRev, err := mo.resync(ctx, el, l, cur, rev)
					if errors.Is(err, errLostLead) {
						return err
					}
					if next != cur {
						cur, rev = next, nextRev
						l.setCommitted(cur, rev)
					}
				}
				batch = append(batch, mo.detectorProposals(det, cur)...)
				if len(batch) == 0 {
					continue
				}
			case p := <-l.proposals:
				batch = append(batch, p)
			}
		}
		if h := testHookBatch.Load(); h != nil {
			(*h)(len(batch))
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case p := <-l.proposals:
				batch = append(batch, p)
			default:
				break drain
			}
		}
		// Only a lost guard ends the leadership: after any other failed
		// write the leader goes on from the map it knows is stored.
		next, nextRev, rest, err := mo.commitBatch(ctx, el, l, det, cur, rev, batch)
		carry = rest
		if errors.Is(err, errLostLead) {
			return err
		}
		if next != cur {
			cur, rev = next, nextRev
			l.setCommitted(cur, rev)
		}
	}
}

// detectorProposals are the changes the failure detector asks for at a
// tick: OSDs to mark down (with why) or out, and fullness changes.
func (mo *Mon) detectorProposals(det *detector, cur *clustermap.Map) []*proposal {
	var out []*proposal
	if full := det.fullness(cur); len(full) > 0 {
		for id, f := range full {
			mo.log.Warn("an OSD's fullness changed", "osd", id, "from", cur.OSDs[id].Fullness.String(), "to", f.String())
		}
		out = append(out, &proposal{fn: func(m *clustermap.Map, _ uint64, _ time.Time) (cmdResult, error) {
			for id, f := range full {
				if o, ok := m.OSDs[id]; ok {
					o.Fullness = f
				}
			}
			return cmdResult{msg: "fullness changed"}, nil
		}})
	}
	down, outs := det.check(cur, mo.clk.Now())
	if len(down) == 0 && len(outs) == 0 {
		return out
	}
	mo.log.Info("failure detector", "down", down, "out", outs)
	why := maps.Clone(det.why)
	for _, id := range down {
		mo.log.Warn("marking an OSD down", "osd", id, "why", why[id])
	}
	return append(out, &proposal{fn: func(m *clustermap.Map, _ uint64, now time.Time) (cmdResult, error) {
		markDown(m, down, now, "", why)
		markAutoOut(m, outs)
		return cmdResult{msg: fmt.Sprintf("marked down %v, out %v", down, outs)}, nil
	}})
}

// loadOrCreate reads the map, waiting for the bootstrap monitor to write
// epoch 1 if there is none yet.
func (mo *Mon) loadOrCreate(ctx context.Context) (*pb.OSDMap, int64, error) {
	for {
		mpb, rev, err := mo.st.load(ctx)
		if err != nil {
			return nil, 0, err
		}
		if mpb != nil {
			return mpb, rev, nil
		}
		mo.log.Warn("no map in etcd yet; waiting for the bootstrap monitor")
		sleepCtx(ctx, 200*time.Millisecond)
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
	}
}

// createFirst writes epoch 1 of a new cluster, unless a map exists.
// Any monitor may do it, leader or not: the write only succeeds where
// there is no map at all.
func (mo *Mon) createFirst(ctx context.Context) error {
	m, err := initialMap(mo.cfg.FSID, mo.clk.Now())
	if err != nil {
		return err
	}
	created, err := mo.st.create(ctx, m)
	if err != nil {
		return err
	}
	if created {
		mo.log.Info("created the cluster's first map", "fsid", mo.cfg.FSID)
	}
	return nil
}

// testHookBatch, if set, runs in the leader goroutine when a batch
// starts, with the number of proposals it holds so far, before it takes
// the queued ones; it may block to let more queue.
var testHookBatch atomic.Pointer[func(n int)]

// resync brings the leader up to date with etcd before its next write:
// when a write's outcome is unknown, it writes the fence (so nothing
// earlier can land later) and adopts the map if the epoch whose write
// seemed to fail was written after all; then, if the chunk counts are
// unknown or a sweep is due, it counts them afresh and deletes the
// chunks nothing names. It returns the map to go on from (cur, or the
// adopted epoch) even on failure, when the flags stay set for the next
// try; errLostLead means the map is not one this leadership wrote.
func (mo *Mon) resync(ctx context.Context, el *concurrency.Election, l *leading, cur *clustermap.Map, rev int64) (*clustermap.Map, int64, error) {
	rctx, cancel := context.WithTimeout(ctx, mo.cfg.RequestTimeout)
	defer cancel()
	for l.unsure {
		frev, kv, err := mo.st.fence(rctx, rev, el.Key(), el.Rev())
		if err != nil {
			return cur, rev, err
		}
		if kv == nil {
			l.fenceRev, l.unsure, l.pending, l.refs = frev, false, nil, nil
			break
		}
		// The map moved. Only this leadership writes while it holds the
		// election, so it must be the epoch whose write seemed to fail.
		sum, err := storedSum(kv.Value)
		if err != nil || l.pending == nil || sum != *l.pending {
			return cur, rev, fmt.Errorf("the stored map is not the one this leader wrote: %w", errLostLead)
		}
		b, _, err := mo.st.resolve(rctx, kv, nil)
		if err != nil {
			return cur, rev, fmt.Errorf("%w: %v", ErrNotLeader, err)
		}
		mpb := &pb.OSDMap{}
		if err := proto.Unmarshal(b, mpb); err != nil {
			return cur, rev, fmt.Errorf("mon: the stored map is corrupt: %w", err)
		}
		m, err := clustermap.FromProto(mpb)
		if err != nil {
			return cur, rev, fmt.Errorf("mon: the stored map (epoch %d) is invalid: %w", mpb.GetEpoch(), err)
		}
		mo.log.Info("an epoch whose write seemed to fail was written", "epoch", m.Epoch)
		cur, rev, l.pending, l.refs = m, kv.ModRevision, nil, nil
		// And fence at the new revision.
	}
	if l.refs == nil || l.sweep {
		refs, orphans, fenceRev, err := mo.st.chunkState(rctx, rev)
		if err != nil {
			return cur, rev, err
		}
		l.refs, l.fenceRev = refs, fenceRev
		if len(orphans) > 0 {
			if err := mo.st.deleteChunks(rctx, orphans, l.guard(el, rev)); err != nil {
				l.sweep = true
				if !errors.Is(err, errLostLead) {
					l.unsure = true // deletions may still land: fence them off
				}
				return cur, rev, err
			}
			mo.log.Info("deleted map chunks nothing names", "chunks", len(orphans))
		}
		l.sweep = false
		l.sinceSweep = 0
	}
	return cur, rev, nil
}

// encodedEpoch is an epoch ready to write: the map, its incremental, and
// both as stored.
type encodedEpoch struct {
	next       *pb.OSDMap
	inc        *pb.OSDMapIncremental
	full, incv *storedValue
}

// encodeEpoch makes m, cur changed by proposals, epoch e and encodes it
// and its incremental from cur (curPB); a map or incremental larger than
// MaxMapSize is ErrTooBig.
func (mo *Mon) encodeEpoch(curPB *pb.OSDMap, m *clustermap.Map, epoch uint64, now time.Time) (*encodedEpoch, error) {
	m.Epoch = epoch
	m.Modified = now
	if err := m.Finalize(); err != nil {
		return nil, err
	}
	enc := &encodedEpoch{next: m.ToProto()}
	enc.inc = clustermap.DiffProto(curPB, enc.next)
	// Deterministic: the same map makes the same bytes, so unchanged
	// parts make the same chunks.
	mopt := proto.MarshalOptions{Deterministic: true}
	fb, err := mopt.Marshal(enc.next)
	if err != nil {
		return nil, err
	}
	ib, err := mopt.Marshal(enc.inc)
	if err != nil {
		return nil, err
	}
	for _, v := range []struct {
		what string
		n    int
	}{{"the map", len(fb)}, {"the incremental that makes it", len(ib)}} {
		if v.n > mo.cfg.MaxMapSize {
			return nil, fmt.Errorf("%w: with this change %s would be %s (%d bytes), above the monitor's limit of %s (%d bytes, its MaxMapSize); nothing was changed",
				ErrTooBig, v.what, mib(v.n), v.n, mib(mo.cfg.MaxMapSize), mo.cfg.MaxMapSize)
		}
	}
	if enc.full, err = encodeValue(fb); err != nil {
		return nil, err
	}
	if enc.incv, err = encodeValue(ib); err != nil {
		return nil, err
	}
	return enc, nil
}

func mib(n int) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// commitBatch applies a batch of proposals to cur and writes the result
// as one epoch. Every proposal gets its answer, but those it returns to
// carry to the next batch; a failed proposal does not stop the others.
// It returns the map to go on from (cur, or the epoch it wrote); only
// errLostLead must end the leadership.
func (mo *Mon) commitBatch(ctx context.Context, el *concurrency.Election, l *leading, det *detector, cur *clustermap.Map, rev int64,
	batch []*proposal) (*clustermap.Map, int64, []*proposal, error) {
	if l.unsure || l.refs == nil || l.sweep {
		var err error
		cur, rev, err = mo.resync(ctx, el, l, cur, rev)
		if err != nil && (l.unsure || l.refs == nil || errors.Is(err, errLostLead)) {
			err = fmt.Errorf("mon: the leader cannot bring its view of etcd up to date, so the change was not made: %w", err)
			for _, p := range batch {
				p.reply(proposalResult{err: err})
			}
			return cur, rev, nil, err
		}
		if err != nil {
			mo.log.Warn("sweeping unused map chunks", "err", err) // a chore: changes go on
		}
	}
	epoch := cur.Epoch + 1
	now := mo.clk.Now()
	work := cur
	type accepted struct {
		p   *proposal
		r   proposalResult
		chg bool
		m   *clustermap.Map // the map after p (and those before it)
	}
	var acc []accepted
	for _, p := range batch {
		c := work.Clone()
		res, err := p.fn(c, epoch, now)
		if err == nil {
			err = checkMap(c)
		}
		if err != nil {
			p.reply(proposalResult{err: err})
			continue
		}
		r := proposalResult{res: res}
		if res.placement && (p.confirm || p.dryRun) {
			mv := clustermap.Compare(work, c)
			r.mv = &mv
			if p.confirm && !p.yes && !p.dryRun && mo.cfg.ConfirmPercent >= 0 && mv.Moved > 0 &&
				mv.Moved*100 > mo.cfg.ConfirmPercent*mv.PGs {
				p.reply(proposalResult{err: fmt.Errorf("%w: this moves %d of %d PGs (%d%%, the limit without confirmation is %d%%); see the moves with --dry-run, then repeat with --yes",
					ErrConfirm, mv.Moved, mv.PGs, mv.Moved*100/mv.PGs, mo.cfg.ConfirmPercent), mv: &mv})
				continue
			}
		}
		if p.dryRun {
			if _, err := mo.encodeEpoch(work.ToProto(), c, epoch, now); errors.Is(err, ErrTooBig) {
				r.err = err
			}
			p.reply(r)
			continue
		}
		chg := !incEmpty(clustermap.Diff(work, c))
		work = c
		acc = append(acc, accepted{p: p, r: r, chg: chg, m: c})
	}
	if work == cur {
		return cur, rev, nil, nil
	}
	curPB := cur.ToProto()
	enc, err := mo.encodeEpoch(curPB, work, epoch, now)
	var carry []*proposal
	if errors.Is(err, ErrTooBig) {
		// Find the first proposal whose result does not fit: it is
		// refused, those before it make the epoch, those after it go to
		// the next batch (they were applied on top of it).
		k, kerr := 0, error(nil)
		for ; k < len(acc) && kerr == nil; k++ {
			var e *encodedEpoch
			if e, kerr = mo.encodeEpoch(curPB, acc[k].m, epoch, now); kerr == nil {
				enc = e
			}
		}
		err = nil
		if kerr != nil { // always: the last one is the whole batch
			k--
			acc[k].p.reply(proposalResult{err: kerr})
			for _, a := range acc[k+1:] {
				carry = append(carry, a.p)
			}
			acc = acc[:k]
			if k == 0 {
				return cur, rev, carry, nil
			}
		}
		work = acc[len(acc)-1].m
	}
	if err != nil {
		for _, a := range acc {
			a.p.reply(proposalResult{err: err})
		}
		return cur, rev, carry, err
	}
	if incEmpty(enc.inc) {
		for _, a := range acc {
			if a.p.onCommit != nil {
				a.p.onCommit(det, now)
			}
			a.p.reply(a.r) // nothing to write: each was a no-op
		}
		return cur, rev, carry, nil
	}
	cctx, cancel := context.WithTimeout(ctx, mo.cfg.RequestTimeout)
	defer cancel()
	fail := func(err error) (*clustermap.Map, int64, []*proposal, error) {
		mo.log.Warn("epoch not written", "epoch", epoch, "err", err)
		for _, a := range acc {
			a.p.reply(proposalResult{err: err})
		}
		return cur, rev, carry, err
	}
	// The chunks first, each request small; then the epoch's
	// transaction, which names them.
	written, err := mo.st.putChunks(cctx, l.refs.has, enc.full, enc.incv)
	if err != nil {
		mo.dropChunks(cctx, el, l, rev, written)
		if !errors.Is(err, ErrTooBig) {
			err = fmt.Errorf("%w: %w", ErrNotLeader, err)
		}
		return fail(fmt.Errorf("epoch %d was not written, the change was not made: %w", epoch, err))
	}
	refs, dead := l.refs.next(epoch, mo.cfg.IncWindow, enc.full.ids, enc.incv.ids)
	// What the epoch removes goes in its transaction, unless there is
	// too much of it for one (then it follows the commit): the PG records
	// of removed pools and OSDs, and the chunks nothing names any more.
	var extra, afterPG []clientv3.Op
	if cleanup := mo.st.removedOps(cur, work); len(cleanup) <= maxCleanupInTxn {
		extra = cleanup
	} else {
		afterPG = cleanup
	}
	inTxn := min(len(dead), maxCleanupInTxn-len(extra))
	for _, id := range dead[:inTxn] {
		extra = append(extra, clientv3.OpDelete(mo.st.chunkKey(id)))
	}
	afterChunks := dead[inTxn:]
	newRev, err := mo.st.commit(cctx, l.guard(el, rev), epoch, enc.full, enc.incv, extra)
	switch {
	case err == nil:
		l.refs = refs
	case errors.Is(err, errLostLead):
		return fail(err)
	case errors.Is(err, errNotWritten):
		mo.dropChunks(cctx, el, l, rev, written)
		return fail(fmt.Errorf("epoch %d was not written, the change was not made: %w", epoch, err))
	default:
		// Unknown whether etcd wrote it: fence it off (it can no
		// longer land later) and read the map back. Chunks this write
		// stored and nothing names are swept then.
		l.unsure, l.pending, l.refs = true, &enc.full.sum, nil
		next, nextRev, rerr := mo.resync(ctx, el, l, cur, rev)
		switch {
		case next != cur:
			newRev, afterChunks = nextRev, nil // written; resync counted its chunks
			if rerr != nil {
				mo.log.Warn("counting the map's chunks", "err", rerr)
			}
		case errors.Is(rerr, errLostLead):
			return fail(rerr)
		case rerr != nil:
			return fail(fmt.Errorf("%w: epoch %d may or may not have been written (%v; reading it back: %v)", ErrNotLeader, epoch, err, rerr))
		default:
			return fail(fmt.Errorf("%w: epoch %d was not written, the change was not made: %v", ErrNotLeader, epoch, err))
		}
	}
	if len(afterPG) > 0 {
		if derr := mo.st.runChunked(cctx, afterPG); derr != nil {
			mo.log.Warn("deleting the PG records of removed pools and OSDs", "epoch", epoch, "err", derr)
		}
	}
	if len(afterChunks) > 0 {
		if derr := mo.st.deleteChunks(cctx, afterChunks, l.guard(el, newRev)); derr != nil {
			mo.log.Warn("deleting unused map chunks; they are swept later", "epoch", epoch, "err", derr)
			l.sweep = true
			if !errors.Is(derr, errLostLead) {
				l.unsure = true // deletions may still land: fence them off
			}
		}
	}
	if l.sinceSweep++; l.sinceSweep >= sweepEvery {
		l.sweep = true
	}
	mo.log.Debug("new epoch", "epoch", epoch, "changes", len(acc), "bytes", enc.full.size,
		"chunks_written", len(written))
	// Serve the new epoch at once, before the watch brings it, so a
	// client reads back what it was just told is done.
	mo.view.addInc(enc.inc)
	mo.view.set(work, enc.next, enc.full.sum, enc.full.chunks)
	for _, a := range acc {
		if a.p.onCommit != nil {
			a.p.onCommit(det, now)
		}
		a.r.epoch = 0
		if a.chg {
			a.r.epoch = epoch
		}
		a.p.reply(a.r)
	}
	return work, newRev, carry, nil
}

// dropChunks deletes the chunks a failed write stored that no committed
// value names; when it cannot, the next change sweeps them first.
func (mo *Mon) dropChunks(ctx context.Context, el *concurrency.Election, l *leading, rev int64, written []chunkID) {
	var unused []chunkID
	for _, id := range written {
		if !l.refs.has(id) {
			unused = append(unused, id)
		}
	}
	if err := mo.st.deleteChunks(ctx, unused, l.guard(el, rev)); err != nil {
		l.sweep = true
		if !errors.Is(err, errLostLead) {
			l.unsure = true
		}
	}
}

func (p *proposal) reply(r proposalResult) {
	if p.done != nil {
		p.done <- r
	}
}

// incEmpty reports whether an incremental changes nothing but the epoch
// and time.
func incEmpty(inc *pb.OSDMapIncremental) bool {
	c := proto.Clone(inc).(*pb.OSDMapIncremental)
	c.Epoch, c.ModifiedNs, c.Fsid = 0, 0, ""
	return proto.Size(c) == 0
}

// propose hands a change to the leader and waits for its answer. The
// caller must be on the leader (see Mon.submit).
func (l *leading) propose(ctx context.Context, p *proposal) proposalResult {
	p.done = make(chan proposalResult, 1)
	select {
	case l.proposals <- p:
	case <-l.done:
		return proposalResult{err: fmt.Errorf("%w: leadership ended", ErrStale)}
	case <-ctx.Done():
		return proposalResult{err: ctx.Err()}
	}
	select {
	case r := <-p.done:
		return r
	case <-l.done:
		// The leader may have answered just before it stopped.
		select {
		case r := <-p.done:
			return r
		default:
		}
		return proposalResult{err: fmt.Errorf("%w: leadership ended before the change was answered; it may or may not be made", ErrStale)}
	case <-ctx.Done():
		return proposalResult{err: ctx.Err()}
	}
}

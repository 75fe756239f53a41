package osd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/internal/transport"
	"github.com/loligo/loligo/osd/store"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// service implements the OSD's gRPC service.
type service struct {
	pb.UnimplementedOSDServer
	o *OSD
}

// Limits on a request that the store does not check itself.
const (
	maxSteps = 64
	// maxReply bounds the data one reply carries, below the transport's
	// message limit.
	maxReply = transport.MaxMessage - 1<<20
	// activeWait is how long an op waits for its PG to become active
	// before the client is told to retry (and re-check its map).
	activeWait = 3 * time.Second
)

func failReply(err error) *pb.OpReply {
	r := &pb.OpReply{Result: store.Result(err), Message: err.Error(), FailedStep: -1}
	var se *store.StepError
	if errors.As(err, &se) {
		r.FailedStep = int32(se.Index)
	}
	return r
}

func retryReply(epoch uint64, format string, args ...any) *pb.OpReply {
	return &pb.OpReply{Result: pb.Result_RETRY, RetryEpoch: epoch, Message: fmt.Sprintf(format, args...), FailedStep: -1}
}

func invalidReply(format string, args ...any) *pb.OpReply {
	return &pb.OpReply{Result: pb.Result_INVALID, Message: fmt.Sprintf(format, args...), FailedStep: -1}
}

// primaryPG finds the PG a client request is for and checks that this
// OSD is its primary in a map at least as new as the client's. The
// returned reply, when not nil, tells the client to retry or why not.
func (o *OSD) primaryPG(ctx context.Context, epoch uint64, pool int64, ps uint32, oid string) (*pg, *clustermap.Map, *pb.OpReply) {
	if !o.isBooted() {
		return nil, nil, retryReply(epoch, "%s", o.notBootedMsg())
	}
	m := o.mapAtLeast(ctx, epoch)
	if m == nil || m.Epoch < epoch {
		var have uint64
		if m != nil {
			have = m.Epoch
		}
		return nil, m, retryReply(epoch, "osd.%d has map epoch %d, older than the client's %d; retry", o.cfg.ID, have, epoch)
	}
	p, err := m.Pool(pool)
	if err != nil {
		return nil, m, &pb.OpReply{Result: pb.Result_NOT_FOUND, Message: fmt.Sprintf("pool %d does not exist in epoch %d", pool, m.Epoch), FailedStep: -1}
	}
	if oid != "" {
		want, err := m.ObjectPG(pool, oid, "")
		if err != nil {
			return nil, m, invalidReply("object %q: %v", oid, err)
		}
		if want.Seed != ps {
			return nil, m, retryReply(m.Epoch, "object %q is in pg %d.%x in epoch %d, not %d.%x", oid, pool, want.Seed, m.Epoch, pool, ps)
		}
	} else if ps >= p.PGNum {
		return nil, m, invalidReply("pool %s has %d PGs; there is no PG %x", p.Name, p.PGNum, ps)
	}
	pg := o.getPG(store.PGID{Pool: pool, PS: ps}, false)
	if pg == nil {
		return nil, m, retryReply(m.Epoch, "osd.%d does not serve pg %d.%x in epoch %d", o.cfg.ID, pool, ps, m.Epoch)
	}
	return pg, m, nil
}

// waitActive waits (briefly) until the PG is active and serving with
// this OSD as its primary.
func (p *pg) waitActive(ctx context.Context, m *clustermap.Map) *pb.OpReply {
	deadline := time.NewTimer(activeWait)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		st, ch, prim, serve, why := p.state, p.stateCh, p.primary, p.serve, p.blockedBy
		p.mu.Unlock()
		switch {
		case st == stateActive && serve:
			return nil
		case prim != p.o.cfg.ID || st == stateStray || st == stateReplica:
			return retryReply(m.Epoch, "osd.%d is not the primary of pg %s in epoch %d (osd.%d is)", p.o.cfg.ID, p.id, m.Epoch, prim)
		}
		select {
		case <-ch:
		case <-deadline.C:
			switch {
			case st == stateIncomplete:
				return retryReply(m.Epoch+1, "pg %s is incomplete: %s", p.id, why)
			case st == stateActive:
				return retryReply(m.Epoch+1, "pg %s takes no client I/O: %s", p.id, why)
			}
			return retryReply(m.Epoch, "pg %s is peering; retry", p.id)
		case <-ctx.Done():
			return retryReply(m.Epoch, "pg %s is not active: %v", p.id, ctx.Err())
		}
	}
}

func (s *service) Op(ctx context.Context, req *pb.OpRequest) (*pb.OpReply, error) {
	rep := s.o.op(ctx, req)
	if rep.GetResult() == pb.Result_IO_ERROR {
		if cause := s.o.store.FailCause(); cause != nil {
			// The OSD is going down (Run saw the failure): the client
			// waits for the map that says so and resends to the next
			// primary.
			var epoch uint64
			if m := s.o.Map(); m != nil {
				epoch = m.Epoch + 1
			}
			return retryReply(epoch, "osd.%d's store failed (%v); it is marking itself down: retry on the next primary", s.o.cfg.ID, cause), nil
		}
	}
	return rep, nil
}

func (o *OSD) op(ctx context.Context, req *pb.OpRequest) *pb.OpReply {
	if len(req.GetSteps()) == 0 || len(req.GetSteps()) > maxSteps {
		return invalidReply("an op has 1 to %d steps, not %d", maxSteps, len(req.GetSteps()))
	}
	if req.GetOid() == "" {
		return invalidReply("no object name")
	}
	write := false
	for _, st := range req.GetSteps() {
		write = write || store.IsWrite(st.GetCode())
	}
	if write && req.GetReqid().GetClient() == "" {
		return invalidReply("a write needs a request id")
	}
	p, m, rep := o.primaryPG(ctx, req.GetEpoch(), req.GetPool(), req.GetPs(), req.GetOid())
	if rep != nil {
		return rep
	}
	if rep := p.waitActive(ctx, m); rep != nil {
		return rep
	}
	if write && addsData(req.GetSteps()) {
		if rep := o.fullReply(p, m); rep != nil {
			return rep
		}
	}
	unlock := p.lockObject(req.GetOid())
	defer unlock()
	if p.view().code != nil {
		return o.ecOp(ctx, p, req, write)
	}
	if !write {
		return o.read(ctx, p, req)
	}
	return o.write(ctx, p, req)
}

// read runs a read-only op on the primary's copy; a chunk that fails its
// checksum is fetched from another member, repaired here, and the read
// runs again.
func (o *OSD) read(ctx context.Context, p *pg, req *pb.OpRequest) *pb.OpReply {
	_, results, err := o.store.Prepare(p.id, req.GetOid(), req.GetSteps(), nil, o.cfg.Clock.Now())
	if errors.Is(err, store.ErrCorrupt) {
		if rerr := o.repairObject(ctx, p, req.GetOid()); rerr != nil {
			return failReply(fmt.Errorf("%w; repair from another copy failed: %v", err, rerr))
		}
		_, results, err = o.store.Prepare(p.id, req.GetOid(), req.GetSteps(), nil, o.cfg.Clock.Now())
	}
	if err != nil {
		return failReply(err)
	}
	rep := &pb.OpReply{Steps: results, FailedStep: -1}
	size := 0
	for _, r := range results {
		if r.GetVersion() != 0 {
			rep.Version = r.GetVersion()
		}
		size += len(r.GetData())
		for k, v := range r.GetKv() {
			size += len(k) + len(v)
		}
	}
	if size > maxReply {
		return &pb.OpReply{Result: pb.Result_TOO_BIG, FailedStep: -1,
			Message: fmt.Sprintf("the op would return %d bytes, more than one reply holds (%d): read in smaller pieces", size, maxReply)}
	}
	return rep
}

// write orders a write, applies it here and on every other member in
// parallel, and answers once all have it durably.
func (o *OSD) write(ctx context.Context, p *pg, req *pb.OpRequest) *pb.OpReply {
	// A degraded object is recovered before it is written.
	if err := o.recoverForOp(ctx, p, p.view(), req.GetOid()); err != nil {
		return retryReply(p.view().epoch, "pg %s: recovering %q before the write: %v; retry", p.id, req.GetOid(), err)
	}
	ev, v, rep, done := o.beginWrite(ctx, p, req)
	if rep != nil {
		return rep
	}
	defer done()

	now := o.cfg.Clock.Now()
	txn, results, err := o.store.Prepare(p.id, req.GetOid(), req.GetSteps(), ev, now)
	if errors.Is(err, store.ErrCorrupt) {
		if rerr := o.repairObject(ctx, p, req.GetOid()); rerr != nil {
			return failReply(fmt.Errorf("%w; repair from another copy failed: %v", err, rerr))
		}
		txn, results, err = o.store.Prepare(p.id, req.GetOid(), req.GetSteps(), ev, now)
	}
	if err != nil {
		return failReply(err)
	}
	objVersion := ev.GetVersion()
	if txn.GetRemove() && txn.GetMeta() == nil {
		objVersion = 0
	}
	entry := &pb.LogEntry{Version: ev, Reqid: req.GetReqid(), Oid: req.GetOid(), ObjectVersion: objVersion}
	if err := o.replicate(ctx, p, v, txn, entry); err != nil {
		return retryReply(v.epoch, "pg %s: %v; the write will be completed or rolled back before the PG serves again, retry", p.id, err)
	}
	return &pb.OpReply{Steps: results, Version: objVersion, FailedStep: -1}
}

// beginWrite waits for a log hand-over to finish, answers a resent
// write from the log, and else assigns the write its version. A nil
// reply means go on; done must then be called when the write ends.
func (o *OSD) beginWrite(ctx context.Context, p *pg, req *pb.OpRequest) (*pb.Eversion, view, *pb.OpReply, func()) {
	key := reqKey{req.GetReqid().GetClient(), req.GetReqid().GetTid()}
	p.mu.Lock()
	for p.barrier && p.state == stateActive {
		ch := p.stateCh
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, view{}, retryReply(p.view().epoch, "pg %s: %v", p.id, ctx.Err()), nil
		}
		p.mu.Lock()
	}
	if err := p.load(); err != nil {
		p.mu.Unlock()
		return nil, view{}, failReply(err), nil
	}
	if e, ok := p.reqs[key]; ok {
		// A resend of a write that was applied: every member has it (the
		// PG is active, so it was acknowledged or recovered since).
		p.mu.Unlock()
		return nil, view{}, &pb.OpReply{Version: e.GetObjectVersion(), FailedStep: -1}, nil
	}
	if p.state != stateActive || !p.serve || p.primary != o.cfg.ID {
		p.mu.Unlock()
		return nil, view{}, retryReply(p.epoch, "pg %s changed while the op waited; retry", p.id), nil
	}
	p.lastV++
	ev := &pb.Eversion{Epoch: p.epoch, Version: p.lastV}
	v := p.viewLocked()
	p.inflight++
	if v.code != nil {
		if p.pending == nil {
			p.pending = map[uint64]bool{}
		}
		p.pending[ev.GetVersion()] = true
	}
	p.mu.Unlock()
	done := func() {
		p.mu.Lock()
		p.endWrite()
		p.mu.Unlock()
	}
	return ev, v, nil, done
}

// replicate applies txn locally and on every other member of the
// interval (backfill targets only for objects their backfill passed;
// members still catching up without the log entry). On any failure the
// PG peers again, so members are brought in step before anything else
// is served.
func (o *OSD) replicate(ctx context.Context, p *pg, v view, txn *pb.Txn, entry *pb.LogEntry) error {
	// A client that gives up must not cut a replication short: that
	// would leave members out of step for no reason. The peer timeout
	// bounds it instead.
	ctx = context.WithoutCancel(ctx)
	m := o.Map()
	type target struct {
		id       int32
		unlogged bool
	}
	var targets []target
	p.mu.Lock()
	for _, id := range slices.Concat(v.acting, v.up) {
		if id == o.cfg.ID || slices.ContainsFunc(targets, func(t target) bool { return t.id == id }) {
			continue
		}
		mem := p.members[id]
		if mem == nil {
			continue // not a member this interval tracks (cannot happen once active)
		}
		if send, unlogged := mem.sendsTo(txn.GetOid()); send {
			targets = append(targets, target{id, unlogged})
		}
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, len(targets))
	for i, t := range targets {
		wg.Go(func() { errs[i] = o.repOp(ctx, m, t.id, p, v, txn, entry, t.unlogged) })
	}
	localErr := p.applyLocal(v, entry, func() error { return o.store.Apply(p.id, txn, entry) })
	wg.Wait()
	if localErr != nil {
		p.repeer(v.gen)
		return fmt.Errorf("applying locally: %w", localErr)
	}
	for i, err := range errs {
		if err != nil {
			o.log.Warn("replication failed; peering again", "pg", p.id.String(), "peer", targets[i].id, "err", err)
			p.repeer(v.gen)
			return fmt.Errorf("replicating to osd.%d: %w", targets[i].id, err)
		}
	}
	return nil
}

func (o *OSD) repOp(ctx context.Context, m *clustermap.Map, id int32, p *pg, v view, txn *pb.Txn, entry *pb.LogEntry, unlogged bool) error {
	cl, err := o.peerOf(m, id)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, o.cfg.PeerTimeout)
	defer cancel()
	rep, err := cl.RepOp(cctx, &pb.RepOpRequest{Pool: p.id.Pool, Ps: p.id.PS, Interval: v.interval, Epoch: v.epoch, Txn: txn, Entry: entry, Backfill: unlogged})
	if err != nil {
		return err
	}
	if rep.GetResult() != pb.Result_OK {
		return fmt.Errorf("%s: %s", rep.GetResult(), rep.GetMessage())
	}
	return nil
}

// callerOSD returns the OSD id of the calling entity, or an error when
// the caller is not an OSD.
func callerOSD(ctx context.Context) (int32, error) {
	e, err := transport.Entity(ctx)
	if err != nil {
		return 0, err
	}
	var id int32
	if _, err := fmt.Sscanf(e, "osd.%d", &id); err != nil || fmt.Sprintf("osd.%d", id) != e {
		return 0, fmt.Errorf("%s may not make peer calls (only osd.N)", e)
	}
	return id, nil
}

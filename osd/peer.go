package osd

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/loligo/loligo/clustermap"

	"github.com/loligo/loligo/osd/store"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// memberPG checks a peer call: the caller is an OSD, this OSD holds a map
// at least as new as the caller's, and both see the same interval of the
// PG. msg is empty when the call may proceed.
func (o *OSD) memberPG(ctx context.Context, pool int64, ps uint32, interval, epoch uint64) (p *pg, retry uint64, msg string) {
	from, err := callerOSD(ctx)
	if err != nil {
		return nil, 0, err.Error()
	}
	if !o.isBooted() {
		return nil, epoch, o.notBootedMsg()
	}
	m := o.mapAtLeast(ctx, epoch)
	if m == nil || m.Epoch < epoch {
		return nil, epoch, fmt.Sprintf("osd.%d has not seen epoch %d yet", o.cfg.ID, epoch)
	}
	p = o.getPG(store.PGID{Pool: pool, PS: ps}, false)
	if p == nil {
		return nil, m.Epoch, fmt.Sprintf("osd.%d does not serve pg %d.%x in epoch %d", o.cfg.ID, pool, ps, m.Epoch)
	}
	v := p.view()
	if v.interval != interval || v.state == stateStray || v.primary != from {
		return nil, m.Epoch, fmt.Sprintf("osd.%d sees another interval of pg %s (epoch %d, primary osd.%d) than osd.%d", o.cfg.ID, p.id, v.epoch, v.primary, from)
	}
	return p, 0, ""
}

func (s *service) RepOp(ctx context.Context, req *pb.RepOpRequest) (*pb.RepOpReply, error) {
	o := s.o
	p, retry, msg := o.memberPG(ctx, req.GetPool(), req.GetPs(), req.GetInterval(), req.GetEpoch())
	if p == nil {
		return &pb.RepOpReply{Result: pb.Result_RETRY, Message: msg, RetryEpoch: retry}, nil
	}
	// The interval may not change between the check and the apply.
	p.ivMu.RLock()
	defer p.ivMu.RUnlock()
	if v := p.view(); v.interval != req.GetInterval() {
		return &pb.RepOpReply{Result: pb.Result_RETRY, Message: fmt.Sprintf("osd.%d moved to a new interval of pg %s", o.cfg.ID, p.id), RetryEpoch: v.epoch}, nil
	}
	var err error
	switch {
	case len(req.GetShardSteps()) > 0:
		err = o.applyShard(p.id, req.GetShardSteps(), req.GetEntry(), time.Unix(0, req.GetMtimeNs()), req.GetBackfill())
		if rf := req.GetRollForwardTo(); err == nil && rf != nil && !req.GetBackfill() {
			p.mu.Lock()
			trim := p.trimDue(rf)
			p.mu.Unlock()
			if trim != nil {
				o.trimRollback(p, trim)
			}
		}
	case req.GetBackfill():
		err = o.store.ApplyUnlogged(p.id, req.GetTxn())
	default:
		err = o.store.Apply(p.id, req.GetTxn(), req.GetEntry())
	}
	if err != nil {
		return &pb.RepOpReply{Result: store.Result(err), Message: err.Error()}, nil
	}
	if !req.GetBackfill() {
		p.mu.Lock()
		if p.loaded {
			p.remember(req.GetEntry())
		}
		p.mu.Unlock()
	}
	return &pb.RepOpReply{}, nil
}

// readerCheck checks a peer call that only reads a PG copy (Query, Pull):
// the caller is an OSD and, in this OSD's map (caught up to the
// caller's epoch), the PG's acting primary. The callee need not be a
// member: a stray may hold the copy peering needs.
func (o *OSD) readerCheck(ctx context.Context, pool int64, ps uint32, epoch uint64) (id store.PGID, retry uint64, msg string) {
	from, err := callerOSD(ctx)
	if err != nil {
		return id, 0, err.Error()
	}
	m := o.mapAtLeast(ctx, epoch)
	if m == nil || m.Epoch < epoch {
		return id, epoch, fmt.Sprintf("osd.%d has not seen epoch %d yet", o.cfg.ID, epoch)
	}
	pl, err := m.Place(clustermap.PGID{Pool: pool, Seed: ps})
	if err != nil {
		return id, m.Epoch, fmt.Sprintf("pg %d.%x: %v", pool, ps, err)
	}
	if pl.ActingPrimary != from {
		return id, m.Epoch, fmt.Sprintf("osd.%d is not the primary of pg %d.%x in epoch %d (osd.%d is)", from, pool, ps, m.Epoch, pl.ActingPrimary)
	}
	return store.PGID{Pool: pool, PS: ps}, 0, ""
}

func (s *service) Query(ctx context.Context, req *pb.QueryRequest) (*pb.QueryReply, error) {
	o := s.o
	id, retry, msg := o.readerCheck(ctx, req.GetPool(), req.GetPs(), req.GetEpoch())
	if msg != "" {
		return &pb.QueryReply{Result: pb.Result_RETRY, Message: msg, RetryEpoch: retry}, nil
	}
	// readerCheck waited for the caller's epoch, and PGs move to a new
	// map (under ivMu, which every apply holds shared) before the map is
	// published: writes of an older interval have all landed by now and
	// none can follow, so the answer includes every one of them.
	return o.queryLocal(id), nil
}

func (s *service) Purge(ctx context.Context, req *pb.PurgeRequest) (*pb.PurgeReply, error) {
	o := s.o
	id, _, msg := o.readerCheck(ctx, req.GetPool(), req.GetPs(), req.GetEpoch())
	if msg != "" {
		return &pb.PurgeReply{Result: pb.Result_RETRY, Message: msg}, nil
	}
	if p := o.getPG(id, false); p != nil {
		p.ivMu.Lock()
		defer p.ivMu.Unlock()
		if st := p.view().state; st != stateStray {
			return &pb.PurgeReply{Result: pb.Result_RETRY, Message: fmt.Sprintf("osd.%d still serves pg %s (%s)", o.cfg.ID, id, st)}, nil
		}
	}
	if err := o.store.RemovePG(id); err != nil {
		return &pb.PurgeReply{Result: store.Result(err), Message: err.Error()}, nil
	}
	o.pgMu.Lock()
	if p, ok := o.pgs[id]; ok && p.view().state == stateStray {
		delete(o.pgs, id)
	}
	o.pgMu.Unlock()
	o.log.Info("purged a stray copy", "pg", id.String())
	return &pb.PurgeReply{}, nil
}

func (s *service) Scan(ctx context.Context, req *pb.ScanRequest) (*pb.ScanReply, error) {
	o := s.o
	p, retry, msg := o.memberPG(ctx, req.GetPool(), req.GetPs(), req.GetInterval(), req.GetEpoch())
	if p == nil {
		return &pb.ScanReply{Result: pb.Result_RETRY, Message: msg, RetryEpoch: retry}, nil
	}
	return o.scanLocal(p.id, req.GetStartAfter(), int(req.GetMax()))
}

// scanLocal is one page of a PG's objects and versions; the first page
// carries the PG's info and log.
func (o *OSD) scanLocal(id store.PGID, startAfter string, max int) (*pb.ScanReply, error) {
	if max <= 0 || max > 10000 {
		max = 10000
	}
	objs, more, err := o.store.Scan(id, startAfter, max)
	if err != nil {
		return &pb.ScanReply{Result: store.Result(err), Message: err.Error()}, nil
	}
	rep := &pb.ScanReply{Objects: objs, More: more}
	if startAfter == "" {
		if rep.Info, err = o.store.Info(id); err != nil {
			return &pb.ScanReply{Result: store.Result(err), Message: err.Error()}, nil
		}
		if rep.Log, err = o.store.Log(id); err != nil {
			return &pb.ScanReply{Result: store.Result(err), Message: err.Error()}, nil
		}
	}
	return rep, nil
}

func (s *service) Pull(ctx context.Context, req *pb.PullRequest) (*pb.PullReply, error) {
	o := s.o
	id, retry, msg := o.readerCheck(ctx, req.GetPool(), req.GetPs(), req.GetEpoch())
	if msg != "" {
		return &pb.PullReply{Result: pb.Result_RETRY, Message: msg, RetryEpoch: retry}, nil
	}
	rep := &pb.PullReply{}
	for _, oid := range req.GetOids() {
		t, err := o.store.Export(id, oid)
		switch {
		case errors.Is(err, store.ErrNotFound):
			t = &pb.Txn{Oid: oid, Remove: true, Replace: true}
		case err != nil:
			return &pb.PullReply{Result: store.Result(err), Message: err.Error()}, nil
		}
		rep.Objects = append(rep.Objects, t)
	}
	return rep, nil
}

func (s *service) Push(ctx context.Context, req *pb.PushRequest) (*pb.PushReply, error) {
	o := s.o
	p, retry, msg := o.memberPG(ctx, req.GetPool(), req.GetPs(), req.GetInterval(), req.GetEpoch())
	if p == nil {
		return &pb.PushReply{Result: pb.Result_RETRY, Message: msg, RetryEpoch: retry}, nil
	}
	p.ivMu.RLock()
	if v := p.view(); v.interval != req.GetInterval() {
		p.ivMu.RUnlock()
		return &pb.PushReply{Result: pb.Result_RETRY, Message: fmt.Sprintf("osd.%d moved to a new interval of pg %s", o.cfg.ID, p.id), RetryEpoch: v.epoch}, nil
	}
	var err error
	if req.Shard != nil {
		// A copy that holds another shard of an erasure-coded PG is
		// useless at its new position: a backfill reset drops it first
		// (else backfill would take its objects, of the same versions,
		// for the new shard's).
		var info *pb.PGInfo
		if info, err = o.store.Info(p.id); err == nil && info.Shard != nil && info.GetShard() != req.GetShard() {
			if !req.GetSetLog() || !req.GetIncomplete() {
				p.ivMu.RUnlock()
				return &pb.PushReply{Result: pb.Result_INVALID, Message: fmt.Sprintf("osd.%d holds shard %d of pg %s, not %d: only a backfill may change it", o.cfg.ID, info.GetShard(), p.id, req.GetShard())}, nil
			}
			o.log.Info("dropping a copy of another shard before backfill", "pg", p.id.String(), "had", info.GetShard(), "now", req.GetShard())
			err = o.store.RemovePG(p.id)
		}
	}
	if rb := req.GetRollbackTo(); rb != nil && err == nil {
		o.log.Info("rolling back writes the authority lacks", "pg", p.id.String(), "to", rb.String())
		err = o.store.RollbackTo(p.id, rb)
	}
	switch {
	case err != nil:
	case req.GetSetLog() && req.GetIncomplete():
		err = o.store.Install(p.id, req.GetObjects(), nil, nil, false)
		if err == nil {
			err = o.store.ResetLog(p.id, req.GetLog(), req.GetLastUpdate(), true)
		}
	default:
		err = o.store.Install(p.id, req.GetObjects(), req.GetLog(), req.GetLastUpdate(), req.GetSetLog())
	}
	if err == nil && req.Shard != nil {
		err = o.store.SetShard(p.id, req.GetShard())
	}
	if rf := req.GetRollForwardTo(); err == nil && rf != nil {
		err = o.store.TrimRollback(p.id, rf)
	}
	p.ivMu.RUnlock()
	if err != nil {
		return &pb.PushReply{Result: store.Result(err), Message: err.Error()}, nil
	}
	if req.GetSetLog() {
		p.mu.Lock()
		p.loaded = false
		err := p.load()
		p.mu.Unlock()
		if err != nil {
			return &pb.PushReply{Result: store.Result(err), Message: err.Error()}, nil
		}
	}
	return &pb.PushReply{}, nil
}

func (s *service) Ping(ctx context.Context, req *pb.PingRequest) (*pb.PingReply, error) {
	var epoch uint64
	if m := s.o.Map(); m != nil {
		epoch = m.Epoch
	}
	return &pb.PingReply{Epoch: epoch}, nil
}

func (s *service) List(ctx context.Context, req *pb.ListRequest) (*pb.ListReply, error) {
	o := s.o
	p, m, rep := o.primaryPG(ctx, req.GetEpoch(), req.GetPool(), req.GetPs(), "")
	if rep == nil {
		rep = p.waitActive(ctx, m)
	}
	if rep != nil {
		return &pb.ListReply{Result: rep.GetResult(), Message: rep.GetMessage(), RetryEpoch: rep.GetRetryEpoch()}, nil
	}
	max := int(req.GetMax())
	if max <= 0 || max > 10000 {
		max = 1000
	}
	oids, more, err := o.store.List(p.id, req.GetStartAfter(), max)
	if err != nil {
		return &pb.ListReply{Result: store.Result(err), Message: err.Error()}, nil
	}
	return &pb.ListReply{Oids: oids, More: more}, nil
}

func (s *service) Stats(ctx context.Context, req *pb.StatsRequest) (*pb.StatsReply, error) {
	o := s.o
	rep := &pb.StatsReply{StoreUsed: o.store.DiskUsage()}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(o.cfg.DataDir, &fs); err == nil {
		rep.StoreAvail = fs.Bavail * uint64(fs.Bsize)
	}
	for _, p := range o.pgList() {
		if v := p.view(); v.primary != o.cfg.ID || v.state == stateStray || v.state == stateReplica {
			continue
		}
		info, err := o.store.Info(p.id)
		if err != nil {
			return nil, fmt.Errorf("pg %s: %w", p.id, err)
		}
		rep.Pgs = append(rep.Pgs, &pb.PGStat{Pool: p.id.Pool, Ps: p.id.PS, Objects: info.GetObjects(), Bytes: info.GetBytes()})
	}
	return rep, nil
}

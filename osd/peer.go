package osd

import (
	"context"
	"errors"
	"fmt"
	"syscall"

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
	if err := o.store.Apply(p.id, req.GetTxn(), req.GetEntry()); err != nil {
		return &pb.RepOpReply{Result: store.Result(err), Message: err.Error()}, nil
	}
	p.mu.Lock()
	if p.loaded {
		p.remember(req.GetEntry())
	}
	p.mu.Unlock()
	return &pb.RepOpReply{}, nil
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
	p, retry, msg := o.memberPG(ctx, req.GetPool(), req.GetPs(), req.GetInterval(), req.GetEpoch())
	if p == nil {
		return &pb.PullReply{Result: pb.Result_RETRY, Message: msg, RetryEpoch: retry}, nil
	}
	rep := &pb.PullReply{}
	for _, oid := range req.GetOids() {
		t, err := o.store.Export(p.id, oid)
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
	if err := o.store.Install(p.id, req.GetObjects(), req.GetLog(), req.GetLastUpdate(), req.GetSetLog()); err != nil {
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
		if v := p.view(); v.primary != o.cfg.ID || v.state == stateStray {
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

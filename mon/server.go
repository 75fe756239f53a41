package mon

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/internal/transport"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// forwardedFor carries the original caller's entity when a follower
// forwards a call to the leader; the leader honours it only from mon.*.
const forwardedFor = "loligo-forwarded-for"

type service struct {
	pb.UnimplementedMonServer
	mo *Mon
}

// caller returns the entity a call acts for, and whether a monitor
// forwarded it.
func caller(ctx context.Context) (string, bool, error) {
	e, err := transport.Entity(ctx)
	if err != nil {
		return "", false, fmt.Errorf("%w: %v", ErrDenied, err)
	}
	if strings.HasPrefix(e, "mon.") {
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			if v := md.Get(forwardedFor); len(v) == 1 {
				return v[0], true, nil
			}
		}
	}
	return e, false, nil
}

func isAdmin(e string) bool { return e == "client.admin" || strings.HasPrefix(e, "mon.") }

// mayActAsOSD: an OSD may speak only for itself.
func mayActAsOSD(e string, id int32) error {
	if isAdmin(e) || e == "osd."+strconv.Itoa(int(id)) {
		return nil
	}
	return fmt.Errorf("%w: %s may not act for osd.%d", ErrDenied, e, id)
}

// toLeader runs local on the leader, or forwards the call: the follower
// calls the same method on the leader for the original caller.
func toLeader[Rep any](ctx context.Context, mo *Mon, entity string, forwarded bool,
	local func(l *leading) (Rep, error), remote func(c pb.MonClient, ctx context.Context) (Rep, error)) (Rep, error) {
	var zero Rep
	if l := mo.leader.Load(); l != nil {
		return local(l)
	}
	if forwarded {
		return zero, fmt.Errorf("%w: this monitor no longer leads; retry", ErrNotLeader)
	}
	name, addr := mo.leaderName()
	if addr == "" || name == mo.cfg.Name {
		return zero, fmt.Errorf("%w: no leader elected yet; retry in a moment", ErrNotLeader)
	}
	cc, err := mo.peer(addr)
	if err != nil {
		return zero, fmt.Errorf("%w: reaching leader mon.%s at %s: %v", ErrNotLeader, name, addr, err)
	}
	fctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(ctx, forwardedFor, entity), mo.cfg.RequestTimeout)
	defer cancel()
	return remote(pb.NewMonClient(cc), fctx)
}

func (s *service) GetMap(ctx context.Context, req *pb.GetMapRequest) (*pb.GetMapReply, error) {
	if _, _, err := caller(ctx); err != nil {
		return nil, grpcError(err)
	}
	cur, curPB, _ := s.mo.view.latest()
	if cur == nil {
		return nil, grpcError(fmt.Errorf("%w: this monitor has no map yet", ErrNotLeader))
	}
	if req.GetEpoch() == 0 || req.GetEpoch() == cur.Epoch {
		return &pb.GetMapReply{Map: curPB}, nil
	}
	if req.GetEpoch() > cur.Epoch {
		return nil, grpcError(fmt.Errorf("%w: epoch %d is newer than the newest, %d", ErrNotFound, req.GetEpoch(), cur.Epoch))
	}
	m, err := s.mo.st.mapAt(ctx, req.GetEpoch())
	if err != nil {
		return nil, grpcError(err)
	}
	return &pb.GetMapReply{Map: m}, nil
}

// subscribeBatch bounds the incrementals read from etcd at once.
const subscribeBatch = 256

func (s *service) Subscribe(req *pb.SubscribeRequest, stream grpc.ServerStreamingServer[pb.MapUpdate]) error {
	ctx := stream.Context()
	if _, _, err := caller(ctx); err != nil {
		return grpcError(err)
	}
	sent := req.GetFromEpoch()
	for {
		cur, curPB, changed := s.mo.view.latest()
		if cur != nil && sent < cur.Epoch {
			var err error
			if sent, err = s.catchUp(ctx, stream, sent, cur.Epoch, curPB); err != nil {
				return grpcError(err)
			}
			continue
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil
		}
	}
}

// catchUp sends what a subscriber holding epoch sent needs to reach
// newest: the incrementals when all are kept, else the full map.
func (s *service) catchUp(ctx context.Context, stream grpc.ServerStreamingServer[pb.MapUpdate], sent, newest uint64,
	full *pb.OSDMap) (uint64, error) {
	if sent > 0 {
		for sent < newest {
			incs := s.recentIncs(sent+1, newest)
			if len(incs) == 0 {
				var err error
				incs, err = s.mo.st.incrementals(ctx, sent+1, newest, subscribeBatch)
				if err != nil {
					return sent, err
				}
			}
			if len(incs) == 0 {
				break // trimmed: send the full map
			}
			for _, inc := range incs {
				if err := stream.Send(&pb.MapUpdate{Update: &pb.MapUpdate_Incremental{Incremental: inc}}); err != nil {
					return sent, err
				}
				sent = inc.GetEpoch()
			}
		}
		if sent >= newest {
			return sent, nil
		}
	}
	if err := stream.Send(&pb.MapUpdate{Update: &pb.MapUpdate_Full{Full: full}}); err != nil {
		return sent, err
	}
	return full.GetEpoch(), nil
}

// recentIncs returns the contiguous run of incrementals from..to held in
// memory, starting at from.
func (s *service) recentIncs(from, to uint64) []*pb.OSDMapIncremental {
	var out []*pb.OSDMapIncremental
	for e := from; e <= to && len(out) < subscribeBatch; e++ {
		inc := s.mo.view.inc(e)
		if inc == nil {
			break
		}
		out = append(out, inc)
	}
	return out
}

func (s *service) OSDCreate(ctx context.Context, req *pb.OSDCreateRequest) (*pb.OSDCreateReply, error) {
	e, fwd, err := caller(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	if !isAdmin(e) && !strings.HasPrefix(e, "osd.") && e != "client.bootstrap-osd" {
		return nil, grpcError(fmt.Errorf("%w: %s may not create OSDs", ErrDenied, e))
	}
	rep, err := toLeader(ctx, s.mo, e, fwd, func(l *leading) (*pb.OSDCreateReply, error) {
		var id int32
		r := l.propose(ctx, &proposal{fn: func(m *clustermap.Map, _ uint64, _ time.Time) (cmdResult, error) {
			nid, created, err := createOSD(m, req)
			id = nid
			return cmdResult{msg: fmt.Sprintf("osd.%d created=%v", nid, created), id: int64(nid)}, err
		}})
		if r.err != nil {
			return nil, r.err
		}
		return &pb.OSDCreateReply{Id: id, Epoch: r.epoch}, nil
	}, func(c pb.MonClient, ctx context.Context) (*pb.OSDCreateReply, error) { return c.OSDCreate(ctx, req) })
	if err == nil {
		s.mo.view.waitFor(ctx, rep.GetEpoch())
	}
	return rep, grpcError(err)
}

func (s *service) OSDBoot(ctx context.Context, req *pb.OSDBootRequest) (*pb.OSDBootReply, error) {
	e, fwd, err := caller(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	if err := mayActAsOSD(e, req.GetId()); err != nil {
		return nil, grpcError(err)
	}
	rep, err := toLeader(ctx, s.mo, e, fwd, func(l *leading) (*pb.OSDBootReply, error) {
		// A restart takes two epochs: the old instance down, then the new
		// one up (bootOSD); a third round would mean another instance
		// booted meanwhile, and is the caller's to retry.
		var restartedIn uint64
		for round := 0; round < 2; round++ {
			var restarted bool
			r := l.propose(ctx, &proposal{fn: func(m *clustermap.Map, epoch uint64, now time.Time) (cmdResult, error) {
				var err error
				restarted, err = bootOSD(m, req, epoch, now)
				return cmdResult{msg: fmt.Sprintf("osd.%d boot", req.GetId())}, err
			}, onCommit: func(det *detector, now time.Time) {
				if !restarted {
					det.booted(req.GetId(), now)
				}
			}})
			if r.err != nil {
				return nil, r.err
			}
			if restarted {
				restartedIn = r.epoch
				continue
			}
			epoch := r.epoch
			if epoch == 0 { // already up at this address
				cur, _, _ := s.mo.view.latest()
				if cur != nil {
					epoch = cur.Epoch
				}
			} else if restartedIn != 0 {
				s.mo.log.Warn("an OSD restarted before it was marked down: old instance marked down, new one up",
					"osd", req.GetId(), "addr", req.GetAddr(), "down_epoch", restartedIn, "up_epoch", epoch)
			} else {
				s.mo.log.Info("osd booted", "osd", req.GetId(), "addr", req.GetAddr(), "epoch", epoch)
			}
			return &pb.OSDBootReply{Epoch: epoch}, nil
		}
		return nil, fmt.Errorf("%w: osd.%d restarted again while it was booting; retry", ErrBusy, req.GetId())
	}, func(c pb.MonClient, ctx context.Context) (*pb.OSDBootReply, error) { return c.OSDBoot(ctx, req) })
	if err == nil {
		s.mo.view.waitFor(ctx, rep.GetEpoch())
	}
	return rep, grpcError(err)
}

func (s *service) Beacon(ctx context.Context, req *pb.BeaconRequest) (*pb.BeaconReply, error) {
	e, fwd, err := caller(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	if err := mayActAsOSD(e, req.GetId()); err != nil {
		return nil, grpcError(err)
	}
	rep, err := toLeader(ctx, s.mo, e, fwd, func(l *leading) (*pb.BeaconReply, error) {
		var epoch uint64
		cur, _, _ := s.mo.view.latest()
		if cur != nil {
			epoch = cur.Epoch
		}
		if cur == nil || beaconCounts(cur, req.GetId(), req.GetIncarnation()) {
			l.event(osdEvent{id: req.GetId(), fsTotal: req.GetFsTotal(), fsAvail: req.GetFsAvail()})
		}
		return &pb.BeaconReply{Epoch: epoch}, nil
	}, func(c pb.MonClient, ctx context.Context) (*pb.BeaconReply, error) { return c.Beacon(ctx, req) })
	return rep, grpcError(err)
}

func (s *service) FailureReport(ctx context.Context, req *pb.FailureReportRequest) (*pb.FailureReportReply, error) {
	e, fwd, err := caller(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	if err := mayActAsOSD(e, req.GetReporter()); err != nil {
		return nil, grpcError(err)
	}
	if req.GetReporter() == req.GetTarget() {
		return nil, grpcError(fmt.Errorf("%w: an OSD cannot report itself", ErrInvalid))
	}
	rep, err := toLeader(ctx, s.mo, e, fwd, func(l *leading) (*pb.FailureReportReply, error) {
		l.event(osdEvent{id: req.GetTarget(), reporter: req.GetReporter(), report: true, failed: req.GetFailed()})
		return &pb.FailureReportReply{}, nil
	}, func(c pb.MonClient, ctx context.Context) (*pb.FailureReportReply, error) {
		return c.FailureReport(ctx, req)
	})
	return rep, grpcError(err)
}

func (s *service) OSDShutdown(ctx context.Context, req *pb.OSDShutdownRequest) (*pb.OSDShutdownReply, error) {
	e, fwd, err := caller(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	if err := mayActAsOSD(e, req.GetId()); err != nil {
		return nil, grpcError(err)
	}
	rep, err := toLeader(ctx, s.mo, e, fwd, func(l *leading) (*pb.OSDShutdownReply, error) {
		r := l.propose(ctx, &proposal{fn: func(m *clustermap.Map, _ uint64, now time.Time) (cmdResult, error) {
			o, ok := m.OSDs[req.GetId()]
			if !ok {
				return cmdResult{}, fmt.Errorf("%w: osd.%d does not exist", ErrNotFound, req.GetId())
			}
			if o.UUID != req.GetUuid() {
				return cmdResult{}, fmt.Errorf("%w: osd.%d has uuid %s, not %s", ErrDenied, o.ID, o.UUID, req.GetUuid())
			}
			if inc := req.GetIncarnation(); inc != 0 && o.Up && o.Incarnation != inc {
				// A newer instance is up already: this one's goodbye is late.
				return cmdResult{msg: fmt.Sprintf("osd.%d: a newer instance is up", o.ID)}, nil
			}
			reason := req.GetReason()
			if reason == "" {
				reason = "stopped cleanly"
			}
			if !o.Up && req.GetReason() != "" && o.DownReason != reason {
				o.DownReason = reason // it failed while down, or says why now
			}
			markDown(m, []int32{o.ID}, now, reason, nil)
			return cmdResult{msg: fmt.Sprintf("osd.%d marked itself down: %s", o.ID, reason)}, nil
		}})
		if r.err != nil {
			return nil, r.err
		}
		epoch := r.epoch
		if epoch == 0 {
			if cur, _, _ := s.mo.view.latest(); cur != nil {
				epoch = cur.Epoch
			}
		}
		return &pb.OSDShutdownReply{Epoch: epoch}, nil
	}, func(c pb.MonClient, ctx context.Context) (*pb.OSDShutdownReply, error) {
		return c.OSDShutdown(ctx, req)
	})
	return rep, grpcError(err)
}

// event hands a beacon or report to the leader; when the queue is full
// (thousands pending) it is dropped, as a lost datagram would be: the
// next beacon carries the same news.
func (l *leading) event(ev osdEvent) {
	select {
	case l.events <- ev:
	default:
	}
}

func (s *service) Command(ctx context.Context, req *pb.CommandRequest) (*pb.CommandReply, error) {
	e, fwd, err := caller(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	if !isAdmin(e) {
		return nil, grpcError(fmt.Errorf("%w: %s may not change the map (only client.admin)", ErrDenied, e))
	}
	rep, err := toLeader(ctx, s.mo, e, fwd, func(l *leading) (*pb.CommandReply, error) {
		r := l.propose(ctx, &proposal{
			fn: func(m *clustermap.Map, _ uint64, now time.Time) (cmdResult, error) {
				return applyCommand(m, req, s.mo.cfg.Limits, now)
			},
			dryRun: req.GetDryRun(), confirm: true, yes: req.GetYes(),
		})
		if r.err != nil {
			return nil, r.err
		}
		return &pb.CommandReply{Epoch: r.epoch, Message: r.res.msg, Id: r.res.id, Movement: movementToProto(r.mv)}, nil
	}, func(c pb.MonClient, ctx context.Context) (*pb.CommandReply, error) { return c.Command(ctx, req) })
	if err == nil {
		s.mo.view.waitFor(ctx, rep.GetEpoch())
	}
	return rep, grpcError(err)
}

func movementToProto(mv *clustermap.Movement) *pb.Movement {
	if mv == nil {
		return nil
	}
	out := &pb.Movement{Pgs: uint32(mv.PGs), Moved: uint32(mv.Moved), Degraded: uint32(mv.Degraded)}
	sorted := slices.Collect(maps.Keys(mv.Gained))
	for o := range mv.Lost {
		if _, both := mv.Gained[o]; !both {
			sorted = append(sorted, o)
		}
	}
	slices.Sort(sorted)
	for _, o := range sorted {
		out.Osds = append(out.Osds, &pb.OSDMovement{Osd: o, Gained: uint32(mv.Gained[o]), Lost: uint32(mv.Lost[o])})
	}
	return out
}

func (s *service) Status(ctx context.Context, _ *pb.StatusRequest) (*pb.StatusReply, error) {
	if _, _, err := caller(ctx); err != nil {
		return nil, grpcError(err)
	}
	cur, _, _ := s.mo.view.latest()
	if cur == nil {
		return nil, grpcError(fmt.Errorf("%w: this monitor has no map yet", ErrNotLeader))
	}
	rctx, cancel := context.WithTimeout(ctx, s.mo.cfg.RequestTimeout)
	defer cancel()
	mons, err := s.mo.st.mons(rctx)
	if err != nil {
		return nil, grpcError(err)
	}
	leader, _ := s.mo.leaderName()
	if s.mo.IsLeader() {
		leader = s.mo.cfg.Name // the observer may not have seen it yet
	}
	dump, reports, err := s.mo.pgDump(rctx, cur, 0)
	if err != nil {
		return nil, grpcError(err)
	}
	health, checks := computeHealth(cur, mons, dump)
	rep := &pb.StatusReply{Fsid: cur.FSID, Epoch: cur.Epoch, Leader: leader, Checks: checks, Health: health,
		Pgs: summarizePGs(cur, dump.GetPgs(), reports, time.Unix(0, dump.GetNowNs()), s.mo.cfg.PGStaleAfter)}
	for _, m := range mons {
		rep.Mons = append(rep.Mons, &pb.MonInfo{Name: m.name, Addr: m.addr, Alive: m.alive, Leader: m.name == leader})
	}
	return rep, nil
}

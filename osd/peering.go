package osd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/loligo/loligo/clustermap"
	pgplan "github.com/loligo/loligo/osd/pg"
	"github.com/loligo/loligo/osd/store"
	pb "github.com/loligo/loligo/proto/loligopb"
	"google.golang.org/protobuf/proto"
)

// Peering, the OSD's side. On a new interval (or after a failed
// replication) the acting primary:
//  1. asks the monitor which interval the PG was last active in;
//  2. queries every OSD of up, acting and that interval (each first
//     catches up to this map, so it stops taking writes of older
//     intervals before it answers);
//  3. lets osd/pg decide: the authority, what every member lacks, and
//     whether to activate, ask for a pg_temp, or wait (incomplete);
//  4. on activation, takes the authority's log (pulling the objects it
//     lacks itself), cuts divergent entries off the members' logs,
//     resets backfill targets, records the interval with the monitor,
//     and serves; recovery and backfill run in the background.

// peerPG runs peering for generation gen until it settles or the PG
// moves on.
func (o *OSD) peerPG(ctx context.Context, p *pg, gen uint64, m *clustermap.Map) {
	for ctx.Err() == nil {
		if err := p.waitDrained(ctx); err != nil {
			return
		}
		v := p.view()
		if v.gen != gen {
			return
		}
		retry, err := o.peerOnce(ctx, p, v, m)
		if err == nil && !retry {
			return
		}
		if err != nil {
			o.log.Info("peering failed; retrying", "pg", p.id.String(), "err", err)
			p.mu.Lock()
			if p.gen == gen {
				p.blockedBy = err.Error()
			}
			p.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-o.cfg.Clock.After(o.cfg.SyncRetry):
		}
		if nm := o.Map(); nm != nil && nm.Epoch > m.Epoch {
			m = nm
		}
	}
}

// peerOnce runs one round; retry asks for another round after a pause.
func (o *OSD) peerOnce(ctx context.Context, p *pg, v view, m *clustermap.Map) (retry bool, err error) {
	pool, err := m.Pool(p.id.Pool)
	if err != nil {
		return false, nil // the pool is gone; the next map makes it a stray
	}
	hist, err := o.pgHistory(ctx, p.id)
	if err != nil {
		return false, fmt.Errorf("reading the PG's history from the monitor: %w", err)
	}
	in := pgplan.Input{
		Self: o.cfg.ID, Up: v.up, Acting: v.acting, Size: int(pool.Size), MinSize: int(pool.MinSize),
		IsUp: m.IsUp, LastActive: hist, Peers: map[int32]pgplan.Peer{},
	}
	if v.code != nil {
		in.Up, in.Acting, in.K = v.upPos, v.actingPos, v.code.K()
	}
	var plan pgplan.Plan
	for round := 0; ; round++ {
		plan = pgplan.Decide(in)
		if plan.Outcome != pgplan.Probe {
			break
		}
		if round > 3 {
			return false, fmt.Errorf("peering did not settle after %d rounds of queries", round)
		}
		answers, errs := o.queryAll(ctx, m, p.id, plan.Probe)
		if len(errs) > 0 {
			return false, errors.Join(errs...)
		}
		for id, a := range answers {
			in.Peers[id] = a
		}
	}
	if p.view().gen != v.gen {
		return false, nil
	}
	switch plan.Outcome {
	case pgplan.Stray:
		return false, nil
	case pgplan.Incomplete:
		p.mu.Lock()
		if p.gen == v.gen {
			p.setState(stateIncomplete)
			p.blockedBy = plan.Why
			p.wake()
		}
		p.mu.Unlock()
		o.log.Warn("pg incomplete", "pg", p.id.String(), "why", plan.Why)
		o.kickStats()
		return false, nil
	case pgplan.WantTemp:
		p.mu.Lock()
		if p.gen == v.gen {
			p.blockedBy = "waiting for pg_temp: " + plan.Why
		}
		changed := p.stateCh
		p.mu.Unlock()
		o.log.Info("pg asks for pg_temp", "pg", p.id.String(), "temp", plan.Temp, "why", plan.Why)
		if err := o.requestTemp(ctx, m, p.id, plan.Temp); err != nil {
			return false, err
		}
		// The new map starts a new interval (and this round ends with
		// it); if it does not come, ask again.
		select {
		case <-ctx.Done():
		case <-changed:
		case <-o.cfg.Clock.After(5 * o.cfg.SyncRetry):
		}
		return p.view().gen == v.gen, nil
	}
	return false, o.activate(ctx, p, v, m, in, plan)
}

// queryAll asks each OSD for its info and log of the PG, in parallel.
func (o *OSD) queryAll(ctx context.Context, m *clustermap.Map, id store.PGID, osds []int32) (map[int32]pgplan.Peer, []error) {
	var mu sync.Mutex
	out := map[int32]pgplan.Peer{}
	var errs []error
	var wg sync.WaitGroup
	for _, osd := range osds {
		wg.Go(func() {
			var rep *pb.QueryReply
			var err error
			if osd == o.cfg.ID {
				rep = o.queryLocal(id)
			} else {
				var cl pb.OSDClient
				if cl, err = o.peerOf(m, osd); err == nil {
					cctx, cancel := context.WithTimeout(ctx, o.cfg.PeerTimeout)
					rep, err = cl.Query(cctx, &pb.QueryRequest{Pool: id.Pool, Ps: id.PS, Epoch: m.Epoch})
					cancel()
				}
			}
			if err == nil && rep.GetResult() != pb.Result_OK {
				err = fmt.Errorf("%s: %s", rep.GetResult(), rep.GetMessage())
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("querying osd.%d: %w", osd, err))
				return
			}
			out[osd] = pgplan.Peer{Exists: rep.GetExists(), Info: rep.GetInfo(), Log: rep.GetLog()}
		})
	}
	wg.Wait()
	return out, errs
}

// queryLocal answers a Query from this OSD's store.
func (o *OSD) queryLocal(id store.PGID) *pb.QueryReply {
	exists, err := o.store.HasPG(id)
	if err != nil {
		return &pb.QueryReply{Result: store.Result(err), Message: err.Error()}
	}
	info, err := o.store.Info(id)
	if err != nil {
		return &pb.QueryReply{Result: store.Result(err), Message: err.Error()}
	}
	log, err := o.store.Log(id)
	if err != nil {
		return &pb.QueryReply{Result: store.Result(err), Message: err.Error()}
	}
	return &pb.QueryReply{Exists: exists, Info: info, Log: log}
}

// activate carries out an Activate plan.
func (o *OSD) activate(ctx context.Context, p *pg, v view, m *clustermap.Map, in pgplan.Input, plan pgplan.Plan) error {
	self := plan.Acting[0]
	if v.code != nil {
		// An erasure-coded primary first undoes its writes the authority
		// lacks; the shards it then misses are rebuilt by recovery (a
		// client op rebuilds the one it touches first).
		if self.Rollback {
			// No common entry (nil): every write it logged is undone.
			to := self.Common
			if to == nil {
				to = &pb.Eversion{}
			}
			if err := o.store.RollbackTo(p.id, to); err != nil {
				return fmt.Errorf("rolling back to %v: %w", to, err)
			}
		}
	}
	// 1. The primary takes the authority's objects and log.
	if v.code == nil && plan.Auth != o.cfg.ID && (self.Role != pgplan.Complete) {
		if len(self.Missing) > 0 {
			o.log.Info("pg primary pulls what it lacks", "pg", p.id.String(), "from", plan.Auth, "objects", len(self.Missing))
			if err := o.pullFrom(ctx, m, p, v, plan.Auth, self.Missing); err != nil {
				return fmt.Errorf("pulling from the authority osd.%d: %w", plan.Auth, err)
			}
		}
	}
	selfPeer := in.Peers[o.cfg.ID]
	switch {
	case v.code != nil && len(self.Missing) > 0:
		// An erasure-coded primary lacking shards stays marked incomplete
		// until recovery has rebuilt them (completeSelf).
		if err := o.store.ResetLog(p.id, plan.AuthLog, plan.AuthInfo.GetLastUpdate(), true); err != nil {
			return fmt.Errorf("installing the authority's log: %w", err)
		}
	case plan.Auth != o.cfg.ID || self.Divergent > 0 || !selfPeer.Exists || selfPeer.Info.GetIncomplete():
		if err := o.store.Install(p.id, nil, plan.AuthLog, plan.AuthInfo.GetLastUpdate(), true); err != nil {
			return fmt.Errorf("installing the authority's log: %w", err)
		}
	}
	if v.code != nil {
		if err := o.store.SetShard(p.id, self.Shard); err != nil {
			return err
		}
	}
	// 2. Members: cut divergent entries off their logs, reset backfill
	// targets (a backfill target's log is empty until it completes).
	members := map[int32]*member{}
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, pm := range append(slices.Clone(plan.Acting[1:]), plan.Backfill...) {
		mem := &member{id: pm.OSD, acting: slices.Contains(v.acting, pm.OSD)}
		members[pm.OSD] = mem
		peer := in.Peers[pm.OSD]
		var push *pb.PushRequest
		switch pm.Role {
		case pgplan.Complete:
			if !peer.Exists {
				// A member that never held the PG gets an info, so a
				// later peering knows it as a copy.
				push = &pb.PushRequest{Log: plan.AuthLog, LastUpdate: plan.AuthInfo.GetLastUpdate(), SetLog: true}
			}
		case pgplan.LogRecovery:
			mem.catchingUp = true
			mem.missing = map[string]bool{}
			for _, oid := range pm.Missing {
				mem.missing[oid] = true
			}
			mem.objectsLeft = uint64(len(pm.Missing))
			mem.prune = peer.Info.GetIncomplete() && v.code == nil
			// Its log is cut back to the last entry it shares with the
			// authority, and it is marked incomplete until recovery
			// hands it the authority's log.
			var keep []*pb.LogEntry
			for _, e := range peer.Log {
				if pgplan.EvCompare(e.GetVersion(), pm.Common) <= 0 {
					keep = append(keep, e)
				}
			}
			push = &pb.PushRequest{Log: keep, LastUpdate: pm.Common, SetLog: true, Incomplete: true}
		case pgplan.Backfill:
			mem.backfill, mem.catchingUp = true, true
			mem.objectsLeft = plan.AuthInfo.GetObjects()
			push = &pb.PushRequest{SetLog: true, Incomplete: true}
		}
		if v.code != nil {
			// Erasure-coded members: undo what the authority lacks, and
			// record which shard each holds.
			if push == nil {
				push = &pb.PushRequest{}
			}
			if pm.Rollback {
				push.RollbackTo = pm.Common
				if push.RollbackTo == nil {
					push.RollbackTo = &pb.Eversion{}
				}
			}
			push.Shard = proto.Int32(pm.Shard)
			push.RollForwardTo = plan.AuthInfo.GetLastUpdate()
		}
		if push == nil {
			continue
		}
		push.Pool, push.Ps, push.Interval, push.Epoch = p.id.Pool, p.id.PS, v.interval, v.epoch
		wg.Go(func() {
			if err := o.push(ctx, m, pm.OSD, push); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("resetting the log of osd.%d: %w", pm.OSD, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// 3. Record the interval with the monitor before serving in it.
	if plan.Serve {
		ok, monEpoch, err := o.recordActive(ctx, p.id, v, m)
		if err != nil {
			return fmt.Errorf("recording the active interval: %w", err)
		}
		if !ok {
			// The monitor's map has moved this PG on: wait for that map,
			// which ends this round with a new interval. If the PG is
			// still in this one then (a map that moved it back, say a
			// pg_temp set and cleared), peering retries: no new round
			// would start on its own.
			o.mapAtLeast(ctx, monEpoch)
			if p.view().gen != v.gen {
				return nil
			}
			return fmt.Errorf("the monitor refused to record interval %x at epoch %d (its map is at %d)", v.interval, m.Epoch, monEpoch)
		}
	}
	p.mu.Lock()
	if p.gen != v.gen {
		p.mu.Unlock()
		return nil
	}
	p.loaded = false
	if err := p.load(); err != nil {
		p.mu.Unlock()
		return err
	}
	p.members = members
	if v.code != nil {
		p.selfMissing = map[string]bool{}
		for _, oid := range self.Missing {
			p.selfMissing[oid] = true
		}
		p.rollForward = plan.AuthInfo.GetLastUpdate()
		p.trimmedTo = nil
		if rf := p.trimDue(p.rollForward); rf != nil {
			o.trimRollback(p, rf)
		}
	}
	p.serve = plan.Serve
	p.blockedBy = ""
	if !plan.Serve {
		p.blockedBy = plan.Why
	}
	p.probed = nil
	for id, a := range in.Peers {
		if a.Exists {
			p.probed = append(p.probed, id)
		}
	}
	p.setState(stateActive)
	p.wake()
	p.mu.Unlock()
	o.log.Debug("pg active", "pg", p.id.String(), "acting", v.acting, "up", v.up, "auth", plan.Auth, "serve", plan.Serve)
	o.kickStats()
	gen := v.gen
	o.goBackground(func(ctx context.Context) { o.recoverPG(ctx, p, gen) })
	return nil
}

// push sends one Push to a member.
func (o *OSD) push(ctx context.Context, m *clustermap.Map, id int32, req *pb.PushRequest) error {
	cl, err := o.peerOf(m, id)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, o.cfg.PeerTimeout)
	defer cancel()
	rep, err := cl.Push(cctx, req)
	if err != nil {
		return err
	}
	if rep.GetResult() != pb.Result_OK {
		return fmt.Errorf("%s: %s", rep.GetResult(), rep.GetMessage())
	}
	return nil
}

// pgHistory asks the monitor for the PG's last active interval.
func (o *OSD) pgHistory(ctx context.Context, id store.PGID) (*pb.ActiveInterval, error) {
	rep, err := monCall(ctx, o, func(ctx context.Context, c pb.MonClient) (*pb.PGHistoryReply, error) {
		return c.PGHistory(ctx, &pb.PGHistoryRequest{Pgs: []*pb.PGRef{{Pool: id.Pool, Seed: id.PS}}})
	})
	if err != nil {
		return nil, err
	}
	if len(rep.GetLastActive()) != 1 {
		return nil, fmt.Errorf("the monitor answered %d histories for one PG", len(rep.GetLastActive()))
	}
	return rep.GetLastActive()[0], nil
}

// recordActive records the interval the PG activates in; false means the
// monitor's map (at monEpoch) has moved on.
func (o *OSD) recordActive(ctx context.Context, id store.PGID, v view, m *clustermap.Map) (ok bool, monEpoch uint64, err error) {
	rep, err := monCall(ctx, o, func(ctx context.Context, c pb.MonClient) (*pb.PGActivateReply, error) {
		return c.PGActivate(ctx, &pb.PGActivateRequest{Osd: o.cfg.ID, Intervals: []*pb.ActiveInterval{{
			Pool: id.Pool, Seed: id.PS, Interval: v.interval, Epoch: m.Epoch, Acting: v.acting, Primary: v.primary,
		}}})
	})
	if err != nil {
		return false, 0, err
	}
	return len(rep.GetAccepted()) == 1 && rep.GetAccepted()[0], rep.GetEpoch(), nil
}

// requestTemp asks the monitor for a pg_temp (empty: clear it).
func (o *OSD) requestTemp(ctx context.Context, m *clustermap.Map, id store.PGID, temp []int32) error {
	_, err := monCall(ctx, o, func(ctx context.Context, c pb.MonClient) (*pb.PGTempReply, error) {
		return c.PGTemp(ctx, &pb.PGTempRequest{Osd: o.cfg.ID, Epoch: m.Epoch, PgTemp: []*pb.PGTemp{{Pool: id.Pool, Seed: id.PS, Osds: temp}}})
	})
	if err != nil {
		return fmt.Errorf("asking the monitor for pg_temp %v: %w", temp, err)
	}
	return nil
}

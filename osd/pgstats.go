package osd

import (
	"context"
	"slices"
	"strings"
	"time"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// stat describes the PG as Ceph names PG states: "active+clean",
// "active+undersized+degraded+recovering", "peering", "incomplete", ...
// Only the primary's view is complete; other roles say "replica" or
// "stray".
func (p *pg) stat() *pb.PGStatEntry {
	// The store's counts, read before taking p.mu (no I/O under it); a
	// failed read leaves them zero.
	info, _ := p.o.store.Info(p.id)
	p.mu.Lock()
	defer p.mu.Unlock()
	e := &pb.PGStatEntry{
		Objects: info.GetObjects(), Bytes: info.GetBytes(),
		LastUpdateEpoch: info.GetLastUpdate().GetEpoch(), LastUpdateVersion: info.GetLastUpdate().GetVersion(),
		Pool: p.id.Pool, Seed: p.id.PS, Up: slices.Clone(p.up), Acting: slices.Clone(p.acting), Primary: p.primary,
		IntervalEpoch: p.epoch, StateSinceNs: p.since.UnixNano(), BlockedBy: p.blockedBy,
		RecoveredBytes: p.recoveredBytes, RecoveredObjects: p.recoveredObjects,
		LastScrubNs: unixNanoOr0(p.scrub.last), LastDeepScrubNs: unixNanoOr0(p.scrub.lastDeep),
		ScrubErrors: p.scrub.errors, ScrubFailed: p.scrub.failed,
	}
	for _, inc := range p.scrub.inconsistent {
		e.Inconsistent = append(e.Inconsistent, &pb.InconsistentObject{Oid: inc.GetOid(), Errors: inc.GetErrors()})
	}
	var parts []string
	remapped := !slices.Equal(p.up, p.acting)
	switch p.state {
	case stateStray:
		e.State = "stray"
		return e
	case stateReplica:
		e.State = "replica"
		return e
	case statePeering:
		parts = append(parts, "peering")
	case stateIncomplete:
		parts = append(parts, "incomplete")
	case stateActive:
		if p.serve {
			parts = append(parts, "active")
		} else {
			parts = append(parts, "peered")
		}
	}
	if p.state == stateActive {
		var degraded, misplaced uint64
		backfillWait, tooFull := false, false
		for _, mem := range p.members {
			switch {
			case mem.backfill && !mem.done:
				misplaced += mem.objectsLeft
				if !mem.copied && mem.cursor == "" {
					backfillWait = true
				}
				tooFull = tooFull || mem.toofull
			case mem.catchingUp:
				degraded += mem.objectsLeft
			}
		}
		if n := len(p.acting); n < p.size {
			degraded += uint64(p.size-n) * info.GetObjects()
		}
		e.DegradedObjects, e.MisplacedObjects = degraded, misplaced
		e.RecoveryBytesLeft = (degraded + misplaced) * avgSize(info)
		// Clean as Ceph means it: size copies, none missing or
		// misplaced; a pg_temp that keeps a complete OSD acting (an out
		// OSD no CRUSH choice replaces) is clean+remapped.
		clean := degraded == 0 && misplaced == 0 && len(p.acting) == p.size && p.serve
		if clean {
			parts = append(parts, "clean")
		}
		if len(p.acting) < p.size {
			parts = append(parts, "undersized")
		}
		if degraded > 0 {
			parts = append(parts, "degraded")
		}
		if remapped {
			parts = append(parts, "remapped")
		}
		if p.recovering {
			parts = append(parts, "recovering")
		}
		if p.backfilling {
			switch {
			case tooFull:
				parts = append(parts, "backfill_toofull")
			case backfillWait:
				parts = append(parts, "backfill_wait")
			default:
				parts = append(parts, "backfilling")
			}
		}
		if p.scrub.errors > 0 {
			parts = append(parts, "inconsistent")
		}
		if p.scrub.running {
			parts = append(parts, "scrubbing")
			if p.scrub.deep {
				parts = append(parts, "deep")
			}
		}
	} else if remapped {
		parts = append(parts, "remapped")
	}
	e.State = strings.Join(parts, "+")
	return e
}

// kickStats asks for a report soon.
func (o *OSD) kickStats() {
	select {
	case o.statsKick <- struct{}{}:
	default:
	}
}

// reportStats sends the monitor a report of the PGs this OSD leads every
// StatsInterval, and soon after a state change.
func (o *OSD) reportStats(ctx context.Context) {
	t := o.cfg.Clock.NewTicker(o.cfg.StatsInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		case <-o.statsKick:
			// Coalesce a burst of changes.
			select {
			case <-ctx.Done():
				return
			case <-o.cfg.Clock.After(200 * time.Millisecond):
			}
		}
		o.sendStats(ctx)
	}
}

func (o *OSD) sendStats(ctx context.Context) {
	m := o.Map()
	if m == nil {
		return
	}
	req := &pb.PGStatsRequest{Osd: o.cfg.ID, Epoch: m.Epoch}
	for _, p := range o.pgList() {
		v := p.view()
		if v.primary != o.cfg.ID || v.state == stateStray || v.state == stateReplica {
			continue
		}
		req.Pgs = append(req.Pgs, p.stat())
	}
	cctx, cancel := context.WithTimeout(ctx, o.cfg.MonTimeout)
	defer cancel()
	if _, err := monCall(cctx, o, func(ctx context.Context, c pb.MonClient) (*pb.PGStatsReply, error) {
		return c.PGStats(ctx, req)
	}); err != nil && ctx.Err() == nil {
		o.log.Debug("pg stats not reported", "err", err)
	}
}

func avgSize(info *pb.PGInfo) uint64 {
	if info.GetObjects() == 0 {
		return 0
	}
	return info.GetBytes() / info.GetObjects()
}

func unixNanoOr0(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

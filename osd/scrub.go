package osd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/loligo/loligo/clustermap"
	pgplan "github.com/loligo/loligo/osd/pg"
	"github.com/loligo/loligo/osd/store"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// Scrub. The primary of a clean PG compares every acting member's copy
// of each object: presence, version, size and xattrs (shallow), and the
// data and omap digests after reading every byte and checking every
// chunk's checksum (deep). An object that differs is looked at again
// under its lock, so a write racing the scrub is not an inconsistency.
// What remains is reported (state inconsistent, health SCRUB_ERRORS and
// PG_INCONSISTENT); repair copies the authoritative copy over the bad
// ones. The authority is the newest copy that reads without error,
// preferring the primary's.

// scrubState is a PG's scrub record (primary only); guarded by pg.mu.
type scrubState struct {
	last, lastDeep time.Time
	// next is when the schedule scrubs next (zero: not planned yet).
	next, nextDeep time.Time
	errors         uint64
	inconsistent   []*pb.ScrubInconsistency
	// failed says why the last scrub did not finish ("" when it did): a
	// scrub that did not finish reports nothing as clean.
	failed        string
	running, deep bool
	// requested: 0 none, else what an admin asked for.
	requested pb.PGCmd
	// pending is closed when the next scrub to start ends: an admin who
	// waits registers on it, so a scrub already running does not answer
	// for a request made after it began.
	pending chan struct{}
}

// maxInconsistent bounds the objects a PG remembers from a scrub.
const maxInconsistent = 100

// scrubPage is how many objects one scrub round compares.
const scrubPage = 32

// scrubTick starts a due or requested scrub, one at a time per OSD (as
// Ceph's osd_max_scrubs = 1); it runs every second.
func (o *OSD) scrubTick(ctx context.Context) {
	shallowIv, deepIv := o.scrubIntervals()
	now := o.cfg.Clock.Now()
	var pick *pg
	var kind pb.PGCmd
	for _, p := range o.pgList() {
		p.mu.Lock()
		busy := p.state != stateActive || !p.serve || p.primary != o.cfg.ID
		for _, mem := range p.members {
			busy = busy || mem.catchingUp
		}
		if busy {
			// Scrub waits for recovery, requested or not.
			p.mu.Unlock()
			continue
		}
		s := &p.scrub
		// Stagger: a PG never scrubbed is first due at a random point
		// of its interval.
		if s.next.IsZero() && shallowIv > 0 {
			s.next = now.Add(time.Duration(rand.Int64N(int64(shallowIv)) + 1))
		}
		if s.nextDeep.IsZero() && deepIv > 0 {
			s.nextDeep = now.Add(time.Duration(rand.Int64N(int64(deepIv)) + 1))
		}
		k := s.requested
		if k == 0 && deepIv > 0 && !now.Before(s.nextDeep) {
			k = pb.PGCmd_PG_CMD_DEEP_SCRUB
		}
		if k == 0 && shallowIv > 0 && !now.Before(s.next) {
			k = pb.PGCmd_PG_CMD_SCRUB
		}
		requested := s.requested != 0
		p.mu.Unlock()
		// Admin requests go before the schedule.
		if k != 0 && (pick == nil || requested) {
			pick, kind = p, k
			if requested {
				break
			}
		}
	}
	if pick != nil {
		if err := o.scrubPG(ctx, pick, kind); err != nil && ctx.Err() == nil {
			o.log.Info("scrub did not finish", "pg", pick.id.String(), "err", err)
		}
	}
}

// scrubPG scrubs (and with PG_CMD_REPAIR repairs) one PG now.
func (o *OSD) scrubPG(ctx context.Context, p *pg, kind pb.PGCmd) error {
	deep := kind != pb.PGCmd_PG_CMD_SCRUB
	repair := kind == pb.PGCmd_PG_CMD_REPAIR
	p.mu.Lock()
	v := p.viewLocked()
	clean := v.serving() && v.primary == o.cfg.ID
	for _, mem := range p.members {
		clean = clean && !mem.catchingUp
	}
	if !clean {
		// The request stays pending: the scheduler tries again once the
		// PG is clean.
		p.mu.Unlock()
		return fmt.Errorf("pg %s is not active and clean; scrub waits for recovery", p.id)
	}
	done := p.scrub.pending
	if done == nil {
		done = make(chan struct{})
	}
	p.scrub.pending = nil
	p.scrub.requested = 0
	p.scrub.running, p.scrub.deep = true, deep
	p.mu.Unlock()
	o.kickStats()
	start := o.cfg.Clock.Now()
	found, err := o.scrubCompare(ctx, p, v, deep)
	if err == nil && repair && len(found) > 0 {
		var still []*pb.ScrubInconsistency
		for _, inc := range found {
			if rerr := o.repairFrom(ctx, p, v, inc); rerr != nil {
				inc.Errors = append(inc.Errors, "repair failed: "+rerr.Error())
				still = append(still, inc)
				continue
			}
			o.log.Warn("scrub repaired an object", "pg", p.id.String(), "oid", inc.GetOid(), "from", inc.GetAuthOsd(), "bad", inc.GetBadOsds())
		}
		found = still
	}
	shallowIv, deepIv := o.scrubIntervals()
	p.mu.Lock()
	p.scrub.running = false
	p.scrub.failed = ""
	if err != nil && ctx.Err() == nil {
		p.scrub.failed = fmt.Sprintf("%s started %s did not finish: %v", cmdName(kind), start.UTC().Format(time.RFC3339), err)
	}
	if err == nil {
		p.scrub.last = start
		if shallowIv > 0 {
			p.scrub.next = start.Add(shallowIv)
		}
		if deep {
			p.scrub.lastDeep = start
			if deepIv > 0 {
				p.scrub.nextDeep = start.Add(deepIv)
			}
		}
		// A shallow scrub cannot clear what only a deep one sees.
		if deep || len(found) > 0 || p.scrub.errors == 0 {
			p.scrub.inconsistent = found
			if len(p.scrub.inconsistent) > maxInconsistent {
				p.scrub.inconsistent = p.scrub.inconsistent[:maxInconsistent]
			}
			p.scrub.errors = uint64(len(found))
		}
	}
	close(done)
	p.mu.Unlock()
	o.kickStats()
	if len(found) > 0 {
		o.log.Error("scrub found inconsistent objects", "pg", p.id.String(), "objects", len(found), "deep", deep)
	}
	return err
}

// scrubCompare lists every member's objects and compares them a page at
// a time.
func (o *OSD) scrubCompare(ctx context.Context, p *pg, v view, deep bool) ([]*pb.ScrubInconsistency, error) {
	m := o.Map()
	// Every name any member holds.
	names := map[string]bool{}
	for _, id := range v.acting {
		after := ""
		for {
			var objs []*pb.ObjectVersion
			var more bool
			if id == o.cfg.ID {
				var err error
				if objs, more, err = o.store.Scan(p.id, after, 10000); err != nil {
					return nil, err
				}
			} else {
				cl, err := o.peerOf(m, id)
				if err != nil {
					return nil, err
				}
				cctx, cancel := context.WithTimeout(ctx, o.cfg.PeerTimeout)
				rep, err := cl.Scan(cctx, &pb.ScanRequest{Pool: p.id.Pool, Ps: p.id.PS, Interval: v.interval, Epoch: v.epoch, StartAfter: after, Max: 10000})
				cancel()
				if err == nil && rep.GetResult() != pb.Result_OK {
					err = fmt.Errorf("%s: %s", rep.GetResult(), rep.GetMessage())
				}
				if err != nil {
					return nil, fmt.Errorf("listing osd.%d: %w", id, err)
				}
				objs, more = rep.GetObjects(), rep.GetMore()
			}
			for _, ov := range objs {
				names[ov.GetOid()] = true
				after = ov.GetOid()
			}
			if !more || len(objs) == 0 {
				break
			}
		}
	}
	all := slices.Sorted(maps.Keys(names))
	var found []*pb.ScrubInconsistency
	for len(all) > 0 {
		n := min(len(all), scrubPage)
		page := all[:n]
		all = all[n:]
		maps, err := o.scrubMaps(ctx, p, v, m, page, deep)
		if err != nil {
			return nil, err
		}
		var suspect []string
		for _, oid := range page {
			if inc := judge(oid, v.acting, o.cfg.ID, maps, deep, v.code != nil); inc != nil {
				suspect = append(suspect, oid)
			}
		}
		// Look again under each object's lock: a write may have raced
		// the first look.
		for _, oid := range suspect {
			unlock := p.lockObject(oid)
			again, err := o.scrubMaps(ctx, p, v, m, []string{oid}, deep)
			unlock()
			if err != nil {
				return nil, err
			}
			if inc := judge(oid, v.acting, o.cfg.ID, again, deep, v.code != nil); inc != nil {
				found = append(found, inc)
			}
		}
	}
	return found, nil
}

// scrubMaps asks every acting member (in parallel) to describe oids.
func (o *OSD) scrubMaps(ctx context.Context, p *pg, v view, m *clustermap.Map, oids []string, deep bool) (map[int32]map[string]*pb.ScrubObject, error) {
	out := map[int32]map[string]*pb.ScrubObject{}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, id := range v.acting {
		wg.Go(func() {
			var objs []*pb.ScrubObject
			var err error
			if id == o.cfg.ID {
				objs, _, err = o.scrubObjects(p.id, v.code, "", 0, oids, deep)
			} else {
				var cl pb.OSDClient
				if cl, err = o.peerOf(m, id); err == nil {
					cctx, cancel := context.WithTimeout(ctx, o.cfg.PeerTimeout)
					var rep *pb.ScrubMapReply
					rep, err = cl.ScrubMap(cctx, &pb.ScrubMapRequest{Pool: p.id.Pool, Ps: p.id.PS, Interval: v.interval, Epoch: v.epoch, Oids: oids, Deep: deep})
					cancel()
					if err == nil && rep.GetResult() != pb.Result_OK {
						err = fmt.Errorf("%s: %s", rep.GetResult(), rep.GetMessage())
					}
					objs = rep.GetObjects()
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("scrub map of osd.%d: %w", id, err))
				return
			}
			byOid := map[string]*pb.ScrubObject{}
			for _, so := range objs {
				byOid[so.GetOid()] = so
			}
			out[id] = byOid
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// judge compares the copies of one object; nil when they agree. The
// shards of an erasure-coded object (ec) hold different data, so their
// data digests are not compared (each shard checks its cells itself).
func judge(oid string, acting []int32, primary int32, maps map[int32]map[string]*pb.ScrubObject, deep, ec bool) *pb.ScrubInconsistency {
	copyOf := func(id int32) *pb.ScrubObject {
		if so := maps[id][oid]; so != nil {
			return so
		}
		return &pb.ScrubObject{Oid: oid, Missing: true}
	}
	// The authority: a present, error-free copy with the newest version,
	// the primary's first.
	auth := int32(-1)
	order := append([]int32{primary}, slices.DeleteFunc(slices.Clone(acting), func(id int32) bool { return id == primary })...)
	for _, id := range order {
		c := copyOf(id)
		if c.GetMissing() || c.GetError() != "" {
			continue
		}
		if auth < 0 || pgplan.EvCompare(copyOf(auth).GetVersion(), c.GetVersion()) < 0 {
			auth = id
		}
	}
	inc := &pb.ScrubInconsistency{Oid: oid, AuthOsd: auth}
	if auth < 0 {
		// Absent everywhere is no object at all; present but unreadable
		// everywhere is damage without a good copy.
		for _, id := range order {
			if c := copyOf(id); !c.GetMissing() {
				inc.BadOsds = append(inc.BadOsds, id)
				inc.Errors = append(inc.Errors, fmt.Sprintf("osd.%d: %s", id, c.GetError()))
			}
		}
		if len(inc.BadOsds) == 0 {
			return nil
		}
		inc.Errors = append(inc.Errors, "no good copy left")
		return inc
	}
	a := copyOf(auth)
	for _, id := range order {
		if id == auth {
			continue
		}
		c := copyOf(id)
		var what []string
		switch {
		case c.GetMissing():
			what = append(what, "missing")
		case c.GetError() != "":
			what = append(what, c.GetError())
		default:
			if pgplan.EvCompare(c.GetVersion(), a.GetVersion()) != 0 {
				what = append(what, fmt.Sprintf("version %d.%d, authoritative %d.%d", c.GetVersion().GetEpoch(), c.GetVersion().GetVersion(), a.GetVersion().GetEpoch(), a.GetVersion().GetVersion()))
			}
			if c.GetSize() != a.GetSize() {
				what = append(what, fmt.Sprintf("size %d, authoritative %d", c.GetSize(), a.GetSize()))
			}
			if c.GetXattrDigest() != a.GetXattrDigest() {
				what = append(what, "xattrs differ")
			}
			if deep && !ec && c.GetDataDigest() != a.GetDataDigest() {
				what = append(what, fmt.Sprintf("data digest %#x, authoritative %#x", c.GetDataDigest(), a.GetDataDigest()))
			}
			if deep && c.GetOmapDigest() != a.GetOmapDigest() {
				what = append(what, "omap differs")
			}
		}
		if len(what) > 0 {
			inc.BadOsds = append(inc.BadOsds, id)
			for _, w := range what {
				inc.Errors = append(inc.Errors, fmt.Sprintf("osd.%d: %s", id, w))
			}
		}
	}
	if len(inc.BadOsds) == 0 {
		return nil
	}
	return inc
}

// repairFrom copies the authoritative copy of an object over the bad
// ones, under the object's lock.
func (o *OSD) repairFrom(ctx context.Context, p *pg, v view, inc *pb.ScrubInconsistency) error {
	if inc.GetAuthOsd() < 0 {
		return errors.New("no good copy to repair from")
	}
	unlock := p.lockObject(inc.GetOid())
	defer unlock()
	if v.code != nil {
		var positions []int
		for _, id := range inc.GetBadOsds() {
			positions = append(positions, v.position(id))
		}
		return o.ecRebuild(ctx, p, v, inc.GetOid(), positions)
	}
	m := o.Map()
	var t *pb.Txn
	var err error
	if inc.GetAuthOsd() == o.cfg.ID {
		t, err = o.exportObject(p.id, inc.GetOid())
	} else {
		t, err = o.pullOne(ctx, m, p, v, inc.GetAuthOsd(), inc.GetOid())
	}
	if err != nil {
		return err
	}
	for _, id := range inc.GetBadOsds() {
		if id == o.cfg.ID {
			err = o.store.Install(p.id, []*pb.Txn{t}, nil, nil, false)
		} else {
			err = o.pushObjects(ctx, m, p, v, id, []*pb.Txn{t})
		}
		if err != nil {
			return fmt.Errorf("repairing osd.%d: %w", id, err)
		}
	}
	return nil
}

func (s *service) ScrubMap(ctx context.Context, req *pb.ScrubMapRequest) (*pb.ScrubMapReply, error) {
	o := s.o
	p, retry, msg := o.memberPG(ctx, req.GetPool(), req.GetPs(), req.GetInterval(), req.GetEpoch())
	if p == nil {
		return &pb.ScrubMapReply{Result: pb.Result_RETRY, Message: msg, RetryEpoch: retry}, nil
	}
	objs, more, err := o.scrubObjects(p.id, p.view().code, req.GetStartAfter(), int(req.GetMax()), req.GetOids(), req.GetDeep())
	if err != nil {
		return &pb.ScrubMapReply{Result: store.Result(err), Message: err.Error()}, nil
	}
	return &pb.ScrubMapReply{Objects: objs, More: more}, nil
}

func (s *service) PGCommand(ctx context.Context, req *pb.PGCommandRequest) (*pb.PGCommandReply, error) {
	o := s.o
	if err := adminOnly(ctx); err != nil {
		return &pb.PGCommandReply{Result: pb.Result_INVALID, Message: err.Error()}, nil
	}
	p, _, rep := o.primaryPG(ctx, req.GetEpoch(), req.GetPool(), req.GetPs(), "")
	if rep == nil {
		if v := p.view(); v.primary != o.cfg.ID || v.state == stateStray || v.state == stateReplica {
			rep = retryReply(v.epoch, "osd.%d is not the primary of pg %s (osd.%d is)", o.cfg.ID, p.id, v.primary)
		}
	}
	if rep != nil {
		return &pb.PGCommandReply{Result: rep.GetResult(), Message: rep.GetMessage(), RetryEpoch: rep.GetRetryEpoch()}, nil
	}
	switch req.GetCmd() {
	case pb.PGCmd_PG_CMD_QUERY:
		b, err := json.MarshalIndent(o.queryJSON(p), "", "  ")
		if err != nil {
			return nil, err
		}
		return &pb.PGCommandReply{Json: string(b)}, nil
	case pb.PGCmd_PG_CMD_LIST_INCONSISTENT:
		p.mu.Lock()
		defer p.mu.Unlock()
		return &pb.PGCommandReply{Inconsistent: p.scrub.inconsistent, ScrubErrors: p.scrub.errors}, nil
	case pb.PGCmd_PG_CMD_SCRUB, pb.PGCmd_PG_CMD_DEEP_SCRUB, pb.PGCmd_PG_CMD_REPAIR:
		p.mu.Lock()
		if p.scrub.requested < req.GetCmd() {
			p.scrub.requested = req.GetCmd()
		}
		if p.scrub.pending == nil {
			p.scrub.pending = make(chan struct{})
		}
		done := p.scrub.pending
		p.mu.Unlock()
		if !req.GetWait() {
			return &pb.PGCommandReply{Message: fmt.Sprintf("instructing pg %s on osd.%d to %s", p.id, o.cfg.ID, cmdName(req.GetCmd()))}, nil
		}
		select {
		case <-done:
		case <-ctx.Done():
			return &pb.PGCommandReply{Result: pb.Result_CANCELED, Message: "gave up waiting: " + ctx.Err().Error()}, nil
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if f := p.scrub.failed; f != "" {
			return &pb.PGCommandReply{Result: pb.Result_IO_ERROR, Message: fmt.Sprintf("pg %s: %s", p.id, f),
				Inconsistent: p.scrub.inconsistent, ScrubErrors: p.scrub.errors}, nil
		}
		return &pb.PGCommandReply{Message: fmt.Sprintf("pg %s: %s done, %d errors", p.id, cmdName(req.GetCmd()), p.scrub.errors),
			Inconsistent: p.scrub.inconsistent, ScrubErrors: p.scrub.errors}, nil
	}
	return &pb.PGCommandReply{Result: pb.Result_INVALID, Message: fmt.Sprintf("unknown pg command %v", req.GetCmd())}, nil
}

func cmdName(c pb.PGCmd) string {
	switch c {
	case pb.PGCmd_PG_CMD_SCRUB:
		return "scrub"
	case pb.PGCmd_PG_CMD_DEEP_SCRUB:
		return "deep-scrub"
	case pb.PGCmd_PG_CMD_REPAIR:
		return "repair"
	}
	return c.String()
}

// queryJSON is `pg query`: the state, the members and recovery.
func (o *OSD) queryJSON(p *pg) map[string]any {
	st := p.stat()
	p.mu.Lock()
	members := []map[string]any{}
	for _, id := range slices.Sorted(maps.Keys(p.members)) {
		mem := p.members[id]
		role := "complete"
		switch {
		case mem.backfill && !mem.done:
			role = "backfill"
		case mem.catchingUp:
			role = "log_recovery"
		}
		members = append(members, map[string]any{"osd": id, "acting": mem.acting, "role": role,
			"missing": len(mem.missing), "backfill_cursor": mem.cursor, "objects_left": mem.objectsLeft})
	}
	p.mu.Unlock()
	info, _ := o.store.Info(p.id)
	return map[string]any{
		"pgid": p.id.String(), "state": st.GetState(), "epoch": st.GetIntervalEpoch(),
		"up": st.GetUp(), "acting": st.GetActing(), "primary": st.GetPrimary(),
		"state_since": time.Unix(0, st.GetStateSinceNs()).UTC().Format(time.RFC3339Nano),
		"blocked_by":  st.GetBlockedBy(),
		"info": map[string]any{"last_update": fmt.Sprintf("%d'%d", info.GetLastUpdate().GetEpoch(), info.GetLastUpdate().GetVersion()),
			"log_tail": fmt.Sprintf("%d'%d", info.GetLogTail().GetEpoch(), info.GetLogTail().GetVersion()),
			"objects":  info.GetObjects(), "bytes": info.GetBytes()},
		"peers":    members,
		"recovery": map[string]any{"degraded_objects": st.GetDegradedObjects(), "misplaced_objects": st.GetMisplacedObjects(), "recovered_bytes": st.GetRecoveredBytes(), "recovered_objects": st.GetRecoveredObjects()},
		"scrub":    map[string]any{"last_scrub_ns": st.GetLastScrubNs(), "last_deep_scrub_ns": st.GetLastDeepScrubNs(), "errors": st.GetScrubErrors(), "failed": st.GetScrubFailed()},
	}
}

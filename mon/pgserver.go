package mon

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/loligo/loligo/clustermap"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// The PG calls of the Mon service. PGTemp and PGActivate run on the
// leader (followers forward them); PGHistory, PGStats and PGDump run on
// any monitor, reading and writing etcd directly.

// activateAttempts bounds how often PGActivate checks again after a map
// commit raced its write.
const activateAttempts = 3

// testHookActivateChecked, if set, runs in PGActivate between the first
// check and its write, so a test can commit a map change in between.
var testHookActivateChecked atomic.Pointer[func()]

// isOSD reports whether e is exactly osd.<id>.
func isOSD(e string, id int32) bool { return e == "osd."+strconv.Itoa(int(id)) }

// mayReadPGs: OSDs and admins may read PG records.
func mayReadPGs(e string) error {
	if isAdmin(e) || strings.HasPrefix(e, "osd.") {
		return nil
	}
	return fmt.Errorf("%w: %s may not read PG state (only osd.* and admins)", ErrDenied, e)
}

// PGTemp sets and clears pg_temp entries, all in one epoch (shared with
// other changes queued on the leader at the same moment). A request that
// changes nothing makes no epoch and answers epoch 0.
func (s *service) PGTemp(ctx context.Context, req *pb.PGTempRequest) (*pb.PGTempReply, error) {
	e, fwd, err := caller(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	if err := mayActAsOSD(e, req.GetOsd()); err != nil {
		return nil, grpcError(err)
	}
	if len(req.GetPgTemp()) == 0 {
		return &pb.PGTempReply{}, nil
	}
	rep, err := toLeader(ctx, s.mo, e, fwd, func(l *leading) (*pb.PGTempReply, error) {
		r := l.propose(ctx, &proposal{fn: func(m *clustermap.Map, _ uint64, _ time.Time) (cmdResult, error) {
			return applyPGTemp(m, req.GetPgTemp())
		}})
		if r.err != nil {
			return nil, r.err
		}
		return &pb.PGTempReply{Epoch: r.epoch}, nil
	}, func(c pb.MonClient, ctx context.Context) (*pb.PGTempReply, error) { return c.PGTemp(ctx, req) })
	if err == nil {
		s.mo.view.waitFor(ctx, rep.GetEpoch())
	}
	return rep, grpcError(err)
}

// PGActivate records the intervals a primary activates its PGs in; see
// Mon.activate.
func (s *service) PGActivate(ctx context.Context, req *pb.PGActivateRequest) (*pb.PGActivateReply, error) {
	e, fwd, err := caller(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	if !isOSD(e, req.GetOsd()) {
		return nil, grpcError(fmt.Errorf("%w: only osd.%d may activate its PGs, not %s", ErrDenied, req.GetOsd(), e))
	}
	seen := make(map[clustermap.PGID]bool, len(req.GetIntervals()))
	for _, ai := range req.GetIntervals() {
		pg := clustermap.PGID{Pool: ai.GetPool(), Seed: ai.GetSeed()}
		if seen[pg] {
			return nil, grpcError(fmt.Errorf("%w: pg %s is activated twice in one request", ErrInvalid, pg))
		}
		seen[pg] = true
	}
	rep, err := toLeader(ctx, s.mo, e, fwd, func(l *leading) (*pb.PGActivateReply, error) {
		rctx, cancel := context.WithTimeout(ctx, s.mo.cfg.RequestTimeout)
		defer cancel()
		return s.mo.activate(rctx, l, req)
	}, func(c pb.MonClient, ctx context.Context) (*pb.PGActivateReply, error) { return c.PGActivate(ctx, req) })
	return rep, grpcError(err)
}

// activate checks each interval of req against the leader's committed
// map and records the accepted ones, in transactions that succeed only
// while the osdmap key is still at the revision of that map: a record
// never lands for an interval a concurrent commit has just replaced.
// When a commit wins the race, every interval not yet recorded is
// checked again on the newer map, up to activateAttempts times in all.
//
// An interval naming an epoch newer than the leader's map waits for that
// map first, so a refusal always comes from a map at least as new as the
// primary's.
func (mo *Mon) activate(ctx context.Context, l *leading, req *pb.PGActivateRequest) (*pb.PGActivateReply, error) {
	var newest uint64
	for _, ai := range req.GetIntervals() {
		newest = max(newest, ai.GetEpoch())
	}
	m, rev, err := l.waitCommitted(ctx, func(m *clustermap.Map, _ int64) bool { return m.Epoch >= newest })
	if err != nil {
		return nil, err
	}
	accepted := make([]bool, len(req.GetIntervals()))
	for attempt := 1; ; attempt++ {
		now := mo.clk.Now()
		var idx []int
		var recs []*pb.ActiveInterval
		for i, ai := range req.GetIntervals() {
			if accepted[i] {
				continue
			}
			if rec, ok := checkActivation(m, req.GetOsd(), ai, now); ok {
				idx, recs = append(idx, i), append(recs, rec)
			}
		}
		if h := testHookActivateChecked.Load(); h != nil && attempt == 1 && len(recs) > 0 {
			(*h)()
		}
		raced := false
		for start := 0; start < len(recs); start += maxTxnOps {
			end := min(start+maxTxnOps, len(recs))
			ok, err := mo.st.recordIntervals(ctx, rev, recs[start:end])
			if err != nil {
				return nil, err
			}
			if !ok {
				raced = true
				break
			}
			for _, i := range idx[start:end] {
				accepted[i] = true
			}
		}
		if !raced {
			return &pb.PGActivateReply{Accepted: accepted, Epoch: m.Epoch}, nil
		}
		if attempt == activateAttempts {
			return nil, fmt.Errorf("%w: the map changed %d times while PG activations were recorded", ErrStale, attempt)
		}
		old := rev
		if m, rev, err = l.waitCommitted(ctx, func(_ *clustermap.Map, rev int64) bool { return rev != old }); err != nil {
			return nil, err
		}
	}
}

// PGHistory returns the last activation record of each requested PG,
// read linearizably from etcd.
func (s *service) PGHistory(ctx context.Context, req *pb.PGHistoryRequest) (*pb.PGHistoryReply, error) {
	e, _, err := caller(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	if err := mayReadPGs(e); err != nil {
		return nil, grpcError(err)
	}
	rctx, cancel := context.WithTimeout(ctx, s.mo.cfg.RequestTimeout)
	defer cancel()
	recs, err := s.mo.st.history(rctx, req.GetPgs())
	if err != nil {
		return nil, grpcError(err)
	}
	return &pb.PGHistoryReply{LastActive: recs}, nil
}

// PGStats stores a primary's report, replacing its previous one, with
// the recovery rate since that one (see newReport).
func (s *service) PGStats(ctx context.Context, req *pb.PGStatsRequest) (*pb.PGStatsReply, error) {
	e, _, err := caller(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	if !isOSD(e, req.GetOsd()) {
		return nil, grpcError(fmt.Errorf("%w: only osd.%d may report its PGs, not %s", ErrDenied, req.GetOsd(), e))
	}
	cur, _, _ := s.mo.view.latest()
	if cur == nil {
		return nil, grpcError(fmt.Errorf("%w: this monitor has no map yet", ErrNotLeader))
	}
	if !cur.Exists(req.GetOsd()) {
		return nil, grpcError(fmt.Errorf("%w: osd.%d does not exist", ErrNotFound, req.GetOsd()))
	}
	rctx, cancel := context.WithTimeout(ctx, s.mo.cfg.RequestTimeout)
	defer cancel()
	prev, err := s.mo.st.pgReport(rctx, req.GetOsd())
	if errors.Is(err, ErrNotLeader) {
		return nil, grpcError(err)
	}
	if err != nil {
		// A report that does not decode is replaced, without a rate.
		s.mo.log.Warn("previous PG report", "osd", req.GetOsd(), "err", err)
		prev = nil
	}
	if err := s.mo.st.putPGReport(rctx, newReport(req, prev, s.mo.clk.Now())); err != nil {
		return nil, grpcError(err)
	}
	return &pb.PGStatsReply{}, nil
}

// PGDump returns one entry per PG of this monitor's newest map (see
// buildDump).
func (s *service) PGDump(ctx context.Context, req *pb.PGDumpRequest) (*pb.PGDumpReply, error) {
	e, _, err := caller(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	if err := mayReadPGs(e); err != nil {
		return nil, grpcError(err)
	}
	cur, _, _ := s.mo.view.latest()
	if cur == nil {
		return nil, grpcError(fmt.Errorf("%w: this monitor has no map yet", ErrNotLeader))
	}
	rctx, cancel := context.WithTimeout(ctx, s.mo.cfg.RequestTimeout)
	defer cancel()
	dump, _, err := s.mo.pgDump(rctx, cur, req.GetPool())
	if err != nil {
		return nil, grpcError(err)
	}
	return dump, nil
}

// pgDump reads the reports and merges them with m into a dump of pool
// (0: all), returning the reports too.
func (mo *Mon) pgDump(ctx context.Context, m *clustermap.Map, pool int64) (*pb.PGDumpReply, []*pgReport, error) {
	reports, bad, err := mo.st.pgReports(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, err := range bad {
		mo.log.Warn("skipping a PG report", "err", err)
	}
	now := mo.clk.Now()
	pgs, err := buildDump(m, reports, pool, now, mo.cfg.PGStaleAfter)
	if err != nil {
		return nil, nil, err
	}
	return &pb.PGDumpReply{Epoch: m.Epoch, NowNs: now.UnixNano(), Pgs: pgs}, reports, nil
}

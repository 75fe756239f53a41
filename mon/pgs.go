package mon

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/loligo/loligo/clustermap"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// The PG logic of the monitor: pg_temp changes, the activation check,
// the merging of the OSDs' reports into one entry per PG, and the PG
// summary. Everything here is pure; pgserver.go and pgstore.go do the
// I/O.

// applyPGTemp sets (an entry with OSDs) or clears (an entry without) the
// pg_temp of each PG in entries, on m, a private copy of the current
// map. Every entry is checked before any is applied: the pool must
// exist, the seed be below pg_num, the PG be named once, and the set
// hold OSDs that exist, each once; erasure pools may have holes
// (clustermap.NoOSD) and at most size positions. A bad entry refuses the
// request with ErrInvalid and leaves m as it was.
func applyPGTemp(m *clustermap.Map, entries []*pb.PGTemp) (cmdResult, error) {
	seen := make(map[clustermap.PGID]bool, len(entries))
	for _, t := range entries {
		pg := clustermap.PGID{Pool: t.GetPool(), Seed: t.GetSeed()}
		p, ok := m.Pools[pg.Pool]
		if !ok {
			return cmdResult{}, fmt.Errorf("%w: pg_temp for pg %s: pool %d does not exist", ErrInvalid, pg, pg.Pool)
		}
		if pg.Seed >= p.PGNum {
			return cmdResult{}, fmt.Errorf("%w: pg_temp for pg %s: pool '%s' has pg_num %d", ErrInvalid, pg, p.Name, p.PGNum)
		}
		if seen[pg] {
			return cmdResult{}, fmt.Errorf("%w: pg_temp names pg %s twice", ErrInvalid, pg)
		}
		seen[pg] = true
		osds := t.GetOsds()
		if !p.CanShiftOSDs() && len(osds) > int(p.Size) {
			return cmdResult{}, fmt.Errorf("%w: pg_temp for pg %s has %d positions, more than the erasure pool's size %d",
				ErrInvalid, pg, len(osds), p.Size)
		}
		for i, o := range osds {
			if o == clustermap.NoOSD && !p.CanShiftOSDs() {
				continue
			}
			if !m.Exists(o) {
				return cmdResult{}, fmt.Errorf("%w: pg_temp for pg %s: osd.%d does not exist", ErrInvalid, pg, o)
			}
			if slices.Contains(osds[:i], o) {
				return cmdResult{}, fmt.Errorf("%w: pg_temp for pg %s names osd.%d twice", ErrInvalid, pg, o)
			}
		}
	}
	set, cleared := 0, 0
	for _, t := range entries {
		pg := clustermap.PGID{Pool: t.GetPool(), Seed: t.GetSeed()}
		if len(t.GetOsds()) == 0 {
			if _, ok := m.PGTemp[pg]; ok {
				delete(m.PGTemp, pg)
				cleared++
			}
			continue
		}
		if m.PGTemp == nil {
			m.PGTemp = map[clustermap.PGID][]int32{}
		}
		if !slices.Equal(m.PGTemp[pg], t.GetOsds()) {
			m.PGTemp[pg] = slices.Clone(t.GetOsds())
			set++
		}
	}
	return cmdResult{msg: fmt.Sprintf("pg_temp: %d set, %d cleared", set, cleared)}, nil
}

// checkActivation decides one activation by osd against m, the
// committed map: it is accepted if the PG exists, ai.Interval is the
// PG's clustermap.IntervalDigest in m, and osd is both ai.Primary and
// the PG's acting primary in m. It returns the record to store: acting
// and primary come from m, epoch from ai (m's epoch if ai has none, so a
// record never has epoch 0), recorded_ns is now.
func checkActivation(m *clustermap.Map, osd int32, ai *pb.ActiveInterval, now time.Time) (*pb.ActiveInterval, bool) {
	p, ok := m.Pools[ai.GetPool()]
	if !ok || ai.GetSeed() >= p.PGNum {
		return nil, false
	}
	pl, err := m.Place(clustermap.PGID{Pool: ai.GetPool(), Seed: ai.GetSeed()})
	if err != nil {
		return nil, false
	}
	if ai.GetPrimary() != osd || pl.ActingPrimary != osd || clustermap.IntervalDigest(m, p, pl) != ai.GetInterval() {
		return nil, false
	}
	epoch := ai.GetEpoch()
	if epoch == 0 {
		epoch = m.Epoch
	}
	return &pb.ActiveInterval{Pool: ai.GetPool(), Seed: ai.GetSeed(), Interval: ai.GetInterval(), Epoch: epoch,
		Acting: slices.Clone(pl.Acting), Primary: pl.ActingPrimary, RecordedNs: now.UnixNano()}, true
}

// pgReport is an OSD's newest PG report as the monitor stores it: the
// request, with each entry's reporter and reported_ns set, when it came,
// and the OSD's recovery rate computed from it and the report before.
type pgReport struct {
	osd        int32
	stats      *pb.PGStatsRequest
	receivedNs int64
	// Bytes and objects recovered per second since the previous report.
	bytesPerSec, objectsPerSec float64
}

// newReport makes the stored form of req, received at now; prev is the
// OSD's previous report (nil: none).
//
// The recovery rate is the growth of recovered_bytes and
// recovered_objects since prev, per second of the monitor's clock. It is
// summed over the PGs that both reports hold, and a PG whose counters
// went down (the OSD restarted, or took the PG again) adds nothing, so
// neither a restart nor a PG arriving with old counters shows as a burst
// of recovery. No previous report, or no time between them: rate 0.
func newReport(req *pb.PGStatsRequest, prev *pgReport, now time.Time) *pgReport {
	st := proto.Clone(req).(*pb.PGStatsRequest)
	for _, e := range st.GetPgs() {
		e.Reporter, e.ReportedNs = req.GetOsd(), now.UnixNano()
	}
	r := &pgReport{osd: req.GetOsd(), stats: st, receivedNs: now.UnixNano()}
	if prev == nil || now.UnixNano() <= prev.receivedNs {
		return r
	}
	before := make(map[clustermap.PGID]*pb.PGStatEntry, len(prev.stats.GetPgs()))
	for _, e := range prev.stats.GetPgs() {
		before[clustermap.PGID{Pool: e.GetPool(), Seed: e.GetSeed()}] = e
	}
	var db, do uint64
	for _, e := range st.GetPgs() {
		b, ok := before[clustermap.PGID{Pool: e.GetPool(), Seed: e.GetSeed()}]
		if !ok {
			continue
		}
		if e.GetRecoveredBytes() >= b.GetRecoveredBytes() && e.GetRecoveredObjects() >= b.GetRecoveredObjects() {
			db += e.GetRecoveredBytes() - b.GetRecoveredBytes()
			do += e.GetRecoveredObjects() - b.GetRecoveredObjects()
		}
	}
	secs := time.Duration(now.UnixNano() - prev.receivedNs).Seconds()
	r.bytesPerSec, r.objectsPerSec = float64(db)/secs, float64(do)/secs
	return r
}

// The stored form of a pgReport, a protobuf message of its own:
//
//	1 bytes   the PGStatsRequest
//	2 fixed64 bytes per second (IEEE 754 bits)
//	3 fixed64 objects per second
//	4 varint  received, Unix nanoseconds
const (
	reportFieldStats     protowire.Number = 1
	reportFieldBytesRate protowire.Number = 2
	reportFieldObjRate   protowire.Number = 3
	reportFieldReceived  protowire.Number = 4
)

func encodeReport(r *pgReport) ([]byte, error) {
	body, err := proto.Marshal(r.stats)
	if err != nil {
		return nil, err
	}
	b := protowire.AppendTag(nil, reportFieldStats, protowire.BytesType)
	b = protowire.AppendBytes(b, body)
	b = protowire.AppendTag(b, reportFieldBytesRate, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, math.Float64bits(r.bytesPerSec))
	b = protowire.AppendTag(b, reportFieldObjRate, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, math.Float64bits(r.objectsPerSec))
	b = protowire.AppendTag(b, reportFieldReceived, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(r.receivedNs))
	return b, nil
}

// decodeReport decodes a stored report of osd; unknown fields are
// skipped, so a newer monitor may add some.
func decodeReport(osd int32, b []byte) (*pgReport, error) {
	r := &pgReport{osd: osd, stats: &pb.PGStatsRequest{}}
	bad := func(what string) error {
		return fmt.Errorf("mon: stored PG report of osd.%d is corrupt: %s", osd, what)
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, bad("tag")
		}
		b = b[n:]
		switch {
		case num == reportFieldStats && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, bad("stats")
			}
			if err := proto.Unmarshal(v, r.stats); err != nil {
				return nil, bad(err.Error())
			}
			b = b[n:]
		case (num == reportFieldBytesRate || num == reportFieldObjRate) && typ == protowire.Fixed64Type:
			v, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return nil, bad("rate")
			}
			if num == reportFieldBytesRate {
				r.bytesPerSec = math.Float64frombits(v)
			} else {
				r.objectsPerSec = math.Float64frombits(v)
			}
			b = b[n:]
		case num == reportFieldReceived && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, bad("time")
			}
			r.receivedNs = int64(v)
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return nil, bad("field " + strconv.Itoa(int(num)))
			}
			b = b[n:]
		}
	}
	return r, nil
}

// stateUnknown is the state of a PG no OSD has reported; statePrefixStale
// marks a report whose reporter is down or silent.
const (
	stateUnknown     = "unknown"
	statePrefixStale = "stale+"
)

// reportStale reports whether what an OSD reported at reportedNs can no
// longer be trusted: the OSD is down (or gone) in m, or it reported
// longer than staleAfter before now (staleAfter <= 0: never by age).
func reportStale(m *clustermap.Map, osd int32, reportedNs int64, now time.Time, staleAfter time.Duration) bool {
	if !m.IsUp(osd) {
		return true
	}
	return staleAfter > 0 && now.Sub(time.Unix(0, reportedNs)) > staleAfter
}

// buildDump merges the OSDs' reports into one entry per PG of m, or of
// pool only if it is not 0 (ErrNotFound if m has no such pool), sorted
// by pool, then seed. Each PG takes the entry its acting primary in m
// reported, if any, else the newest any OSD reported (ties: the lowest
// OSD id). Up, acting and primary always come from m. A PG nobody
// reported is "unknown" with reporter -1; an entry whose reporter is
// down in m or older than staleAfter has "stale+" before its state.
// Entries are copies: the reports are not changed.
func buildDump(m *clustermap.Map, reports []*pgReport, pool int64, now time.Time, staleAfter time.Duration) ([]*pb.PGStatEntry, error) {
	pools := m.PoolIDs()
	if pool != 0 {
		if _, ok := m.Pools[pool]; !ok {
			return nil, fmt.Errorf("%w: pool %d", ErrNotFound, pool)
		}
		pools = []int64{pool}
	}
	byPG := map[clustermap.PGID][]*pb.PGStatEntry{}
	for _, r := range reports {
		for _, e := range r.stats.GetPgs() {
			pg := clustermap.PGID{Pool: e.GetPool(), Seed: e.GetSeed()}
			if p, ok := m.Pools[pg.Pool]; ok && pg.Seed < p.PGNum && (pool == 0 || pg.Pool == pool) {
				byPG[pg] = append(byPG[pg], e)
			}
		}
	}
	var out []*pb.PGStatEntry
	for _, id := range pools {
		for seed := range m.Pools[id].PGNum {
			pg := clustermap.PGID{Pool: id, Seed: seed}
			pl, err := m.Place(pg)
			if err != nil {
				return nil, err
			}
			e := pickEntry(byPG[pg], pl.ActingPrimary)
			if e == nil {
				e = &pb.PGStatEntry{Pool: id, Seed: seed, State: stateUnknown, Reporter: -1}
			} else {
				e = proto.Clone(e).(*pb.PGStatEntry)
				if reportStale(m, e.GetReporter(), e.GetReportedNs(), now, staleAfter) {
					e.State = statePrefixStale + staleState(e.GetState(), m, pl, m.Pools[id].Size)
				}
			}
			e.Up, e.Acting, e.Primary = slices.Clone(pl.Up), slices.Clone(pl.Acting), pl.ActingPrimary
			out = append(out, e)
		}
	}
	return out, nil
}

// staleState is a stale report's state corrected by what the map shows
// now: a report of "active+clean" from an OSD that went down cannot stand
// beside health's count of undersized PGs when the map shows the PG's
// acting set short of up members. The PG is then not clean but
// undersized and degraded (Ceph's words for it).
func staleState(state string, m *clustermap.Map, pl clustermap.Placement, size uint32) string {
	up := 0
	for _, o := range pl.Acting {
		if o != clustermap.NoOSD && m.IsUp(o) {
			up++
		}
	}
	if up >= int(size) {
		return state
	}
	parts := slices.DeleteFunc(strings.Split(state, "+"), func(p string) bool { return p == "clean" })
	for _, add := range []string{"undersized", "degraded"} {
		if !slices.Contains(parts, add) {
			parts = append(parts, add)
		}
	}
	return strings.Join(parts, "+")
}

// pickEntry chooses among the reports of one PG (in reporter order): the
// acting primary's, else the newest.
func pickEntry(cands []*pb.PGStatEntry, primary int32) *pb.PGStatEntry {
	var best *pb.PGStatEntry
	for _, e := range cands {
		if e.GetReporter() == primary {
			return e
		}
		if best == nil || e.GetReportedNs() > best.GetReportedNs() {
			best = e
		}
	}
	return best
}

// summarizePGs condenses a dump of m for status. Objects and bytes are
// the chosen entries' (the primaries'), object_copies is objects times
// the pool's size, and the recovery rate is summed over the reports
// that are not stale.
func summarizePGs(m *clustermap.Map, dump []*pb.PGStatEntry, reports []*pgReport, now time.Time, staleAfter time.Duration) *pb.PGSummary {
	s := &pb.PGSummary{Pgs: uint32(len(dump)), States: map[string]uint32{}}
	for _, e := range dump {
		s.States[e.GetState()]++
		s.Objects += e.GetObjects()
		s.Bytes += e.GetBytes()
		if p, ok := m.Pools[e.GetPool()]; ok {
			s.ObjectCopies += e.GetObjects() * uint64(p.Size)
		}
		s.DegradedObjects += e.GetDegradedObjects()
		s.MisplacedObjects += e.GetMisplacedObjects()
		s.UnfoundObjects += e.GetUnfoundObjects()
		s.RecoveryBytesLeft += e.GetRecoveryBytesLeft()
		s.ScrubErrors += e.GetScrubErrors()
	}
	for _, r := range reports {
		if !reportStale(m, r.osd, r.receivedNs, now, staleAfter) {
			s.RecoveryBytesPerSec += r.bytesPerSec
			s.RecoveryObjectsPerSec += r.objectsPerSec
		}
	}
	return s
}

// stateHas reports whether a "+"-joined PG state has the word w.
func stateHas(state, w string) bool {
	for s := range strings.SplitSeq(state, "+") {
		if s == w {
			return true
		}
	}
	return false
}

// pgIDOf is the PG an entry is about.
func pgIDOf(e *pb.PGStatEntry) clustermap.PGID {
	return clustermap.PGID{Pool: e.GetPool(), Seed: e.GetSeed()}
}

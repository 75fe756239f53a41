package osd

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/osd/ec"
	"github.com/loligo/loligo/osd/store"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// pgState is what a PG on this OSD may do now.
type pgState int

const (
	// stateStray: this OSD is in neither the PG's up nor acting set.
	stateStray pgState = iota
	// stateReplica: a non-primary member (acting, or an up member being
	// backfilled); it takes the primary's peer calls.
	stateReplica
	// statePeering: the primary is finding the authoritative copy and
	// bringing the members to it; ops wait.
	statePeering
	// stateIncomplete: no member of the interval the PG was last active
	// in answers; ops wait for a new map.
	stateIncomplete
	// stateActive: the primary has activated the PG; it serves clients
	// when serve is set (enough complete members), and recovers.
	stateActive
)

func (s pgState) String() string {
	return [...]string{"stray", "replica", "peering", "incomplete", "active"}[s]
}

// reqKey identifies a client request in the dedup table.
type reqKey struct {
	client string
	tid    uint64
}

// pg is one placement group on this OSD.
type pg struct {
	id store.PGID
	o  *OSD

	// ivMu orders interval changes against applies: a peer call that
	// changes data (and the primary's own apply) holds it shared from its
	// interval check to the end of the apply; advance holds it
	// exclusively. So once an OSD has moved to a new interval (as it does
	// before answering a new primary's Query), no write of the old
	// interval lands on it.
	ivMu sync.RWMutex

	mu sync.Mutex
	// The interval: the digest of who serves the PG and since when.
	interval uint64
	epoch    uint64 // map epoch of the interval's first map seen
	up       []int32
	acting   []int32
	primary  int32
	size     int
	minSize  int
	// Erasure-coded pools: the code, and up and acting by position
	// (NoOSD in holes); nil for replicated pools.
	code             *ec.Code
	upPos, actingPos []int32
	state            pgState
	// serve: an active PG has min_size complete members and takes
	// client ops.
	serve     bool
	blockedBy string // why the PG does not serve, in words
	since     time.Time
	gen       uint64        // bumped by every interval change and re-peering
	stateCh   chan struct{} // closed when state changes
	inflight  int           // writes between version assignment and reply
	drained   chan struct{} // closed when inflight drops to 0 (nil when 0)
	// barrier holds new writes back while a member is handed the log.
	barrier bool
	// Erasure-coded pools: pending holds the versions of writes not yet
	// on every shard (failed ones stay until the PG peers again);
	// rollForward is the newest version every older write of which is on
	// every shard (members may forget how to undo those).
	pending     map[uint64]bool
	rollForward *pb.Eversion
	// trimmedTo: the rollback records up to it were dropped (or are
	// being dropped).
	trimmedTo *pb.Eversion
	// selfMissing: objects the primary's own shard lacks (erasure-coded
	// PGs; recovery rebuilds them, a client op first).
	selfMissing map[string]bool

	// The primary's view of the other members (reset each interval):
	// what each lacks and how far its backfill got.
	members map[int32]*member
	// recovering/backfilling: work is running.
	recovering, backfilling          bool
	recoveredBytes, recoveredObjects uint64
	probed                           []int32 // OSDs that answered Query, for purging strays

	scrub scrubState

	loaded bool
	lastV  uint64 // the newest version assigned or seen
	reqs   map[reqKey]*pb.LogEntry
	order  []reqKey // reqs in log order, for trimming

	locks map[string]*objLock
}

// member is the primary's record of another OSD of the PG.
type member struct {
	id int32
	// acting: takes every write; else a backfill target (up, outside
	// acting), which takes writes only for objects the backfill passed.
	acting bool
	// catchingUp: its log is not the authority's yet, so writes reach it
	// unlogged (its last_update keeps saying how far its log goes).
	catchingUp bool
	// missing: objects it lacks at their newest version (log recovery).
	missing map[string]bool
	// prune: its copy was marked incomplete (cut short while being
	// filled), so it may hold objects of missing its log does not show;
	// recovery drops those from missing before copying (pruneMissing).
	prune bool
	// Backfill progress: objects <= cursor are in step (all of them once
	// done); writes to objects past the cursor but within the page being
	// copied are remembered in dirty and copied again.
	backfill bool
	cursor   string
	done     bool
	// copied: the backfill has copied something (before that it waits
	// for throttle slots: backfill_wait).
	copied bool
	// toofull: the backfill waits because the target is backfillfull.
	toofull  bool
	pageEnd  string
	pageLast bool
	dirty    map[string]bool
	// objectsLeft estimates what remains (degraded/misplaced counts).
	objectsLeft uint64
}

type objLock struct {
	mu   sync.Mutex
	refs int
}

// maxReqs bounds the dedup table per PG, as the store bounds the log.
const maxReqs = 3000

func newPG(o *OSD, id store.PGID) *pg {
	return &pg{id: id, o: o, primary: clustermap.NoPrimary, stateCh: make(chan struct{}), locks: map[string]*objLock{}, since: o.cfg.Clock.Now()}
}

func pgOf(id clustermap.PGID) store.PGID { return store.PGID{Pool: id.Pool, PS: id.Seed} }

// advancePGs brings every PG to map m: PGs this OSD serves get their new
// interval, PGs it left become strays.
func (o *OSD) advancePGs(m *clustermap.Map) {
	seen := map[store.PGID]bool{}
	for _, pid := range m.PoolIDs() {
		pool, err := m.Pool(pid)
		if err != nil {
			continue
		}
		var code *ec.Code
		if pool.Type == clustermap.PoolErasure {
			if code, err = o.ecCodeFor(m, pool); err != nil {
				o.log.Error("erasure-coded pool not served", "pool", pool.Name, "err", err)
				continue
			}
		}
		for ps := uint32(0); ps < pool.PGNum; ps++ {
			pl, err := m.Place(clustermap.PGID{Pool: pid, Seed: ps})
			if err != nil || !slices.Contains(pl.Acting, o.cfg.ID) && !slices.Contains(pl.Up, o.cfg.ID) {
				continue
			}
			id := pgOf(pl.PG)
			seen[id] = true
			o.getPG(id, true).advance(m, pool, pl, code)
		}
	}
	o.pgMu.Lock()
	var strays []*pg
	for id, p := range o.pgs {
		if !seen[id] {
			strays = append(strays, p)
		}
	}
	o.pgMu.Unlock()
	for _, p := range strays {
		p.ivMu.Lock()
		p.mu.Lock()
		if p.state != stateStray {
			p.setState(stateStray)
			p.acting, p.up, p.primary, p.interval, p.members = nil, nil, clustermap.NoPrimary, 0, nil
			p.gen++
			p.wake()
		}
		p.mu.Unlock()
		p.ivMu.Unlock()
	}
}

// getPG returns the PG, creating it when create is set (else nil).
func (o *OSD) getPG(id store.PGID, create bool) *pg {
	o.pgMu.Lock()
	defer o.pgMu.Unlock()
	p, ok := o.pgs[id]
	if !ok && create {
		p = newPG(o, id)
		o.pgs[id] = p
	}
	return p
}

// advance starts a new interval when the placement or a member's boot
// changed; an incomplete PG also tries peering again on every new map,
// since a member of its last active interval may have come back.
func (p *pg) advance(m *clustermap.Map, pool *clustermap.Pool, pl clustermap.Placement, code *ec.Code) {
	d := clustermap.IntervalDigest(m, pool, pl)
	p.ivMu.Lock()
	defer p.ivMu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if d == p.interval && p.state != stateStray {
		if p.state == stateIncomplete {
			p.startPeering(m)
		}
		return
	}
	p.interval, p.epoch = d, m.Epoch
	p.acting = slices.DeleteFunc(slices.Clone(pl.Acting), func(id int32) bool { return id == clustermap.NoOSD })
	p.up = slices.DeleteFunc(slices.Clone(pl.Up), func(id int32) bool { return id == clustermap.NoOSD })
	p.primary = pl.ActingPrimary
	p.size, p.minSize = int(pool.Size), int(pool.MinSize)
	p.code, p.upPos, p.actingPos = code, nil, nil
	if code != nil {
		p.upPos, p.actingPos = slices.Clone(pl.Up), slices.Clone(pl.Acting)
	}
	p.pending, p.rollForward, p.selfMissing = nil, nil, nil
	p.members, p.serve, p.blockedBy = nil, false, ""
	p.recovering, p.backfilling = false, false
	p.recoveredBytes, p.recoveredObjects = 0, 0
	if p.primary == p.o.cfg.ID {
		p.startPeering(m)
	} else {
		p.gen++
		p.setState(stateReplica)
		p.wake()
	}
}

// startPeering (re)starts peering in the current interval; p.mu is held.
func (p *pg) startPeering(m *clustermap.Map) {
	p.gen++
	p.serve = false
	p.setState(statePeering)
	gen := p.gen
	p.o.goBackground(func(ctx context.Context) { p.o.peerPG(ctx, p, gen, m) })
	p.wake()
}

// repeer is called by the primary when replication to a member failed or
// recovery changed who is complete: the PG stops serving and peers again
// in the same interval.
func (p *pg) repeer(gen uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gen != gen || p.primary != p.o.cfg.ID || p.state == stateStray {
		return
	}
	p.startPeering(p.o.Map())
}

// setState changes the state and its timestamp; p.mu is held.
func (p *pg) setState(s pgState) {
	if p.state != s {
		p.state = s
		p.since = p.o.cfg.Clock.Now()
	}
}

// wake tells waiters the state changed; p.mu is held.
func (p *pg) wake() {
	close(p.stateCh)
	p.stateCh = make(chan struct{})
}

// view is a consistent copy of a PG's interval.
type view struct {
	interval uint64
	epoch    uint64
	up       []int32
	acting   []int32
	primary  int32
	state    pgState
	gen      uint64
	serve    bool
	size     int
	minSize  int
	// Erasure-coded pools (nil code for replicated ones).
	code             *ec.Code
	upPos, actingPos []int32
}

func (p *pg) view() view {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.viewLocked()
}

// serving: active with this view's primary taking client ops.
func (v view) serving() bool { return v.state == stateActive && v.serve }

func (p *pg) viewLocked() view {
	return view{p.interval, p.epoch, p.up, p.acting, p.primary, p.state, p.gen, p.serve, p.size, p.minSize, p.code, p.upPos, p.actingPos}
}

// load reads the PG's newest version and dedup table from the store
// once; p.mu is held.
func (p *pg) load() error {
	if p.loaded {
		return nil
	}
	info, err := p.o.store.Info(p.id)
	if err != nil {
		return err
	}
	log, err := p.o.store.Log(p.id)
	if err != nil {
		return err
	}
	p.lastV = max(p.lastV, info.GetLastUpdate().GetVersion())
	p.reqs, p.order = map[reqKey]*pb.LogEntry{}, nil
	for _, e := range log {
		p.remember(e)
	}
	p.loaded = true
	return nil
}

// remember adds a logged write to the dedup table; p.mu is held.
func (p *pg) remember(e *pb.LogEntry) {
	p.lastV = max(p.lastV, e.GetVersion().GetVersion())
	r := e.GetReqid()
	if r.GetClient() == "" {
		return
	}
	k := reqKey{r.GetClient(), r.GetTid()}
	if _, ok := p.reqs[k]; !ok {
		p.order = append(p.order, k)
	}
	p.reqs[k] = e
	if len(p.order) > maxReqs {
		drop := len(p.order) - maxReqs
		for _, k := range p.order[:drop] {
			delete(p.reqs, k)
		}
		p.order = append(p.order[:0], p.order[drop:]...)
	}
}

// lockObject serializes ops on one object; the returned func unlocks.
func (p *pg) lockObject(oid string) func() {
	p.mu.Lock()
	l, ok := p.locks[oid]
	if !ok {
		l = &objLock{}
		p.locks[oid] = l
	}
	l.refs++
	p.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		p.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(p.locks, oid)
		}
		p.mu.Unlock()
	}
}

// endWrite marks a write done; p.mu is held.
func (p *pg) endWrite() {
	p.inflight--
	if p.inflight == 0 && p.drained != nil {
		close(p.drained)
		p.drained = nil
	}
}

// holdWrites stops writes of generation gen from starting and waits for
// those in flight, so the PG's log can be handed over or rewritten;
// release lets writes go on. When the PG has moved past gen, or ready
// (checked under p.mu; nil: always) says no, nothing is held and ok is
// false.
func (p *pg) holdWrites(ctx context.Context, gen uint64, ready func() bool) (release func(), ok bool, err error) {
	p.mu.Lock()
	if p.gen != gen || ready != nil && !ready() {
		p.mu.Unlock()
		return nil, false, nil
	}
	p.barrier = true
	p.mu.Unlock()
	release = func() {
		p.mu.Lock()
		p.barrier = false
		p.wake()
		p.mu.Unlock()
	}
	if err := p.waitDrained(ctx); err != nil {
		release()
		return nil, false, err
	}
	return release, true, nil
}

// errIntervalChanged: a write's PG moved to a new interval before the
// primary applied its own part.
var errIntervalChanged = errors.New("the interval changed")

// applyLocal runs apply, the primary's own part of a write, unless the
// PG has left interval v, and adds entry to the dedup table once it is
// applied.
func (p *pg) applyLocal(v view, entry *pb.LogEntry, apply func() error) error {
	p.ivMu.RLock()
	err := errIntervalChanged
	if p.view().interval == v.interval {
		err = apply()
	}
	p.ivMu.RUnlock()
	if err == nil {
		p.mu.Lock()
		p.remember(entry)
		p.mu.Unlock()
	}
	return err
}

// waitDrained waits until no write is in flight.
func (p *pg) waitDrained(ctx context.Context) error {
	p.mu.Lock()
	if p.inflight == 0 {
		p.mu.Unlock()
		return nil
	}
	if p.drained == nil {
		p.drained = make(chan struct{})
	}
	ch := p.drained
	p.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

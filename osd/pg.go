package osd

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"slices"
	"sync"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/osd/store"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// pgState is what a PG on this OSD may do now.
type pgState int

const (
	// stateStray: this OSD is not in the PG's acting set.
	stateStray pgState = iota
	// stateReplica: a non-primary acting member; it takes the primary's
	// peer calls.
	stateReplica
	// stateSyncing: the primary is bringing the members up to date after
	// an interval change or a failed replication; ops wait.
	stateSyncing
	// stateInactive: the primary is in sync with the members it has, but
	// they are fewer than min_size; ops wait for a new map.
	stateInactive
	// stateActive: the primary serves ops.
	stateActive
)

func (s pgState) String() string {
	return [...]string{"stray", "replica", "syncing", "inactive", "active"}[s]
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

	mu sync.Mutex
	// The interval: the digest of who serves the PG and since when.
	interval uint64
	epoch    uint64 // map epoch of the interval's first map seen
	acting   []int32
	primary  int32
	minSize  int
	state    pgState
	gen      uint64        // bumped by every interval change and resync
	stateCh  chan struct{} // closed when state changes
	inflight int           // writes between version assignment and reply
	drained  chan struct{} // closed when inflight drops to 0 (nil when 0)

	loaded bool
	lastV  uint64 // the newest version assigned or seen
	reqs   map[reqKey]*pb.LogEntry
	order  []reqKey // reqs in log order, for trimming

	locks map[string]*objLock
}

type objLock struct {
	mu   sync.Mutex
	refs int
}

// maxReqs bounds the dedup table per PG, as the store bounds the log.
const maxReqs = 3000

func newPG(o *OSD, id store.PGID) *pg {
	return &pg{id: id, o: o, primary: clustermap.NoPrimary, stateCh: make(chan struct{}), locks: map[string]*objLock{}}
}

func pgOf(id clustermap.PGID) store.PGID { return store.PGID{Pool: id.Pool, PS: id.Seed} }

// intervalDigest names an interval: the pool's replication settings, the
// acting set and primary, and each member's boot epoch (a member that
// restarted may have missed writes, so its return starts an interval).
// Every OSD holding the same map computes the same digest.
func intervalDigest(m *clustermap.Map, p *clustermap.Pool, pl clustermap.Placement) uint64 {
	h := fnv.New64a()
	var b [8]byte
	put := func(v uint64) {
		binary.BigEndian.PutUint64(b[:], v)
		h.Write(b[:])
	}
	put(uint64(pl.PG.Pool))
	put(uint64(pl.PG.Seed))
	put(uint64(p.Size)<<32 | uint64(p.MinSize))
	put(uint64(uint32(pl.ActingPrimary)))
	for _, id := range pl.Acting {
		put(uint64(uint32(id)))
		if st, ok := m.OSDs[id]; ok {
			put(st.UpFrom)
		}
	}
	return h.Sum64()
}

// advancePGs brings every PG to map m: PGs this OSD serves get their new
// interval, PGs it left become strays.
func (o *OSD) advancePGs(m *clustermap.Map) {
	seen := map[store.PGID]bool{}
	for _, pid := range m.PoolIDs() {
		pool, err := m.Pool(pid)
		if err != nil || pool.Type != clustermap.PoolReplicated {
			continue // erasure-coded pools are not served yet
		}
		for ps := uint32(0); ps < pool.PGNum; ps++ {
			pl, err := m.Place(clustermap.PGID{Pool: pid, Seed: ps})
			if err != nil || !slices.Contains(pl.Acting, o.cfg.ID) {
				continue
			}
			id := pgOf(pl.PG)
			seen[id] = true
			o.getPG(id, true).advance(m, pool, pl)
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
		p.mu.Lock()
		if p.state != stateStray {
			p.state, p.acting, p.primary, p.interval = stateStray, nil, clustermap.NoPrimary, 0
			p.gen++
			p.wake()
		}
		p.mu.Unlock()
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
// changed.
func (p *pg) advance(m *clustermap.Map, pool *clustermap.Pool, pl clustermap.Placement) {
	d := intervalDigest(m, pool, pl)
	p.mu.Lock()
	defer p.mu.Unlock()
	if d == p.interval && p.state != stateStray {
		return
	}
	p.interval, p.epoch = d, m.Epoch
	p.acting = slices.DeleteFunc(slices.Clone(pl.Acting), func(id int32) bool { return id == clustermap.NoOSD })
	p.primary = pl.ActingPrimary
	p.minSize = int(pool.MinSize)
	p.gen++
	if p.primary == p.o.cfg.ID {
		p.state = stateSyncing
		gen := p.gen
		p.o.goBackground(func(ctx context.Context) { p.o.syncPG(ctx, p, gen) })
	} else {
		p.state = stateReplica
	}
	p.wake()
}

// resync is called by the primary when replication to a member failed:
// the PG stops serving until the members are in step again.
func (p *pg) resync() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != stateActive && p.state != stateInactive {
		return
	}
	p.state = stateSyncing
	p.gen++
	gen := p.gen
	p.o.goBackground(func(ctx context.Context) { p.o.syncPG(ctx, p, gen) })
	p.wake()
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
	acting   []int32
	primary  int32
	state    pgState
	gen      uint64
}

func (p *pg) view() view {
	p.mu.Lock()
	defer p.mu.Unlock()
	return view{p.interval, p.epoch, p.acting, p.primary, p.state, p.gen}
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

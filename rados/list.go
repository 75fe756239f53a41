package rados

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loligo/loligo/clustermap"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// listPage is how many object names one List call asks for.
const listPage = 1000

// ListObjects calls fn with the name of every object of the pool, PG by
// PG in ascending seed order (within a PG in the OSD's order), a page at
// a time from each PG's current primary. An error from fn stops the
// listing and is returned as is. The PGs are those of the pool's pg_num
// when the listing starts.
func (io *IOContext) ListObjects(ctx context.Context, fn func(oid string) error) error {
	ctx, cancel := io.c.withDeadline(ctx)
	defer cancel()
	m, err := io.c.ensureMap(ctx)
	if err != nil {
		return err
	}
	p, err := m.Pool(io.pool)
	if err != nil {
		return io.poolGone(m)
	}
	for ps := range p.PGNum {
		pg := clustermap.PGID{Pool: io.pool, Seed: ps}
		after := ""
		for {
			oids, more, err := io.listPage(ctx, pg, after)
			if err != nil {
				return err
			}
			for _, oid := range oids {
				if err := fn(oid); err != nil {
					return err
				}
			}
			if !more || len(oids) == 0 {
				break
			}
			after = oids[len(oids)-1]
		}
	}
	return nil
}

func (io *IOContext) listPage(ctx context.Context, pg clustermap.PGID, after string) ([]string, bool, error) {
	req := &pb.ListRequest{Pool: pg.Pool, Ps: pg.Seed, StartAfter: after, Max: listPage}
	var rep *pb.ListReply
	what := fmt.Sprintf("%s: listing pg %s", io.name, pg)
	err := io.c.callPrimary(ctx, pgCall{
		what: what,
		locate: func(m *clustermap.Map) (clustermap.PGID, error) {
			if _, err := m.Pool(io.pool); err != nil {
				return pg, io.poolGone(m)
			}
			return pg, nil
		},
		send: func(ctx context.Context, cl pb.OSDClient, epoch uint64, _ clustermap.PGID) (pb.Result, uint64, error) {
			req.Epoch = epoch
			r, err := cl.List(ctx, req)
			if err != nil {
				return 0, 0, err
			}
			rep = r
			return r.GetResult(), r.GetRetryEpoch(), nil
		},
	})
	if err != nil {
		return nil, false, err
	}
	if kind := resultKind(rep.GetResult()); kind != nil {
		msg := rep.GetMessage()
		if msg == "" {
			msg = kind.Error()
		}
		return nil, false, &Error{Kind: kind, Msg: what + ": " + msg, Step: -1}
	}
	return rep.GetOids(), rep.GetMore(), nil
}

// PoolStat is a pool's object count and bytes (of one copy).
type PoolStat struct {
	Objects, Bytes uint64
}

// OSDStat is one OSD's state and store usage (zero when it is down).
type OSDStat struct {
	ID          int32
	Up          bool
	Used, Avail uint64
}

// ClusterStat is what the OSDs report: every OSD of the map in id order,
// and every pool by name.
type ClusterStat struct {
	OSDs  []OSDStat
	Pools map[string]PoolStat
}

// Stats returns the pool's object count and bytes.
func (io *IOContext) Stats(ctx context.Context) (PoolStat, error) {
	_, byID, err := io.c.clusterStats(ctx)
	if err != nil {
		return PoolStat{}, err
	}
	return byID[io.pool], nil
}

// ClusterStats asks every up OSD for its store usage and PG figures and
// sums the PGs per pool, counting each PG once: from the OSD that is its
// primary in the connection's map. An up OSD that does not answer is
// asked again (and dropped once the map says it is down) until the
// deadline.
func (c *Conn) ClusterStats(ctx context.Context) (ClusterStat, error) {
	cs, _, err := c.clusterStats(ctx)
	return cs, err
}

func (c *Conn) clusterStats(ctx context.Context) (ClusterStat, map[int64]PoolStat, error) {
	ctx, cancel := c.withDeadline(ctx)
	defer cancel()
	if _, err := c.ensureMap(ctx); err != nil {
		return ClusterStat{}, nil, err
	}
	start := time.Now()
	replies := map[int32]*pb.StatsReply{}
	backoff := 50 * time.Millisecond
	for {
		m := c.CurrentMap()
		var missing []int32
		for _, id := range m.OSDIDs() {
			if o := m.OSDs[id]; o.Up && replies[id] == nil {
				missing = append(missing, id)
			}
		}
		failed := map[int32]error{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, id := range missing {
			addr := m.OSDs[id].Addr
			if addr == "" {
				mu.Lock()
				failed[id] = status.Errorf(codes.Unavailable, "no address in epoch %d", m.Epoch)
				mu.Unlock()
				continue
			}
			cl, err := c.osdClient(addr)
			if err != nil {
				wg.Wait()
				return ClusterStat{}, nil, err
			}
			wg.Go(func() {
				actx, acancel := context.WithTimeout(ctx, c.opTimeout)
				rep, err := cl.Stats(actx, &pb.StatsRequest{})
				acancel()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed[id] = err
				} else {
					replies[id] = rep
				}
			})
		}
		wg.Wait()
		if len(failed) == 0 {
			cs, byID := sumStats(m, replies)
			return cs, byID, nil
		}
		var last string
		for _, id := range sortedIDs(failed) {
			err := failed[id]
			if !osdRetryable(err, ctx.Err() != nil) && ctx.Err() == nil {
				return ClusterStat{}, nil, convertOSD(err, fmt.Sprintf("stats of osd.%d (%s)", id, m.OSDs[id].Addr))
			}
			last += fmt.Sprintf("; osd.%d (%s): %v", id, m.OSDs[id].Addr, err)
		}
		if err := c.waitEpoch(ctx, m.Epoch+1, backoff); err != nil {
			if err == errClosed {
				return ClusterStat{}, nil, err
			}
			return ClusterStat{}, nil, &Error{Kind: ErrUnavailable, Step: -1,
				Msg: fmt.Sprintf("cluster stats: up OSDs did not answer in %v (%v)%s", time.Since(start).Round(time.Millisecond), err, last)}
		}
		backoff = min(2*backoff, time.Second)
	}
}

func sortedIDs[V any](m map[int32]V) []int32 {
	ids := make([]int32, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// sumStats adds up the OSDs' PG figures, each PG from its primary in m.
func sumStats(m *clustermap.Map, replies map[int32]*pb.StatsReply) (ClusterStat, map[int64]PoolStat) {
	byID := map[int64]PoolStat{}
	for _, id := range m.PoolIDs() {
		byID[id] = PoolStat{}
	}
	for osd, rep := range replies {
		for _, s := range rep.GetPgs() {
			if _, ok := byID[s.GetPool()]; !ok {
				continue
			}
			p := m.Pools[s.GetPool()]
			if s.GetPs() >= p.PGNum {
				continue
			}
			pl, err := m.Place(clustermap.PGID{Pool: s.GetPool(), Seed: s.GetPs()})
			if err != nil || pl.ActingPrimary != osd {
				continue
			}
			st := byID[s.GetPool()]
			st.Objects += s.GetObjects()
			st.Bytes += s.GetBytes()
			byID[s.GetPool()] = st
		}
	}
	cs := ClusterStat{Pools: map[string]PoolStat{}}
	for id, st := range byID {
		cs.Pools[m.Pools[id].Name] = st
	}
	for _, id := range m.OSDIDs() {
		o := OSDStat{ID: id, Up: m.OSDs[id].Up}
		if rep := replies[id]; rep != nil && o.Up {
			o.Used, o.Avail = rep.GetStoreUsed(), rep.GetStoreAvail()
		}
		cs.OSDs = append(cs.OSDs, o)
	}
	return cs, byID
}

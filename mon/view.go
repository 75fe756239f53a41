package mon

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/loligo/loligo/clustermap"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// view is a monitor's copy of the newest map and recent incrementals,
// kept current by watching etcd. Every monitor, leader or not, serves
// reads and subscriptions from it.
type view struct {
	mu      sync.Mutex
	cur     *clustermap.Map
	curPB   *pb.OSDMap
	incs    map[uint64]*pb.OSDMapIncremental
	keep    uint64
	changed chan struct{} // closed when cur changes
}

func newView(keep uint64) *view {
	return &view{incs: map[uint64]*pb.OSDMapIncremental{}, keep: keep, changed: make(chan struct{})}
}

// latest returns the newest map (nil before the first) and a channel
// closed when a newer one arrives.
func (v *view) latest() (*clustermap.Map, *pb.OSDMap, <-chan struct{}) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.cur, v.curPB, v.changed
}

func (v *view) inc(e uint64) *pb.OSDMapIncremental {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.incs[e]
}

func (v *view) addInc(inc *pb.OSDMapIncremental) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.incs[inc.GetEpoch()] = inc
	if e := inc.GetEpoch(); e > v.keep {
		for old := range v.incs {
			if old <= e-v.keep {
				delete(v.incs, old)
			}
		}
	}
}

// set installs a newer map; older or equal epochs are ignored, so the
// view never goes back.
func (v *view) set(m *clustermap.Map, mpb *pb.OSDMap) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cur != nil && m.Epoch <= v.cur.Epoch {
		return
	}
	v.cur, v.curPB = m, mpb
	close(v.changed)
	v.changed = make(chan struct{})
}

// waitFor waits until the view holds epoch e or newer, or ctx ends; a
// client that made a change through this monitor then reads it back.
func (v *view) waitFor(ctx context.Context, e uint64) {
	for {
		cur, _, ch := v.latest()
		if cur != nil && cur.Epoch >= e {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

// watch keeps the view current until ctx ends: it reads the map, then
// follows etcd's changes to the map and incremental keys, and starts over
// after any watch failure (a compaction, a lost member).
func (v *view) watch(ctx context.Context, st *store, log *slog.Logger) {
	for ctx.Err() == nil {
		rev, err := v.reload(ctx, st)
		if err != nil {
			log.Warn("reading the map", "err", err)
			sleepCtx(ctx, time.Second)
			continue
		}
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		// Only the keys from inc/ to osdmap: PG reports and records
		// (pghist/, pgstats/ sort after osdmap) change every few seconds
		// and are none of the view's business.
		for wr := range st.cli.Watch(wctx, st.incPrefix(), clientv3.WithRange(st.mapKey()+"\x00"), clientv3.WithRev(rev+1)) {
			if err := wr.Err(); err != nil {
				log.Warn("map watch ended", "err", err)
				break
			}
			// Incrementals first: they and their map come in one
			// transaction, and a subscriber woken by the map wants them.
			for _, ev := range wr.Events {
				if ev.Type != clientv3.EventTypePut || !strings.HasPrefix(string(ev.Kv.Key), st.incPrefix()) {
					continue
				}
				inc := &pb.OSDMapIncremental{}
				if proto.Unmarshal(ev.Kv.Value, inc) == nil {
					v.addInc(inc)
				}
			}
			for _, ev := range wr.Events {
				if ev.Type != clientv3.EventTypePut || string(ev.Kv.Key) != st.mapKey() {
					continue
				}
				if err := v.install(ev.Kv.Value); err != nil {
					log.Error("stored map does not decode", "err", err)
				}
			}
		}
		cancel()
		sleepCtx(ctx, 100*time.Millisecond)
	}
}

func (v *view) reload(ctx context.Context, st *store) (int64, error) {
	resp, err := st.cli.Get(ctx, st.mapKey())
	if err != nil {
		return 0, err
	}
	if len(resp.Kvs) > 0 {
		if err := v.install(resp.Kvs[0].Value); err != nil {
			return 0, err
		}
	}
	return resp.Header.Revision, nil
}

func (v *view) install(b []byte) error {
	mpb := &pb.OSDMap{}
	if err := proto.Unmarshal(b, mpb); err != nil {
		return err
	}
	m, err := clustermap.FromProto(mpb)
	if err != nil {
		return err
	}
	v.set(m, mpb)
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

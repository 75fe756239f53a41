package mon

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/loligo/loligo/clustermap"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// view is a monitor's copy of the newest map and recent incrementals,
// kept current by watching etcd. Every monitor, leader or not, serves
// reads and subscriptions from it.
type view struct {
	mu    sync.Mutex
	cur   *clustermap.Map
	curPB *pb.OSDMap
	// curSum is the SHA-256 of cur's encoding as stored, when known, and
	// curChunks its chunks when it is stored chunked: the next epoch
	// reads only the chunks that changed.
	curSum    [sha256.Size]byte
	curChunks map[chunkID][]byte
	incs      map[uint64]*pb.OSDMapIncremental
	keep      uint64
	changed   chan struct{} // closed when cur changes
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

// set installs a newer map, whose stored value has checksum sum and
// chunks (nil: inline or unknown); older or equal epochs are ignored, so
// the view never goes back.
func (v *view) set(m *clustermap.Map, mpb *pb.OSDMap, sum [sha256.Size]byte, chunks map[chunkID][]byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cur != nil && m.Epoch <= v.cur.Epoch {
		return
	}
	v.cur, v.curPB, v.curSum, v.curChunks = m, mpb, sum, chunks
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
				if ev.Type != clientv3.EventTypePut {
					continue
				}
				e, ok := st.incEpoch(ev.Kv.Key)
				if !ok || v.inc(e) != nil {
					continue // not an incremental, or the leader's own
				}
				// One that cannot be read now is read from etcd when a
				// subscriber needs it.
				if b, _, err := st.resolve(wctx, ev.Kv, nil); err == nil {
					inc := &pb.OSDMapIncremental{}
					if proto.Unmarshal(b, inc) == nil {
						v.addInc(inc)
					}
				}
			}
			failed := false
			for _, ev := range wr.Events {
				if ev.Type != clientv3.EventTypePut || string(ev.Kv.Key) != st.mapKey() {
					continue
				}
				if err := v.install(wctx, st, ev.Kv); err != nil {
					log.Error("reading the stored map", "err", err)
					failed = true
				}
			}
			if failed {
				break // read the newest map again
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
		if err := v.install(ctx, st, resp.Kvs[0]); err != nil {
			return 0, err
		}
	}
	return resp.Header.Revision, nil
}

// install reads the map a read of the map key (kv) found, reusing the
// chunks of the map it holds, and installs it.
func (v *view) install(ctx context.Context, st *store, kv *mvccpb.KeyValue) error {
	inline, man, _, err := decodeStored(kv.Value)
	if err != nil {
		return err
	}
	v.mu.Lock()
	sum, have := v.curSum, v.curChunks
	v.mu.Unlock()
	if man != nil && bytes.Equal(man.GetSha256(), sum[:]) {
		return nil // the map held (the leader's own, installed at commit)
	}
	b := inline
	var chunks map[chunkID][]byte
	if man != nil {
		if b, chunks, err = st.resolve(ctx, kv, have); err != nil {
			return err
		}
	}
	mpb := &pb.OSDMap{}
	if err := proto.Unmarshal(b, mpb); err != nil {
		return fmt.Errorf("the stored map does not decode: %w", err)
	}
	m, err := clustermap.FromProto(mpb)
	if err != nil {
		return fmt.Errorf("the stored map is invalid: %w", err)
	}
	v.set(m, mpb, sha256.Sum256(b), chunks)
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

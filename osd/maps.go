package osd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/internal/transport"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// monCall runs f against the monitors, moving on after failures another
// monitor may not have; each try is bounded by MonTimeout.
func monCall[T any](ctx context.Context, o *OSD, f func(context.Context, pb.MonClient) (T, error)) (T, error) {
	var zero T
	var last error
	for try := 0; try < 2*len(o.mons); try++ {
		i := int(o.monCur.Load()) % len(o.mons)
		actx, cancel := context.WithTimeout(ctx, o.cfg.MonTimeout)
		v, err := f(actx, o.mons[i].cl)
		cancel()
		if err == nil {
			return v, nil
		}
		last = err
		if !transport.Retryable(err) || ctx.Err() != nil {
			break
		}
		o.monCur.CompareAndSwap(int32(i), int32((i+1)%len(o.mons)))
	}
	return zero, last
}

// Map returns the newest map the OSD holds (nil before the first).
func (o *OSD) Map() *clustermap.Map {
	o.mapMu.Lock()
	defer o.mapMu.Unlock()
	return o.curMap
}

// mapAtLeast returns the newest map, waiting (up to activeWait) for
// epoch when the OSD is behind; the usual case costs no timer.
func (o *OSD) mapAtLeast(ctx context.Context, epoch uint64) *clustermap.Map {
	if m := o.Map(); m != nil && m.Epoch >= epoch {
		return m
	}
	wctx, cancel := context.WithTimeout(ctx, activeWait)
	defer cancel()
	return o.waitMap(wctx, epoch)
}

// waitMap waits until the OSD holds epoch or newer; it returns the map
// it holds when ctx ends.
func (o *OSD) waitMap(ctx context.Context, epoch uint64) *clustermap.Map {
	for {
		o.mapMu.Lock()
		m, wake := o.curMap, o.mapWake
		o.mapMu.Unlock()
		if m != nil && m.Epoch >= epoch {
			return m
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return m
		}
	}
}

// subscribeLoop keeps a map subscription open to some monitor and applies
// every epoch it brings.
func (o *OSD) subscribeLoop(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := o.subscribeOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		o.log.Debug("map subscription ended; resubscribing", "err", err)
		i := o.monCur.Load()
		o.monCur.CompareAndSwap(i, (i+1)%int32(len(o.mons)))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (o *OSD) subscribeOnce(ctx context.Context) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var from uint64
	if m := o.Map(); m != nil {
		from = m.Epoch
	}
	mc := o.mons[int(o.monCur.Load())%len(o.mons)]
	stream, err := mc.cl.Subscribe(sctx, &pb.SubscribeRequest{FromEpoch: from})
	if err != nil {
		return err
	}
	for {
		up, err := stream.Recv()
		if err != nil {
			return err
		}
		cur := o.Map()
		var next *clustermap.Map
		switch u := up.GetUpdate().(type) {
		case *pb.MapUpdate_Full:
			if cur != nil && u.Full.GetEpoch() <= cur.Epoch {
				continue
			}
			if next, err = clustermap.FromProto(u.Full); err != nil {
				return fmt.Errorf("a full map from %s does not validate: %w", mc.addr, err)
			}
		case *pb.MapUpdate_Incremental:
			if cur == nil || u.Incremental.GetEpoch() <= cur.Epoch {
				continue
			}
			if next, err = clustermap.Apply(cur, u.Incremental); err != nil {
				if errors.Is(err, clustermap.ErrEpoch) {
					return err // resubscribe from our epoch
				}
				return fmt.Errorf("an incremental from %s does not apply: %w", mc.addr, err)
			}
		default:
			continue
		}
		o.setMap(next)
	}
}

// setMap installs a newer map and brings every PG to it.
func (o *OSD) setMap(m *clustermap.Map) {
	o.mapMu.Lock()
	if o.curMap != nil && m.Epoch <= o.curMap.Epoch {
		o.mapMu.Unlock()
		return
	}
	o.mapMu.Unlock()
	// PGs move to the new map before anyone can see it: a peer call that
	// waits for this epoch then finds the PG in its new interval.
	o.advancePGs(m)
	o.mapMu.Lock()
	o.curMap = m
	close(o.mapWake)
	o.mapWake = make(chan struct{})
	o.mapMu.Unlock()
	if o.upIn(m) {
		select {
		case <-o.booted:
		default:
			close(o.booted)
		}
	}
}

// upIn reports whether m shows this very process up: its address and
// its incarnation. A map that shows an earlier incarnation up (the map
// has not seen the restart yet) does not count.
func (o *OSD) upIn(m *clustermap.Map) bool {
	st, ok := m.OSDs[o.cfg.ID]
	return ok && st.Up && st.Addr == o.Addr() && st.Incarnation == o.incarnation
}

// isBooted reports whether a map has shown this process up. Until then
// it takes no client op and no peer call that reads or changes PG data:
// the map may still show an earlier incarnation up, in an interval whose
// writes this process's store may not hold (a lost tail).
func (o *OSD) isBooted() bool {
	select {
	case <-o.booted:
		return true
	default:
		return false
	}
}

func (o *OSD) notBootedMsg() string {
	return fmt.Sprintf("osd.%d is starting: the map does not show this instance up yet", o.cfg.ID)
}

// bootRequest is this process's boot message.
func (o *OSD) bootRequest() *pb.OSDBootRequest {
	return &pb.OSDBootRequest{Id: o.cfg.ID, Uuid: o.cfg.UUID, Addr: o.Addr(), Incarnation: o.incarnation}
}

// beacon tells the monitor (once per BeaconInterval) that the OSD lives
// and which epoch it holds; an OSD the map says is down while it runs (a
// partition, a slow beacon) boots again, as Ceph's OSDs do.
func (o *OSD) beacon(ctx context.Context) {
	var epoch uint64
	if m := o.Map(); m != nil {
		epoch = m.Epoch
	}
	rep, err := monCall(ctx, o, func(ctx context.Context, c pb.MonClient) (*pb.BeaconReply, error) {
		return c.Beacon(ctx, &pb.BeaconRequest{Id: o.cfg.ID, Epoch: epoch, Incarnation: o.incarnation,
			FsTotal: o.fsTotal.Load(), FsAvail: o.fsAvail.Load()})
	})
	if err != nil {
		o.log.Debug("beacon failed", "err", err)
		return
	}
	if m := o.Map(); m != nil {
		if _, ok := m.OSDs[o.cfg.ID]; ok && !o.upIn(m) && rep.GetEpoch() <= m.Epoch {
			// Marked down while alive (a partition, a slow beacon):
			// boot again, as Ceph's OSDs do.
			o.log.Warn("the map says this OSD is down; booting again", "epoch", m.Epoch)
			if _, err := monCall(ctx, o, func(ctx context.Context, c pb.MonClient) (*pb.OSDBootReply, error) {
				return c.OSDBoot(ctx, o.bootRequest())
			}); err != nil {
				o.log.Warn("re-boot failed", "err", err)
			}
		}
	}
}

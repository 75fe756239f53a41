package osd

import (
	"context"
	"sync"
	"time"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// heartbeats tracks when each peer last answered a ping, and which peers
// this OSD has reported failed to the monitor.
type heartbeats struct {
	mu       sync.Mutex
	lastOK   map[int32]time.Time
	reported map[int32]bool
}

func (h *heartbeats) init() {
	h.lastOK = map[int32]time.Time{}
	h.reported = map[int32]bool{}
}

// heartbeatPeers are the up OSDs sharing a PG with this one.
func (o *OSD) heartbeatPeers() map[int32]string {
	m := o.Map()
	if m == nil {
		return nil
	}
	peers := map[int32]string{}
	for _, p := range o.pgList() {
		for _, id := range p.view().acting {
			if st, ok := m.OSDs[id]; ok && id != o.cfg.ID && st.Up && st.Addr != "" {
				peers[id] = st.Addr
			}
		}
	}
	return peers
}

// heartbeat pings the peers (once per HeartbeatInterval); a peer silent
// for longer than the grace is reported failed, and the report is
// withdrawn when it answers again.
func (o *OSD) heartbeat(ctx context.Context) {
	peers := o.heartbeatPeers()
	now := o.cfg.Clock.Now()
	var wg sync.WaitGroup
	for id, addr := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.pingPeer(ctx, id, addr, now)
		}()
	}
	wg.Wait()
	o.hb.mu.Lock()
	for id := range o.hb.lastOK {
		if _, ok := peers[id]; !ok {
			delete(o.hb.lastOK, id)
			delete(o.hb.reported, id)
		}
	}
	o.hb.mu.Unlock()
}

func (o *OSD) pingPeer(ctx context.Context, id int32, addr string, now time.Time) {
	cl, err := o.peer(addr)
	if err == nil {
		cctx, cancel := context.WithTimeout(ctx, o.cfg.HeartbeatInterval)
		_, err = cl.Ping(cctx, &pb.PingRequest{From: o.cfg.ID})
		cancel()
	}
	o.hb.mu.Lock()
	last, seen := o.hb.lastOK[id]
	if !seen {
		last = now // a new peer gets a full grace period
		o.hb.lastOK[id] = now
	}
	if err == nil {
		o.hb.lastOK[id] = o.cfg.Clock.Now()
	}
	reported := o.hb.reported[id]
	silent := now.Sub(last)
	report, withdraw := err != nil && !reported && silent > o.cfg.HeartbeatGrace, err == nil && reported
	if report {
		o.hb.reported[id] = true
	}
	if withdraw {
		delete(o.hb.reported, id)
	}
	o.hb.mu.Unlock()
	if report || withdraw {
		o.log.Info("failure report", "peer", id, "failed", report, "silent", silent)
		_, err := monCall(ctx, o, func(ctx context.Context, c pb.MonClient) (*pb.FailureReportReply, error) {
			return c.FailureReport(ctx, &pb.FailureReportRequest{Target: id, Reporter: o.cfg.ID, FailedFor: uint32(silent / time.Second), Failed: report})
		})
		if err != nil {
			o.log.Warn("failure report not delivered", "peer", id, "err", err)
			o.hb.mu.Lock()
			o.hb.reported[id] = !report // try again next round
			o.hb.mu.Unlock()
		}
	}
}

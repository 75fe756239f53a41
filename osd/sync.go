package osd

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/osd/store"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// Catch-up. After an interval change (or a failed replication) the
// primary scans every acting member's copy of the PG: object names and
// versions, PG info and log. The member with the newest last_update is
// the authority; the primary first makes its own copy equal to the
// authority's (pulling what differs), then pushes to every other member
// what differs from its copy, and the authority's log. Only then does the
// PG serve again. Every acknowledged write is on every member of the
// interval it was written in, so as long as one member of that interval
// is in the new one, the authority holds it.
//
// This compares whole PGs; the log-based recovery and backfill of the
// next issue replace it for large PGs.

// pushBytes bounds the object bytes in one Push or Pull message (below
// transport.MaxMessage with room for the envelope).
const pushBytes = 32 << 20

type scan struct {
	info *pb.PGInfo
	log  []*pb.LogEntry
	objs map[string]*pb.Eversion
}

func evLess(a, b *pb.Eversion) bool {
	if a.GetEpoch() != b.GetEpoch() {
		return a.GetEpoch() < b.GetEpoch()
	}
	return a.GetVersion() < b.GetVersion()
}

func evEqual(a, b *pb.Eversion) bool {
	return a.GetEpoch() == b.GetEpoch() && a.GetVersion() == b.GetVersion()
}

// syncPG runs catch-up for interval generation gen until it succeeds or
// the PG moves on.
func (o *OSD) syncPG(ctx context.Context, p *pg, gen uint64) {
	for ctx.Err() == nil {
		if err := p.waitDrained(ctx); err != nil {
			return
		}
		v := p.view()
		if v.gen != gen {
			return
		}
		err := o.syncOnce(ctx, p, v)
		if err == nil {
			p.mu.Lock()
			if p.gen == gen {
				p.loaded = false
				if lerr := p.load(); lerr != nil {
					err = lerr
				} else if len(p.acting) < p.minSize {
					p.state = stateInactive
					p.wake()
				} else {
					p.state = stateActive
					p.wake()
				}
			}
			p.mu.Unlock()
			if err == nil {
				o.log.Debug("pg in sync", "pg", p.id.String(), "acting", v.acting)
				return
			}
		}
		o.log.Info("pg catch-up failed; retrying", "pg", p.id.String(), "err", err)
		select {
		case <-ctx.Done():
			return
		case <-o.cfg.Clock.After(o.cfg.SyncRetry):
		}
	}
}

func (o *OSD) syncOnce(ctx context.Context, p *pg, v view) error {
	m := o.Map()
	scans := map[int32]*scan{}
	for _, id := range v.acting {
		s, err := o.scanMember(ctx, m, p, v, id)
		if err != nil {
			return fmt.Errorf("scanning osd.%d: %w", id, err)
		}
		scans[id] = s
	}
	auth := o.cfg.ID
	for _, id := range v.acting {
		if evLess(scans[auth].info.GetLastUpdate(), scans[id].info.GetLastUpdate()) {
			auth = id
		}
	}
	mine := scans[o.cfg.ID]
	if auth != o.cfg.ID {
		a := scans[auth]
		need, extra := diff(mine.objs, a.objs)
		o.log.Info("pg catching up from a newer member", "pg", p.id.String(), "from", auth, "objects", len(need), "removed", len(extra))
		if err := o.pullInto(ctx, m, p, v, auth, need, extra, a); err != nil {
			return fmt.Errorf("pulling from osd.%d: %w", auth, err)
		}
		mine = a
	}
	for _, id := range v.acting {
		if id == o.cfg.ID {
			continue
		}
		need, extra := diff(scans[id].objs, mine.objs)
		if len(need)+len(extra) > 0 {
			o.log.Info("pg bringing a member up to date", "pg", p.id.String(), "osd", id, "objects", len(need), "removed", len(extra))
		}
		if err := o.pushTo(ctx, m, p, v, id, need, extra, mine); err != nil {
			return fmt.Errorf("pushing to osd.%d: %w", id, err)
		}
	}
	return nil
}

// diff returns the objects have lacks or holds at another version than
// want, and those it holds that want does not.
func diff(have, want map[string]*pb.Eversion) (need, extra []string) {
	for oid, v := range want {
		if hv, ok := have[oid]; !ok || !evEqual(hv, v) {
			need = append(need, oid)
		}
	}
	for oid := range have {
		if _, ok := want[oid]; !ok {
			extra = append(extra, oid)
		}
	}
	slices.Sort(need)
	slices.Sort(extra)
	return need, extra
}

func (o *OSD) scanMember(ctx context.Context, m *clustermap.Map, p *pg, v view, id int32) (*scan, error) {
	s := &scan{objs: map[string]*pb.Eversion{}}
	after := ""
	for {
		var rep *pb.ScanReply
		var err error
		if id == o.cfg.ID {
			rep, err = o.scanLocal(p.id, after, 10000)
		} else {
			var cl pb.OSDClient
			if cl, err = o.peerOf(m, id); err != nil {
				return nil, err
			}
			cctx, cancel := context.WithTimeout(ctx, o.cfg.PeerTimeout)
			rep, err = cl.Scan(cctx, &pb.ScanRequest{Pool: p.id.Pool, Ps: p.id.PS, Interval: v.interval, Epoch: v.epoch, StartAfter: after, Max: 10000})
			cancel()
		}
		if err != nil {
			return nil, err
		}
		if rep.GetResult() != pb.Result_OK {
			return nil, fmt.Errorf("%s: %s", rep.GetResult(), rep.GetMessage())
		}
		if after == "" {
			s.info, s.log = rep.GetInfo(), rep.GetLog()
		}
		for _, ov := range rep.GetObjects() {
			s.objs[ov.GetOid()] = ov.GetVersion()
			after = ov.GetOid()
		}
		if !rep.GetMore() || len(rep.GetObjects()) == 0 {
			return s, nil
		}
	}
}

// pullInto makes the local copy equal to the authority's.
func (o *OSD) pullInto(ctx context.Context, m *clustermap.Map, p *pg, v view, from int32, need, extra []string, a *scan) error {
	cl, err := o.peerOf(m, from)
	if err != nil {
		return err
	}
	var batch []*pb.Txn
	for _, oid := range extra {
		batch = append(batch, &pb.Txn{Oid: oid, Remove: true, Replace: true})
	}
	for len(need) > 0 {
		n := min(len(need), 16)
		cctx, cancel := context.WithTimeout(ctx, o.cfg.PeerTimeout)
		rep, err := cl.Pull(cctx, &pb.PullRequest{Pool: p.id.Pool, Ps: p.id.PS, Interval: v.interval, Epoch: v.epoch, Oids: need[:n]})
		cancel()
		if err != nil {
			return err
		}
		if rep.GetResult() != pb.Result_OK {
			return fmt.Errorf("%s: %s", rep.GetResult(), rep.GetMessage())
		}
		batch = append(batch, rep.GetObjects()...)
		if err := o.store.Install(p.id, batch, nil, nil, false); err != nil {
			return err
		}
		batch = batch[:0]
		need = need[n:]
	}
	return o.store.Install(p.id, batch, a.log, a.info.GetLastUpdate(), true)
}

// pushTo makes member id's copy equal to the local one (which is the
// authority's by now).
func (o *OSD) pushTo(ctx context.Context, m *clustermap.Map, p *pg, v view, id int32, need, extra []string, a *scan) error {
	cl, err := o.peerOf(m, id)
	if err != nil {
		return err
	}
	send := func(objs []*pb.Txn, last bool) error {
		req := &pb.PushRequest{Pool: p.id.Pool, Ps: p.id.PS, Interval: v.interval, Epoch: v.epoch, Objects: objs}
		if last {
			req.Log, req.LastUpdate, req.SetLog = a.log, a.info.GetLastUpdate(), true
		}
		cctx, cancel := context.WithTimeout(ctx, o.cfg.PeerTimeout)
		defer cancel()
		rep, err := cl.Push(cctx, req)
		if err != nil {
			return err
		}
		if rep.GetResult() != pb.Result_OK {
			return fmt.Errorf("%s: %s", rep.GetResult(), rep.GetMessage())
		}
		return nil
	}
	var batch []*pb.Txn
	size := 0
	for _, oid := range extra {
		batch = append(batch, &pb.Txn{Oid: oid, Remove: true, Replace: true})
	}
	for _, oid := range need {
		t, err := o.store.Export(p.id, oid)
		if errors.Is(err, store.ErrNotFound) {
			t = &pb.Txn{Oid: oid, Remove: true, Replace: true}
		} else if err != nil {
			return fmt.Errorf("reading %s to push: %w", oid, err)
		}
		for _, part := range splitTxn(t, pushBytes) {
			n := txnBytes(part)
			if size+n > pushBytes && len(batch) > 0 {
				if err := send(batch, false); err != nil {
					return err
				}
				batch, size = nil, 0
			}
			batch = append(batch, part)
			size += n
		}
	}
	return send(batch, true)
}

func txnBytes(t *pb.Txn) int {
	n := len(t.GetMeta().GetInline())
	for _, c := range t.GetChunks() {
		n += len(c.GetData())
	}
	for k, val := range t.GetOmapSet() {
		n += len(k) + len(val)
	}
	return n
}

// splitTxn cuts a replacing transaction too big for one message into
// parts. Until the last part lands the object carries version zero, so
// an interrupted push is seen as different by the next scan.
func splitTxn(t *pb.Txn, limit int) []*pb.Txn {
	if txnBytes(t) <= limit || len(t.GetChunks()) < 2 {
		return []*pb.Txn{t}
	}
	var parts []*pb.Txn
	cur := &pb.Txn{Oid: t.GetOid(), Replace: true, OmapSet: t.GetOmapSet()}
	size := 0
	for _, c := range t.GetChunks() {
		if size+len(c.GetData()) > limit && len(cur.GetChunks()) > 0 {
			parts = append(parts, cur)
			cur, size = &pb.Txn{Oid: t.GetOid()}, 0
		}
		cur.Chunks = append(cur.Chunks, c)
		size += len(c.GetData())
	}
	parts = append(parts, cur)
	for i, part := range parts {
		meta := t.GetMeta()
		if i < len(parts)-1 {
			meta = cloneMeta(meta)
			meta.Version = &pb.Eversion{}
		}
		part.Meta = meta
	}
	return parts
}

func cloneMeta(m *pb.ObjectMeta) *pb.ObjectMeta {
	return &pb.ObjectMeta{Size: m.GetSize(), Version: m.GetVersion(), MtimeNs: m.GetMtimeNs(), Gen: m.GetGen(),
		Inline: m.GetInline(), InlineSum: m.GetInlineSum(), Inlined: m.GetInlined(), Xattrs: m.GetXattrs()}
}

// repairObject replaces the local copy of an object that failed its
// checksum with a good copy of the same version from another member.
func (o *OSD) repairObject(ctx context.Context, p *pg, oid string) error {
	_, res, err := o.store.Prepare(p.id, oid, []*pb.OpStep{{Code: pb.OpCode_OP_STAT}}, nil, o.cfg.Clock.Now())
	if err != nil {
		return fmt.Errorf("the object's metadata: %w", err)
	}
	want := res[0].GetVersion()
	v := p.view()
	m := o.Map()
	var errs []error
	for _, id := range v.acting {
		if id == o.cfg.ID {
			continue
		}
		cl, err := o.peerOf(m, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, o.cfg.PeerTimeout)
		rep, err := cl.Pull(cctx, &pb.PullRequest{Pool: p.id.Pool, Ps: p.id.PS, Interval: v.interval, Epoch: v.epoch, Oids: []string{oid}})
		cancel()
		if err == nil && rep.GetResult() != pb.Result_OK {
			err = fmt.Errorf("%s: %s", rep.GetResult(), rep.GetMessage())
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("osd.%d: %w", id, err))
			continue
		}
		t := rep.GetObjects()[0]
		if got := t.GetMeta().GetVersion().GetVersion(); got != want {
			errs = append(errs, fmt.Errorf("osd.%d holds version %d, not %d", id, got, want))
			continue
		}
		if err := o.store.Install(p.id, []*pb.Txn{t}, nil, nil, false); err != nil {
			return fmt.Errorf("installing the good copy: %w", err)
		}
		o.log.Warn("repaired a corrupt object from another copy", "pg", p.id.String(), "oid", oid, "from", id)
		return nil
	}
	return errors.Join(errs...)
}

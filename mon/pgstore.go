package mon

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/loligo/loligo/clustermap"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// maxTxnOps bounds the operations of one etcd transaction we build:
// etcd refuses more than its --max-txn-ops (default 128) in one list.
const maxTxnOps = 100

// maxCleanupInTxn bounds the deletions that go in an epoch's own
// transaction, next to its two or three writes.
const maxCleanupInTxn = maxTxnOps - 4

func (s *store) pghistPoolPrefix(pool int64) string {
	return s.prefix + "pghist/" + strconv.FormatInt(pool, 10) + "/"
}

func (s *store) pghistKey(pool int64, seed uint32) string {
	return s.pghistPoolPrefix(pool) + strconv.FormatUint(uint64(seed), 10)
}

func (s *store) pgstatsPrefix() string { return s.prefix + "pgstats/" }

func (s *store) pgstatsKey(osd int32) string {
	return s.pgstatsPrefix() + strconv.FormatInt(int64(osd), 10)
}

// removedOps deletes the PG records of what next no longer holds: the
// activation history of removed pools and the reports of removed OSDs.
func (s *store) removedOps(cur, next *clustermap.Map) []clientv3.Op {
	var ops []clientv3.Op
	for _, id := range cur.PoolIDs() {
		if _, ok := next.Pools[id]; !ok {
			ops = append(ops, clientv3.OpDelete(s.pghistPoolPrefix(id), clientv3.WithPrefix()))
		}
	}
	for _, id := range cur.OSDIDs() {
		if _, ok := next.OSDs[id]; !ok {
			ops = append(ops, clientv3.OpDelete(s.pgstatsKey(id)))
		}
	}
	return ops
}

// runChunked runs ops in transactions of at most maxTxnOps each, without
// a guard: for idempotent deletions only.
func (s *store) runChunked(ctx context.Context, ops []clientv3.Op) error {
	for chunk := range slices.Chunk(ops, maxTxnOps) {
		if _, err := s.cli.Txn(ctx).Then(chunk...).Commit(); err != nil {
			return fmt.Errorf("%w: %v", ErrNotLeader, err)
		}
	}
	return nil
}

// recordIntervals writes activation records (at most maxTxnOps) in one
// transaction that succeeds only if the osdmap key is still at mapRev,
// the revision of the map they were checked against. It reports whether
// they were written; false means the map changed and nothing was.
func (s *store) recordIntervals(ctx context.Context, mapRev int64, recs []*pb.ActiveInterval) (bool, error) {
	ops := make([]clientv3.Op, 0, len(recs))
	for _, r := range recs {
		b, err := proto.Marshal(r)
		if err != nil {
			return false, err
		}
		ops = append(ops, clientv3.OpPut(s.pghistKey(r.GetPool(), r.GetSeed()), string(b)))
	}
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(s.mapKey()), "=", mapRev)).
		Then(ops...).
		Commit()
	if err != nil {
		return false, fmt.Errorf("%w: recording PG activations: %v", ErrNotLeader, err)
	}
	return resp.Succeeded, nil
}

// history reads the activation record of each PG, in order; a PG never
// activated gets a record with only pool and seed (epoch 0). The reads
// are linearizable: a record PGActivate has acknowledged is seen.
func (s *store) history(ctx context.Context, pgs []*pb.PGRef) ([]*pb.ActiveInterval, error) {
	out := make([]*pb.ActiveInterval, 0, len(pgs))
	for chunk := range slices.Chunk(pgs, maxTxnOps) {
		ops := make([]clientv3.Op, len(chunk))
		for i, pg := range chunk {
			ops[i] = clientv3.OpGet(s.pghistKey(pg.GetPool(), pg.GetSeed()))
		}
		resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return nil, fmt.Errorf("%w: reading PG history: %v", ErrNotLeader, err)
		}
		for i, r := range resp.Responses {
			rec := &pb.ActiveInterval{Pool: chunk[i].GetPool(), Seed: chunk[i].GetSeed()}
			if kvs := r.GetResponseRange().GetKvs(); len(kvs) > 0 {
				if err := proto.Unmarshal(kvs[0].Value, rec); err != nil {
					return nil, fmt.Errorf("mon: stored PG history %s is corrupt: %w", kvs[0].Key, err)
				}
			}
			out = append(out, rec)
		}
	}
	return out, nil
}

// pgReport reads one OSD's stored report; nil if it has none.
func (s *store) pgReport(ctx context.Context, osd int32) (*pgReport, error) {
	resp, err := s.cli.Get(ctx, s.pgstatsKey(osd))
	if err != nil {
		return nil, fmt.Errorf("%w: reading osd.%d's PG report: %v", ErrNotLeader, osd, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	return decodeReport(osd, resp.Kvs[0].Value)
}

// putPGReport stores an OSD's report, replacing its previous one.
func (s *store) putPGReport(ctx context.Context, r *pgReport) error {
	b, err := encodeReport(r)
	if err != nil {
		return err
	}
	if _, err := s.cli.Put(ctx, s.pgstatsKey(r.osd), string(b)); err != nil {
		return fmt.Errorf("%w: storing osd.%d's PG report: %v", ErrNotLeader, r.osd, err)
	}
	return nil
}

// pgReports reads every OSD's stored report, by OSD id. Reports that do
// not decode are returned as errs, not as an error: one bad key must not
// hide every PG.
func (s *store) pgReports(ctx context.Context) (reps []*pgReport, errs []error, err error) {
	resp, err := s.cli.Get(ctx, s.pgstatsPrefix(), clientv3.WithPrefix())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: reading PG reports: %v", ErrNotLeader, err)
	}
	for _, kv := range resp.Kvs {
		idStr := strings.TrimPrefix(string(kv.Key), s.pgstatsPrefix())
		id, perr := strconv.ParseInt(idStr, 10, 32)
		if perr != nil {
			errs = append(errs, fmt.Errorf("mon: PG report key %s: %v", kv.Key, perr))
			continue
		}
		r, derr := decodeReport(int32(id), kv.Value)
		if derr != nil {
			errs = append(errs, derr)
			continue
		}
		reps = append(reps, r)
	}
	slices.SortFunc(reps, func(a, b *pgReport) int { return cmp.Compare(a.osd, b.osd) })
	return reps, errs, nil
}

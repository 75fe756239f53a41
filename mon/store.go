package mon

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/loligo/loligo/clustermap"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// store is the cluster's keys in etcd, all under /loligo/<fsid>/:
//
//	osdmap          the current OSD map (pb.OSDMap)
//	inc/<epoch>     the incremental that made epoch (pb.OSDMapIncremental),
//	                for the last incWindow epochs; the key's revision is
//	                the revision at which osdmap held that epoch
//	mons/<name>     a monitor's address (pb.MonInfo), kept
//	alive/<name>    present while the monitor's etcd session lives
//	election/       the leader election (etcd's concurrency recipe)
//	pghist/<pool>/<seed>
//	                the last interval the PG was activated in
//	                (pb.ActiveInterval), written by PGActivate only while
//	                the map is at the revision it was checked against;
//	                deleted with the pool
//	pgstats/<osd>   the OSD's newest PG report and recovery rate (see
//	                pgReport); deleted with the OSD
//
// Epoch numbers in keys are zero-padded to 20 digits, so keys sort as
// epochs do.
type store struct {
	cli       *clientv3.Client
	prefix    string
	incWindow uint64
}

func newStore(cli *clientv3.Client, fsid string, incWindow uint64) *store {
	return &store{cli: cli, prefix: "/loligo/" + fsid + "/", incWindow: incWindow}
}

func (s *store) mapKey() string            { return s.prefix + "osdmap" }
func (s *store) incPrefix() string         { return s.prefix + "inc/" }
func (s *store) incKey(e uint64) string    { return fmt.Sprintf("%s%020d", s.incPrefix(), e) }
func (s *store) monKey(name string) string { return s.prefix + "mons/" + name }
func (s *store) aliveKey(n string) string  { return s.prefix + "alive/" + n }
func (s *store) electionPrefix() string    { return s.prefix + "election" }

// load reads the current map and the revision it was written at; a
// cluster without a map yet gives (nil, 0, nil).
func (s *store) load(ctx context.Context) (*pb.OSDMap, int64, error) {
	resp, err := s.cli.Get(ctx, s.mapKey())
	if err != nil {
		return nil, 0, fmt.Errorf("%w: reading the map from etcd: %v", ErrNotLeader, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, nil
	}
	m := &pb.OSDMap{}
	if err := proto.Unmarshal(resp.Kvs[0].Value, m); err != nil {
		return nil, 0, fmt.Errorf("mon: the stored map is corrupt: %w", err)
	}
	return m, resp.Kvs[0].ModRevision, nil
}

// create writes epoch 1 unless a map exists; it reports whether it did.
func (s *store) create(ctx context.Context, m *clustermap.Map) (bool, error) {
	full, err := proto.Marshal(m.ToProto())
	if err != nil {
		return false, err
	}
	inc, err := proto.Marshal(&pb.OSDMapIncremental{Fsid: m.FSID, Epoch: m.Epoch, ModifiedNs: m.Modified.UnixNano()})
	if err != nil {
		return false, err
	}
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(s.mapKey()), "=", 0)).
		Then(clientv3.OpPut(s.mapKey(), string(full)), clientv3.OpPut(s.incKey(m.Epoch), string(inc))).
		Commit()
	if err != nil {
		return false, fmt.Errorf("mon: writing the first map: %w", err)
	}
	return resp.Succeeded, nil
}

// commit writes next (epoch e) and its incremental in one transaction
// that succeeds only if the map is still at prevRev and the leader key
// (leaderKey, created at leaderRev) still exists. It trims incrementals
// older than the window, and runs extra (deletions of what the new epoch
// removed) in the same transaction. It returns the new revision;
// ErrStale means the guard failed and nothing was written.
func (s *store) commit(ctx context.Context, prevRev int64, leaderKey string, leaderRev int64,
	next *pb.OSDMap, inc *pb.OSDMapIncremental, extra []clientv3.Op) (int64, error) {
	full, err := proto.Marshal(next)
	if err != nil {
		return 0, err
	}
	incb, err := proto.Marshal(inc)
	if err != nil {
		return 0, err
	}
	ops := []clientv3.Op{
		clientv3.OpPut(s.mapKey(), string(full)),
		clientv3.OpPut(s.incKey(next.GetEpoch()), string(incb)),
	}
	if e := next.GetEpoch(); e > s.incWindow {
		// Delete every incremental up to the window's start: usually one
		// key, more after the window shrank.
		ops = append(ops, clientv3.OpDelete(s.incKey(0), clientv3.WithRange(s.incKey(e-s.incWindow+1))))
	}
	ops = append(ops, extra...)
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(s.mapKey()), "=", prevRev),
			clientv3.Compare(clientv3.CreateRevision(leaderKey), "=", leaderRev)).
		Then(ops...).
		Commit()
	if err != nil {
		return 0, fmt.Errorf("%w: writing epoch %d: %v", ErrStale, next.GetEpoch(), err)
	}
	if !resp.Succeeded {
		return 0, fmt.Errorf("%w: epoch %d was not written: the map changed or this monitor lost the election", ErrStale, next.GetEpoch())
	}
	return resp.Header.Revision, nil
}

// incrementals returns the stored incrementals for epochs from..to
// (inclusive), at most limit of them, in order. It stops at the first
// missing epoch, so the result is always contiguous from from.
func (s *store) incrementals(ctx context.Context, from, to uint64, limit int64) ([]*pb.OSDMapIncremental, error) {
	resp, err := s.cli.Get(ctx, s.incKey(from), clientv3.WithRange(s.incKey(to+1)), clientv3.WithLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("%w: reading incrementals: %v", ErrNotLeader, err)
	}
	var out []*pb.OSDMapIncremental
	want := from
	for _, kv := range resp.Kvs {
		inc := &pb.OSDMapIncremental{}
		if err := proto.Unmarshal(kv.Value, inc); err != nil {
			return nil, fmt.Errorf("mon: stored incremental %s is corrupt: %w", kv.Key, err)
		}
		if inc.GetEpoch() != want {
			break
		}
		out = append(out, inc)
		want++
	}
	return out, nil
}

// mapAt returns the map of an old epoch, read from etcd's history at the
// revision its incremental was written. Epochs whose incremental is
// trimmed, or whose revision etcd compacted, are ErrNotFound.
func (s *store) mapAt(ctx context.Context, epoch uint64) (*pb.OSDMap, error) {
	resp, err := s.cli.Get(ctx, s.incKey(epoch))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotLeader, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("%w: epoch %d is not kept (only the last %d epochs are)", ErrNotFound, epoch, s.incWindow)
	}
	old, err := s.cli.Get(ctx, s.mapKey(), clientv3.WithRev(resp.Kvs[0].ModRevision))
	if errors.Is(err, rpctypes.ErrCompacted) {
		return nil, fmt.Errorf("%w: epoch %d is older than etcd's history", ErrNotFound, epoch)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotLeader, err)
	}
	if len(old.Kvs) == 0 {
		return nil, fmt.Errorf("%w: epoch %d", ErrNotFound, epoch)
	}
	m := &pb.OSDMap{}
	if err := proto.Unmarshal(old.Kvs[0].Value, m); err != nil {
		return nil, fmt.Errorf("mon: stored map of epoch %d is corrupt: %w", epoch, err)
	}
	if m.GetEpoch() != epoch {
		return nil, fmt.Errorf("mon: history at epoch %d's revision holds epoch %d", epoch, m.GetEpoch())
	}
	return m, nil
}

// mons lists the registered monitors and which of them are alive.
func (s *store) mons(ctx context.Context) ([]monState, error) {
	reg, err := s.cli.Get(ctx, s.prefix+"mons/", clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotLeader, err)
	}
	alive, err := s.cli.Get(ctx, s.prefix+"alive/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotLeader, err)
	}
	live := map[string]bool{}
	for _, kv := range alive.Kvs {
		live[strings.TrimPrefix(string(kv.Key), s.prefix+"alive/")] = true
	}
	var out []monState
	for _, kv := range reg.Kvs {
		info := &pb.MonInfo{}
		if err := proto.Unmarshal(kv.Value, info); err != nil {
			continue
		}
		out = append(out, monState{name: info.GetName(), addr: info.GetAddr(), alive: live[info.GetName()]})
	}
	return out, nil
}

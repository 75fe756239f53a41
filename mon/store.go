package mon

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/loligo/loligo/clustermap"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// store is the cluster's keys in etcd, all under /loligo/<fsid>/:
//
//	osdmap          the current OSD map (pb.OSDMap), as a stored value
//	inc/<epoch>     the incremental that made epoch (pb.OSDMapIncremental),
//	                as a stored value, for the last incWindow epochs; the
//	                key's revision is the revision at which osdmap held
//	                that epoch
//	chunks/<sha256> one chunk of a large stored value (raw bytes), named
//	                by the SHA-256 of its bytes in lower-case hex; present
//	                while the osdmap key or a kept inc/ key names it
//	fence           empty; the leader writes it after a write whose
//	                outcome it does not know, and its every write
//	                requires it unchanged since: the unknown write can
//	                then never land later
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
// A stored value (chunks.go) is the protobuf bytes themselves when they
// are at most inlineMax (256 KiB), as monitors always wrote them, or a
// zero byte and a pb.ChunkManifest naming its chunks. The chunks of an
// epoch are written before the epoch's transaction, each at most
// chunkMax and at most chunkWriteBytes per request, so no request comes
// near etcd's default limits (1.5 MiB, 128 operations) however large the
// map; the transaction writes only the small keys, and deletes the
// chunks no kept value names any more. A chunked value is read at the
// mod revision of its key, chunks included, so it is whole and
// consistent even as newer epochs replace it; etcd's history keeps the
// chunks of old epochs for mapAt.
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

func (s *store) mapKey() string             { return s.prefix + "osdmap" }
func (s *store) incPrefix() string          { return s.prefix + "inc/" }
func (s *store) incKey(e uint64) string     { return fmt.Sprintf("%s%020d", s.incPrefix(), e) }
func (s *store) chunkPrefix() string        { return s.prefix + "chunks/" }
func (s *store) fenceKey() string           { return s.prefix + "fence" }
func (s *store) chunkKey(id chunkID) string { return s.chunkPrefix() + id.String() }
func (s *store) monKey(name string) string  { return s.prefix + "mons/" + name }
func (s *store) aliveKey(n string) string   { return s.prefix + "alive/" + n }
func (s *store) electionPrefix() string     { return s.prefix + "election" }

// incEpoch parses the epoch of an inc/ key.
func (s *store) incEpoch(key []byte) (uint64, bool) {
	rest, ok := strings.CutPrefix(string(key), s.incPrefix())
	if !ok {
		return 0, false
	}
	e, err := strconv.ParseUint(rest, 10, 64)
	return e, err == nil
}

// chunkReadOps bounds the chunks read in one etcd request (at most
// 32 x chunkMax = 8 MiB in the answer).
const chunkReadOps = 32

// resolve returns the value a key held in kv (one read of it): inline as
// it is, or assembled from its chunks as they were at the key's mod
// revision, every checksum checked. have may hold chunks already known
// (those of the previous value); they are used instead of read, and
// checked too. It also returns the value's chunks (nil when inline) for
// the next call's have.
func (s *store) resolve(ctx context.Context, kv *mvccpb.KeyValue, have map[chunkID][]byte) ([]byte, map[chunkID][]byte, error) {
	inline, man, ids, err := decodeStored(kv.Value)
	if err != nil {
		return nil, nil, fmt.Errorf("mon: %s: %w", kv.Key, err)
	}
	if man == nil {
		return inline, nil, nil
	}
	chunks := make(map[chunkID][]byte, len(ids))
	var missing []chunkID
	for _, id := range ids {
		if b, ok := have[id]; ok {
			chunks[id] = b
		} else {
			missing = append(missing, id)
		}
	}
	for part := range slices.Chunk(missing, chunkReadOps) {
		ops := make([]clientv3.Op, len(part))
		for i, id := range part {
			ops[i] = clientv3.OpGet(s.chunkKey(id), clientv3.WithRev(kv.ModRevision))
		}
		resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return nil, nil, fmt.Errorf("reading the chunks of %s at revision %d: %w", kv.Key, kv.ModRevision, err)
		}
		for i, r := range resp.Responses {
			if kvs := r.GetResponseRange().GetKvs(); len(kvs) > 0 {
				chunks[part[i]] = kvs[0].Value
			}
		}
	}
	val, err := assemble(man, chunks)
	if err != nil {
		return nil, nil, fmt.Errorf("mon: %s at revision %d: %w", kv.Key, kv.ModRevision, err)
	}
	return val, chunks, nil
}

// load reads the current map and the revision it was written at; a
// cluster without a map yet gives (nil, 0, nil).
func (s *store) load(ctx context.Context) (*pb.OSDMap, int64, error) {
	m, rev, _, err := s.loadWith(ctx, nil)
	return m, rev, err
}

// loadWith is load reusing the chunks in have; it also returns the map's
// chunks.
func (s *store) loadWith(ctx context.Context, have map[chunkID][]byte) (*pb.OSDMap, int64, map[chunkID][]byte, error) {
	for attempt := 0; ; attempt++ {
		resp, err := s.cli.Get(ctx, s.mapKey())
		if err != nil {
			return nil, 0, nil, fmt.Errorf("%w: reading the map from etcd: %v", ErrNotLeader, err)
		}
		if len(resp.Kvs) == 0 {
			return nil, 0, nil, nil
		}
		b, chunks, err := s.resolve(ctx, resp.Kvs[0], have)
		if errors.Is(err, rpctypes.ErrCompacted) && attempt < 3 {
			continue // a newer map replaced it and etcd compacted: read that
		}
		if err != nil {
			return nil, 0, nil, fmt.Errorf("%w: %v", ErrNotLeader, err)
		}
		m := &pb.OSDMap{}
		if err := proto.Unmarshal(b, m); err != nil {
			return nil, 0, nil, fmt.Errorf("mon: the stored map is corrupt: %w", err)
		}
		return m, resp.Kvs[0].ModRevision, chunks, nil
	}
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
	if len(full) > inlineMax {
		return false, fmt.Errorf("%w: the first map is %d bytes; it must be at most %d", ErrInvalid, len(full), inlineMax)
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

// errLostLead: a guarded write found that the map changed or that this
// monitor no longer holds the election. Only this ends a leadership: the
// leader's view of the map can no longer be trusted.
var errLostLead = fmt.Errorf("%w: the map changed or this monitor lost the election", ErrStale)

// errNotWritten: an etcd write failed and certainly changed nothing.
var errNotWritten = errors.New("not written")

// guard is what every leader write requires: the map key still at
// mapRev, the leader's election key (leaderKey, created at leaderRev)
// still there, and the fence key still at fenceRev.
type guard struct {
	mapRev    int64
	leaderKey string
	leaderRev int64
	fenceRev  int64
}

// txn starts a transaction that runs only under g.
func (s *store) txn(ctx context.Context, g guard) clientv3.Txn {
	return s.cli.Txn(ctx).If(
		clientv3.Compare(clientv3.ModRevision(s.mapKey()), "=", g.mapRev),
		clientv3.Compare(clientv3.CreateRevision(g.leaderKey), "=", g.leaderRev),
		clientv3.Compare(clientv3.ModRevision(s.fenceKey()), "=", g.fenceRev))
}

// testHookCommit, if set, runs around an epoch's transaction: before it
// (applied false; an error is returned as etcd's, and nothing is sent)
// and after it succeeded (applied true; an error is returned as if the
// answer had been lost).
var testHookCommit atomic.Pointer[func(applied bool) error]

// putChunks writes the chunks of vals that skip does not report stored,
// in requests of at most chunkWriteBytes. It returns the chunks it wrote
// or tried to write (a failed request may still have written them).
func (s *store) putChunks(ctx context.Context, skip func(chunkID) bool, vals ...*storedValue) ([]chunkID, error) {
	var (
		tried []chunkID
		ops   []clientv3.Op
		bytes int
		seen  = map[chunkID]bool{}
	)
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		_, err := s.cli.Txn(ctx).Then(ops...).Commit()
		ops, bytes = ops[:0], 0
		if err != nil {
			return etcdWriteErr("writing map chunks", err)
		}
		return nil
	}
	for _, v := range vals {
		for _, id := range v.ids {
			if seen[id] || skip(id) {
				continue
			}
			seen[id] = true
			c := v.chunks[id]
			if len(ops) == maxTxnOps || bytes+len(c) > chunkWriteBytes {
				if err := flush(); err != nil {
					return tried, err
				}
			}
			ops = append(ops, clientv3.OpPut(s.chunkKey(id), string(c)))
			bytes += len(c)
			tried = append(tried, id)
		}
	}
	return tried, flush()
}

// deleteChunks deletes chunks under g, in transactions of at most
// maxTxnOps: while the map is at g's revision, nothing it or a kept
// incremental names is among them. A failed guard is errLostLead; any
// other error leaves it unknown which transactions landed.
func (s *store) deleteChunks(ctx context.Context, ids []chunkID, g guard) error {
	for part := range slices.Chunk(ids, maxTxnOps) {
		ops := make([]clientv3.Op, len(part))
		for i, id := range part {
			ops[i] = clientv3.OpDelete(s.chunkKey(id))
		}
		resp, err := s.txn(ctx, g).Then(ops...).Commit()
		if err != nil {
			return fmt.Errorf("%w: deleting unused map chunks: %v", ErrNotLeader, err)
		}
		if !resp.Succeeded {
			return fmt.Errorf("deleting unused map chunks: %w", errLostLead)
		}
	}
	return nil
}

// fence writes the fence key if the map is still at mapRev and the
// leader key (created at leaderRev) exists, and returns its new revision:
// from then on no earlier write of the leader can land. When the map is
// not at mapRev it returns what the map key holds instead (kv; nil if
// nothing), so the caller can tell whether its own unknown write
// landed.
func (s *store) fence(ctx context.Context, mapRev int64, leaderKey string, leaderRev int64) (fenceRev int64, kv *mvccpb.KeyValue, err error) {
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(s.mapKey()), "=", mapRev),
			clientv3.Compare(clientv3.CreateRevision(leaderKey), "=", leaderRev)).
		Then(clientv3.OpPut(s.fenceKey(), "")).
		Else(clientv3.OpGet(s.mapKey())).
		Commit()
	if err != nil {
		return 0, nil, fmt.Errorf("%w: writing the fence: %v", ErrNotLeader, err)
	}
	if resp.Succeeded {
		return resp.Header.Revision, nil, nil
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) == 0 || kvs[0].ModRevision == mapRev {
		return 0, nil, fmt.Errorf("writing the fence: %w", errLostLead)
	}
	return 0, kvs[0], nil
}

// chunkState reads, at one revision, what the leader needs to keep
// chunks: the chunks the map (which must still be at mapRev) and the
// kept incrementals name, the stored chunks nothing names (left by a
// write that failed, or by an earlier leader), and the fence's
// revision.
func (s *store) chunkState(ctx context.Context, mapRev int64) (refs *chunkRefs, orphans []chunkID, fenceRev int64, err error) {
	resp, err := s.cli.Txn(ctx).Then(clientv3.OpGet(s.mapKey()), clientv3.OpGet(s.fenceKey())).Commit()
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%w: reading the map from etcd: %v", ErrNotLeader, err)
	}
	mkv, fkv := resp.Responses[0].GetResponseRange().GetKvs(), resp.Responses[1].GetResponseRange().GetKvs()
	if len(mkv) == 0 || mkv[0].ModRevision != mapRev {
		return nil, nil, 0, fmt.Errorf("reading the map's chunks: %w", errLostLead)
	}
	if len(fkv) > 0 {
		fenceRev = fkv[0].ModRevision
	}
	at := resp.Header.Revision
	_, _, mapIDs, err := decodeStored(mkv[0].Value)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("mon: the stored map: %w", err)
	}
	incIDs := map[uint64][]chunkID{}
	// Page through the incrementals: the inline ones are read too, up to
	// inlineMax each.
	for from := s.incPrefix(); ; {
		page, err := s.cli.Get(ctx, from, clientv3.WithRange(clientv3.GetPrefixRangeEnd(s.incPrefix())),
			clientv3.WithRev(at), clientv3.WithLimit(64))
		if err != nil {
			return nil, nil, 0, fmt.Errorf("%w: reading incrementals: %v", ErrNotLeader, err)
		}
		for _, kv := range page.Kvs {
			e, ok := s.incEpoch(kv.Key)
			if !ok {
				continue
			}
			_, _, ids, err := decodeStored(kv.Value)
			if err != nil {
				return nil, nil, 0, fmt.Errorf("mon: %s: %w", kv.Key, err)
			}
			if ids != nil {
				incIDs[e] = ids
			}
		}
		if !page.More || len(page.Kvs) == 0 {
			break
		}
		from = string(page.Kvs[len(page.Kvs)-1].Key) + "\x00"
	}
	refs = newChunkRefs(mapIDs, incIDs)
	stored := map[chunkID]bool{}
	for from := s.chunkPrefix(); ; {
		page, err := s.cli.Get(ctx, from, clientv3.WithRange(clientv3.GetPrefixRangeEnd(s.chunkPrefix())),
			clientv3.WithRev(at), clientv3.WithKeysOnly(), clientv3.WithLimit(1000))
		if err != nil {
			return nil, nil, 0, fmt.Errorf("%w: listing map chunks: %v", ErrNotLeader, err)
		}
		for _, kv := range page.Kvs {
			var id chunkID
			h, ok := strings.CutPrefix(string(kv.Key), s.chunkPrefix())
			if n, err := hex.Decode(id[:], []byte(h)); !ok || err != nil || n != len(id) {
				continue // not ours to judge
			}
			stored[id] = true
			if !refs.has(id) {
				orphans = append(orphans, id)
			}
		}
		if !page.More || len(page.Kvs) == 0 {
			break
		}
		from = string(page.Kvs[len(page.Kvs)-1].Key) + "\x00"
	}
	// A named chunk that is missing (deleted by hand?) is written again
	// by the next epoch that names it, rather than taken as stored.
	for id := range refs.n {
		if !stored[id] {
			delete(refs.n, id)
		}
	}
	return refs, orphans, fenceRev, nil
}

// commit writes full (the map of epoch) and inc (its incremental), whose
// chunks must be stored already, in one transaction under g (the map
// still at the revision the leader read, the leader still elected, the
// fence unchanged). It trims incrementals older than the window, and
// runs extra (deletions of what the new epoch removed, and of chunks no
// longer named) in the same transaction. It returns the new revision. A
// failed guard is errLostLead; an etcd error that certainly wrote
// nothing wraps errNotWritten; any other error leaves it unknown whether
// the epoch was written.
func (s *store) commit(ctx context.Context, g guard, epoch uint64, full, inc *storedValue, extra []clientv3.Op) (int64, error) {
	ops := []clientv3.Op{
		clientv3.OpPut(s.mapKey(), string(full.key)),
		clientv3.OpPut(s.incKey(epoch), string(inc.key)),
	}
	if epoch > s.incWindow {
		// Delete every incremental up to the window's start: usually one
		// key, more after the window shrank.
		ops = append(ops, clientv3.OpDelete(s.incKey(0), clientv3.WithRange(s.incKey(epoch-s.incWindow+1))))
	}
	ops = append(ops, extra...)
	if h := testHookCommit.Load(); h != nil {
		if err := (*h)(false); err != nil {
			return 0, fmt.Errorf("writing epoch %d: %w", epoch, err)
		}
	}
	resp, err := s.txn(ctx, g).Then(ops...).Commit()
	if err != nil {
		return 0, etcdWriteErr(fmt.Sprintf("writing epoch %d", epoch), err)
	}
	if !resp.Succeeded {
		return 0, fmt.Errorf("epoch %d was not written: %w", epoch, errLostLead)
	}
	if h := testHookCommit.Load(); h != nil {
		if err := (*h)(true); err != nil {
			return 0, fmt.Errorf("writing epoch %d: %w", epoch, err)
		}
	}
	return resp.Header.Revision, nil
}

// etcdWriteErr describes a failed etcd write. Errors that certainly
// wrote nothing wrap errNotWritten: a request etcd or its client refuses
// as too large (also ErrTooBig: etcd's --max-request-bytes is set below
// what the monitor sends, at most about 1 MiB) or as too many
// operations.
func etcdWriteErr(what string, err error) error {
	switch {
	case errors.Is(err, rpctypes.ErrRequestTooLarge), status.Code(err) == codes.ResourceExhausted:
		return fmt.Errorf("%s: %w: %w: etcd refused the request as too large (%v); the monitor sends at most about %d KiB in one, so etcd's --max-request-bytes must be above that (its default is 1.5 MiB)",
			what, ErrTooBig, errNotWritten, err, max(chunkWriteBytes, 2*inlineMax)>>10)
	case errors.Is(err, rpctypes.ErrTooManyOps):
		return fmt.Errorf("%s: %w: etcd refused the request: %v", what, errNotWritten, err)
	}
	return fmt.Errorf("%s: %w", what, err)
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
		b, _, err := s.resolve(ctx, kv, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotLeader, err)
		}
		inc := &pb.OSDMapIncremental{}
		if err := proto.Unmarshal(b, inc); err != nil {
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
// revision its incremental was written (its chunks too). Epochs whose
// incremental is trimmed, or whose revision etcd compacted, are
// ErrNotFound.
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
	b, _, err := s.resolve(ctx, old.Kvs[0], nil)
	if errors.Is(err, rpctypes.ErrCompacted) {
		return nil, fmt.Errorf("%w: epoch %d is older than etcd's history", ErrNotFound, epoch)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotLeader, err)
	}
	m := &pb.OSDMap{}
	if err := proto.Unmarshal(b, m); err != nil {
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

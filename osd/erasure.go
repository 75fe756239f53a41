package osd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/osd/ec"
	pgplan "github.com/loligo/loligo/osd/pg"
	"github.com/loligo/loligo/osd/store"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// Erasure-coded PGs. Each acting position i holds shard i of every
// object of the PG as an ordinary store object of the same name: its
// data is the object's cells of shard i (osd/ec's layout, each cell with
// its HighwayHash), its xattrs are the object's xattrs plus ecAttr (the
// object's logical size), its version is the object's. Every shard has
// the same PG log. The primary runs a client op against the logical
// object (reading the stripes it needs from k shards), turns the change
// into steps on each shard, and every shard prepares and applies its
// own steps, keeping what they overwrite (store.ApplyKeep) until the
// primary says the write reached every shard (roll_forward_to), so that
// peering can roll a write that reached only some shards back.

// ecAttr is the shard xattr holding the object's logical size (8 bytes
// big endian). Client xattr names starting with NUL are refused on
// erasure-coded pools, so it cannot clash with one.
const ecAttr = "\x00ec.size"

// ecReadPiece bounds the shard bytes one ShardRead returns.
const ecReadPiece = 16 << 20

// errECOmap is the answer to an omap step on an erasure-coded pool.
var errECOmap = errors.New("omap is not supported on erasure-coded pools (as in Ceph): keep omap data in a replicated pool")

// ecCodeFor returns the erasure code of an erasure-coded pool's profile.
func (o *OSD) ecCodeFor(m *clustermap.Map, pool *clustermap.Pool) (*ec.Code, error) {
	prof, ok := m.ECProfiles[pool.ECProfile]
	if !ok {
		return nil, fmt.Errorf("pool %s: erasure-code profile %q is not in the map", pool.Name, pool.ECProfile)
	}
	num := func(key string, def int) (int, error) {
		s, ok := prof[key]
		if !ok {
			return def, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, fmt.Errorf("profile %q: %s=%q: %w", pool.ECProfile, key, s, err)
		}
		return n, nil
	}
	k, err := num("k", 0)
	if err != nil {
		return nil, err
	}
	mm, err := num("m", 0)
	if err != nil {
		return nil, err
	}
	su, err := num("stripe_unit", 4096)
	if err != nil {
		return nil, err
	}
	key := [3]int{k, mm, su}
	o.ecMu.Lock()
	defer o.ecMu.Unlock()
	if c, ok := o.ecCodes[key]; ok {
		return c, nil
	}
	c, err := ec.New(k, mm, su)
	if err != nil {
		return nil, fmt.Errorf("pool %s profile %q: %w", pool.Name, pool.ECProfile, err)
	}
	if o.ecCodes == nil {
		o.ecCodes = map[[3]int]*ec.Code{}
	}
	o.ecCodes[key] = c
	return c, nil
}

// position returns the acting position of OSD id in an erasure-coded
// view (its up position for a backfill target), -1 if none.
func (v view) position(id int32) int {
	if i := slices.Index(v.actingPos, id); i >= 0 {
		return i
	}
	return slices.Index(v.upPos, id)
}

// shardMeta is one shard's description of the object.
type shardMeta struct {
	exists  bool
	ev      *pb.Eversion // the object's version
	version uint64       // ev's version number
	mtime   int64
	size    uint64 // logical
	shard   uint64 // the shard's own size
	xattrs  map[string][]byte
}

func ecSize(x map[string][]byte) (uint64, error) {
	b, ok := x[ecAttr]
	if !ok || len(b) != 8 {
		return 0, fmt.Errorf("shard has no valid %q attribute: %w", ecAttr, store.ErrCorrupt)
	}
	return binary.BigEndian.Uint64(b), nil
}

func ecSizeAttr(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// readLocalShard reads this OSD's shard of oid: its metadata and the
// byte range [off, off+n) (n 0: to the end; withData false: none).
func (o *OSD) readLocalShard(id store.PGID, oid string, off, n uint64, withData bool) (shardMeta, []byte, error) {
	meta, err := o.store.Meta(id, oid)
	if errors.Is(err, store.ErrNotFound) {
		return shardMeta{}, nil, nil
	}
	if err != nil {
		return shardMeta{}, nil, err
	}
	sm, err := shardMetaOf(meta)
	if err != nil {
		return shardMeta{}, nil, fmt.Errorf("pg %s object %q: %w", id, oid, err)
	}
	if !withData {
		return sm, nil, nil
	}
	_, res, err := o.store.Prepare(id, oid, []*pb.OpStep{{Code: pb.OpCode_OP_READ, Offset: off, Length: n}}, nil, o.cfg.Clock.Now())
	if err != nil {
		return shardMeta{}, nil, err
	}
	return sm, res[0].GetData(), nil
}

// shardMetaOf reads a shard's metadata.
func shardMetaOf(m *pb.ObjectMeta) (shardMeta, error) {
	sm := shardMeta{exists: true, ev: m.GetVersion(), version: m.GetVersion().GetVersion(), mtime: m.GetMtimeNs(), shard: m.GetSize(), xattrs: m.GetXattrs()}
	var err error
	sm.size, err = ecSize(sm.xattrs)
	return sm, err
}

// ShardRead serves a primary's read of this OSD's shard.
func (s *service) ShardRead(ctx context.Context, req *pb.ShardReadRequest) (*pb.ShardReadReply, error) {
	o := s.o
	id, retry, msg := o.readerCheck(ctx, req.GetPool(), req.GetPs(), req.GetEpoch())
	if msg != "" {
		return &pb.ShardReadReply{Result: pb.Result_RETRY, Message: msg, RetryEpoch: retry}, nil
	}
	if req.GetLength() > ecReadPiece {
		return &pb.ShardReadReply{Result: pb.Result_TOO_BIG, Message: fmt.Sprintf("a shard read returns at most %d bytes", ecReadPiece)}, nil
	}
	sm, data, err := o.readLocalShard(id, req.GetOid(), req.GetOffset(), req.GetLength(), true)
	if err != nil {
		return &pb.ShardReadReply{Result: store.Result(err), Message: err.Error()}, nil
	}
	if !sm.exists {
		return &pb.ShardReadReply{Result: pb.Result_NOT_FOUND, Message: fmt.Sprintf("osd.%d holds no shard of %q", o.cfg.ID, req.GetOid())}, nil
	}
	if len(data) > ecReadPiece {
		return &pb.ShardReadReply{Result: pb.Result_TOO_BIG, Message: fmt.Sprintf("a shard read returns at most %d bytes: give a length", ecReadPiece)}, nil
	}
	return &pb.ShardReadReply{Data: data, Meta: &pb.ObjectMeta{Size: sm.shard, Version: sm.ev, MtimeNs: sm.mtime, Xattrs: sm.xattrs}}, nil
}

// readShard reads position pos's shard of oid from the OSD there.
func (o *OSD) readShard(ctx context.Context, p *pg, v view, m *clustermap.Map, pos int, oid string, off, n uint64, withData bool) (shardMeta, []byte, error) {
	id := v.actingPos[pos]
	if id == o.cfg.ID {
		return o.readLocalShard(p.id, oid, off, n, withData)
	}
	cl, err := o.peerOf(m, id)
	if err != nil {
		return shardMeta{}, nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, o.cfg.PeerTimeout)
	defer cancel()
	req := &pb.ShardReadRequest{Pool: p.id.Pool, Ps: p.id.PS, Interval: v.interval, Epoch: v.epoch, Oid: oid, Offset: off, Length: n}
	if !withData {
		req.Offset, req.Length = 1<<62, 1 // beyond any shard: metadata only
	}
	rep, err := cl.ShardRead(cctx, req)
	if err != nil {
		return shardMeta{}, nil, fmt.Errorf("osd.%d: %w", id, err)
	}
	switch rep.GetResult() {
	case pb.Result_OK:
	case pb.Result_NOT_FOUND:
		return shardMeta{}, nil, nil
	case pb.Result_CORRUPT:
		return shardMeta{}, nil, fmt.Errorf("osd.%d: %s: %w", id, rep.GetMessage(), store.ErrCorrupt)
	default:
		return shardMeta{}, nil, fmt.Errorf("osd.%d: %s: %s", id, rep.GetResult(), rep.GetMessage())
	}
	sm, err := shardMetaOf(rep.GetMeta())
	if err != nil {
		return shardMeta{}, nil, fmt.Errorf("osd.%d: %w", id, err)
	}
	return sm, rep.GetData(), nil
}

// sources lists the acting positions whose shard of oid is in step
// (members still missing it excluded), data shards first, and skip
// excluded.
func (p *pg) sources(v view, oid string, skip []int) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int
	for pos, id := range v.actingPos {
		if id == clustermap.NoOSD || slices.Contains(skip, pos) {
			continue
		}
		if id == p.o.cfg.ID && p.selfMissing[oid] {
			continue
		}
		if id != p.o.cfg.ID {
			mem := p.members[id]
			if mem == nil || mem.missing[oid] || mem.backfill && !mem.done && oid > mem.cursor {
				continue
			}
		}
		out = append(out, pos)
	}
	return out
}

// ecFetch reads stripes [first, first+count) of oid at version ver from
// enough shards to decode them: the data shards first, more when one is
// missing, stale or unreachable, all of the rest when the cells read
// fail their checksums. It returns the shard buffers (nil where not
// read) and the positions that answered with a stale version or no
// shard.
func (o *OSD) ecFetch(ctx context.Context, p *pg, v view, oid string, ver *pb.Eversion, first, count uint64, skip []int) ([][]byte, []int, error) {
	code := v.code
	m := o.Map()
	cands := p.sources(v, oid, skip)
	shards := make([][]byte, code.N())
	var stale []int
	var errs []error
	good := 0
	off, n := first*uint64(code.CellSize()), count*uint64(code.CellSize())
	next := 0
	read := func(want int) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for ; want > 0 && next < len(cands); want-- {
			pos := cands[next]
			next++
			wg.Go(func() {
				sm, data, err := o.readShard(ctx, p, v, m, pos, oid, off, n, true)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.Is(err, store.ErrCorrupt):
					stale = append(stale, pos)
					errs = append(errs, fmt.Errorf("shard %d: %w", pos, err))
				case err != nil:
					errs = append(errs, fmt.Errorf("shard %d: %w", pos, err))
				case !sm.exists || pgplan.EvCompare(sm.ev, ver) != 0:
					stale = append(stale, pos)
				default:
					shards[pos] = padTo(data, n)
					good++
				}
			})
		}
		wg.Wait()
	}
	read(code.K())
	for good < code.K() && next < len(cands) {
		read(code.K() - good)
	}
	if good < code.K() {
		err := fmt.Errorf("%w: object %q: %d of the k=%d shards needed could be read (stale or absent: %v)",
			store.ErrIO, oid, good, code.K(), stale)
		if len(errs) > 0 {
			err = fmt.Errorf("%w: %w", err, errors.Join(errs...))
		}
		return nil, stale, err
	}
	return shards, stale, nil
}

// ecDecode reads and decodes stripes [first, first+count) of oid; shards
// found stale or corrupt are repaired in the background.
func (o *OSD) ecDecode(ctx context.Context, p *pg, v view, oid string, ver *pb.Eversion, first, count uint64) ([]byte, error) {
	code := v.code
	out := make([]byte, 0, count*uint64(code.StripeWidth()))
	for count > 0 {
		c := min(count, uint64(max(1, ecReadPiece/code.CellSize())))
		shards, stale, err := o.ecFetch(ctx, p, v, oid, ver, first, c, nil)
		if err != nil {
			return nil, err
		}
		data, bad, err := code.Decode(shards)
		if o.log.Enabled(ctx, slog.LevelDebug) {
			var used []string
			for pos, b := range shards {
				if b != nil {
					used = append(used, fmt.Sprintf("%d@osd.%d", pos, v.actingPos[pos]))
				}
			}
			o.log.Debug("ec decode", "pg", p.id.String(), "oid", oid, "ev", ver.String(), "stripes", fmt.Sprint(first, "+", c), "shards", used, "stale", stale, "bad", bad, "err", err)
		}
		if err != nil {
			// Too many bad cells among the shards read: read them all.
			shards = o.ecFetchRest(ctx, p, v, oid, ver, first, c, shards)
			data, bad, err = code.Decode(shards)
		}
		if err != nil {
			return nil, fmt.Errorf("decoding %q: %w", oid, err)
		}
		if repair := slices.Concat(stale, bad); len(repair) > 0 {
			o.ecRepairLater(p, v, oid, repair)
		}
		out = append(out, data...)
		first += c
		count -= c
	}
	return out, nil
}

// padTo extends a shard read to n bytes: past the shard's stored end it
// reads as zeros.
func padTo(data []byte, n uint64) []byte {
	if uint64(len(data)) < n {
		data = append(data, make([]byte, n-uint64(len(data)))...)
	}
	return data
}

// ecFetchRest adds every other readable in-step shard to shards.
func (o *OSD) ecFetchRest(ctx context.Context, p *pg, v view, oid string, ver *pb.Eversion, first, count uint64, shards [][]byte) [][]byte {
	var have []int
	for i, s := range shards {
		if s != nil {
			have = append(have, i)
		}
	}
	m := o.Map()
	code := v.code
	out := slices.Clone(shards)
	off, n := first*uint64(code.CellSize()), count*uint64(code.CellSize())
	for _, pos := range p.sources(v, oid, have) {
		sm, data, err := o.readShard(ctx, p, v, m, pos, oid, off, n, true)
		if err != nil || !sm.exists || pgplan.EvCompare(sm.ev, ver) != 0 {
			continue
		}
		out[pos] = padTo(data, n)
	}
	return out
}

// ecRepairLater rebuilds the shards of oid at positions in the
// background, under the object's lock.
func (o *OSD) ecRepairLater(p *pg, v view, oid string, positions []int) {
	positions = slices.Compact(slices.Sorted(slices.Values(positions)))
	o.goBackground(func(ctx context.Context) {
		unlock := p.lockObject(oid)
		defer unlock()
		if p.view().gen != v.gen {
			return
		}
		if err := o.ecRebuild(ctx, p, v, oid, positions); err != nil {
			o.log.Warn("repairing erasure-coded shards failed; a scrub repair will retry", "pg", p.id.String(), "oid", oid, "shards", positions, "err", err)
			return
		}
		o.log.Warn("repaired erasure-coded shards", "pg", p.id.String(), "oid", oid, "shards", positions)
	})
}

// ecObjectMeta finds the object's state as the in-step shards describe
// it (the primary's own first), skipping positions in skip.
func (o *OSD) ecObjectMeta(ctx context.Context, p *pg, v view, oid string, skip []int) (shardMeta, error) {
	self := v.position(o.cfg.ID)
	if self >= 0 && !slices.Contains(skip, self) && slices.Contains(p.sources(v, oid, nil), self) {
		sm, _, err := o.readLocalShard(p.id, oid, 0, 0, false)
		if err == nil {
			return sm, nil
		}
	}
	m := o.Map()
	var errs []error
	for _, pos := range p.sources(v, oid, append(slices.Clone(skip), self)) {
		sm, _, err := o.readShard(ctx, p, v, m, pos, oid, 0, 0, false)
		if err == nil {
			return sm, nil
		}
		errs = append(errs, err)
	}
	return shardMeta{}, fmt.Errorf("no in-step shard of %q could say its state: %w", oid, errors.Join(errs...))
}

// ecRebuild rebuilds the shards of oid at positions from the others and
// installs them on the OSDs there.
func (o *OSD) ecRebuild(ctx context.Context, p *pg, v view, oid string, positions []int) error {
	txns, err := o.ecShardTxns(ctx, p, v, oid, positions)
	if err != nil {
		return err
	}
	m := o.Map()
	var errs []error
	for pos, t := range txns {
		id := v.actingPos[pos]
		if id == o.cfg.ID {
			errs = append(errs, o.store.Install(p.id, []*pb.Txn{t}, nil, nil, false))
			continue
		}
		errs = append(errs, o.pushObjects(ctx, m, p, v, id, []*pb.Txn{t}))
	}
	return errors.Join(errs...)
}

// ecShardTxns builds, for each position, the whole-shard transaction
// that puts the object's shard there (a removal when the object does
// not exist), from k in-step shards at other positions.
func (o *OSD) ecShardTxns(ctx context.Context, p *pg, v view, oid string, positions []int) (map[int]*pb.Txn, error) {
	code := v.code
	sm, err := o.ecObjectMeta(ctx, p, v, oid, positions)
	if err != nil {
		return nil, err
	}
	out := map[int]*pb.Txn{}
	if !sm.exists {
		for _, pos := range positions {
			out[pos] = &pb.Txn{Oid: oid, Remove: true, Replace: true}
		}
		return out, nil
	}
	stripes := code.Stripes(sm.size)
	bufs := map[int][]byte{}
	for first := uint64(0); first < stripes; {
		c := min(stripes-first, uint64(max(1, ecReadPiece/code.CellSize())))
		shards, _, err := o.ecFetch(ctx, p, v, oid, sm.ev, first, c, positions)
		if err != nil {
			return nil, err
		}
		rebuilt, err := code.Reconstruct(shards, positions)
		if err != nil {
			// Bad cells among those read: read every other shard too.
			shards = o.ecFetchRest(ctx, p, v, oid, sm.ev, first, c, shards)
			for _, pos := range positions {
				shards[pos] = nil
			}
			rebuilt, err = code.Reconstruct(shards, positions)
		}
		if err != nil {
			return nil, fmt.Errorf("rebuilding shards %v of %q: %w", positions, oid, err)
		}
		for i, pos := range positions {
			bufs[pos] = append(bufs[pos], rebuilt[i]...)
		}
		first += c
	}
	for _, pos := range positions {
		meta := &pb.ObjectMeta{Version: sm.ev, MtimeNs: sm.mtime, Xattrs: sm.xattrs}
		t, err := o.store.WholeTxn(oid, meta, bufs[pos])
		if err != nil {
			return nil, err
		}
		out[pos] = t
	}
	return out, nil
}

// ecObject is a client op's view of a logical object of an
// erasure-coded PG: its state, and the stripes the op read or changed.
type ecObject struct {
	o    *OSD
	ctx  context.Context
	p    *pg
	v    view
	oid  string
	code *ec.Code

	exists  bool
	size    uint64
	version uint64
	mtime   int64
	xattrs  map[string][]byte

	old      shardMeta
	base     uint64            // bytes of the old data still meaningful
	stripes  map[uint64][]byte // stripe index -> its current bytes
	dirty    map[uint64]bool
	fresh    bool // the data was replaced as a whole
	removed  bool // the old object was removed by the op
	changed  bool // a write step ran
	payload  uint64
	maxWrite uint64
	now      int64
}

func (x *ecObject) sw() uint64 { return uint64(x.code.StripeWidth()) }

// stripe returns stripe s's current bytes, reading it when needed.
func (x *ecObject) stripe(s uint64) ([]byte, error) {
	if b, ok := x.stripes[s]; ok {
		return b, nil
	}
	b := make([]byte, x.sw())
	if !x.fresh && s*x.sw() < x.base {
		data, err := x.o.ecDecode(x.ctx, x.p, x.v, x.oid, x.old.ev, s, 1)
		if err != nil {
			return nil, err
		}
		copy(b, data)
		if end := x.base - s*x.sw(); end < x.sw() {
			clear(b[end:])
		}
	}
	x.stripes[s] = b
	return b, nil
}

// prefetch reads the old stripes [first, first+count) not read yet in
// one gather (a large read or a write over many partial stripes).
func (x *ecObject) prefetch(first, count uint64) error {
	if x.fresh || count == 0 {
		return nil
	}
	lo, hi := first, first+count
	for lo < hi && (x.stripes[lo] != nil || lo*x.sw() >= x.base) {
		lo++
	}
	for hi > lo && (x.stripes[hi-1] != nil || (hi-1)*x.sw() >= x.base) {
		hi--
	}
	if lo >= hi || hi-lo < 2 {
		return nil
	}
	data, err := x.o.ecDecode(x.ctx, x.p, x.v, x.oid, x.old.ev, lo, hi-lo)
	if err != nil {
		return err
	}
	for s := lo; s < hi; s++ {
		if x.stripes[s] != nil {
			continue
		}
		b := make([]byte, x.sw())
		copy(b, data[(s-lo)*x.sw():])
		if s*x.sw() < x.base && x.base-s*x.sw() < x.sw() {
			clear(b[x.base-s*x.sw():])
		} else if s*x.sw() >= x.base {
			clear(b)
		}
		x.stripes[s] = b
	}
	return nil
}

func (x *ecObject) notFound() error {
	return fmt.Errorf("pg %s object %q: %w", x.p.id, x.oid, store.ErrNotFound)
}

func (x *ecObject) write(off uint64, data []byte) error {
	n := uint64(len(data))
	x.payload += n
	if x.payload > x.maxWrite {
		return fmt.Errorf("operation carries %d bytes, above %d: %w", x.payload, x.maxWrite, store.ErrTooBig)
	}
	if n == 0 {
		return nil
	}
	end := off + n
	if end < off {
		return fmt.Errorf("write at %d of %d bytes overflows: %w", off, n, store.ErrInvalid)
	}
	if off == 0 && end >= x.size {
		x.resetData()
	}
	first, count := x.code.StripeSpan(off, n)
	// Only the partial first and last stripes need their old bytes.
	if err := x.prefetch(first, 1); err != nil {
		return err
	}
	for s := first; s < first+count; s++ {
		lo := s * x.sw()
		var b []byte
		if off <= lo && end >= lo+x.sw() {
			b = make([]byte, x.sw()) // covered whole
			x.stripes[s] = b
		} else {
			var err error
			if b, err = x.stripe(s); err != nil {
				return err
			}
		}
		from, to := max(off, lo), min(end, lo+x.sw())
		copy(b[from-lo:to-lo], data[from-off:to-off])
		x.dirty[s] = true
	}
	x.size = max(x.size, end)
	return nil
}

func (x *ecObject) resetData() {
	x.fresh = true
	x.stripes = map[uint64][]byte{}
	x.dirty = map[uint64]bool{}
	x.size = 0
	x.base = 0
}

func (x *ecObject) truncate(n uint64) error {
	if n < x.size {
		last := n / x.sw()
		for s := range x.stripes {
			if s > last || s == last && n%x.sw() == 0 {
				delete(x.stripes, s)
				delete(x.dirty, s)
			}
		}
		if n%x.sw() != 0 {
			b, err := x.stripe(last)
			if err != nil {
				return err
			}
			clear(b[n%x.sw():])
			x.dirty[last] = true
		}
		x.base = min(x.base, n)
	}
	x.size = n
	return nil
}

func (x *ecObject) zero(off, n uint64) error {
	end := x.size
	if n < x.size-min(off, x.size) {
		end = off + n
	}
	if off >= end {
		return nil
	}
	first, count := x.code.StripeSpan(off, end-off)
	for s := first; s < first+count; s++ {
		lo := s * x.sw()
		b, err := x.stripe(s)
		if err != nil {
			return err
		}
		clear(b[max(off, lo)-lo : min(end, lo+x.sw())-lo])
		x.dirty[s] = true
	}
	return nil
}

func (x *ecObject) read(off, n uint64) ([]byte, error) {
	if off >= x.size || n == 0 {
		return []byte{}, nil
	}
	end := min(x.size, off+n)
	if end < off {
		end = x.size
	}
	first, count := x.code.StripeSpan(off, end-off)
	if err := x.prefetch(first, count); err != nil {
		return nil, err
	}
	out := make([]byte, 0, end-off)
	for s := first; s < first+count; s++ {
		b, err := x.stripe(s)
		if err != nil {
			return nil, err
		}
		lo := s * x.sw()
		out = append(out, b[max(off, lo)-lo:min(end, lo+x.sw())-lo]...)
	}
	return out, nil
}

func checkECXattr(name string) error {
	if len(name) > 0 && name[0] == 0 {
		return fmt.Errorf("xattr %q: names starting with NUL are reserved on erasure-coded pools: %w", name, store.ErrInvalid)
	}
	return nil
}

// step runs one client step against the logical object.
func (x *ecObject) step(st *pb.OpStep) (*pb.StepResult, error) {
	res := &pb.StepResult{}
	code := st.GetCode()
	write := store.IsWrite(code)
	switch code {
	case pb.OpCode_OP_OMAP_SET, pb.OpCode_OP_OMAP_RM_KEYS, pb.OpCode_OP_OMAP_CLEAR, pb.OpCode_OP_OMAP_GET_KEYS,
		pb.OpCode_OP_OMAP_GET_VALS, pb.OpCode_OP_OMAP_GET_VALS_BY_KEYS, pb.OpCode_OP_OMAP_CMP:
		return nil, fmt.Errorf("%w: %w", errECOmap, store.ErrInvalid)
	}
	if !x.exists {
		switch code {
		case pb.OpCode_OP_READ, pb.OpCode_OP_STAT, pb.OpCode_OP_GETXATTR, pb.OpCode_OP_GETXATTRS,
			pb.OpCode_OP_CMPXATTR, pb.OpCode_OP_ASSERT_EXISTS, pb.OpCode_OP_ZERO, pb.OpCode_OP_REMOVE, pb.OpCode_OP_RMXATTR:
			return nil, x.notFound()
		}
	}
	var err error
	switch code {
	case pb.OpCode_OP_CREATE:
		if x.exists && st.GetExclusive() {
			return nil, fmt.Errorf("pg %s object %q: %w", x.p.id, x.oid, store.ErrExists)
		}
	case pb.OpCode_OP_WRITE:
		err = x.write(st.GetOffset(), st.GetData())
	case pb.OpCode_OP_WRITE_FULL:
		x.resetData()
		err = x.write(0, st.GetData())
	case pb.OpCode_OP_APPEND:
		err = x.write(x.size, st.GetData())
	case pb.OpCode_OP_TRUNCATE:
		err = x.truncate(st.GetOffset())
	case pb.OpCode_OP_ZERO:
		err = x.zero(st.GetOffset(), st.GetLength())
	case pb.OpCode_OP_REMOVE:
		x.resetData()
		x.exists, x.removed, x.version = false, true, 0
		x.xattrs = map[string][]byte{}
		x.changed = true
		return res, nil
	case pb.OpCode_OP_SETXATTR:
		if err := checkECXattr(st.GetName()); err != nil {
			return nil, err
		}
		x.xattrs[st.GetName()] = st.GetValue()
	case pb.OpCode_OP_RMXATTR:
		if err := checkECXattr(st.GetName()); err != nil {
			return nil, err
		}
		if _, ok := x.xattrs[st.GetName()]; !ok {
			return nil, fmt.Errorf("xattr %q: %w", st.GetName(), store.ErrNoData)
		}
		delete(x.xattrs, st.GetName())
	case pb.OpCode_OP_READ:
		n := st.GetLength()
		if n == 0 {
			n = x.size
		}
		res.Data, err = x.read(st.GetOffset(), n)
	case pb.OpCode_OP_STAT:
		res.Size, res.MtimeNs, res.Version = x.size, x.mtime, x.version
	case pb.OpCode_OP_GETXATTR:
		if err := checkECXattr(st.GetName()); err != nil {
			return nil, err
		}
		v, ok := x.xattrs[st.GetName()]
		if !ok {
			return nil, fmt.Errorf("xattr %q: %w", st.GetName(), store.ErrNoData)
		}
		res.Data = append([]byte{}, v...)
	case pb.OpCode_OP_GETXATTRS:
		res.Kv = maps.Clone(x.xattrs)
	case pb.OpCode_OP_CMPXATTR:
		ok, err := store.Compare(st.GetCmp(), x.xattrs[st.GetName()], st.GetValue())
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("xattr %q %v %q is false: %w", st.GetName(), st.GetCmp(), st.GetValue(), store.ErrCanceled)
		}
	case pb.OpCode_OP_ASSERT_VERSION:
		if x.version != st.GetVersion() {
			return nil, fmt.Errorf("object version %d, not %d: %w", x.version, st.GetVersion(), store.ErrVersion)
		}
	case pb.OpCode_OP_ASSERT_EXISTS:
	default:
		return nil, fmt.Errorf("unknown op code %d: %w", code, store.ErrInvalid)
	}
	if err != nil {
		return nil, err
	}
	if write {
		x.exists, x.changed = true, true
		x.mtime = x.now
	}
	return res, nil
}

// shardSteps turns the op's change into steps on each shard (indexed by
// position).
func (x *ecObject) shardSteps() ([][]*pb.OpStep, error) {
	n := x.code.N()
	out := make([][]*pb.OpStep, n)
	if !x.exists {
		for i := range out {
			out[i] = []*pb.OpStep{{Code: pb.OpCode_OP_REMOVE}}
		}
		return out, nil
	}
	// Encode runs of dirty stripes. Data replaced as a whole starts from
	// nothing on the shard: a write_full of the first run, or of nothing.
	dirty := slices.Sorted(maps.Keys(x.dirty))
	cell := uint64(x.code.CellSize())
	shardSize := x.code.ShardSize(x.size)
	full := false
	for len(dirty) > 0 {
		run := 1
		for run < len(dirty) && dirty[run] == dirty[0]+uint64(run) {
			run++
		}
		buf := make([]byte, 0, uint64(run)*x.sw())
		for _, s := range dirty[:run] {
			buf = append(buf, x.stripes[s]...)
		}
		shards, err := x.code.Encode(buf)
		if err != nil {
			return nil, err
		}
		code := pb.OpCode_OP_WRITE
		if x.fresh && !full && dirty[0] == 0 {
			code, full = pb.OpCode_OP_WRITE_FULL, true
		}
		for i := range out {
			out[i] = append(out[i], &pb.OpStep{Code: code, Offset: dirty[0] * cell, Data: shards[i]})
		}
		dirty = dirty[run:]
	}
	for i := range out {
		if x.fresh && !full && x.old.exists && !x.removed {
			out[i] = append([]*pb.OpStep{{Code: pb.OpCode_OP_WRITE_FULL}}, out[i]...)
		}
		if x.removed && x.old.exists {
			out[i] = append([]*pb.OpStep{{Code: pb.OpCode_OP_REMOVE}}, out[i]...)
		}
		out[i] = append(out[i], &pb.OpStep{Code: pb.OpCode_OP_TRUNCATE, Offset: shardSize})
		// xattrs: the shard's set becomes the object's plus ecAttr.
		for name := range x.old.xattrs {
			if _, ok := x.xattrs[name]; !ok && name != ecAttr && !x.removed {
				out[i] = append(out[i], &pb.OpStep{Code: pb.OpCode_OP_RMXATTR, Name: name})
			}
		}
		for _, name := range slices.Sorted(maps.Keys(x.xattrs)) {
			if old, ok := x.old.xattrs[name]; ok && !x.removed && string(old) == string(x.xattrs[name]) {
				continue
			}
			out[i] = append(out[i], &pb.OpStep{Code: pb.OpCode_OP_SETXATTR, Name: name, Value: x.xattrs[name]})
		}
		out[i] = append(out[i], &pb.OpStep{Code: pb.OpCode_OP_SETXATTR, Name: ecAttr, Value: ecSizeAttr(x.size)})
	}
	return out, nil
}

// ecOp runs a client op on an erasure-coded PG; the object's lock is
// held and the PG serves.
func (o *OSD) ecOp(ctx context.Context, p *pg, req *pb.OpRequest, write bool) *pb.OpReply {
	v := p.view()
	oid := req.GetOid()
	for i, st := range req.GetSteps() {
		switch st.GetCode() {
		case pb.OpCode_OP_OMAP_SET, pb.OpCode_OP_OMAP_RM_KEYS, pb.OpCode_OP_OMAP_CLEAR, pb.OpCode_OP_OMAP_GET_KEYS,
			pb.OpCode_OP_OMAP_GET_VALS, pb.OpCode_OP_OMAP_GET_VALS_BY_KEYS, pb.OpCode_OP_OMAP_CMP:
			return &pb.OpReply{Result: pb.Result_INVALID, FailedStep: int32(i),
				Message: fmt.Sprintf("step %d (%v): %v", i, st.GetCode(), errECOmap)}
		}
	}
	if write {
		if err := o.recoverForOp(ctx, p, v, oid); err != nil {
			return retryReply(v.epoch, "pg %s: recovering %q before the write: %v; retry", p.id, oid, err)
		}
	}
	var (
		ev       *pb.Eversion
		done     func()
		markSent = func() {}
	)
	if write {
		var rep *pb.OpReply
		ev, v, rep, done = o.beginWrite(ctx, p, req)
		if rep != nil {
			return rep
		}
		defer done()
		sent := false
		defer func() {
			if !sent {
				o.ecWriteEnded(p, v, ev, true) // never reached a shard
			}
		}()
		markSent = func() { sent = true }
	}
	old, err := o.ecObjectMeta(ctx, p, v, oid, nil)
	if err != nil {
		return retryReply(v.epoch, "pg %s: %v; retry", p.id, err)
	}
	now := o.cfg.Clock.Now().UnixNano()
	x := &ecObject{o: o, ctx: ctx, p: p, v: v, oid: oid, code: v.code, old: old,
		stripes: map[uint64][]byte{}, dirty: map[uint64]bool{}, now: now, maxWrite: store.DefaultMaxWriteSize}
	x.exists, x.size, x.version, x.mtime, x.base = old.exists, old.size, old.version, old.mtime, old.size
	x.xattrs = map[string][]byte{}
	for k, val := range old.xattrs {
		if k != ecAttr {
			x.xattrs[k] = val
		}
	}
	results := make([]*pb.StepResult, 0, len(req.GetSteps()))
	for i, st := range req.GetSteps() {
		r, err := x.step(st)
		if err != nil {
			rep := failReply(err)
			rep.FailedStep = int32(i)
			rep.Message = fmt.Sprintf("step %d (%v): %v", i, st.GetCode(), err)
			return rep
		}
		results = append(results, r)
	}
	if !write || !x.changed {
		rep := &pb.OpReply{Steps: results, Version: x.version, FailedStep: -1}
		size := 0
		for _, r := range results {
			size += len(r.GetData())
		}
		if size > maxReply {
			return &pb.OpReply{Result: pb.Result_TOO_BIG, FailedStep: -1,
				Message: fmt.Sprintf("the op would return %d bytes, more than one reply holds (%d): read in smaller pieces", size, maxReply)}
		}
		if write && !x.changed {
			// Guards only: nothing to apply, but the write was ordered.
			return rep
		}
		return rep
	}
	steps, err := x.shardSteps()
	if err != nil {
		return failReply(err)
	}
	objVersion := ev.GetVersion()
	if !x.exists {
		objVersion = 0
		if !old.exists {
			// Removing what does not exist changes nothing.
			return &pb.OpReply{Steps: results, FailedStep: -1}
		}
	}
	entry := &pb.LogEntry{Version: ev, Reqid: req.GetReqid(), Oid: oid, ObjectVersion: objVersion}
	markSent()
	err = o.ecReplicate(ctx, p, v, steps, entry, time.Unix(0, now))
	o.ecWriteEnded(p, v, ev, err == nil)
	if err != nil {
		return retryReply(v.epoch, "pg %s: %v; the write will be completed or rolled back before the PG serves again, retry", p.id, err)
	}
	return &pb.OpReply{Steps: results, Version: objVersion, FailedStep: -1}
}

// ecReplicate applies each position's steps on the OSD there (this
// OSD's own locally), keeping what they overwrite; backfill targets
// only for objects their backfill passed, members catching up
// unlogged.
func (o *OSD) ecReplicate(ctx context.Context, p *pg, v view, steps [][]*pb.OpStep, entry *pb.LogEntry, mtime time.Time) error {
	ctx = context.WithoutCancel(ctx)
	m := o.Map()
	oid := entry.GetOid()
	type target struct {
		id       int32
		pos      int
		unlogged bool
	}
	var targets []target
	p.mu.Lock()
	rf := p.rollForward
	// Acting members at their acting position; up members outside
	// acting (backfill targets) at their up position.
	add := func(id int32, pos int) {
		if id == clustermap.NoOSD || id == o.cfg.ID || slices.ContainsFunc(targets, func(t target) bool { return t.id == id }) {
			return
		}
		if mem := p.members[id]; mem != nil {
			if send, unlogged := mem.sendsTo(oid); send {
				targets = append(targets, target{id, pos, unlogged})
			}
		}
	}
	for pos := range steps {
		add(at(v.actingPos, pos), pos)
	}
	for pos := range steps {
		if id := at(v.upPos, pos); !slices.Contains(v.actingPos, id) {
			add(id, pos)
		}
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, len(targets))
	for i, t := range targets {
		wg.Go(func() {
			cl, err := o.peerOf(m, t.id)
			if err != nil {
				errs[i] = err
				return
			}
			cctx, cancel := context.WithTimeout(ctx, o.cfg.PeerTimeout)
			defer cancel()
			rep, err := cl.RepOp(cctx, &pb.RepOpRequest{Pool: p.id.Pool, Ps: p.id.PS, Interval: v.interval, Epoch: v.epoch,
				Entry: entry, Backfill: t.unlogged, ShardSteps: steps[t.pos], MtimeNs: mtime.UnixNano(), RollForwardTo: rf})
			if err == nil && rep.GetResult() != pb.Result_OK {
				err = fmt.Errorf("%s: %s", rep.GetResult(), rep.GetMessage())
			}
			errs[i] = err
		})
	}
	self := v.position(o.cfg.ID)
	localErr := p.applyLocal(v, entry, func() error { return o.applyShard(p.id, steps[self], entry, mtime, false) })
	wg.Wait()
	if localErr != nil {
		p.repeer(v.gen)
		return fmt.Errorf("applying locally: %w", localErr)
	}
	for i, err := range errs {
		if err != nil {
			o.log.Warn("erasure-coded write failed on a shard; peering again", "pg", p.id.String(), "peer", targets[i].id, "shard", targets[i].pos, "err", err)
			p.repeer(v.gen)
			return fmt.Errorf("writing shard %d on osd.%d: %w", targets[i].pos, targets[i].id, err)
		}
	}
	return nil
}

func at(s []int32, i int) int32 {
	if i < len(s) {
		return s[i]
	}
	return clustermap.NoOSD
}

// applyShard prepares a shard's steps against this OSD's shard and
// applies them: logged and undoable, or unlogged for a member being
// caught up.
func (o *OSD) applyShard(id store.PGID, steps []*pb.OpStep, entry *pb.LogEntry, mtime time.Time, unlogged bool) error {
	txn, _, err := o.store.Prepare(id, entry.GetOid(), steps, entry.GetVersion(), mtime)
	if err != nil {
		return fmt.Errorf("preparing the shard's steps: %w", err)
	}
	if unlogged {
		return o.store.ApplyUnlogged(id, txn)
	}
	return o.store.ApplyKeep(id, txn, entry)
}

// rollForwardStep is how far roll_forward_to must advance before a
// member drops its rollback records (one store batch per this many
// writes rather than one per write).
const rollForwardStep = 32

// ecWriteEnded records the end of write ev: on every shard (or on none:
// ok), or failed part-way (it stays pending until the PG peers again, so
// no member forgets how to undo it). It advances the PG's roll-forward
// point and, every rollForwardStep writes, drops the primary's own
// rollback records up to it.
func (o *OSD) ecWriteEnded(p *pg, v view, ev *pb.Eversion, ok bool) {
	p.mu.Lock()
	if !ok || p.interval != v.interval || p.pending == nil {
		p.mu.Unlock()
		return
	}
	delete(p.pending, ev.GetVersion())
	low := p.lastV
	for ver := range p.pending {
		low = min(low, ver-1)
	}
	rf := &pb.Eversion{Epoch: p.epoch, Version: low}
	if p.rollForward == nil || pgplan.EvCompare(rf, p.rollForward) > 0 {
		p.rollForward = rf
	}
	trim := p.trimDue(p.rollForward)
	p.mu.Unlock()
	if trim != nil {
		o.trimRollback(p, trim)
	}
}

// trimDue says whether the rollback records up to rf should be dropped
// now (rf when so, else nil); p.mu is held.
func (p *pg) trimDue(rf *pb.Eversion) *pb.Eversion {
	if rf == nil {
		return nil
	}
	if p.trimmedTo != nil && rf.GetEpoch() == p.trimmedTo.GetEpoch() && rf.GetVersion() < p.trimmedTo.GetVersion()+rollForwardStep {
		return nil
	}
	if p.trimmedTo != nil && pgplan.EvCompare(rf, p.trimmedTo) <= 0 {
		return nil
	}
	p.trimmedTo = rf
	return rf
}

// trimRollback drops the PG's rollback records up to rf in the
// background.
func (o *OSD) trimRollback(p *pg, rf *pb.Eversion) {
	o.goBackground(func(context.Context) {
		if err := o.store.TrimRollback(p.id, rf); err != nil {
			o.log.Warn("dropping rollback records failed", "pg", p.id.String(), "to", rf.String(), "err", err)
		}
	})
}

// ecRecoverObject rebuilds oid's shards on the members missing it (and
// on this OSD when self) from the in-step shards; the object's lock is
// held.
func (o *OSD) ecRecoverObject(ctx context.Context, p *pg, v view, m *clustermap.Map, oid string, to []int32, self bool) error {
	if self {
		to = append(to, o.cfg.ID)
	}
	if len(to) == 0 {
		return nil
	}
	positions := make([]int, 0, len(to))
	for _, id := range to {
		pos := v.position(id)
		if pos < 0 {
			return fmt.Errorf("osd.%d has no position in pg %s", id, p.id)
		}
		positions = append(positions, pos)
	}
	txns, err := o.ecShardTxns(ctx, p, v, oid, positions)
	if err != nil {
		return err
	}
	n := 0
	for _, t := range txns {
		n += txnBytes(t)
	}
	if err := o.throttle.bytes(ctx, n); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(to))
	for i, id := range to {
		t := txns[positions[i]]
		if id == o.cfg.ID {
			errs[i] = o.store.Install(p.id, []*pb.Txn{t}, nil, nil, false)
			continue
		}
		wg.Go(func() { errs[i] = o.pushObjects(ctx, m, p, v, id, []*pb.Txn{t}) })
	}
	wg.Wait()
	p.mu.Lock()
	for i, id := range to {
		if errs[i] != nil {
			continue
		}
		p.recoveredBytes += uint64(txnBytes(txns[positions[i]]))
		p.recoveredObjects++
		if id == o.cfg.ID {
			delete(p.selfMissing, oid)
			continue
		}
		if mem := p.members[id]; mem != nil && mem.missing[oid] {
			delete(mem.missing, oid)
			mem.objectsLeft = uint64(len(mem.missing))
		}
	}
	p.mu.Unlock()
	return errors.Join(errs...)
}

// scrubObjects is store.ScrubObjects that, for a deep scrub of an
// erasure-coded PG (code not nil), also checks every cell of each shard
// against its checksum.
func (o *OSD) scrubObjects(id store.PGID, code *ec.Code, startAfter string, max int, oids []string, deep bool) ([]*pb.ScrubObject, bool, error) {
	objs, more, err := o.store.ScrubObjects(id, startAfter, max, oids, deep)
	if err != nil || code == nil || !deep {
		return objs, more, err
	}
	for _, so := range objs {
		if so.GetMissing() || so.GetError() != "" {
			continue
		}
		if err := o.checkShardCells(id, code, so.GetOid(), so.GetSize()); err != nil {
			so.Error = err.Error()
		}
	}
	return objs, more, nil
}

// checkShardCells reads this OSD's shard of oid (size bytes) in pieces
// and verifies each cell's checksum.
func (o *OSD) checkShardCells(id store.PGID, code *ec.Code, oid string, size uint64) error {
	cell := uint64(code.CellSize())
	if size%cell != 0 {
		return fmt.Errorf("shard size %d is not a whole number of %d-byte cells", size, cell)
	}
	piece := max(1, ecReadPiece/cell) * cell
	for off := uint64(0); off < size; off += piece {
		_, data, err := o.readLocalShard(id, oid, off, min(piece, size-off), true)
		if err != nil {
			return err
		}
		bad, err := code.VerifyShard(data)
		if err != nil {
			return err
		}
		if len(bad) > 0 {
			first := off / cell
			for i := range bad {
				bad[i] += first
			}
			return fmt.Errorf("erasure-code cells fail their checksums in stripes %v: %w", bad, store.ErrCorrupt)
		}
	}
	return nil
}

// completeSelf clears the incomplete mark of an erasure-coded primary
// whose missing shards recovery has rebuilt, with writes held back
// while its log is rewritten.
func (o *OSD) completeSelf(ctx context.Context, p *pg, v view) error {
	info, err := o.store.Info(p.id)
	if err != nil || !info.GetIncomplete() {
		return err
	}
	release, ok, err := p.holdWrites(ctx, v.gen, func() bool { return len(p.selfMissing) == 0 })
	if !ok {
		return err
	}
	defer release()
	if info, err = o.store.Info(p.id); err != nil {
		return err
	}
	log, err := o.store.Log(p.id)
	if err != nil {
		return err
	}
	if err := o.store.ResetLog(p.id, log, info.GetLastUpdate(), false); err != nil {
		return err
	}
	return o.store.SetShard(p.id, int32(v.position(o.cfg.ID)))
}

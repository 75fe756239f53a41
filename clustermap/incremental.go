package clustermap

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"

	"google.golang.org/protobuf/proto"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// ErrEpoch means an incremental does not follow the map it is applied
// to: wrong cluster, or not exactly the next epoch.
var ErrEpoch = errors.New("clustermap: incremental does not apply to this epoch")

// Clone returns a deep copy of a finalized map, finalized, for building
// the next epoch: changing the copy never changes m.
func (m *Map) Clone() *Map {
	m.mustBeFinal()
	c, err := FromProto(m.ToProto())
	if err != nil {
		panic(fmt.Sprintf("clustermap: a finalized map does not survive its own encoding: %v", err))
	}
	return c
}

// Diff returns the incremental that turns old into next. Both maps must
// be finalized and of the same cluster; the incremental carries next's
// epoch, so Apply(old, Diff(old, next)) equals next when next.Epoch is
// old.Epoch+1.
func Diff(old, next *Map) *pb.OSDMapIncremental {
	return DiffProto(old.ToProto(), next.ToProto())
}

// DiffProto is Diff on the stored forms.
func DiffProto(a, b *pb.OSDMap) *pb.OSDMapIncremental {
	inc := &pb.OSDMapIncremental{Fsid: b.GetFsid(), Epoch: b.GetEpoch(), ModifiedNs: b.GetModifiedNs()}
	if !proto.Equal(a.GetCrush(), b.GetCrush()) {
		inc.NewCrush = b.GetCrush()
	}
	if a.GetMaxOsd() != b.GetMaxOsd() {
		inc.NewMaxOsd = proto.Int32(b.GetMaxOsd())
	}
	if a.GetFlags() != b.GetFlags() {
		inc.NewFlags = proto.Uint32(b.GetFlags())
	}
	if a.GetNearfullRatio() != b.GetNearfullRatio() {
		inc.NewNearfullRatio = proto.Float64(b.GetNearfullRatio())
	}
	if a.GetBackfillfullRatio() != b.GetBackfillfullRatio() {
		inc.NewBackfillfullRatio = proto.Float64(b.GetBackfillfullRatio())
	}
	if a.GetFullRatio() != b.GetFullRatio() {
		inc.NewFullRatio = proto.Float64(b.GetFullRatio())
	}
	if a.GetPoolMax() != b.GetPoolMax() {
		inc.NewPoolMax = proto.Int64(b.GetPoolMax())
	}
	inc.NewOsds, inc.RemovedOsds = diffList(a.GetOsds(), b.GetOsds(), (*pb.OSDState).GetId)
	inc.NewPools, inc.RemovedPools = diffList(a.GetPools(), b.GetPools(), (*pb.Pool).GetId)

	pgKey := func(pool int64, seed uint32) PGID { return PGID{Pool: pool, Seed: seed} }
	tmpNew, tmpGone := diffList(a.GetPgTemp(), b.GetPgTemp(), func(t *pb.PGTemp) PGID { return pgKey(t.GetPool(), t.GetSeed()) })
	inc.NewPgTemp = tmpNew
	for _, pg := range tmpGone {
		inc.NewPgTemp = append(inc.NewPgTemp, &pb.PGTemp{Pool: pg.Pool, Seed: pg.Seed})
	}
	ptNew, ptGone := diffList(a.GetPrimaryTemp(), b.GetPrimaryTemp(), func(t *pb.PrimaryTemp) PGID { return pgKey(t.GetPool(), t.GetSeed()) })
	inc.NewPrimaryTemp = ptNew
	for _, pg := range ptGone {
		inc.NewPrimaryTemp = append(inc.NewPrimaryTemp, &pb.PrimaryTemp{Pool: pg.Pool, Seed: pg.Seed, Osd: NoPrimary})
	}
	upNew, upGone := diffList(a.GetPgUpmap(), b.GetPgUpmap(), func(t *pb.PGUpmap) PGID { return pgKey(t.GetPool(), t.GetSeed()) })
	inc.NewPgUpmap = upNew
	for _, pg := range upGone {
		inc.NewPgUpmap = append(inc.NewPgUpmap, &pb.PGUpmap{Pool: pg.Pool, Seed: pg.Seed})
	}
	uiNew, uiGone := diffList(a.GetPgUpmapItems(), b.GetPgUpmapItems(), func(t *pb.PGUpmapItems) PGID { return pgKey(t.GetPool(), t.GetSeed()) })
	inc.NewPgUpmapItems = uiNew
	for _, pg := range uiGone {
		inc.NewPgUpmapItems = append(inc.NewPgUpmapItems, &pb.PGUpmapItems{Pool: pg.Pool, Seed: pg.Seed})
	}

	for name, p := range b.GetEcProfiles() {
		if q, ok := a.GetEcProfiles()[name]; !ok || !proto.Equal(p, q) {
			if inc.NewEcProfiles == nil {
				inc.NewEcProfiles = map[string]*pb.ECProfile{}
			}
			inc.NewEcProfiles[name] = p
		}
	}
	for _, name := range slices.Sorted(maps.Keys(a.GetEcProfiles())) {
		if _, ok := b.GetEcProfiles()[name]; !ok {
			inc.RemovedEcProfiles = append(inc.RemovedEcProfiles, name)
		}
	}
	return inc
}

// diffList compares two lists of entries keyed by key: it returns the
// entries of b that are new or changed, and the keys of a not in b.
func diffList[T proto.Message, K comparable](a, b []T, key func(T) K) (changed []T, removed []K) {
	old := make(map[K]T, len(a))
	for _, x := range a {
		old[key(x)] = x
	}
	for _, y := range b {
		k := key(y)
		x, ok := old[k]
		if !ok || !proto.Equal(x, y) {
			changed = append(changed, y)
		}
		delete(old, k)
	}
	for _, x := range a {
		if _, gone := old[key(x)]; gone {
			removed = append(removed, key(x))
		}
	}
	return changed, removed
}

// Apply returns the map that inc makes from m, finalized. m is not
// changed. The incremental must be m's cluster and epoch m.Epoch+1
// (ErrEpoch otherwise); a result that does not validate is ErrInvalid.
func Apply(m *Map, inc *pb.OSDMapIncremental) (*Map, error) {
	if inc.GetFsid() != m.FSID {
		return nil, fmt.Errorf("%w: incremental is for cluster %s, map is %s", ErrEpoch, inc.GetFsid(), m.FSID)
	}
	if inc.GetEpoch() != m.Epoch+1 {
		return nil, fmt.Errorf("%w: incremental makes epoch %d, map is epoch %d", ErrEpoch, inc.GetEpoch(), m.Epoch)
	}
	out := ApplyProto(m.ToProto(), inc)
	return FromProto(out)
}

// ApplyProto applies inc to the stored form a, without validation, and
// returns the new stored form (a is not changed).
func ApplyProto(a *pb.OSDMap, inc *pb.OSDMapIncremental) *pb.OSDMap {
	b := proto.Clone(a).(*pb.OSDMap)
	b.Epoch = inc.GetEpoch()
	b.ModifiedNs = inc.GetModifiedNs()
	if inc.NewCrush != nil {
		b.Crush = proto.Clone(inc.NewCrush).(*pb.CrushMap)
	}
	if inc.NewMaxOsd != nil {
		b.MaxOsd = inc.GetNewMaxOsd()
	}
	if inc.NewFlags != nil {
		b.Flags = inc.GetNewFlags()
	}
	if inc.NewNearfullRatio != nil {
		b.NearfullRatio = inc.GetNewNearfullRatio()
	}
	if inc.NewBackfillfullRatio != nil {
		b.BackfillfullRatio = inc.GetNewBackfillfullRatio()
	}
	if inc.NewFullRatio != nil {
		b.FullRatio = inc.GetNewFullRatio()
	}
	if inc.NewPoolMax != nil {
		b.PoolMax = inc.GetNewPoolMax()
	}
	b.Osds = applyList(b.Osds, inc.GetNewOsds(), inc.GetRemovedOsds(), (*pb.OSDState).GetId,
		func(*pb.OSDState) bool { return false }, cmp.Compare[int32])
	b.Pools = applyList(b.Pools, inc.GetNewPools(), inc.GetRemovedPools(), (*pb.Pool).GetId,
		func(*pb.Pool) bool { return false }, cmp.Compare[int64])
	b.PgTemp = applyList(b.PgTemp, inc.GetNewPgTemp(), nil, func(t *pb.PGTemp) PGID { return PGID{t.GetPool(), t.GetSeed()} },
		func(t *pb.PGTemp) bool { return len(t.GetOsds()) == 0 }, PGID.Compare)
	b.PrimaryTemp = applyList(b.PrimaryTemp, inc.GetNewPrimaryTemp(), nil, func(t *pb.PrimaryTemp) PGID { return PGID{t.GetPool(), t.GetSeed()} },
		func(t *pb.PrimaryTemp) bool { return t.GetOsd() == NoPrimary }, PGID.Compare)
	b.PgUpmap = applyList(b.PgUpmap, inc.GetNewPgUpmap(), nil, func(t *pb.PGUpmap) PGID { return PGID{t.GetPool(), t.GetSeed()} },
		func(t *pb.PGUpmap) bool { return len(t.GetOsds()) == 0 }, PGID.Compare)
	b.PgUpmapItems = applyList(b.PgUpmapItems, inc.GetNewPgUpmapItems(), nil, func(t *pb.PGUpmapItems) PGID { return PGID{t.GetPool(), t.GetSeed()} },
		func(t *pb.PGUpmapItems) bool { return len(t.GetItems()) == 0 }, PGID.Compare)
	for name, p := range inc.GetNewEcProfiles() {
		if b.EcProfiles == nil {
			b.EcProfiles = map[string]*pb.ECProfile{}
		}
		b.EcProfiles[name] = proto.Clone(p).(*pb.ECProfile)
	}
	for _, name := range inc.GetRemovedEcProfiles() {
		delete(b.EcProfiles, name)
	}
	return b
}

// applyList replaces, adds (upd entries, unless tombstone says the entry
// means removal) and removes (del keys) entries of a keyed list, keeping
// it sorted by key as ToProto writes it.
func applyList[T proto.Message, K comparable](cur, upd []T, del []K, key func(T) K, tombstone func(T) bool, cmp func(a, b K) int) []T {
	byKey := make(map[K]T, len(cur)+len(upd))
	for _, x := range cur {
		byKey[key(x)] = x
	}
	for _, y := range upd {
		if tombstone(y) {
			delete(byKey, key(y))
			continue
		}
		byKey[key(y)] = proto.Clone(y).(T)
	}
	for _, k := range del {
		delete(byKey, k)
	}
	if len(byKey) == 0 {
		return nil
	}
	keys := slices.Collect(maps.Keys(byKey))
	slices.SortFunc(keys, cmp)
	out := make([]T, len(keys))
	for i, k := range keys {
		out[i] = byKey[k]
	}
	return out
}

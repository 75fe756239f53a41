package clustermap

import (
	"fmt"
	"maps"
	"sort"
	"time"

	"github.com/loligo/loligo/crush"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// CrushToProto converts a CRUSH map to its stored form, which keeps every
// field exactly (shadow buckets and straw lengths included).
func CrushToProto(m *crush.Map) *pb.CrushMap {
	t := m.Tunables
	out := &pb.CrushMap{
		Tunables: &pb.CrushTunables{
			ChooseLocalTries:         t.ChooseLocalTries,
			ChooseLocalFallbackTries: t.ChooseLocalFallbackTries,
			ChooseTotalTries:         t.ChooseTotalTries,
			ChooseleafDescendOnce:    t.ChooseleafDescendOnce,
			ChooseleafVaryR:          t.ChooseleafVaryR,
			ChooseleafStable:         t.ChooseleafStable,
			StrawCalcVersion:         t.StrawCalcVersion,
			AllowedBucketAlgs:        t.AllowedBucketAlgs,
		},
		Types:   map[int32]string{},
		Classes: map[int32]string{},
	}
	for id, n := range m.Types {
		out.Types[id] = n
	}
	for id, n := range m.Classes {
		out.Classes[id] = n
	}
	for _, d := range m.Devices {
		out.Devices = append(out.Devices, &pb.CrushDevice{Id: d.ID, Name: d.Name, Class: d.Class})
	}
	for _, b := range m.Buckets {
		if b == nil {
			continue
		}
		out.Buckets = append(out.Buckets, &pb.CrushBucket{
			Id: b.ID, Name: b.Name, Type: b.Type, Alg: uint32(b.Alg), Hash: uint32(b.Hash),
			Items: append([]int32(nil), b.Items...), Weights: append([]uint32(nil), b.Weights...),
			Straws: append([]uint32(nil), b.Straws...),
		})
	}
	for _, r := range m.Rules {
		if r == nil {
			continue
		}
		pr := &pb.CrushRule{Id: int32(r.ID), Name: r.Name, Type: uint32(r.Type),
			MinSize: uint32(r.MinSize), MaxSize: uint32(r.MaxSize)}
		for _, s := range r.Steps {
			pr.Steps = append(pr.Steps, &pb.CrushStep{Op: uint32(s.Op), Arg1: s.Arg1, Arg2: s.Arg2})
		}
		out.Rules = append(out.Rules, pr)
	}
	origs := make([]int32, 0, len(m.ClassBuckets))
	for o := range m.ClassBuckets {
		origs = append(origs, o)
	}
	sort.Slice(origs, func(i, j int) bool { return origs[i] > origs[j] })
	for _, o := range origs {
		cids := make([]int32, 0, len(m.ClassBuckets[o]))
		for c := range m.ClassBuckets[o] {
			cids = append(cids, c)
		}
		sort.Slice(cids, func(i, j int) bool { return cids[i] < cids[j] })
		for _, c := range cids {
			out.ClassBuckets = append(out.ClassBuckets, &pb.CrushClassBucket{Bucket: o, ClassId: c, Shadow: m.ClassBuckets[o][c]})
		}
	}
	idxs := make([]int64, 0, len(m.ChooseArgs))
	for idx := range m.ChooseArgs {
		idxs = append(idxs, idx)
	}
	sort.Slice(idxs, func(i, j int) bool { return idxs[i] < idxs[j] })
	for _, idx := range idxs {
		ca := &pb.CrushChooseArgs{Index: idx}
		for p, a := range m.ChooseArgs[idx] {
			if a == nil || (len(a.WeightSet) == 0 && len(a.IDs) == 0) {
				continue
			}
			pa := &pb.CrushChooseArg{BucketId: int32(-1 - p), Ids: append([]int32(nil), a.IDs...)}
			for _, ws := range a.WeightSet {
				pa.WeightSet = append(pa.WeightSet, &pb.CrushWeightSet{Weights: append([]uint32(nil), ws...)})
			}
			ca.Args = append(ca.Args, pa)
		}
		out.ChooseArgs = append(out.ChooseArgs, ca)
	}
	return out
}

// CrushFromProto rebuilds and validates a CRUSH map from its stored form.
func CrushFromProto(in *pb.CrushMap) (*crush.Map, error) {
	if in == nil {
		return nil, fmt.Errorf("%w: no CRUSH map", ErrInvalid)
	}
	t := in.GetTunables()
	m := &crush.Map{
		Tunables: crush.Tunables{
			ChooseLocalTries:         t.GetChooseLocalTries(),
			ChooseLocalFallbackTries: t.GetChooseLocalFallbackTries(),
			ChooseTotalTries:         t.GetChooseTotalTries(),
			ChooseleafDescendOnce:    t.GetChooseleafDescendOnce(),
			ChooseleafVaryR:          t.GetChooseleafVaryR(),
			ChooseleafStable:         t.GetChooseleafStable(),
			StrawCalcVersion:         t.GetStrawCalcVersion(),
			AllowedBucketAlgs:        t.GetAllowedBucketAlgs(),
		},
		Types:        map[int32]string{},
		Classes:      map[int32]string{},
		ClassBuckets: map[int32]map[int32]int32{},
	}
	for id, n := range in.GetTypes() {
		m.Types[id] = n
	}
	for id, n := range in.GetClasses() {
		m.Classes[id] = n
	}
	for _, d := range in.GetDevices() {
		m.Devices = append(m.Devices, crush.Device{ID: d.GetId(), Name: d.GetName(), Class: d.GetClass()})
	}
	sort.Slice(m.Devices, func(i, j int) bool { return m.Devices[i].ID < m.Devices[j].ID })
	for _, b := range in.GetBuckets() {
		id := b.GetId()
		if id >= 0 || id < -crush.BucketIDLimit {
			return nil, fmt.Errorf("%w: bucket id %d out of range", ErrInvalid, id)
		}
		if b.GetAlg() > 255 || b.GetHash() > 255 {
			return nil, fmt.Errorf("%w: bucket %d has algorithm %d, hash %d", ErrInvalid, id, b.GetAlg(), b.GetHash())
		}
		p := int(-1 - id)
		for len(m.Buckets) <= p {
			m.Buckets = append(m.Buckets, nil)
		}
		if m.Buckets[p] != nil {
			return nil, fmt.Errorf("%w: bucket id %d appears twice", ErrInvalid, id)
		}
		nb := &crush.Bucket{ID: id, Name: b.GetName(), Type: b.GetType(), Alg: crush.Alg(b.GetAlg()),
			Hash: crush.HashType(b.GetHash()), Items: append([]int32(nil), b.GetItems()...),
			Weights: append([]uint32(nil), b.GetWeights()...)}
		if len(b.GetStraws()) > 0 {
			nb.Straws = append([]uint32(nil), b.GetStraws()...)
		}
		m.Buckets[p] = nb
	}
	for _, r := range in.GetRules() {
		id := int(r.GetId())
		if id < 0 || id > 255 || r.GetType() > 255 || r.GetMinSize() > 255 || r.GetMaxSize() > 255 {
			return nil, fmt.Errorf("%w: rule %d has out-of-range fields", ErrInvalid, id)
		}
		for len(m.Rules) <= id {
			m.Rules = append(m.Rules, nil)
		}
		if m.Rules[id] != nil {
			return nil, fmt.Errorf("%w: rule id %d appears twice", ErrInvalid, id)
		}
		nr := &crush.Rule{ID: id, Name: r.GetName(), Type: crush.RuleType(r.GetType()),
			MinSize: uint8(r.GetMinSize()), MaxSize: uint8(r.GetMaxSize())}
		for _, s := range r.GetSteps() {
			if s.GetOp() > 255 {
				return nil, fmt.Errorf("%w: rule %d has step op %d", ErrInvalid, id, s.GetOp())
			}
			nr.Steps = append(nr.Steps, crush.Step{Op: crush.Op(s.GetOp()), Arg1: s.GetArg1(), Arg2: s.GetArg2()})
		}
		m.Rules[id] = nr
	}
	for _, cb := range in.GetClassBuckets() {
		if m.ClassBuckets[cb.GetBucket()] == nil {
			m.ClassBuckets[cb.GetBucket()] = map[int32]int32{}
		}
		m.ClassBuckets[cb.GetBucket()][cb.GetClassId()] = cb.GetShadow()
	}
	if len(in.GetChooseArgs()) > 0 {
		m.ChooseArgs = map[int64]crush.ChooseArgMap{}
	}
	for _, ca := range in.GetChooseArgs() {
		if _, dup := m.ChooseArgs[ca.GetIndex()]; dup {
			return nil, fmt.Errorf("%w: choose_args %d appears twice", ErrInvalid, ca.GetIndex())
		}
		cm := make(crush.ChooseArgMap, len(m.Buckets))
		for _, a := range ca.GetArgs() {
			p := int(-1 - a.GetBucketId())
			if p < 0 || p >= len(cm) {
				return nil, fmt.Errorf("%w: choose_args %d names bucket %d", ErrInvalid, ca.GetIndex(), a.GetBucketId())
			}
			na := &crush.ChooseArg{}
			for _, ws := range a.GetWeightSet() {
				na.WeightSet = append(na.WeightSet, append([]uint32(nil), ws.GetWeights()...))
			}
			if len(a.GetIds()) > 0 {
				na.IDs = append([]int32(nil), a.GetIds()...)
			}
			cm[p] = na
		}
		m.ChooseArgs[ca.GetIndex()] = cm
	}
	if err := m.Finalize(); err != nil {
		return nil, err
	}
	return m, nil
}

// ToProto converts the map to its stored form.
func (m *Map) ToProto() *pb.OSDMap {
	out := &pb.OSDMap{Fsid: m.FSID, Epoch: m.Epoch, MaxOsd: m.maxOSD, Flags: uint32(m.Flags),
		PoolMax: m.PoolMax, CreatedNs: unixNano(m.Created), ModifiedNs: unixNano(m.Modified),
		NearfullRatio: m.Ratios.NearFull, BackfillfullRatio: m.Ratios.BackfillFull, FullRatio: m.Ratios.Full}
	if len(m.ECProfiles) > 0 {
		out.EcProfiles = make(map[string]*pb.ECProfile, len(m.ECProfiles))
		for name, params := range m.ECProfiles {
			out.EcProfiles[name] = &pb.ECProfile{Params: maps.Clone(params)}
		}
	}
	if m.Crush != nil {
		out.Crush = CrushToProto(m.Crush)
	}
	for _, id := range m.OSDIDs() {
		o := m.OSDs[id]
		out.Osds = append(out.Osds, osdToProto(o))
	}
	for _, id := range m.PoolIDs() {
		p := m.Pools[id]
		out.Pools = append(out.Pools, poolToProto(p))
	}
	for _, pg := range SortedPGs(m.PGTemp) {
		out.PgTemp = append(out.PgTemp, &pb.PGTemp{Pool: pg.Pool, Seed: pg.Seed, Osds: append([]int32(nil), m.PGTemp[pg]...)})
	}
	for _, pg := range SortedPGs(m.PrimaryTemp) {
		out.PrimaryTemp = append(out.PrimaryTemp, &pb.PrimaryTemp{Pool: pg.Pool, Seed: pg.Seed, Osd: m.PrimaryTemp[pg]})
	}
	for _, pg := range SortedPGs(m.PGUpmap) {
		out.PgUpmap = append(out.PgUpmap, &pb.PGUpmap{Pool: pg.Pool, Seed: pg.Seed, Osds: append([]int32(nil), m.PGUpmap[pg]...)})
	}
	for _, pg := range SortedPGs(m.PGUpmapItems) {
		u := &pb.PGUpmapItems{Pool: pg.Pool, Seed: pg.Seed}
		for _, it := range m.PGUpmapItems[pg] {
			u.Items = append(u.Items, &pb.UpmapItem{From: it[0], To: it[1]})
		}
		out.PgUpmapItems = append(out.PgUpmapItems, u)
	}
	return out
}

func osdToProto(o *OSD) *pb.OSDState {
	return &pb.OSDState{Id: o.ID, Up: o.Up, Weight: o.Weight, PrimaryAffinity: o.PrimaryAffinity,
		Uuid: o.UUID, Addr: o.Addr, UpFrom: o.UpFrom, DownStampNs: unixNano(o.DownStamp), AutoOut: o.AutoOut,
		Incarnation: o.Incarnation, UpStampNs: unixNano(o.UpStamp), DownReason: o.DownReason,
		Fullness: pb.OSDFullness(o.Fullness)}
}

func osdFromProto(o *pb.OSDState) *OSD {
	return &OSD{ID: o.GetId(), UUID: o.GetUuid(), Up: o.GetUp(), Weight: o.GetWeight(),
		PrimaryAffinity: o.GetPrimaryAffinity(), Addr: o.GetAddr(), UpFrom: o.GetUpFrom(),
		DownStamp: fromUnixNano(o.GetDownStampNs()), AutoOut: o.GetAutoOut(),
		Incarnation: o.GetIncarnation(), UpStamp: fromUnixNano(o.GetUpStampNs()), DownReason: o.GetDownReason(),
		Fullness: Fullness(o.GetFullness())}
}

func poolToProto(p *Pool) *pb.Pool {
	return &pb.Pool{Id: p.ID, Name: p.Name, Type: pb.PoolType(p.Type),
		Size: p.Size, MinSize: p.MinSize, PgNum: p.PGNum, PgpNum: p.PGPNum, CrushRule: p.CrushRule,
		Flags: uint64(p.Flags), EcProfile: p.ECProfile}
}

func poolFromProto(p *pb.Pool) *Pool {
	return &Pool{ID: p.GetId(), Name: p.GetName(), Type: PoolType(p.GetType()),
		Size: p.GetSize(), MinSize: p.GetMinSize(), PGNum: p.GetPgNum(), PGPNum: p.GetPgpNum(),
		CrushRule: p.GetCrushRule(), Flags: PoolFlags(p.GetFlags()), ECProfile: p.GetEcProfile()}
}

// unixNano maps the zero time to 0, so that "never" survives encoding.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// FromProto rebuilds, validates and finalizes a map from its stored form.
func FromProto(in *pb.OSDMap) (*Map, error) {
	cm, err := CrushFromProto(in.GetCrush())
	if err != nil {
		return nil, err
	}
	m := &Map{FSID: in.GetFsid(), Epoch: in.GetEpoch(), Crush: cm, MaxOSD: in.GetMaxOsd(),
		OSDs: map[int32]*OSD{}, Pools: map[int64]*Pool{}, Flags: Flags(in.GetFlags()),
		PoolMax: in.GetPoolMax(), Created: fromUnixNano(in.GetCreatedNs()), Modified: fromUnixNano(in.GetModifiedNs()),
		Ratios: Ratios{NearFull: in.GetNearfullRatio(), BackfillFull: in.GetBackfillfullRatio(), Full: in.GetFullRatio()}}
	for name, prof := range in.GetEcProfiles() {
		if m.ECProfiles == nil {
			m.ECProfiles = map[string]map[string]string{}
		}
		params := maps.Clone(prof.GetParams())
		if params == nil {
			params = map[string]string{}
		}
		m.ECProfiles[name] = params
	}
	for _, o := range in.GetOsds() {
		if _, dup := m.OSDs[o.GetId()]; dup {
			return nil, fmt.Errorf("%w: osd.%d appears twice", ErrInvalid, o.GetId())
		}
		m.OSDs[o.GetId()] = osdFromProto(o)
	}
	for _, p := range in.GetPools() {
		if _, dup := m.Pools[p.GetId()]; dup {
			return nil, fmt.Errorf("%w: pool %d appears twice", ErrInvalid, p.GetId())
		}
		m.Pools[p.GetId()] = poolFromProto(p)
	}
	if len(in.GetPgTemp()) > 0 {
		m.PGTemp = map[PGID][]int32{}
	}
	for _, t := range in.GetPgTemp() {
		m.PGTemp[PGID{Pool: t.GetPool(), Seed: t.GetSeed()}] = append([]int32(nil), t.GetOsds()...)
	}
	if len(in.GetPrimaryTemp()) > 0 {
		m.PrimaryTemp = map[PGID]int32{}
	}
	for _, t := range in.GetPrimaryTemp() {
		m.PrimaryTemp[PGID{Pool: t.GetPool(), Seed: t.GetSeed()}] = t.GetOsd()
	}
	if len(in.GetPgUpmap()) > 0 {
		m.PGUpmap = map[PGID][]int32{}
	}
	for _, u := range in.GetPgUpmap() {
		m.PGUpmap[PGID{Pool: u.GetPool(), Seed: u.GetSeed()}] = append([]int32(nil), u.GetOsds()...)
	}
	if len(in.GetPgUpmapItems()) > 0 {
		m.PGUpmapItems = map[PGID][][2]int32{}
	}
	for _, u := range in.GetPgUpmapItems() {
		var items [][2]int32
		for _, it := range u.GetItems() {
			items = append(items, [2]int32{it.GetFrom(), it.GetTo()})
		}
		m.PGUpmapItems[PGID{Pool: u.GetPool(), Seed: u.GetSeed()}] = items
	}
	if err := m.Finalize(); err != nil {
		return nil, err
	}
	return m, nil
}

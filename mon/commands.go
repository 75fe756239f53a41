package mon

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/crush"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// Limits is what the monitor allows pools to be. The zero value means
// the defaults, which are Ceph's.
type Limits struct {
	// MaxPGNum bounds a pool's pg_num (0: 65536, mon_max_pool_pg_num).
	MaxPGNum uint32
	// MaxPGPerOSD bounds the PG replicas per in OSD after a pool change
	// (0: 250, mon_max_pg_per_osd); not checked while no OSD is in.
	MaxPGPerOSD uint32
	// DefaultSize is a new replicated pool's size (0: 3).
	DefaultSize uint32
}

func (l Limits) maxPGNum() uint32    { return orDefault(l.MaxPGNum, 65536) }
func (l Limits) maxPGPerOSD() uint32 { return orDefault(l.MaxPGPerOSD, 250) }
func (l Limits) defaultSize() uint32 { return orDefault(l.DefaultSize, 3) }

func orDefault(v, def uint32) uint32 {
	if v == 0 {
		return def
	}
	return v
}

// maxReplicatedSize is the largest replicated pool; Ceph's rules are
// made for 1..10 replicas.
const maxReplicatedSize = 10

// cmdResult is what a command did, for the reply.
type cmdResult struct {
	msg string
	id  int64
	// placement: the command may move data, so the leader computes and
	// checks the PG movement.
	placement bool
}

// applyCommand applies one admin command to m, a private copy of the
// current map, and says what it did. On error m may be partly changed and
// must be thrown away.
func applyCommand(m *clustermap.Map, req *pb.CommandRequest, lim Limits, now time.Time) (cmdResult, error) {
	switch c := req.GetCmd().(type) {
	case *pb.CommandRequest_OsdState:
		return osdSetState(m, c.OsdState, now)
	case *pb.CommandRequest_OsdReweight:
		o, err := osdByID(m, c.OsdReweight.GetId())
		if err != nil {
			return cmdResult{}, err
		}
		w := c.OsdReweight.GetWeight()
		if w > crush.WeightOne {
			return cmdResult{}, fmt.Errorf("%w: reweight %.4f: use 0.0 to 1.0", ErrInvalid, float64(w)/crush.WeightOne)
		}
		o.Weight = w
		o.AutoOut = false
		return cmdResult{msg: fmt.Sprintf("reweighted osd.%d to %.4f", o.ID, float64(w)/crush.WeightOne), placement: true}, nil
	case *pb.CommandRequest_OsdRm:
		return osdRemove(m, c.OsdRm.GetIds())
	case *pb.CommandRequest_CrushReweight:
		return crushReweight(m, c.CrushReweight)
	case *pb.CommandRequest_CrushMove:
		return crushMove(m, c.CrushMove)
	case *pb.CommandRequest_CrushAddBucket:
		b := c.CrushAddBucket
		id, err := m.Crush.AddBucket(b.GetName(), b.GetType(), crush.Location(b.GetLocation()))
		if err != nil {
			return cmdResult{}, crushErr(err)
		}
		return cmdResult{msg: fmt.Sprintf("added bucket %s type %s", b.GetName(), b.GetType()), id: int64(id), placement: true}, nil
	case *pb.CommandRequest_Flag:
		f, err := clustermap.ParseFlag(c.Flag.GetFlag())
		if err != nil {
			return cmdResult{}, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		if c.Flag.GetSet() {
			m.Flags |= f
			return cmdResult{msg: c.Flag.GetFlag() + " is set"}, nil
		}
		m.Flags &^= f
		return cmdResult{msg: c.Flag.GetFlag() + " is unset"}, nil
	case *pb.CommandRequest_RuleCreate:
		return ruleCreate(m, c.RuleCreate)
	case *pb.CommandRequest_RuleRm:
		return ruleRemove(m, c.RuleRm.GetName())
	case *pb.CommandRequest_EcProfileSet:
		return ecProfileSet(m, c.EcProfileSet)
	case *pb.CommandRequest_EcProfileRm:
		name := c.EcProfileRm.GetName()
		if _, ok := m.ECProfiles[name]; !ok {
			return cmdResult{}, fmt.Errorf("%w: erasure-code profile %q", ErrNotFound, name)
		}
		for _, p := range m.Pools {
			if p.ECProfile == name {
				return cmdResult{}, fmt.Errorf("%w: pool %q uses erasure-code profile %q", ErrBusy, p.Name, name)
			}
		}
		delete(m.ECProfiles, name)
		return cmdResult{msg: "removed erasure-code profile " + name}, nil
	case *pb.CommandRequest_PoolCreate:
		return poolCreate(m, c.PoolCreate, lim)
	case *pb.CommandRequest_PoolSet:
		return poolSet(m, c.PoolSet, lim)
	case *pb.CommandRequest_PoolRm:
		p, err := m.PoolByName(c.PoolRm.GetName())
		if err != nil {
			return cmdResult{}, fmt.Errorf("%w: pool %q", ErrNotFound, c.PoolRm.GetName())
		}
		delete(m.Pools, p.ID)
		for _, tbl := range []map[clustermap.PGID][]int32{m.PGTemp, m.PGUpmap} {
			maps.DeleteFunc(tbl, func(pg clustermap.PGID, _ []int32) bool { return pg.Pool == p.ID })
		}
		maps.DeleteFunc(m.PrimaryTemp, func(pg clustermap.PGID, _ int32) bool { return pg.Pool == p.ID })
		maps.DeleteFunc(m.PGUpmapItems, func(pg clustermap.PGID, _ [][2]int32) bool { return pg.Pool == p.ID })
		return cmdResult{msg: fmt.Sprintf("pool '%s' removed", p.Name), id: p.ID}, nil
	case *pb.CommandRequest_SetCrushMap:
		cm, err := crush.Compile(c.SetCrushMap.GetText())
		if err != nil {
			return cmdResult{}, fmt.Errorf("%w: the CRUSH map does not compile: %v", ErrInvalid, err)
		}
		m.Crush = cm
		return cmdResult{msg: "set crush map", placement: true}, nil
	case *pb.CommandRequest_SetFullRatio:
		return setFullRatio(m, c.SetFullRatio)
	case nil:
		return cmdResult{}, fmt.Errorf("%w: empty command", ErrInvalid)
	default:
		return cmdResult{}, fmt.Errorf("%w: unknown command %T", ErrInvalid, c)
	}
}

// checkMap verifies what Finalize does not: every pool's rule exists, is
// of the pool's type and takes the pool's size, so no change can leave a
// pool that maps nowhere.
func checkMap(m *clustermap.Map) error {
	if err := m.Crush.Finalize(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := m.Finalize(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	for _, id := range m.PoolIDs() {
		p := m.Pools[id]
		if err := ruleFits(m.Crush, int(p.CrushRule), p); err != nil {
			return err
		}
	}
	return nil
}

func ruleFits(cm *crush.Map, ruleID int, p *clustermap.Pool) error {
	r := cm.Rule(ruleID)
	if r == nil {
		return fmt.Errorf("%w: pool %q uses CRUSH rule %d, which does not exist", ErrInvalid, p.Name, ruleID)
	}
	want := crush.RuleReplicated
	if p.Type == clustermap.PoolErasure {
		want = crush.RuleErasure
	}
	if r.Type != want {
		return fmt.Errorf("%w: pool %q is %s but CRUSH rule %q is %s", ErrInvalid, p.Name, p.Type, r.Name, r.Type)
	}
	if p.Size < uint32(r.MinSize) || p.Size > uint32(r.MaxSize) {
		return fmt.Errorf("%w: pool %q has size %d but CRUSH rule %q takes sizes %d..%d",
			ErrInvalid, p.Name, p.Size, r.Name, r.MinSize, r.MaxSize)
	}
	return nil
}

func osdByID(m *clustermap.Map, id int32) (*clustermap.OSD, error) {
	o, ok := m.OSDs[id]
	if !ok {
		return nil, fmt.Errorf("%w: osd.%d does not exist", ErrNotFound, id)
	}
	return o, nil
}

func osdSetState(m *clustermap.Map, req *pb.OSDSetState, now time.Time) (cmdResult, error) {
	if len(req.GetIds()) == 0 {
		return cmdResult{}, fmt.Errorf("%w: no OSD ids", ErrInvalid)
	}
	var done, already []string
	for _, id := range req.GetIds() {
		o, err := osdByID(m, id)
		if err != nil {
			return cmdResult{}, err
		}
		name := fmt.Sprintf("osd.%d", id)
		switch req.GetState() {
		case pb.OSDSetState_STATE_OUT:
			if !o.In() {
				already = append(already, name)
				continue
			}
			o.Weight, o.AutoOut = 0, false
		case pb.OSDSetState_STATE_IN:
			if o.Weight == crush.WeightOne {
				already = append(already, name)
				continue
			}
			o.Weight, o.AutoOut = crush.WeightOne, false
		case pb.OSDSetState_STATE_DOWN:
			if !o.Up {
				already = append(already, name)
				continue
			}
			markDown(m, []int32{id}, now, "marked down by an operator (osd down); it boots again unless noup is set", nil)
		default:
			return cmdResult{}, fmt.Errorf("%w: no state to set", ErrInvalid)
		}
		done = append(done, name)
	}
	state := strings.ToLower(strings.TrimPrefix(req.GetState().String(), "STATE_"))
	var parts []string
	if len(done) > 0 {
		parts = append(parts, fmt.Sprintf("marked %s %s", strings.Join(done, ", "), state))
	}
	if len(already) > 0 {
		parts = append(parts, fmt.Sprintf("%s already %s", strings.Join(already, ", "), state))
	}
	return cmdResult{msg: strings.Join(parts, "; "), placement: true}, nil
}

func osdRemove(m *clustermap.Map, ids []int32) (cmdResult, error) {
	if len(ids) == 0 {
		return cmdResult{}, fmt.Errorf("%w: no OSD ids", ErrInvalid)
	}
	var names []string
	for _, id := range ids {
		o, err := osdByID(m, id)
		if err != nil {
			return cmdResult{}, err
		}
		if o.Up {
			return cmdResult{}, fmt.Errorf("%w: osd.%d is up; stop it, or mark it down with 'radosctl osd down %d', first",
				ErrBusy, id, id)
		}
		if _, inCrush := m.Crush.ItemName(id); inCrush {
			if err := m.Crush.RemoveItem(id); err != nil {
				return cmdResult{}, crushErr(err)
			}
		}
		delete(m.OSDs, id)
		names = append(names, fmt.Sprintf("osd.%d", id))
	}
	return cmdResult{msg: "removed " + strings.Join(names, ", "), placement: true}, nil
}

func crushItem(m *clustermap.Map, name string) (int32, error) {
	id, ok := m.Crush.ItemID(name)
	if !ok || m.Crush.IsShadow(id) {
		return 0, fmt.Errorf("%w: no CRUSH item named %q", ErrNotFound, name)
	}
	return id, nil
}

func crushReweight(m *clustermap.Map, req *pb.CrushReweight) (cmdResult, error) {
	id, err := crushItem(m, req.GetName())
	if err != nil {
		return cmdResult{}, err
	}
	if id < 0 {
		return cmdResult{}, fmt.Errorf("%w: %s is a bucket; reweight the devices in it", ErrInvalid, req.GetName())
	}
	if err := m.Crush.AdjustItemWeight(id, req.GetWeight()); err != nil {
		return cmdResult{}, crushErr(err)
	}
	return cmdResult{msg: fmt.Sprintf("reweighted item id %d name '%s' to %g in crush map",
		id, req.GetName(), float64(req.GetWeight())/crush.WeightOne), placement: true}, nil
}

func crushMove(m *clustermap.Map, req *pb.CrushMove) (cmdResult, error) {
	id, err := crushItem(m, req.GetName())
	if err != nil {
		return cmdResult{}, err
	}
	loc := crush.Location(req.GetLocation())
	if len(loc) == 0 {
		return cmdResult{}, fmt.Errorf("%w: no location: give TYPE=NAME pairs such as host=h1 root=default", ErrInvalid)
	}
	if id < 0 {
		err = m.Crush.MoveBucket(id, loc)
	} else {
		// A device keeps its weight where it goes (Ceph's "osd crush set").
		err = m.Crush.UpdateItem(id, deviceWeight(m.Crush, id), req.GetName(), loc)
	}
	if err != nil {
		return cmdResult{}, crushErr(err)
	}
	return cmdResult{msg: fmt.Sprintf("moved item id %d name '%s' to location %s in crush map",
		id, req.GetName(), formatLoc(loc)), placement: true}, nil
}

// deviceWeight is a device's CRUSH weight: its weight in the first
// (non-shadow) bucket holding it, or 1.0 if none does.
func deviceWeight(cm *crush.Map, id int32) uint32 {
	for _, b := range cm.Buckets {
		if b == nil || cm.IsShadow(b.ID) {
			continue
		}
		for i, it := range b.Items {
			if it == id {
				return b.ItemWeight(i)
			}
		}
	}
	return crush.WeightOne
}

func formatLoc(loc crush.Location) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(loc)) {
		parts = append(parts, k+"="+loc[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func crushErr(err error) error {
	return fmt.Errorf("%w: %v", ErrInvalid, err)
}

func ruleByName(cm *crush.Map, name string) *crush.Rule {
	for _, r := range cm.Rules {
		if r != nil && r.Name == name {
			return r
		}
	}
	return nil
}

func ruleCreate(m *clustermap.Map, req *pb.RuleCreate) (cmdResult, error) {
	name := req.GetName()
	if !crush.ValidName(name) {
		return cmdResult{}, fmt.Errorf("%w: rule name %q: use letters, digits, '-', '_' and '.'", ErrInvalid, name)
	}
	root, domain, class := req.GetRoot(), req.GetFailureDomain(), req.GetDeviceClass()
	typ := crush.RuleReplicated
	var chunks int
	if req.GetErasure() {
		prof, err := ecProfile(m, req.GetEcProfile())
		if err != nil {
			return cmdResult{}, err
		}
		root, domain, class = prof.root, prof.domain, prof.class
		typ, chunks = crush.RuleErasure, int(prof.k+prof.m)
	}
	if r := ruleByName(m.Crush, name); r != nil {
		if r.Type == typ {
			return cmdResult{msg: fmt.Sprintf("rule %s already exists", name), id: int64(r.ID)}, nil
		}
		return cmdResult{}, fmt.Errorf("%w: rule %q exists and is %s", ErrExists, name, r.Type)
	}
	if id, ok := m.Crush.ItemID(root); !ok || id >= 0 {
		return cmdResult{}, fmt.Errorf("%w: root bucket %q does not exist (see 'radosctl osd tree')", ErrNotFound, root)
	}
	if _, ok := m.Crush.TypeID(domain); !ok {
		return cmdResult{}, fmt.Errorf("%w: failure domain type %q does not exist", ErrNotFound, domain)
	}
	var id int
	var err error
	if typ == crush.RuleErasure {
		id, err = m.Crush.AddErasureRule(name, root, domain, class, chunks)
	} else {
		id, err = m.Crush.AddSimpleRule(name, root, domain, class, "firstn", typ)
	}
	if err != nil {
		return cmdResult{}, crushErr(err)
	}
	return cmdResult{msg: fmt.Sprintf("created rule %s (id %d)", name, id), id: int64(id)}, nil
}

func ruleRemove(m *clustermap.Map, name string) (cmdResult, error) {
	r := ruleByName(m.Crush, name)
	if r == nil {
		return cmdResult{}, fmt.Errorf("%w: CRUSH rule %q", ErrNotFound, name)
	}
	for _, p := range m.Pools {
		if int(p.CrushRule) == r.ID {
			return cmdResult{}, fmt.Errorf("%w: pool %q uses rule %q", ErrBusy, p.Name, name)
		}
	}
	if err := m.Crush.RemoveRule(r.ID); err != nil {
		return cmdResult{}, crushErr(err)
	}
	return cmdResult{msg: "removed rule " + name}, nil
}

// ecProfileInfo is an erasure-code profile, parsed.
type ecProfileInfo struct {
	k, m                uint32
	stripeUnit          uint32
	root, domain, class string
}

// defaultECProfile is Ceph Pacific's "default" profile.
var defaultECProfile = map[string]string{"k": "2", "m": "2", "plugin": "reedsolomon", "crush-failure-domain": "host"}

func parseECProfile(params map[string]string) (ecProfileInfo, error) {
	p := ecProfileInfo{stripeUnit: 4096, root: defaultRoot, domain: "host"}
	known := map[string]bool{"k": true, "m": true, "plugin": true, "technique": true, "stripe_unit": true,
		"crush-root": true, "crush-failure-domain": true, "crush-device-class": true}
	for key := range params {
		if !known[key] {
			return p, fmt.Errorf("%w: unknown erasure-code parameter %q (known: k, m, stripe_unit, crush-root, crush-failure-domain, crush-device-class, plugin, technique)", ErrInvalid, key)
		}
	}
	num := func(key string, lo, hi uint64) (uint32, error) {
		s, ok := params[key]
		if !ok {
			return 0, fmt.Errorf("%w: erasure-code profile needs %s", ErrInvalid, key)
		}
		v, err := strconv.ParseUint(s, 10, 32)
		if err != nil || v < lo || v > hi {
			return 0, fmt.Errorf("%w: %s=%s: want a number in %d..%d", ErrInvalid, key, s, lo, hi)
		}
		return uint32(v), nil
	}
	var err error
	if p.k, err = num("k", 2, 32); err != nil {
		return p, err
	}
	if p.m, err = num("m", 1, 16); err != nil {
		return p, err
	}
	if p.k+p.m > 32 {
		return p, fmt.Errorf("%w: k+m=%d is more shards than Loligo supports (32)", ErrInvalid, p.k+p.m)
	}
	if _, ok := params["stripe_unit"]; ok {
		if p.stripeUnit, err = num("stripe_unit", 512, 16<<20); err != nil {
			return p, err
		}
		if p.stripeUnit%512 != 0 {
			return p, fmt.Errorf("%w: stripe_unit=%d: use a multiple of 512", ErrInvalid, p.stripeUnit)
		}
	}
	if pl, ok := params["plugin"]; ok && pl != "reedsolomon" && pl != "jerasure" && pl != "isa" {
		return p, fmt.Errorf("%w: plugin %q: Loligo implements Reed-Solomon only (reedsolomon, jerasure or isa)", ErrInvalid, pl)
	}
	if v, ok := params["crush-root"]; ok {
		p.root = v
	}
	if v, ok := params["crush-failure-domain"]; ok {
		p.domain = v
	}
	p.class = params["crush-device-class"]
	return p, nil
}

func ecProfile(m *clustermap.Map, name string) (ecProfileInfo, error) {
	params, ok := m.ECProfiles[name]
	if !ok {
		return ecProfileInfo{}, fmt.Errorf("%w: erasure-code profile %q (see 'radosctl osd erasure-code-profile ls')", ErrNotFound, name)
	}
	return parseECProfile(params)
}

func ecProfileSet(m *clustermap.Map, req *pb.ECProfileSet) (cmdResult, error) {
	name := req.GetName()
	if !crush.ValidName(name) {
		return cmdResult{}, fmt.Errorf("%w: profile name %q: use letters, digits, '-', '_' and '.'", ErrInvalid, name)
	}
	params := maps.Clone(req.GetParams())
	if params == nil {
		params = map[string]string{}
	}
	if _, err := parseECProfile(params); err != nil {
		return cmdResult{}, err
	}
	if old, ok := m.ECProfiles[name]; ok {
		if maps.Equal(old, params) {
			return cmdResult{msg: "erasure-code profile " + name + " already set"}, nil
		}
		if !req.GetForce() {
			return cmdResult{}, fmt.Errorf("%w: erasure-code profile %q exists with other parameters; add --force to replace it", ErrExists, name)
		}
		for _, p := range m.Pools {
			if p.ECProfile == name {
				return cmdResult{}, fmt.Errorf("%w: pool %q uses profile %q; a pool's profile cannot change", ErrBusy, p.Name, name)
			}
		}
	}
	if m.ECProfiles == nil {
		m.ECProfiles = map[string]map[string]string{}
	}
	m.ECProfiles[name] = params
	return cmdResult{msg: "set erasure-code profile " + name}, nil
}

// validPoolName accepts what a user can type and S3 or a path can carry.
func validPoolName(s string) bool {
	if s == "" || len(s) > 128 || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

func poolCreate(m *clustermap.Map, req *pb.PoolCreate, lim Limits) (cmdResult, error) {
	name := req.GetName()
	if !validPoolName(name) {
		return cmdResult{}, fmt.Errorf("%w: pool name %q: use 1..128 letters, digits, '-', '_' and '.'", ErrInvalid, name)
	}
	if p, err := m.PoolByName(name); err == nil {
		return cmdResult{}, fmt.Errorf("%w: pool %q (id %d)", ErrExists, name, p.ID)
	}
	if err := checkPGNum(req.GetPgNum(), lim); err != nil {
		return cmdResult{}, err
	}
	p := &clustermap.Pool{Name: name, PGNum: req.GetPgNum(), PGPNum: req.GetPgNum(), Flags: clustermap.FlagHashPSPool}
	switch req.GetType() {
	case pb.PoolType_POOL_TYPE_REPLICATED, pb.PoolType_POOL_TYPE_UNSPECIFIED:
		p.Type = clustermap.PoolReplicated
		p.Size = req.GetSize()
		if p.Size == 0 {
			p.Size = lim.defaultSize()
		}
		if p.Size > maxReplicatedSize {
			return cmdResult{}, fmt.Errorf("%w: size %d: a replicated pool has 1..%d copies", ErrInvalid, p.Size, maxReplicatedSize)
		}
		p.MinSize = req.GetMinSize()
		if p.MinSize == 0 {
			p.MinSize = p.Size - p.Size/2
		}
		ruleName := req.GetCrushRule()
		if ruleName == "" {
			ruleName = "replicated_rule"
		}
		r := ruleByName(m.Crush, ruleName)
		if r == nil {
			return cmdResult{}, fmt.Errorf("%w: CRUSH rule %q (create it with 'radosctl osd crush rule create-replicated')", ErrNotFound, ruleName)
		}
		p.CrushRule = int32(r.ID)
	case pb.PoolType_POOL_TYPE_ERASURE:
		p.Type = clustermap.PoolErasure
		profName := req.GetEcProfile()
		if profName == "" {
			profName = "default"
		}
		prof, err := ecProfile(m, profName)
		if err != nil {
			return cmdResult{}, err
		}
		p.ECProfile = profName
		p.Size = prof.k + prof.m
		if s := req.GetSize(); s != 0 && s != p.Size {
			return cmdResult{}, fmt.Errorf("%w: an erasure pool's size is k+m=%d from its profile", ErrInvalid, p.Size)
		}
		p.MinSize = req.GetMinSize()
		if p.MinSize == 0 {
			p.MinSize = min(prof.k+1, p.Size)
		}
		if p.MinSize < prof.k {
			return cmdResult{}, fmt.Errorf("%w: min_size %d below k=%d: an erasure pool cannot serve with fewer than k shards", ErrInvalid, p.MinSize, prof.k)
		}
		ruleName := req.GetCrushRule()
		if ruleName == "" {
			ruleName = name
		}
		r := ruleByName(m.Crush, ruleName)
		if r == nil {
			if _, err := ruleCreate(m, &pb.RuleCreate{Name: ruleName, Erasure: true, EcProfile: profName}); err != nil {
				return cmdResult{}, err
			}
			r = ruleByName(m.Crush, ruleName)
		}
		p.CrushRule = int32(r.ID)
	default:
		return cmdResult{}, fmt.Errorf("%w: pool type %v: use replicated or erasure", ErrInvalid, req.GetType())
	}
	if p.MinSize > p.Size {
		return cmdResult{}, fmt.Errorf("%w: min_size %d is above size %d", ErrInvalid, p.MinSize, p.Size)
	}
	if err := ruleFits(m.Crush, int(p.CrushRule), p); err != nil {
		return cmdResult{}, err
	}
	if err := checkPGPerOSD(m, nil, p, lim); err != nil {
		return cmdResult{}, err
	}
	id := m.PoolMax + 1
	for _, pid := range m.PoolIDs() {
		id = max(id, pid+1)
	}
	p.ID = id
	m.PoolMax = id
	m.Pools[id] = p
	return cmdResult{msg: fmt.Sprintf("pool '%s' created", name), id: id}, nil
}

func checkPGNum(n uint32, lim Limits) error {
	if n == 0 || n > lim.maxPGNum() {
		return fmt.Errorf("%w: pg_num %d: use 1..%d", ErrInvalid, n, lim.maxPGNum())
	}
	return nil
}

// checkPGPerOSD refuses a pool change that would put more than the limit
// of PG replicas on each in OSD (on average), as Ceph does.
func checkPGPerOSD(m *clustermap.Map, old, p *clustermap.Pool, lim Limits) error {
	in := 0
	for _, o := range m.OSDs {
		if o.In() {
			in++
		}
	}
	if in == 0 {
		return nil
	}
	var total uint64
	for _, q := range m.Pools {
		if old == nil || q.ID != old.ID {
			total += uint64(q.PGNum) * uint64(q.Size)
		}
	}
	total += uint64(p.PGNum) * uint64(p.Size)
	if limit := uint64(lim.maxPGPerOSD()) * uint64(in); total > limit {
		return fmt.Errorf("%w: this would put %d PG replicas on %d in OSDs, over %d per OSD; use a smaller pg_num or add OSDs",
			ErrInvalid, total, in, lim.maxPGPerOSD())
	}
	return nil
}

// PoolSetKeys are the pool settings 'pool set' changes.
var PoolSetKeys = []string{"size", "min_size", "pg_num", "pgp_num", "crush_rule"}

func poolSet(m *clustermap.Map, req *pb.PoolSet, lim Limits) (cmdResult, error) {
	cur, err := m.PoolByName(req.GetName())
	if err != nil {
		return cmdResult{}, fmt.Errorf("%w: pool %q", ErrNotFound, req.GetName())
	}
	p := *cur
	val := req.GetValue()
	num := func() (uint32, error) {
		v, err := strconv.ParseUint(val, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%w: %s=%q is not a number", ErrInvalid, req.GetKey(), val)
		}
		return uint32(v), nil
	}
	switch req.GetKey() {
	case "size":
		v, err := num()
		if err != nil {
			return cmdResult{}, err
		}
		if p.Type == clustermap.PoolErasure {
			return cmdResult{}, fmt.Errorf("%w: an erasure pool's size is k+m of its profile", ErrInvalid)
		}
		if v == 0 || v > maxReplicatedSize {
			return cmdResult{}, fmt.Errorf("%w: size %d: use 1..%d", ErrInvalid, v, maxReplicatedSize)
		}
		p.Size = v
		p.MinSize = min(p.MinSize, v)
	case "min_size":
		v, err := num()
		if err != nil {
			return cmdResult{}, err
		}
		if v == 0 || v > p.Size {
			return cmdResult{}, fmt.Errorf("%w: min_size %d: use 1..size (%d)", ErrInvalid, v, p.Size)
		}
		if p.Type == clustermap.PoolErasure {
			prof, err := ecProfile(m, p.ECProfile)
			if err != nil {
				return cmdResult{}, err
			}
			if v < prof.k {
				return cmdResult{}, fmt.Errorf("%w: min_size %d below k=%d", ErrInvalid, v, prof.k)
			}
		}
		p.MinSize = v
	case "pg_num":
		v, err := num()
		if err != nil {
			return cmdResult{}, err
		}
		if err := checkPGNum(v, lim); err != nil {
			return cmdResult{}, err
		}
		if v < p.PGNum {
			return cmdResult{}, fmt.Errorf("%w: pg_num %d is below %d: merging PGs is not supported", ErrInvalid, v, p.PGNum)
		}
		p.PGNum, p.PGPNum = v, v
	case "pgp_num":
		v, err := num()
		if err != nil {
			return cmdResult{}, err
		}
		if v == 0 || v > p.PGNum {
			return cmdResult{}, fmt.Errorf("%w: pgp_num %d: use 1..pg_num (%d)", ErrInvalid, v, p.PGNum)
		}
		p.PGPNum = v
	case "crush_rule":
		r := ruleByName(m.Crush, val)
		if r == nil {
			return cmdResult{}, fmt.Errorf("%w: CRUSH rule %q", ErrNotFound, val)
		}
		p.CrushRule = int32(r.ID)
	default:
		return cmdResult{}, fmt.Errorf("%w: unknown pool setting %q (settable: %s)", ErrInvalid, req.GetKey(), strings.Join(PoolSetKeys, ", "))
	}
	if err := ruleFits(m.Crush, int(p.CrushRule), &p); err != nil {
		return cmdResult{}, err
	}
	if err := checkPGPerOSD(m, cur, &p, lim); err != nil {
		return cmdResult{}, err
	}
	*cur = p
	return cmdResult{msg: fmt.Sprintf("set pool %d %s to %s", p.ID, req.GetKey(), val), id: p.ID, placement: true}, nil
}

func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return fmt.Errorf("%w: address %q: want HOST:PORT", ErrInvalid, addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%w: address %q: port must be 1..65535", ErrInvalid, addr)
	}
	return nil
}

// setFullRatio sets one fullness threshold. The three must keep their
// order (nearfull <= backfillfull <= full), as Ceph's health warns when
// they do not: backfill would otherwise fill an OSD past full.
func setFullRatio(m *clustermap.Map, req *pb.SetFullRatio) (cmdResult, error) {
	r := req.GetRatio()
	if !(r > 0 && r <= 1) {
		return cmdResult{}, fmt.Errorf("%w: a ratio is a share of the disk, in (0, 1]; got %v", ErrInvalid, r)
	}
	next := m.Ratios.Effective()
	var name string
	switch req.GetWhich() {
	case pb.OSDFullness_OSD_FULLNESS_NEARFULL:
		next.NearFull, name = r, "nearfull_ratio"
	case pb.OSDFullness_OSD_FULLNESS_BACKFILLFULL:
		next.BackfillFull, name = r, "backfillfull_ratio"
	case pb.OSDFullness_OSD_FULLNESS_FULL:
		next.Full, name = r, "full_ratio"
	default:
		return cmdResult{}, fmt.Errorf("%w: which ratio? nearfull, backfillfull or full", ErrInvalid)
	}
	if !(next.NearFull <= next.BackfillFull && next.BackfillFull <= next.Full) {
		return cmdResult{}, fmt.Errorf("%w: the ratios must keep nearfull (%.3g) <= backfillfull (%.3g) <= full (%.3g); change the others first",
			ErrInvalid, next.NearFull, next.BackfillFull, next.Full)
	}
	m.Ratios = next
	return cmdResult{msg: fmt.Sprintf("%s = %.4g", name, r)}, nil
}

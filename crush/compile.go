package crush

import (
	"fmt"
	"math"
	"sort"
	"strconv"
)

// Compile parses crush map text (the format crushtool -d writes) and
// builds the map exactly as crushtool -c does: legacy tunables unless the
// text sets them, bucket ids assigned in crushtool's order, shadow trees
// for device classes built when the first rule is read, and the same
// 16.16 weights. Errors carry a line and column and wrap ErrSyntax or
// ErrInvalidMap; on error no map is returned.
func Compile(src string) (*Map, error) {
	f, err := parse(src)
	if err != nil {
		return nil, err
	}
	c := &compiler{
		m: &Map{
			Tunables:     LegacyTunables(),
			Types:        map[int32]string{},
			Classes:      map[int32]string{},
			ClassBuckets: map[int32]map[int32]int32{},
		},
		itemID:      map[string]int32{},
		usedIDs:     map[int32]bool{},
		bucketTotal: map[int32]uint32{},
		typeID:      map[string]int32{},
		textShadow:  map[int32]map[int32]int32{},
		ruleNames:   map[string]bool{},
		deviceClass: map[int32]int32{},
		deviceNames: map[int32]string{},
	}
	if err := c.compile(f); err != nil {
		return nil, err
	}
	return c.m, nil
}

type compiler struct {
	m           *Map
	itemID      map[string]int32          // devices and buckets by name
	usedIDs     map[int32]bool            // bucket ids taken or reserved
	bucketTotal map[int32]uint32          // bucket id -> sum of its item weights
	typeID      map[string]int32          // type name -> id
	textShadow  map[int32]map[int32]int32 // shadow ids given in the text
	ruleNames   map[string]bool           // rule names seen
	deviceClass map[int32]int32           // device id -> class id
	deviceNames map[int32]string          // device id -> name
	populated   bool
}

func (c *compiler) errorf(t token, format string, args ...any) error {
	return posErrorf(ErrInvalidMap, t, format, args...)
}

func (c *compiler) compile(f *astFile) error {
	for _, t := range f.tunables {
		if err := c.tunable(t); err != nil {
			return err
		}
	}
	for _, d := range f.devices {
		if err := c.device(d); err != nil {
			return err
		}
	}
	sort.Slice(c.m.Devices, func(i, j int) bool { return c.m.Devices[i].ID < c.m.Devices[j].ID })
	for _, t := range f.types {
		if _, dup := c.typeID[t.name.text]; dup {
			return c.errorf(t.name, "type %q defined twice", t.name.text)
		}
		if _, dup := c.m.Types[int32(t.id)]; dup {
			return c.errorf(t.at, "type id %d defined twice", t.id)
		}
		c.typeID[t.name.text] = int32(t.id)
		c.m.Types[int32(t.id)] = t.name.text
	}
	buckets, err := orderBuckets(f.buckets)
	if err != nil {
		return err
	}
	// crushtool reserves every id a bucket's leading id lines name (class
	// ids too) before it assigns free ids to buckets without one.
	for _, b := range buckets {
		for _, id := range b.ids {
			c.usedIDs[int32(id.id)] = true
		}
	}
	// Buckets must precede rules (the parser keeps them in that order
	// within the buckets-and-rules section, so check the source positions).
	if len(f.rules) > 0 {
		first := f.rules[0].at
		for _, b := range f.buckets {
			if b.typ.line > first.line || (b.typ.line == first.line && b.typ.col > first.col) {
				return c.errorf(b.typ, "buckets must be defined before rules")
			}
		}
	}
	for _, b := range buckets {
		if err := c.bucket(b); err != nil {
			return err
		}
	}
	for _, r := range f.rules {
		if !c.populated {
			c.populated = true
			c.m.populateErr = c.populateClasses()
		}
		if err := c.rule(r); err != nil {
			return err
		}
	}
	for _, ca := range f.chooseArgs {
		if err := c.chooseArgs(ca); err != nil {
			return err
		}
	}
	return c.m.Finalize()
}

func (c *compiler) tunable(t astTunable) error {
	tu := &c.m.Tunables
	v := uint32(t.val)
	var p *uint32
	small := false
	switch t.name.text {
	case "choose_local_tries":
		p = &tu.ChooseLocalTries
	case "choose_local_fallback_tries":
		p = &tu.ChooseLocalFallbackTries
	case "choose_total_tries":
		p = &tu.ChooseTotalTries
	case "chooseleaf_descend_once":
		p = &tu.ChooseleafDescendOnce
	case "chooseleaf_vary_r":
		p, small = &tu.ChooseleafVaryR, true
	case "chooseleaf_stable":
		p, small = &tu.ChooseleafStable, true
	case "straw_calc_version":
		p, small = &tu.StrawCalcVersion, true
	case "allowed_bucket_algs":
		p = &tu.AllowedBucketAlgs
	default:
		return c.errorf(t.name, "tunable %q not recognized", t.name.text)
	}
	if small && v > 255 {
		return c.errorf(t.at, "tunable %s %d out of range 0..255", t.name.text, v)
	}
	*p = v
	return nil
}

func (c *compiler) device(d astDevice) error {
	id := int32(d.id)
	if _, dup := c.itemID[d.name.text]; dup {
		return c.errorf(d.name, "item %s defined twice", d.name.text)
	}
	if other, dup := c.deviceNames[id]; dup {
		return c.errorf(d.at, "device id %d defined twice (%s and %s)", id, other, d.name.text)
	}
	c.deviceNames[id] = d.name.text
	c.itemID[d.name.text] = id
	dev := Device{ID: id, Name: d.name.text}
	if d.class != nil {
		dev.Class = d.class.text
		c.deviceClass[id] = c.classID(d.class.text)
	}
	c.m.Devices = append(c.m.Devices, dev)
	return nil
}

// classID returns the id of a device class, creating it (next id after
// the highest) if new, as Ceph's get_or_create_class_id.
func (c *compiler) classID(name string) int32 {
	next := int32(0)
	for id, n := range c.m.Classes {
		if n == name {
			return id
		}
		if id >= next {
			next = id + 1
		}
	}
	c.m.Classes[next] = name
	return next
}

// orderBuckets reproduces crushtool's adjust_bucket_item_place: when a
// bucket lists a bucket defined after it, the two definitions swap places.
// The swap works on positions remembered by name, as crushtool's does,
// so later swaps can move other buckets; the order decides which ids
// buckets without an explicit id receive.
func orderBuckets(in []*astBucket) ([]*astBucket, error) {
	nodes := append([]*astBucket(nil), in...)
	names := make([]string, len(in))
	posOf := map[string]int{}
	items := map[string]map[string]bool{}
	for i, b := range in {
		names[i] = b.name.text
		posOf[b.name.text] = i
		set := map[string]bool{}
		for _, it := range b.items {
			set[it.name.text] = true
		}
		items[b.name.text] = set
	}
	for i := range names {
		for j := i + 1; j < len(names); j++ {
			if !items[names[i]][names[j]] {
				continue
			}
			if items[names[j]][names[i]] {
				b := in[posOf[names[j]]]
				return nil, posErrorf(ErrInvalidMap, b.name, "buckets %q and %q contain each other", names[i], names[j])
			}
			pi, pj := posOf[names[i]], posOf[names[j]]
			nodes[pi], nodes[pj] = nodes[pj], nodes[pi]
		}
	}
	return nodes, nil
}

func (c *compiler) bucket(ab *astBucket) error {
	typ, ok := c.typeID[ab.typ.text]
	if !ok {
		return c.errorf(ab.typ, "bucket type %q is not defined", ab.typ.text)
	}
	name := ab.name.text
	if _, dup := c.itemID[name]; dup {
		return c.errorf(ab.name, "bucket or device %q is already defined", name)
	}
	var id int32
	classIDs := map[int32]int32{}
	for _, bid := range ab.ids {
		if bid.class == nil {
			id = int32(bid.id)
			continue
		}
		cid := c.classID(bid.class.text)
		if _, dup := classIDs[cid]; dup {
			return c.errorf(*bid.class, "duplicate device class %s for bucket %s", bid.class.text, name)
		}
		classIDs[cid] = int32(bid.id)
	}
	alg, ok := ParseAlg(ab.alg.text)
	if !ok {
		return c.errorf(ab.alg, "unknown bucket alg %q (use straw2, straw, uniform, list or tree)", ab.alg.text)
	}
	hash := HashRjenkins1
	for _, h := range ab.hashes {
		if h.text == "rjenkins1" {
			hash = HashRjenkins1
			continue
		}
		v, err := strconv.Atoi(h.text)
		if err != nil || v < 0 || v > 255 {
			return c.errorf(h, "bucket hash %q out of range 0..255", h.text)
		}
		hash = HashType(v)
	}

	// Positions: explicit "pos N" first, the rest fill the lowest free slots.
	size := len(ab.items)
	used := map[int64]bool{}
	for _, it := range ab.items {
		if it.pos < 0 {
			continue
		}
		if used[it.pos] {
			return c.errorf(it.posTok, "item %q in bucket %q has explicit pos %d, which is occupied", it.name.text, name, it.pos)
		}
		if it.pos >= int64(size) {
			return c.errorf(it.posTok, "item %q in bucket %q has pos %d >= size %d", it.name.text, name, it.pos, size)
		}
		used[it.pos] = true
	}
	items := make([]int32, size)
	weights := make([]uint32, size)
	var total, uniformWeight uint32
	haveUniform := false
	cur := int64(0)
	for _, it := range ab.items {
		itemID, ok := c.itemID[it.name.text]
		if !ok {
			return c.errorf(it.name, "item %q in bucket %q is not defined", it.name.text, name)
		}
		w := uint32(WeightOne)
		if t, ok := c.bucketTotal[itemID]; ok {
			w = t
		}
		if it.weight != nil {
			var err error
			if w, err = c.weight(*it.weight, it.weightTok, itemID >= 0); err != nil {
				return err
			}
		}
		if alg == AlgUniform {
			if !haveUniform {
				haveUniform, uniformWeight = true, w
			} else if w != uniformWeight {
				return c.errorf(it.name, "item %q in uniform bucket %q has weight %s but previous item(s) have weight %s; uniform bucket items must all have identical weights",
					it.name.text, name, formatFixed(w), formatFixed(uniformWeight))
			}
		}
		pos := it.pos
		if pos < 0 {
			for used[cur] {
				cur++
			}
			pos = cur
			cur++
		}
		items[pos] = itemID
		weights[pos] = w
		if uint64(total)+uint64(w) > math.MaxUint32 {
			return c.errorf(it.name, "bucket %q weights overflow; lower the item weights", name)
		}
		total += w
	}
	switch {
	case alg == AlgTree && size > maxTreeItems:
		return c.errorf(ab.alg, "tree bucket %q has %d items; Ceph stores a tree's node count in 8 bits, so a tree holds at most %d", name, size, maxTreeItems)
	case alg == AlgUniform && size > 0 && uniformWeight == 0:
		return c.errorf(ab.alg, "uniform bucket %q has items of weight 0; Ceph cannot build it (use another algorithm, or give the items a weight)", name)
	case typ == 0:
		return c.errorf(ab.typ, "bucket %q has type %d (%s), the device type; buckets need a type above 0", name, typ, ab.typ.text)
	}
	if id == 0 {
		for id = -1; c.usedIDs[id] || c.m.Bucket(id) != nil; id-- {
		}
	}
	if c.m.Bucket(id) != nil {
		return c.errorf(ab.name, "duplicate bucket id %d", id)
	}
	for cid, sid := range classIDs {
		if c.textShadow[id] == nil {
			c.textShadow[id] = map[int32]int32{}
		}
		c.textShadow[id][cid] = sid
	}
	c.usedIDs[id] = true
	c.itemID[name] = id
	c.bucketTotal[id] = total
	b := &Bucket{ID: id, Name: name, Type: typ, Alg: alg, Hash: hash, Items: items, Weights: weights}
	if alg == AlgStraw {
		b.Straws = calcStraws(weights, c.m.Tunables.StrawCalcVersion)
	}
	c.m.setBucket(b)
	return nil
}

// weight converts a text weight to 16.16 fixed point as crushtool does:
// the float32 value times 65536 in float32, converted to a 32-bit
// unsigned the way x86-64 does (so -25536.000, which crushtool -d prints
// for a weight of 40000 because it prints through a C int, reads back as
// 40000), then checked against the device or bucket limit.
func (c *compiler) weight(f float32, at token, device bool) (uint32, error) {
	w := floatToU32(f * float32(WeightOne))
	if device && w > MaxDeviceWeight {
		return 0, c.errorf(at, "device weight limited to 100 (got %v)", f)
	}
	if !device && w > MaxBucketWeight {
		return 0, c.errorf(at, "bucket weight limited to 65535 to prevent overflow (got %v)", f)
	}
	return w, nil
}

// floatToU32 converts like x86-64 C code converting a float to a 32-bit
// unsigned: truncate to a 64-bit integer and keep the low 32 bits; NaN
// and values beyond 64 bits give the "integer indefinite" 1<<63, whose low
// bits are 0.
func floatToU32(v float32) uint32 {
	if v != v || v >= 1<<63 || v < -(1<<63) {
		return 0
	}
	return uint32(int64(v))
}

// maxTreeItems is the most items a tree bucket can hold in Ceph: its
// node count, 1 << (1 + ceil(log2(size))), is stored in a __u8.
const maxTreeItems = 64

// setBucket stores b at its id's position, growing the slice.
func (m *Map) setBucket(b *Bucket) {
	p := -1 - int(b.ID)
	for len(m.Buckets) <= p {
		m.Buckets = append(m.Buckets, nil)
	}
	m.Buckets[p] = b
}

func (c *compiler) rule(ar *astRule) error {
	id := int(ar.id)
	if c.m.Rule(id) != nil {
		return c.errorf(ar.idTok, "rule %d already exists", id)
	}
	r := &Rule{ID: id, MinSize: uint8(ar.minSize), MaxSize: uint8(ar.maxSize)}
	if ar.name != nil {
		if c.ruleNames[ar.name.text] {
			return c.errorf(*ar.name, "rule name %q already defined", ar.name.text)
		}
		c.ruleNames[ar.name.text] = true
		r.Name = ar.name.text
	}
	r.Type = RuleReplicated
	if ar.typ.text == "erasure" {
		r.Type = RuleErasure
	}
	for _, st := range ar.steps {
		step, err := c.step(r, st)
		if err != nil {
			return err
		}
		r.Steps = append(r.Steps, step)
	}
	for len(c.m.Rules) <= id {
		c.m.Rules = append(c.m.Rules, nil)
	}
	c.m.Rules[id] = r
	return nil
}

func (c *compiler) step(r *Rule, st astStep) (Step, error) {
	switch st.kind.text {
	case "take":
		id, ok := c.itemID[st.item.text]
		if !ok {
			return Step{}, c.errorf(st.item, "in rule %q item %q not defined", r.Name, st.item.text)
		}
		if st.class != nil {
			cls, ok := c.m.classIDByName(st.class.text)
			if !ok {
				return Step{}, c.errorf(*st.class, "in rule %q device class %q does not exist", r.Name, st.class.text)
			}
			byClass, ok := c.m.ClassBuckets[id]
			if !ok {
				return Step{}, c.errorf(st.item, "in rule %q step take %s has no class information%s", r.Name, st.item.text, c.populateHint())
			}
			sid, ok := byClass[cls]
			if !ok {
				return Step{}, c.errorf(*st.class, "in rule %q step take %s no matching bucket for class %s%s", r.Name, st.item.text, st.class.text, c.populateHint())
			}
			id = sid
		}
		return Step{Op: OpTake, Arg1: id}, nil
	case "emit":
		return Step{Op: OpEmit}, nil
	case "choose", "chooseleaf":
		typ, ok := c.typeID[st.typ.text]
		if !ok {
			return Step{}, c.errorf(st.typ, "in rule %q type %q not defined", r.Name, st.typ.text)
		}
		var op Op
		switch {
		case st.kind.text == "choose" && st.mode.text == "firstn":
			op = OpChooseFirstN
		case st.kind.text == "choose":
			op = OpChooseIndep
		case st.mode.text == "firstn":
			op = OpChooseLeafFirstN
		default:
			op = OpChooseLeafIndep
		}
		return Step{Op: op, Arg1: int32(st.n), Arg2: typ}, nil
	}
	return Step{Op: setSteps[st.kind.text], Arg1: int32(st.n)}, nil
}

func (c *compiler) populateHint() string {
	if c.m.populateErr != nil {
		return fmt.Sprintf(" (%v)", c.m.populateErr)
	}
	return ""
}

func (m *Map) classIDByName(name string) (int32, bool) {
	for id, n := range m.Classes {
		if n == name {
			return id, true
		}
	}
	return 0, false
}

func (c *compiler) chooseArgs(ca *astChooseArgs) error {
	key := int64(ca.index)
	if c.m.ChooseArgs == nil {
		c.m.ChooseArgs = map[int64]ChooseArgMap{}
	}
	if _, dup := c.m.ChooseArgs[key]; dup {
		return c.errorf(ca.at, "choose_args %d duplicated", ca.index)
	}
	cm := make(ChooseArgMap, len(c.m.Buckets))
	for _, a := range ca.args {
		b := c.m.Bucket(int32(a.bucketID))
		if b == nil {
			return c.errorf(a.at, "choose_args %d: bucket %d does not exist", ca.index, a.bucketID)
		}
		arg := &ChooseArg{}
		for _, ws := range a.weightSet {
			if len(ws) != len(b.Items) {
				return c.errorf(a.at, "choose_args %d: bucket %d needs exactly %d weights but got %d", ca.index, a.bucketID, len(b.Items), len(ws))
			}
			set := make([]uint32, len(ws))
			for i, f := range ws {
				set[i] = floatToU32(f * float32(WeightOne))
			}
			arg.WeightSet = append(arg.WeightSet, set)
		}
		if a.hasIDs {
			if len(a.ids) != len(b.Items) {
				return c.errorf(a.at, "choose_args %d: bucket %d needs exactly %d ids but got %d", ca.index, a.bucketID, len(b.Items), len(a.ids))
			}
			arg.IDs = make([]int32, len(a.ids))
			for i, v := range a.ids {
				arg.IDs[i] = int32(v)
			}
		}
		// Only straw2 reads choose_args; Ceph drops the others when it
		// decodes a map (update_choose_args), so they never round-trip.
		if b.Alg != AlgStraw2 {
			continue
		}
		cm[-1-int(a.bucketID)] = arg
	}
	c.m.ChooseArgs[key] = cm
	return nil
}

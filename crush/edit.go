package crush

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
)

// This file edits maps the way Ceph's monitor and crushtool do
// (CrushWrapper's insert_item, move_bucket, remove_item,
// adjust_item_weight, update_item, create_or_move_item,
// update_device_class, add_simple_rule, remove_rule and
// rebuild_roots_with_classes, Ceph 16.2). Each edit reproduces Ceph's
// result exactly: the bucket ids it picks, the order items end up in, the
// weights it propagates (through float conversions where Ceph has them),
// the algorithm-specific quirks of removing from tree and uniform
// buckets, and the shadow trees it rebuilds, with their old ids kept.
//
// Every edit works on a copy and replaces m only when the result
// finalizes, so on error m is unchanged. An edit replaces m's contents:
// do not edit a map that other goroutines are mapping through; Clone it,
// edit the clone and publish that.
//
// An edit whose result Ceph would refuse as well (shadow trees that
// would pass through a uniform bucket) fails with ErrInvalidMap.
//
// Maps with choose_args (weight sets) cannot be edited: Ceph rewrites
// every weight set on most edits, which this package does not reproduce,
// so such edits fail with errors.ErrUnsupported.

// Location places an item in the hierarchy: bucket type name -> bucket
// name, e.g. {"host": "h1", "root": "default"}, as Ceph's CRUSH
// locations ("host=h1 root=default").
type Location map[string]string

// WeightFromFloat converts a weight as Ceph's monitor and crushtool do
// (the value as a C float, times 0x10000, truncated), refusing negative
// weights and those of 32768 and above, which Ceph refuses too.
func WeightFromFloat(w float64) (uint32, error) {
	f := float32(w)
	if !(f >= 0) {
		return 0, fmt.Errorf("%w: weight %v is negative", ErrInvalidArgument, w)
	}
	v := f * WeightOne
	if float64(v) > math.MaxInt32 {
		return 0, fmt.Errorf("%w: weight %v is too large", ErrInvalidArgument, w)
	}
	return uint32(v), nil
}

// Clone returns a deep copy of m, finalized if m is, that can be edited,
// finalized and mapped independently of m.
func (m *Map) Clone() *Map {
	c := *m
	c.Types = maps.Clone(m.Types)
	c.Devices = slices.Clone(m.Devices)
	if m.Buckets != nil {
		c.Buckets = make([]*Bucket, len(m.Buckets))
		for i, b := range m.Buckets {
			if b != nil {
				c.Buckets[i] = b.clone()
			}
		}
	}
	if m.Rules != nil {
		c.Rules = make([]*Rule, len(m.Rules))
		for i, r := range m.Rules {
			if r != nil {
				cr := *r
				cr.Steps = slices.Clone(r.Steps)
				c.Rules[i] = &cr
			}
		}
	}
	c.Classes = maps.Clone(m.Classes)
	c.ClassBuckets = cloneClassBuckets(m.ClassBuckets)
	if m.ChooseArgs != nil {
		c.ChooseArgs = make(map[int64]ChooseArgMap, len(m.ChooseArgs))
		for k, cm := range m.ChooseArgs {
			var ccm ChooseArgMap
			if cm != nil {
				ccm = make(ChooseArgMap, len(cm))
				for i, a := range cm {
					if a == nil {
						continue
					}
					ca := &ChooseArg{IDs: slices.Clone(a.IDs)}
					if a.WeightSet != nil {
						ca.WeightSet = make([][]uint32, len(a.WeightSet))
						for j, ws := range a.WeightSet {
							ca.WeightSet[j] = slices.Clone(ws)
						}
					}
					ccm[i] = ca
				}
			}
			c.ChooseArgs[k] = ccm
		}
	}
	c.names = maps.Clone(m.names)
	c.deviceNames = maps.Clone(m.deviceNames)
	c.classIDs = maps.Clone(m.classIDs)
	c.shadow = maps.Clone(m.shadow)
	c.present = slices.Clone(m.present)
	return &c
}

func (b *Bucket) clone() *Bucket {
	c := *b
	c.Items = slices.Clone(b.Items)
	c.Weights = slices.Clone(b.Weights)
	c.Straws = slices.Clone(b.Straws)
	c.sumWeights = slices.Clone(b.sumWeights)
	c.nodeWeights = slices.Clone(b.nodeWeights)
	return &c
}

func cloneClassBuckets(in map[int32]map[int32]int32) map[int32]map[int32]int32 {
	if in == nil {
		return nil
	}
	out := make(map[int32]map[int32]int32, len(in))
	for k, v := range in {
		out[k] = maps.Clone(v)
	}
	return out
}

// AddBucket adds an empty bucket, as "ceph osd crush add-bucket NAME TYPE
// [LOC]" and crushtool --add-bucket do: the algorithm is Ceph's default
// for the map's allowed_bucket_algs (straw2 when allowed), the hash
// rjenkins1 and the id the first free one from -1 down. With a non-empty
// loc the bucket is then moved there as MoveBucket does (creating missing
// ancestors, rebuilding the shadow trees); without one it becomes a root
// and, as in Ceph, gets no shadow copies until a later edit rebuilds them.
func (m *Map) AddBucket(name, typeName string, loc Location) (int32, error) {
	var id int32
	err := m.edit(func(e *editor) error {
		if !ValidName(name) {
			return fmt.Errorf("%w: bucket name %q is not a valid CRUSH name", ErrInvalidArgument, name)
		}
		if _, dup := e.names[name]; dup {
			return fmt.Errorf("%w: item %q already exists", ErrExists, name)
		}
		typ, ok := e.m.TypeID(typeName)
		if !ok {
			return fmt.Errorf("%w: type %q does not exist", ErrNotFound, typeName)
		}
		if typ == 0 {
			return fmt.Errorf("%w: type %q is the device type, not a bucket type", ErrInvalidArgument, typeName)
		}
		if len(loc) > 0 {
			if err := e.checkLoc(loc); err != nil {
				return err
			}
		}
		var err error
		if id, err = e.addBucket(typ, nil, nil); err != nil {
			return err
		}
		e.setName(id, name)
		if len(loc) == 0 {
			return nil
		}
		if at, _ := e.checkItemLoc(id, loc); at {
			return nil
		}
		return e.moveBucket(id, loc)
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

// InsertItem adds device id, named name, with the given 16.16 weight at
// loc, as "ceph osd crush add" and crushtool --add-item do for a new
// device (Ceph's insert_item): every bucket of loc that does not exist is
// created (default algorithm, first free id), from the lowest type up to
// the first that exists, which receives the chain; the weight is then set
// in the lowest bucket and propagated to every ancestor, and the shadow
// trees are rebuilt. The device must not be in the hierarchy yet (use
// UpdateItem or CreateOrMoveItem to move one), and the name must be free
// or already the device's.
func (m *Map) InsertItem(id int32, weight uint32, name string, loc Location) error {
	return m.edit(func(e *editor) error {
		if err := e.checkDevice(id, weight, name); err != nil {
			return err
		}
		if n, ok := e.devName[id]; ok && n != name {
			return fmt.Errorf("%w: device %d is already named %s", ErrExists, id, n)
		}
		if e.searchItemExists(id) {
			return fmt.Errorf("%w: device %s is already in the hierarchy", ErrExists, name)
		}
		if err := e.checkLoc(loc); err != nil {
			return err
		}
		return e.insertItem(id, weight, name, loc)
	})
}

// UpdateItem places device id at loc with the given weight and name, as
// "ceph osd crush set" and crushtool --update-item do (Ceph's
// update_item): if the device already sits in the lowest bucket of loc,
// only its weight there (propagated upwards) and its name change;
// otherwise it is unlinked from everywhere and inserted at loc as
// InsertItem does.
func (m *Map) UpdateItem(id int32, weight uint32, name string, loc Location) error {
	return m.edit(func(e *editor) error {
		if err := e.checkDevice(id, weight, name); err != nil {
			return err
		}
		if err := e.checkLoc(loc); err != nil {
			return err
		}
		if at, old := e.checkItemLoc(id, loc); at {
			if old != weight {
				e.adjustItemWeightInLoc(id, weight, loc)
				if err := e.rebuildClasses(); err != nil {
					return err
				}
			}
			if n := e.devName[id]; n != name {
				if other, dup := e.names[name]; dup && other != id {
					return fmt.Errorf("%w: item %q already exists", ErrExists, name)
				}
				e.setName(id, name)
			}
			return nil
		}
		if _, named := e.devName[id]; named {
			if err := e.removeItem(id, true); err != nil {
				return err
			}
		}
		return e.insertItem(id, weight, name, loc)
	})
}

// CreateOrMoveItem places device id at loc, as "ceph osd crush
// create-or-move" does (Ceph's create_or_move_item): nothing changes if
// the device already sits in the lowest bucket of loc; a device elsewhere
// in the hierarchy is unlinked and re-inserted at loc with its current
// weight (the first bucket holding it gives it, through a C float), and
// weight is ignored; a new device is inserted with weight.
func (m *Map) CreateOrMoveItem(id int32, weight uint32, name string, loc Location) error {
	return m.edit(func(e *editor) error {
		if err := e.checkDevice(id, weight, name); err != nil {
			return err
		}
		if err := e.checkLoc(loc); err != nil {
			return err
		}
		return e.createOrMoveItem(id, weight, name, loc)
	})
}

// MoveBucket moves an item to loc, as "ceph osd crush move NAME LOC"
// does: nothing changes if the item already sits in the lowest bucket of
// loc; a bucket is detached from its first parent (Ceph's move_bucket:
// its weight there is zeroed and propagated, then it is removed) and
// inserted at loc with its weight passed through a C float, creating
// missing ancestors; a device is moved as CreateOrMoveItem does. Moving a
// bucket under itself or its descendants fails with ErrInvalidArgument.
func (m *Map) MoveBucket(id int32, loc Location) error {
	return m.edit(func(e *editor) error {
		name, ok := e.itemName(id)
		if !ok {
			return fmt.Errorf("%w: item %d does not exist", ErrNotFound, id)
		}
		if isShadowName(name) {
			return fmt.Errorf("%w: %s is a shadow bucket; move the bucket it copies", ErrInvalidArgument, name)
		}
		if err := e.checkLoc(loc); err != nil {
			return err
		}
		if at, _ := e.checkItemLoc(id, loc); at {
			return nil
		}
		if id >= 0 {
			return e.createOrMoveItem(id, 0, name, loc)
		}
		return e.moveBucket(id, loc)
	})
}

// RemoveItem removes a device, or an empty bucket, from every bucket
// holding it and drops its name (and a device's class), as "ceph osd
// crush remove" and crushtool --remove-item do (Ceph's remove_item), then
// rebuilds the shadow trees. Each parent's weight drops by the item's and
// the change propagates upwards. A bucket with items, or one a rule takes
// (directly or through a class), fails with ErrInUse.
//
// As in Ceph 16.2, a tree bucket keeps the removed item's slot, which
// then holds device 0 with weight 0 (only trailing zero-weight slots are
// dropped), and a uniform bucket's items all get weight 0, since a
// uniform bucket has one item weight.
func (m *Map) RemoveItem(id int32) error {
	return m.edit(func(e *editor) error {
		if _, named := e.itemName(id); !named && !e.searchItemExists(id) {
			return fmt.Errorf("%w: item %d does not exist", ErrNotFound, id)
		}
		return e.removeItem(id, false)
	})
}

// AdjustItemWeight sets the 16.16 weight of item id in every bucket
// holding it, shadow copies included, and propagates each changed
// bucket's new total to its own parents, as "ceph osd crush reweight"
// and crushtool --reweight-item do (Ceph's adjust_item_weight). For a
// bucket id this sets the weight its parents see, not its items'. The
// shadow trees are adjusted in place, not rebuilt, as in Ceph.
func (m *Map) AdjustItemWeight(id int32, weight uint32) error {
	return m.edit(func(e *editor) error {
		if weight > math.MaxInt32 {
			return fmt.Errorf("%w: weight %#x is too large", ErrInvalidArgument, weight)
		}
		if e.adjustItemWeight(id, weight) == 0 {
			return fmt.Errorf("%w: item %d is in no bucket", ErrNotFound, id)
		}
		return nil
	})
}

// SetDeviceClass binds device id to a device class, creating the class
// (next id after the highest) if needed, and rebuilds the shadow trees,
// as "ceph osd crush set-device-class" does (Ceph's update_device_class).
// Setting the class a device has changes nothing; a device bound to
// another class fails with ErrExists (remove that class first).
func (m *Map) SetDeviceClass(id int32, class string) error {
	return m.edit(func(e *editor) error {
		if _, ok := e.devName[id]; !ok || id < 0 {
			return fmt.Errorf("%w: device %d does not exist", ErrNotFound, id)
		}
		if !ValidName(class) {
			return fmt.Errorf("%w: device class %q is not a valid CRUSH name", ErrInvalidArgument, class)
		}
		if old, ok := e.devClass[id]; ok {
			if e.m.Classes[old] != class {
				return fmt.Errorf("%w: device %s already has class %s; remove it first", ErrExists, e.devName[id], e.m.Classes[old])
			}
			return nil
		}
		e.devClass[id] = e.classID(class)
		return e.rebuildClasses()
	})
}

// RemoveDeviceClass unbinds device id from its class and rebuilds the
// shadow trees, as "ceph osd crush rm-device-class" does (a class no
// device and no rule uses any more disappears). A device without a class
// is left alone.
func (m *Map) RemoveDeviceClass(id int32) error {
	return m.edit(func(e *editor) error {
		if _, ok := e.devName[id]; !ok || id < 0 {
			return fmt.Errorf("%w: device %d does not exist", ErrNotFound, id)
		}
		if _, ok := e.devClass[id]; !ok {
			return nil
		}
		delete(e.devClass, id)
		return e.rebuildClasses()
	})
}

// Sizes Ceph 16.2's add_simple_rule gives rules, by mode.
const (
	firstnMinSize = 1
	firstnMaxSize = 10
	indepMinSize  = 3
	indepMaxSize  = 20
)

// AddSimpleRule adds a rule as Ceph 16.2's add_simple_rule does ("ceph
// osd crush rule create-simple", crushtool --create-simple-rule, and
// with mode "firstn" "ceph osd crush rule create-replicated" and
// crushtool --create-replicated-rule) and returns its id, the lowest
// free one. The rule takes root (its shadow copy for deviceClass, which
// must exist under root) and picks leaves across distinct buckets of type
// failureDomainType ("" or the device type: devices directly):
//
//	firstn: take; chooseleaf firstn 0 type T; emit (min_size 1, max_size 10)
//	indep:  set_chooseleaf_tries 5; set_choose_tries 100; take;
//	        chooseleaf indep 0 type T; emit (min_size 3, max_size 20)
//
// with "choose" instead of "chooseleaf" for the device type.
func (m *Map) AddSimpleRule(name, root, failureDomainType, deviceClass, mode string, ruleType RuleType) (int, error) {
	id := -1
	err := m.edit(func(e *editor) error {
		var err error
		id, err = e.addSimpleRule(name, root, failureDomainType, deviceClass, mode, ruleType)
		return err
	})
	if err != nil {
		return -1, err
	}
	return id, nil
}

// AddErasureRule adds the rule an erasure-code profile creates in Ceph
// 16.2 ("ceph osd crush rule create-erasure", or a pool created with a
// profile; ErasureCode::create_rule): AddSimpleRule's indep rule of type
// erasure, with max_size set to the profile's chunk count k+m.
func (m *Map) AddErasureRule(name, root, failureDomainType, deviceClass string, chunkCount int) (int, error) {
	id := -1
	err := m.edit(func(e *editor) error {
		if chunkCount < 1 || chunkCount > 255 {
			return fmt.Errorf("%w: chunk count %d outside 1..255", ErrInvalidArgument, chunkCount)
		}
		var err error
		if id, err = e.addSimpleRule(name, root, failureDomainType, deviceClass, "indep", RuleErasure); err != nil {
			return err
		}
		e.m.Rules[id].MaxSize = uint8(chunkCount)
		return nil
	})
	if err != nil {
		return -1, err
	}
	return id, nil
}

// RemoveRule removes rule id, as "ceph osd crush rule rm" and crushtool
// --remove-rule do, then rebuilds the shadow trees (a class that no
// device and no other rule uses disappears with its shadow buckets).
// Whether a pool still uses the rule is the caller's to check.
func (m *Map) RemoveRule(id int) error {
	return m.edit(func(e *editor) error {
		if e.m.Rule(id) == nil {
			return fmt.Errorf("%w: rule %d does not exist", ErrNotFound, id)
		}
		e.m.Rules[id] = nil
		return e.rebuildClasses()
	})
}

// editor holds Ceph's view of a map being edited: names of every item
// (shadow buckets included) and the class of every device, which the
// Map keeps in its Devices list.
type editor struct {
	m        *Map
	names    map[string]int32
	devName  map[int32]string
	devClass map[int32]int32
}

// edit runs op on a finalized copy of m and, if op succeeds and the
// result finalizes, makes m that copy.
func (m *Map) edit(op func(e *editor) error) error {
	if len(m.ChooseArgs) > 0 {
		return fmt.Errorf("%w: editing a map with choose_args (weight sets)", errors.ErrUnsupported)
	}
	c := m.Clone()
	if err := c.Finalize(); err != nil {
		return err
	}
	e := &editor{m: c, names: map[string]int32{}, devName: map[int32]string{}, devClass: map[int32]int32{}}
	for _, d := range c.Devices {
		e.names[d.Name] = d.ID
		e.devName[d.ID] = d.Name
		if d.Class != "" {
			e.devClass[d.ID] = c.classIDs[d.Class]
		}
	}
	for _, b := range c.Buckets {
		if b != nil && b.Name != "" {
			e.names[b.Name] = b.ID
		}
	}
	if err := op(e); err != nil {
		return err
	}
	devs := make([]Device, 0, len(e.devName))
	for id, n := range e.devName {
		d := Device{ID: id, Name: n}
		if cls, ok := e.devClass[id]; ok {
			d.Class = c.Classes[cls]
		}
		devs = append(devs, d)
	}
	sort.Slice(devs, func(i, j int) bool { return devs[i].ID < devs[j].ID })
	c.Devices = devs
	if err := c.Finalize(); err != nil {
		return err
	}
	*m = *c
	return nil
}

// checkDevice validates the arguments that name and weigh a device.
func (e *editor) checkDevice(id int32, weight uint32, name string) error {
	if id < 0 || id >= DeviceIDLimit {
		return fmt.Errorf("%w: device id %d outside 0..%d", ErrInvalidArgument, id, DeviceIDLimit-1)
	}
	if !ValidName(name) {
		return fmt.Errorf("%w: device name %q is not a valid CRUSH name", ErrInvalidArgument, name)
	}
	if weight > math.MaxInt32 {
		return fmt.Errorf("%w: weight %#x is too large", ErrInvalidArgument, weight)
	}
	if other, ok := e.names[name]; ok && other != id {
		return fmt.Errorf("%w: item %q already exists with id %d", ErrExists, name, other)
	}
	return nil
}

// checkLoc validates a location: at least one level, each a bucket type
// of the map naming a bucket by a valid name. (Ceph ignores levels of
// unknown types; here they are errors.)
func (e *editor) checkLoc(loc Location) error {
	if len(loc) == 0 {
		return fmt.Errorf("%w: empty location", ErrInvalidArgument)
	}
	for _, k := range slices.Sorted(maps.Keys(loc)) {
		t, ok := e.m.TypeID(k)
		if !ok {
			return fmt.Errorf("%w: location type %q does not exist", ErrNotFound, k)
		}
		if t == 0 {
			return fmt.Errorf("%w: location type %q is the device type", ErrInvalidArgument, k)
		}
		if !ValidName(loc[k]) {
			return fmt.Errorf("%w: location %s=%q is not a valid CRUSH name", ErrInvalidArgument, k, loc[k])
		}
	}
	return nil
}

// itemName is Ceph's get_item_name; an item "exists" when it has one.
func (e *editor) itemName(id int32) (string, bool) {
	if id >= 0 {
		n, ok := e.devName[id]
		return n, ok
	}
	if b := e.m.Bucket(id); b != nil && b.Name != "" {
		return b.Name, true
	}
	return "", false
}

// setName is Ceph's set_item_name.
func (e *editor) setName(id int32, name string) {
	if old, ok := e.itemName(id); ok && e.names[old] == id {
		delete(e.names, old)
	}
	if id >= 0 {
		e.devName[id] = name
	} else {
		e.m.Bucket(id).Name = name
	}
	e.names[name] = id
}

// dropName removes an item's name.
func (e *editor) dropName(id int32) {
	n, ok := e.itemName(id)
	if !ok {
		return
	}
	if e.names[n] == id {
		delete(e.names, n)
	}
	if id >= 0 {
		delete(e.devName, id)
	} else {
		e.m.Bucket(id).Name = ""
	}
}

// classID is Ceph's get_or_create_class_id.
func (e *editor) classID(name string) int32 {
	if id, ok := e.m.classIDByName(name); ok {
		return id
	}
	next := int32(0)
	for id := range e.m.Classes {
		if id >= next {
			next = id + 1
		}
	}
	e.m.Classes[next] = name
	return next
}

// searchItemExists reports whether some bucket holds item.
func (e *editor) searchItemExists(item int32) bool {
	for _, b := range e.m.Buckets {
		if b != nil && slices.Contains(b.Items, item) {
			return true
		}
	}
	return false
}

// subtreeContains reports whether item is root or below it.
func (e *editor) subtreeContains(root, item int32) bool {
	if root == item {
		return true
	}
	b := e.m.Bucket(root)
	if b == nil {
		return false
	}
	for _, it := range b.Items {
		if e.subtreeContains(it, item) {
			return true
		}
	}
	return false
}

// total is a bucket's weight (Ceph's h.weight, which its operations keep
// equal to the sum of its item weights).
func total(b *Bucket) uint32 {
	var s uint32
	for _, w := range b.Weights {
		s += w
	}
	return s
}

// defaultAlg is Ceph's get_default_bucket_alg.
func defaultAlg(allowed uint32) Alg {
	for _, a := range []Alg{AlgStraw2, AlgStraw, AlgTree, AlgList, AlgUniform} {
		if allowed&(1<<a) != 0 {
			return a
		}
	}
	return 0
}

// addBucket is Ceph's add_bucket with the default algorithm and hash and
// the first free id.
func (e *editor) addBucket(typ int32, items []int32, weights []uint32) (int32, error) {
	alg := defaultAlg(e.m.Tunables.AllowedBucketAlgs)
	switch alg {
	case 0:
		return 0, fmt.Errorf("%w: allowed_bucket_algs allows no bucket algorithm", ErrInvalidArgument)
	case AlgUniform:
		return 0, fmt.Errorf("%w: allowed_bucket_algs allows only uniform buckets, which Ceph cannot create empty", ErrInvalidArgument)
	}
	p := slices.Index(e.m.Buckets, nil)
	if p < 0 {
		p = len(e.m.Buckets)
	}
	if p >= BucketIDLimit {
		return 0, fmt.Errorf("%w: no free bucket id above %d", ErrInvalidArgument, -BucketIDLimit)
	}
	b := &Bucket{ID: int32(-1 - p), Type: typ, Alg: alg, Hash: HashRjenkins1,
		Items: slices.Clone(items), Weights: slices.Clone(weights)}
	e.restraw(b)
	e.m.setBucket(b)
	return b.ID, nil
}

// restraw recomputes a straw bucket's straws, as Ceph does whenever a
// straw bucket changes.
func (e *editor) restraw(b *Bucket) {
	if b.Alg == AlgStraw {
		b.Straws = calcStraws(b.Weights, e.m.Tunables.StrawCalcVersion)
	}
}

// bucketAddItem is Ceph's crush_bucket_add_item. A uniform bucket has one
// item weight and takes no item of another: Ceph 16.2 then aborts (an
// assertion in insert_item), so linking anything into a uniform bucket
// that has weight fails here.
func (e *editor) bucketAddItem(b *Bucket, item int32, w uint32) error {
	if b.Alg == AlgUniform && (len(b.Weights) == 0 || b.Weights[0] != w) {
		return fmt.Errorf("%w: cannot add %s to uniform bucket %s (Ceph aborts: its items must all weigh the same)",
			ErrInvalidArgument, e.label(item), b.Name)
	}
	b.Items = append(b.Items, item)
	b.Weights = append(b.Weights, w)
	e.restraw(b)
	return nil
}

// bucketRemoveItem is Ceph's crush_bucket_remove_item. A tree bucket
// keeps the slot: its item becomes device 0 with weight 0, and only
// trailing zero-weight leaves are then dropped.
func (e *editor) bucketRemoveItem(b *Bucket, item int32) {
	i := slices.Index(b.Items, item)
	if i < 0 {
		return
	}
	if b.Alg == AlgTree {
		b.Items[i], b.Weights[i] = 0, 0
		n := len(b.Items)
		for n > 0 && b.Weights[n-1] == 0 {
			n--
		}
		b.Items, b.Weights = b.Items[:n], b.Weights[:n]
		return
	}
	b.Items = slices.Delete(b.Items, i, i+1)
	b.Weights = slices.Delete(b.Weights, i, i+1)
	e.restraw(b)
}

// bucketAdjustItemWeight is Ceph's crush_bucket_adjust_item_weight: a
// uniform bucket's single item weight changes for all its items.
func (e *editor) bucketAdjustItemWeight(b *Bucket, item int32, w uint32) {
	if b.Alg == AlgUniform {
		for i := range b.Weights {
			b.Weights[i] = w
		}
		return
	}
	if i := slices.Index(b.Items, item); i >= 0 {
		b.Weights[i] = w
		e.restraw(b)
	}
}

// adjustItemWeight is Ceph's adjust_item_weight: set id's weight in every
// bucket (in id order, shadow buckets too) and propagate. It returns how
// many buckets held id.
func (e *editor) adjustItemWeight(id int32, w uint32) int {
	changed := 0
	for p := 0; p < len(e.m.Buckets); p++ {
		if b := e.m.Buckets[p]; b != nil && e.adjustItemWeightInBucket(id, w, b.ID) > 0 {
			changed++
		}
	}
	return changed
}

// adjustItemWeightInBucket is Ceph's adjust_item_weight_in_bucket.
func (e *editor) adjustItemWeightInBucket(id int32, w uint32, bid int32) int {
	b := e.m.Bucket(bid)
	if b == nil {
		return 0
	}
	changed := 0
	for i := 0; i < len(b.Items); i++ {
		if b.Items[i] == id {
			e.bucketAdjustItemWeight(b, id, w)
			e.adjustItemWeight(bid, total(b))
			changed++
		}
	}
	return changed
}

// adjustItemWeightInLoc is Ceph's adjust_item_weight_in_loc: the buckets
// of loc are visited in the order of their type names.
func (e *editor) adjustItemWeightInLoc(id int32, w uint32, loc Location) int {
	changed := 0
	for _, k := range slices.Sorted(maps.Keys(loc)) {
		bid, ok := e.names[loc[k]]
		if !ok || e.m.Bucket(bid) == nil {
			continue
		}
		if e.adjustItemWeightInBucket(id, w, bid) > 0 {
			changed++
		}
	}
	return changed
}

// checkItemLoc is Ceph's check_item_loc: whether item sits directly in
// the bucket of loc's lowest type, and its weight there.
func (e *editor) checkItemLoc(item int32, loc Location) (bool, uint32) {
	for _, t := range e.m.sortedTypeIDs() {
		if t == 0 {
			continue
		}
		name, ok := loc[e.m.Types[t]]
		if !ok {
			continue
		}
		id, ok := e.names[name]
		if !ok || id >= 0 {
			return false, 0
		}
		b := e.m.Bucket(id)
		if b == nil {
			return false, 0
		}
		if i := slices.Index(b.Items, item); i >= 0 {
			return true, b.Weights[i]
		}
		return false, 0
	}
	return false, 0
}

// insertItem is Ceph's insert_item with the weight already in 16.16.
func (e *editor) insertItem(item int32, w uint32, name string, loc Location) error {
	if id, ok := e.names[name]; ok {
		if id != item {
			return fmt.Errorf("%w: item %q already exists with id %d", ErrExists, name, id)
		}
	} else {
		e.setName(item, name)
	}
	cur := item
	for _, t := range e.m.sortedTypeIDs() {
		if t == 0 {
			continue
		}
		typeName := e.m.Types[t]
		bname, ok := loc[typeName]
		if !ok {
			continue
		}
		id, ok := e.names[bname]
		if !ok {
			nid, err := e.addBucket(t, []int32{cur}, []uint32{0})
			if err != nil {
				return err
			}
			e.setName(nid, bname)
			cur = nid
			continue
		}
		b := e.m.Bucket(id)
		if b == nil {
			return fmt.Errorf("%w: location %s=%s names a device, not a bucket", ErrInvalidArgument, typeName, bname)
		}
		if e.subtreeContains(id, cur) {
			return fmt.Errorf("%w: %s is already below %s", ErrInvalidArgument, e.label(cur), bname)
		}
		if b.Type != t {
			return fmt.Errorf("%w: location %s=%s names a bucket of type %s", ErrInvalidArgument, typeName, bname, e.m.Types[b.Type])
		}
		if e.subtreeContains(cur, id) {
			return fmt.Errorf("%w: %s contains %s; moving it there would make a cycle", ErrInvalidArgument, e.label(cur), bname)
		}
		if err := e.bucketAddItem(b, cur, 0); err != nil {
			return err
		}
		break
	}
	if e.adjustItemWeightInLoc(item, w, loc) == 0 {
		return fmt.Errorf("%w: found nowhere to add %s at %v", ErrInvalidArgument, name, loc)
	}
	return e.rebuildClasses()
}

func (e *editor) label(id int32) string {
	if n, ok := e.itemName(id); ok {
		return n
	}
	return fmt.Sprint(id)
}

// floatWeight passes a 16.16 weight through a C float and back, as Ceph
// does when it hands an item's current weight to insert_item, and
// refuses what validate_weightf refuses.
func floatWeight(w uint32) (uint32, error) {
	f := float32(int32(w))
	if !(f >= 0) || float64(f) > math.MaxInt32 {
		return 0, fmt.Errorf("%w: weight %#x does not fit Ceph's weight range", ErrInvalidArgument, w)
	}
	return uint32(f), nil
}

// immediateParent is Ceph's get_immediate_parent: the first bucket (in
// id order) that is not a shadow bucket and holds id.
func (e *editor) immediateParent(id int32) *Bucket {
	for _, b := range e.m.Buckets {
		if b != nil && !isShadowName(b.Name) && slices.Contains(b.Items, id) {
			return b
		}
	}
	return nil
}

// moveBucket is Ceph's move_bucket.
func (e *editor) moveBucket(id int32, loc Location) error {
	b := e.m.Bucket(id)
	w := total(b)
	if p := e.immediateParent(id); p != nil {
		e.adjustItemWeightInBucket(id, 0, p.ID)
		e.bucketRemoveItem(p, id)
	}
	fw, err := floatWeight(w)
	if err != nil {
		return err
	}
	return e.insertItem(id, fw, b.Name, loc)
}

// createOrMoveItem is Ceph's create_or_move_item.
func (e *editor) createOrMoveItem(item int32, w uint32, name string, loc Location) error {
	if at, _ := e.checkItemLoc(item, loc); at {
		return nil
	}
	if e.searchItemExists(item) {
		var err error
		if w, err = floatWeight(e.itemWeight(item)); err != nil {
			return err
		}
		if err := e.removeItem(item, true); err != nil {
			return err
		}
	}
	return e.insertItem(item, w, name, loc)
}

// itemWeight is Ceph's get_item_weight: the weight of the first bucket
// (in id order) that is id or holds it.
func (e *editor) itemWeight(id int32) uint32 {
	for _, b := range e.m.Buckets {
		if b == nil {
			continue
		}
		if b.ID == id {
			return total(b)
		}
		if i := slices.Index(b.Items, id); i >= 0 {
			return b.Weights[i]
		}
	}
	return 0
}

// removeItem is Ceph's remove_item.
func (e *editor) removeItem(item int32, unlinkOnly bool) error {
	if item < 0 && !unlinkOnly {
		b := e.m.Bucket(item)
		if b == nil {
			return fmt.Errorf("%w: bucket %d does not exist", ErrNotFound, item)
		}
		if len(b.Items) > 0 {
			return fmt.Errorf("%w: bucket %s is not empty (%d items)", ErrInUse, b.Name, len(b.Items))
		}
		if e.bucketIsInUse(item) {
			return fmt.Errorf("%w: bucket %s is used by a rule or a device class", ErrInUse, b.Name)
		}
	}
	found := false
	for p := 0; p < len(e.m.Buckets); p++ {
		b := e.m.Buckets[p]
		if b == nil {
			continue
		}
		for i := 0; i < len(b.Items); i++ {
			if b.Items[i] == item {
				e.adjustItemWeightInBucket(item, 0, b.ID)
				e.bucketRemoveItem(b, item)
				found = true
			}
		}
	}
	last, err := e.maybeRemoveLastInstance(item, unlinkOnly)
	if err != nil {
		return err
	}
	if !found && !last {
		return fmt.Errorf("%w: item %d is in no bucket", ErrNotFound, item)
	}
	return nil
}

// maybeRemoveLastInstance is Ceph's _maybe_remove_last_instance: once no
// bucket holds item, remove the bucket (unless unlinking) and the name
// (a device's even when unlinking, its class only when removing), and
// rebuild the shadow trees. (Ceph ignores a failed rebuild here; an
// error is returned instead.)
func (e *editor) maybeRemoveLastInstance(item int32, unlinkOnly bool) (bool, error) {
	if e.searchItemExists(item) {
		return false, nil
	}
	if item < 0 && e.bucketIsInUse(item) {
		return false, nil
	}
	if item < 0 && !unlinkOnly {
		if b := e.m.Bucket(item); b != nil {
			e.dropName(item)
			e.m.Buckets[-1-item] = nil
		}
		delete(e.m.ClassBuckets, item)
	}
	if item >= 0 || !unlinkOnly {
		e.dropName(item)
		if item >= 0 && !unlinkOnly {
			delete(e.devClass, item)
		}
	}
	return true, e.rebuildClasses()
}

// bucketIsInUse is Ceph's _bucket_is_in_use: a shadow bucket, or a bucket
// some rule takes directly or through one of its shadow copies. (Like
// Ceph, it gives up, answering no, at a take of an item without a name.)
func (e *editor) bucketIsInUse(item int32) bool {
	for _, byClass := range e.m.ClassBuckets {
		for _, sid := range byClass {
			if sid == item {
				return true
			}
		}
	}
	for _, r := range e.m.Rules {
		if r == nil {
			continue
		}
		for _, s := range r.Steps {
			if s.Op != OpTake {
				continue
			}
			orig, ok := e.splitIDClass(s.Arg1)
			if !ok {
				return false
			}
			if s.Arg1 == item || orig == item {
				return true
			}
		}
	}
	return false
}

// splitIDClass is Ceph's split_id_class: the bucket a shadow bucket
// copies, found by name.
func (e *editor) splitIDClass(id int32) (int32, bool) {
	name, ok := e.itemName(id)
	if !ok {
		return 0, false
	}
	base, class, found := strings.Cut(name, "~")
	if !found {
		return id, true
	}
	orig, ok := e.names[base]
	if !ok {
		return 0, false
	}
	if _, ok := e.m.classIDByName(class); !ok {
		return 0, false
	}
	return orig, true
}

// rebuildClasses is Ceph's rebuild_roots_with_classes: drop the classes
// no device and no rule uses, remove every shadow tree, and build them
// again, giving each copy the id it had.
func (e *editor) rebuildClasses() error {
	m := e.m
	old := cloneClassBuckets(m.ClassBuckets)
	for _, cls := range m.sortedClassIDs() {
		if e.classIsDead(cls) {
			delete(m.Classes, cls)
		}
	}
	for _, r := range m.roots() {
		if isShadowName(m.Bucket(r).Name) {
			e.removeRoot(r)
		}
	}
	m.ClassBuckets = map[int32]map[int32]int32{}
	m.populateErr = m.populateClasses(old, e.names, e.devClass)
	return m.populateErr
}

// classIsDead is Ceph's _class_is_dead.
func (e *editor) classIsDead(cls int32) bool {
	for _, c := range e.devClass {
		if c == cls {
			return false
		}
	}
	for _, r := range e.m.Rules {
		if r == nil {
			continue
		}
		for _, s := range r.Steps {
			if s.Op != OpTake {
				continue
			}
			for _, byClass := range e.m.ClassBuckets {
				if sid, ok := byClass[cls]; ok && sid == s.Arg1 {
					return false
				}
			}
		}
	}
	return true
}

// removeRoot is Ceph's remove_root: remove a bucket and every bucket
// below it.
func (e *editor) removeRoot(id int32) {
	b := e.m.Bucket(id)
	if b == nil {
		return
	}
	for _, it := range b.Items {
		if it < 0 {
			e.removeRoot(it)
		}
	}
	e.dropName(id)
	e.m.Buckets[-1-id] = nil
	delete(e.m.ClassBuckets, id)
}

// addSimpleRule is Ceph 16.2's add_simple_rule_at with the lowest free
// rule id.
func (e *editor) addSimpleRule(name, root, fdType, class, mode string, ruleType RuleType) (int, error) {
	m := e.m
	if !ValidName(name) {
		return -1, fmt.Errorf("%w: rule name %q is not a valid CRUSH name", ErrInvalidArgument, name)
	}
	for _, r := range m.Rules {
		if r != nil && r.Name == name {
			return -1, fmt.Errorf("%w: rule %q already exists", ErrExists, name)
		}
	}
	if ruleType != RuleReplicated && ruleType != RuleErasure {
		return -1, fmt.Errorf("%w: rule type %d", ErrInvalidArgument, ruleType)
	}
	rno := slices.Index(m.Rules, nil)
	if rno < 0 {
		rno = len(m.Rules)
	}
	if rno > 255 {
		return -1, fmt.Errorf("%w: no free rule id (Ceph allows 256 rules)", ErrInvalidArgument)
	}
	take, ok := e.names[root]
	if !ok {
		return -1, fmt.Errorf("%w: root item %q does not exist", ErrNotFound, root)
	}
	typ := int32(0)
	if fdType != "" {
		if typ, ok = m.TypeID(fdType); !ok {
			return -1, fmt.Errorf("%w: type %q does not exist", ErrNotFound, fdType)
		}
	}
	if class != "" {
		cls, ok := m.classIDByName(class)
		if !ok {
			return -1, fmt.Errorf("%w: device class %q does not exist", ErrNotFound, class)
		}
		sid, ok := m.ClassBuckets[take][cls]
		if !ok {
			return -1, fmt.Errorf("%w: root %s has no devices with class %s", ErrNotFound, root, class)
		}
		take = sid
	}
	r := &Rule{ID: rno, Name: name, Type: ruleType}
	choose := OpChooseLeafFirstN
	switch mode {
	case "firstn":
		r.MinSize, r.MaxSize = firstnMinSize, firstnMaxSize
		if typ == 0 {
			choose = OpChooseFirstN
		}
	case "indep":
		r.MinSize, r.MaxSize = indepMinSize, indepMaxSize
		r.Steps = []Step{{Op: OpSetChooseLeafTries, Arg1: 5}, {Op: OpSetChooseTries, Arg1: 100}}
		choose = OpChooseLeafIndep
		if typ == 0 {
			choose = OpChooseIndep
		}
	default:
		return -1, fmt.Errorf("%w: unknown mode %q (firstn or indep)", ErrInvalidArgument, mode)
	}
	r.Steps = append(r.Steps, Step{Op: OpTake, Arg1: take}, Step{Op: choose, Arg1: 0, Arg2: typ}, Step{Op: OpEmit})
	for len(m.Rules) <= rno {
		m.Rules = append(m.Rules, nil)
	}
	m.Rules[rno] = r
	return rno, nil
}

package crush

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Decompile writes m in crushtool's text format, byte for byte as
// crushtool -d does: tunables that differ from legacy, named devices,
// types, buckets children first (shadow buckets are implied by their
// "id N class C" lines and not written), rules, and choose_args.
//
// Weights print with three decimals, so a map whose weights are not
// multiples of 1/1000 does not survive a text round trip exactly; the
// text is the source of truth, as with crushtool.
func (m *Map) Decompile() string {
	var sb strings.Builder
	d := decompiler{m: m, w: &sb, done: map[int32]bool{}}
	d.write()
	return sb.String()
}

type decompiler struct {
	m    *Map
	w    *strings.Builder
	done map[int32]bool
}

func (d *decompiler) printf(format string, args ...any) { fmt.Fprintf(d.w, format, args...) }

// formatFixed prints a 16.16 value as crushtool does: the value as a C
// int, converted to float, divided by 65536 in float, printed "%.3f".
func formatFixed(v uint32) string {
	f := float32(int32(v)) / float32(WeightOne)
	return strconv.FormatFloat(float64(f), 'f', 3, 64)
}

func (d *decompiler) typeName(t int32) string {
	if n, ok := d.m.Types[t]; ok {
		return n
	}
	if t == 0 {
		return "device"
	}
	return fmt.Sprintf("type%d", t)
}

func (d *decompiler) write() {
	m := d.m
	d.printf("# begin crush map\n")
	t := m.Tunables
	legacy := LegacyTunables()
	for _, f := range []struct {
		name    string
		v, dflt uint32
	}{
		{"choose_local_tries", t.ChooseLocalTries, legacy.ChooseLocalTries},
		{"choose_local_fallback_tries", t.ChooseLocalFallbackTries, legacy.ChooseLocalFallbackTries},
		{"choose_total_tries", t.ChooseTotalTries, legacy.ChooseTotalTries},
		{"chooseleaf_descend_once", t.ChooseleafDescendOnce, legacy.ChooseleafDescendOnce},
		{"chooseleaf_vary_r", t.ChooseleafVaryR, legacy.ChooseleafVaryR},
		{"chooseleaf_stable", t.ChooseleafStable, legacy.ChooseleafStable},
		{"straw_calc_version", t.StrawCalcVersion, legacy.StrawCalcVersion},
		{"allowed_bucket_algs", t.AllowedBucketAlgs, legacy.AllowedBucketAlgs},
	} {
		if f.v != f.dflt {
			d.printf("tunable %s %d\n", f.name, f.v)
		}
	}

	d.printf("\n# devices\n")
	for _, dev := range m.Devices {
		if dev.ID >= m.maxDevices {
			continue
		}
		d.printf("device %d %s", dev.ID, dev.Name)
		if dev.Class != "" {
			d.printf(" class %s", dev.Class)
		}
		d.printf("\n")
	}

	// crushtool prints "type 0 osd" when type 0 has no name but other
	// types exist.
	d.printf("\n# types\n")
	if _, ok := m.Types[0]; !ok && len(m.Types) > 0 {
		d.printf("type 0 osd\n")
	}
	for _, id := range m.sortedTypeIDs() {
		d.printf("type %d %s\n", id, m.Types[id])
	}

	d.printf("\n# buckets\n")
	for p := range m.Buckets {
		d.bucket(int32(-1 - p))
	}

	d.printf("\n# rules\n")
	for _, r := range m.Rules {
		if r != nil {
			d.rule(r)
		}
	}

	if len(m.ChooseArgs) > 0 {
		d.printf("\n# choose_args\n")
		// Ceph keys choose_args by a signed 64-bit index (so the default
		// set, -1, comes first) but prints the index unsigned.
		keys := make([]int64, 0, len(m.ChooseArgs))
		for k := range m.ChooseArgs {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
		for _, k := range keys {
			d.chooseArgs(uint64(k), m.ChooseArgs[k])
		}
	}
	d.printf("\n# end crush map\n")
}

// bucket writes bucket id after its children (depth first); shadow
// buckets are visited but not written.
func (d *decompiler) bucket(id int32) {
	b := d.m.Bucket(id)
	if b == nil || d.done[id] {
		return
	}
	d.done[id] = true
	for _, it := range b.Items {
		if it < 0 {
			d.bucket(it)
		}
	}
	if b.Name != "" && !ValidName(b.Name) {
		return
	}
	d.printf("%s %s {\n", d.typeName(b.Type), d.m.itemLabel(b.ID))
	d.printf("\tid %d\t\t# do not change unnecessarily\n", b.ID)
	if byClass := d.m.ClassBuckets[b.ID]; len(byClass) > 0 {
		cids := make([]int32, 0, len(byClass))
		for cid := range byClass {
			cids = append(cids, cid)
		}
		sort.Slice(cids, func(i, j int) bool { return cids[i] < cids[j] })
		for _, cid := range cids {
			d.printf("\tid %d class %s\t\t# do not change unnecessarily\n", byClass[cid], d.m.Classes[cid])
		}
	}
	d.printf("\t# weight %s\n", formatFixed(b.weight))
	d.printf("\talg %s", b.Alg)
	withPos := false
	switch b.Alg {
	case AlgUniform:
		d.printf("\t# do not change bucket size (%d) unnecessarily", len(b.Items))
		withPos = true
	case AlgList:
		d.printf("\t# add new items at the end; do not change order unnecessarily")
	case AlgTree:
		d.printf("\t# do not change pos for existing items unnecessarily")
		withPos = true
	}
	d.printf("\n")
	hashName := "unknown"
	if b.Hash == HashRjenkins1 {
		hashName = "rjenkins1"
	}
	d.printf("\thash %d\t# %s\n", b.Hash, hashName)
	for i, it := range b.Items {
		d.printf("\titem %s weight %s", d.m.itemLabel(it), formatFixed(b.ItemWeight(i)))
		if withPos {
			d.printf(" pos %d", i)
		}
		d.printf("\n")
	}
	d.printf("}\n")
}

func (d *decompiler) rule(r *Rule) {
	d.printf("rule %s {\n", r.Name)
	d.printf("\tid %d\n", r.ID)
	switch r.Type {
	case RuleReplicated, RuleErasure:
		d.printf("\ttype %s\n", r.Type)
	default:
		d.printf("\ttype %d\n", uint8(r.Type))
	}
	d.printf("\tmin_size %d\n", r.MinSize)
	d.printf("\tmax_size %d\n", r.MaxSize)
	for _, s := range r.Steps {
		switch s.Op {
		case OpNoop:
			d.printf("\tstep noop\n")
		case OpTake:
			orig, class := d.m.SplitClass(s.Arg1)
			d.printf("\tstep take %s", d.m.itemLabel(orig))
			if class != "" {
				d.printf(" class %s", class)
			}
			d.printf("\n")
		case OpEmit:
			d.printf("\tstep emit\n")
		case OpSetChooseTries:
			d.printf("\tstep set_choose_tries %d\n", s.Arg1)
		case OpSetChooseLocalTries:
			d.printf("\tstep set_choose_local_tries %d\n", s.Arg1)
		case OpSetChooseLocalFallbackTries:
			d.printf("\tstep set_choose_local_fallback_tries %d\n", s.Arg1)
		case OpSetChooseLeafTries:
			d.printf("\tstep set_chooseleaf_tries %d\n", s.Arg1)
		case OpSetChooseLeafVaryR:
			d.printf("\tstep set_chooseleaf_vary_r %d\n", s.Arg1)
		case OpSetChooseLeafStable:
			d.printf("\tstep set_chooseleaf_stable %d\n", s.Arg1)
		case OpChooseFirstN:
			d.printf("\tstep choose firstn %d type %s\n", s.Arg1, d.typeName(s.Arg2))
		case OpChooseIndep:
			d.printf("\tstep choose indep %d type %s\n", s.Arg1, d.typeName(s.Arg2))
		case OpChooseLeafFirstN:
			d.printf("\tstep chooseleaf firstn %d type %s\n", s.Arg1, d.typeName(s.Arg2))
		case OpChooseLeafIndep:
			d.printf("\tstep chooseleaf indep %d type %s\n", s.Arg1, d.typeName(s.Arg2))
		}
	}
	d.printf("}\n")
}

func (d *decompiler) chooseArgs(key uint64, cm ChooseArgMap) {
	d.printf("choose_args %d {\n", key)
	for p, a := range cm {
		if a == nil || (len(a.WeightSet) == 0 && len(a.IDs) == 0) {
			continue
		}
		d.printf("  {\n")
		d.printf("    bucket_id %d\n", -1-p)
		if len(a.WeightSet) > 0 {
			d.printf("    weight_set [\n")
			for _, ws := range a.WeightSet {
				d.printf("      [ ")
				for _, w := range ws {
					d.printf("%s ", formatFixed(w))
				}
				d.printf("]\n")
			}
			d.printf("    ]\n")
		}
		if len(a.IDs) > 0 {
			d.printf("    ids [ ")
			for _, id := range a.IDs {
				d.printf("%d ", id)
			}
			d.printf("]\n")
		}
		d.printf("  }\n")
	}
	d.printf("}\n")
}

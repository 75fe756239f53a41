package crush

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// crushtoolDump is the part of crushtool --dump (testdata/maps/*.json)
// this test compares: it shows what the binary map holds, shadow buckets
// and exact 16.16 weights included, which the text form does not.
type crushtoolDump struct {
	Devices []struct {
		ID    int32  `json:"id"`
		Name  string `json:"name"`
		Class string `json:"class"`
	} `json:"devices"`
	Types []struct {
		ID   int32  `json:"type_id"`
		Name string `json:"name"`
	} `json:"types"`
	Buckets []struct {
		ID     int32  `json:"id"`
		Name   string `json:"name"`
		TypeID int32  `json:"type_id"`
		Weight uint32 `json:"weight"`
		Alg    string `json:"alg"`
		Hash   string `json:"hash"`
		Items  []struct {
			ID     int32  `json:"id"`
			Weight uint32 `json:"weight"`
			Pos    int    `json:"pos"`
		} `json:"items"`
	} `json:"buckets"`
	Rules []struct {
		ID      int    `json:"rule_id"`
		Name    string `json:"rule_name"`
		Type    uint8  `json:"type"`
		MinSize uint8  `json:"min_size"`
		MaxSize uint8  `json:"max_size"`
		Steps   []struct {
			Op     string `json:"op"`
			Opcode *Op    `json:"opcode"`
			Arg1   int32  `json:"arg1"`
			Arg2   int32  `json:"arg2"`
			Item   int32  `json:"item"`
			Num    int32  `json:"num"`
			Type   string `json:"type"`
		} `json:"steps"`
	} `json:"rules"`
	Tunables map[string]any `json:"tunables"`
}

// TestCompiledMapMatchesCrushtoolDump compares every compiled map with
// what crushtool --dump shows of crushtool's own compilation: devices and
// classes, types, every bucket (shadow buckets too) with its id, type,
// algorithm, total weight and items, rules step by step, and tunables.
func TestCompiledMapMatchesCrushtoolDump(t *testing.T) {
	files, _ := filepath.Glob("testdata/maps/*.json")
	if len(files) != 20 {
		t.Fatalf("found %d dumps, want 20", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var d crushtoolDump
			if err := json.Unmarshal(b, &d); err != nil {
				t.Fatal(err)
			}
			m := loadMap(t, name)
			compareDump(t, m, &d)
		})
	}
}

func compareDump(t *testing.T, m *Map, d *crushtoolDump) {
	t.Helper()
	// crushtool lists every id below max_devices, unnamed ones as deviceN.
	if len(d.Devices) != int(m.MaxDevices()) {
		t.Fatalf("max_devices %d, crushtool lists %d devices", m.MaxDevices(), len(d.Devices))
	}
	named := 0
	for _, dd := range d.Devices {
		name, ok := m.ItemName(dd.ID)
		if !ok {
			if dd.Name != fmt.Sprintf("device%d", dd.ID) {
				t.Errorf("device %d unnamed here, crushtool names it %q", dd.ID, dd.Name)
			}
			continue
		}
		g := m.Devices[named]
		named++
		if g.ID != dd.ID || name != dd.Name || g.Class != dd.Class {
			t.Errorf("device %d: %+v, crushtool %+v", dd.ID, g, dd)
		}
	}
	if named != len(m.Devices) {
		t.Errorf("%d named devices, crushtool %d", len(m.Devices), named)
	}
	if len(d.Types) != len(m.Types) {
		t.Errorf("%d types, crushtool %d", len(m.Types), len(d.Types))
	}
	for _, dt := range d.Types {
		if m.Types[dt.ID] != dt.Name {
			t.Errorf("type %d: %q, crushtool %q", dt.ID, m.Types[dt.ID], dt.Name)
		}
	}
	nb := 0
	for _, b := range m.Buckets {
		if b != nil {
			nb++
		}
	}
	if nb != len(d.Buckets) {
		t.Errorf("%d buckets, crushtool %d", nb, len(d.Buckets))
	}
	for _, db := range d.Buckets {
		b := m.Bucket(db.ID)
		if b == nil {
			t.Errorf("bucket %d (%s) missing", db.ID, db.Name)
			continue
		}
		if b.Name != db.Name || b.Type != db.TypeID || b.Alg.String() != db.Alg || db.Hash != "rjenkins1" ||
			b.Weight() != db.Weight || len(b.Items) != len(db.Items) {
			t.Errorf("bucket %d: %s type %d %s weight %d with %d items; crushtool %s type %d %s weight %d with %d items",
				db.ID, b.Name, b.Type, b.Alg, b.Weight(), len(b.Items), db.Name, db.TypeID, db.Alg, db.Weight, len(db.Items))
			continue
		}
		for i, it := range db.Items {
			if b.Items[i] != it.ID || b.ItemWeight(i) != it.Weight || it.Pos != i {
				t.Errorf("bucket %s item %d: %d weight %d; crushtool %d weight %d", b.Name, i, b.Items[i], b.ItemWeight(i), it.ID, it.Weight)
			}
		}
	}
	nr := 0
	for _, r := range m.Rules {
		if r != nil {
			nr++
		}
	}
	if nr != len(d.Rules) {
		t.Errorf("%d rules, crushtool %d", nr, len(d.Rules))
	}
	for _, dr := range d.Rules {
		r := m.Rule(dr.ID)
		if r == nil || r.Name != dr.Name || uint8(r.Type) != dr.Type || r.MinSize != dr.MinSize || r.MaxSize != dr.MaxSize || len(r.Steps) != len(dr.Steps) {
			t.Errorf("rule %d: %+v, crushtool %+v", dr.ID, r, dr)
			continue
		}
		for i, ds := range dr.Steps {
			s := r.Steps[i]
			var ok bool
			switch {
			case ds.Opcode != nil:
				ok = s.Op == *ds.Opcode && s.Arg1 == ds.Arg1 && s.Arg2 == ds.Arg2
			case ds.Op == "take":
				ok = s.Op == OpTake && s.Arg1 == ds.Item
			case ds.Op == "emit":
				ok = s.Op == OpEmit
			case strings.HasPrefix(ds.Op, "choose"):
				ok = s.Op.String() == ds.Op && s.Arg1 == ds.Num && m.Types[s.Arg2] == ds.Type
			default:
				ok = s.Op.String() == ds.Op && s.Arg1 == ds.Num
			}
			if !ok {
				t.Errorf("rule %d step %d: %s %d %d; crushtool %+v", dr.ID, i, s.Op, s.Arg1, s.Arg2, ds)
			}
		}
	}
	tu := m.Tunables
	for k, v := range map[string]uint32{
		"choose_local_tries": tu.ChooseLocalTries, "choose_local_fallback_tries": tu.ChooseLocalFallbackTries,
		"choose_total_tries": tu.ChooseTotalTries, "chooseleaf_descend_once": tu.ChooseleafDescendOnce,
		"chooseleaf_vary_r": tu.ChooseleafVaryR, "chooseleaf_stable": tu.ChooseleafStable,
		"straw_calc_version": tu.StrawCalcVersion, "allowed_bucket_algs": tu.AllowedBucketAlgs,
	} {
		if want, ok := d.Tunables[k].(float64); !ok || uint32(want) != v {
			t.Errorf("tunable %s = %d, crushtool %v", k, v, d.Tunables[k])
		}
	}
}

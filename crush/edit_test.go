package crush

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// editCase is one line of testdata/edit/CASES: a map and crushtool edit
// steps, whose results testdata/edit/gen.sh recorded.
type editCase struct {
	name  string
	dir   string // folder of the input map, relative to testdata
	map_  string // map name
	steps [][]string
}

func readEditCases(t *testing.T) []editCase {
	t.Helper()
	b, err := os.ReadFile("testdata/edit/CASES")
	if err != nil {
		t.Fatal(err)
	}
	var cases []editCase
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || strings.HasPrefix(f[0], "#") {
			continue
		}
		c := editCase{name: f[0], dir: filepath.Dir(f[1]), map_: filepath.Base(f[1])}
		var step []string
		for _, a := range f[2:] {
			if a == ";" {
				c.steps = append(c.steps, step)
				step = nil
				continue
			}
			step = append(step, a)
		}
		c.steps = append(c.steps, step)
		cases = append(cases, c)
	}
	return cases
}

// TestEditGolden runs every case of testdata/edit/CASES through the edit
// API and compares the result with crushtool's: the decompiled text byte
// for byte, crushtool --dump (shadow buckets and exact weights included)
// and crushtool --test --show-mappings of every rule. Where crushtool
// refused a step, the same step must fail here with a sentinel error and
// leave the map exactly as it was.
func TestEditGolden(t *testing.T) {
	cases := readEditCases(t)
	if len(cases) < 70 {
		t.Fatalf("only %d edit cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("testdata", c.dir, c.map_+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			m, err := Compile(string(src))
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join("testdata/edit/out", c.name)
			wantErr, err := os.ReadFile(out + ".err")
			failStep := 0
			if err == nil {
				if _, err := fmt.Sscanf(string(wantErr), "step %d failed", &failStep); err != nil {
					t.Fatalf("bad %s.err: %v", c.name, err)
				}
			}
			for i, step := range c.steps {
				before := m.Clone()
				err := applyCrushtoolStep(m, step)
				if i+1 == failStep {
					if err == nil {
						t.Fatalf("step %d %q succeeded; crushtool refused it:\n%s", i+1, step, wantErr)
					}
					if !isEditError(err) {
						t.Fatalf("step %d %q: error %v wraps no edit sentinel", i+1, step, err)
					}
					if !reflect.DeepEqual(before, m) {
						t.Fatalf("step %d %q failed (%v) but changed the map", i+1, step, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("step %d %q: %v", i+1, step, err)
				}
			}
			if failStep != 0 {
				t.Fatalf("all steps succeeded; crushtool refused step %d:\n%s", failStep, wantErr)
			}
			checkAgainstCrushtool(t, m, out)
		})
	}
}

func isEditError(err error) bool {
	for _, s := range []error{ErrInvalidArgument, ErrNotFound, ErrExists, ErrInUse, ErrInvalidMap} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// checkAgainstCrushtool compares m with crushtool's OUT.txt, OUT.json and
// OUT.map.
func checkAgainstCrushtool(t *testing.T, m *Map, out string) {
	t.Helper()
	want, err := os.ReadFile(out + ".txt")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Decompile(); got != string(want) {
		t.Errorf("decompiled map differs from crushtool's: %s", firstDiff(got, string(want)))
	}
	b, err := os.ReadFile(out + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var d crushtoolDump
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	compareDump(t, m, &d)
	wantMap, err := os.ReadFile(out + ".map")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := ParseTestArgs([]string{"--show-mappings", "--num-rep", "3", "--min-x", "0", "--max-x", "99"})
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := m.RunTest(cfg, &got); err != nil {
		t.Fatal(err)
	}
	if got.String() != string(wantMap) {
		t.Errorf("mappings differ from crushtool's: %s", firstDiff(got.String(), string(wantMap)))
	}
}

// applyCrushtoolStep applies one crushtool modification with the edit
// API, as crushtool's options map to Ceph's functions.
func applyCrushtoolStep(m *Map, args []string) error {
	loc := Location{}
	var pos []string
	class := ""
	reclassify := false
	for i := 1; i < len(args); i++ {
		switch args[i] {
		case "--loc":
			loc[args[i+1]] = args[i+2]
			i += 2
		case "--device-class":
			class = args[i+1]
			i++
		case "--reclassify":
			reclassify = true
		default:
			pos = append(pos, args[i])
		}
	}
	id := func(name string) int32 {
		id, ok := m.ItemID(name)
		if !ok {
			panic("test names unknown item " + name)
		}
		return id
	}
	weight := func(s string) uint32 {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			panic(err)
		}
		w, err := WeightFromFloat(f)
		if err != nil {
			panic(err)
		}
		return w
	}
	ruleID := func(name string) int {
		for _, r := range m.Rules {
			if r != nil && r.Name == name {
				return r.ID
			}
		}
		return -1
	}
	switch args[0] {
	case "--add-item", "--update-item":
		n, err := strconv.Atoi(pos[0])
		if err != nil {
			panic(err)
		}
		if args[0] == "--add-item" {
			return m.InsertItem(int32(n), weight(pos[1]), pos[2], loc)
		}
		return m.UpdateItem(int32(n), weight(pos[1]), pos[2], loc)
	case "--add-bucket":
		_, err := m.AddBucket(pos[0], pos[1], loc)
		return err
	case "--move":
		return m.MoveBucket(id(pos[0]), loc)
	case "--remove-item":
		return m.RemoveItem(id(pos[0]))
	case "--reweight-item":
		return m.AdjustItemWeight(id(pos[0]), weight(pos[1]))
	case "--create-replicated-rule":
		_, err := m.AddSimpleRule(pos[0], pos[1], pos[2], class, "firstn", RuleReplicated)
		return err
	case "--create-simple-rule":
		_, err := m.AddSimpleRule(pos[0], pos[1], pos[2], class, pos[3], RuleReplicated)
		return err
	case "--remove-rule":
		return m.RemoveRule(ruleID(pos[0]))
	case "--set-subtree-class":
		// crushtool binds every device below the bucket to the class
		// (set_subtree_class) and --reclassify, with nothing to reclassify,
		// rebuilds the shadow trees once; the
		// cases only give it devices without a class, where binding
		// them one by one ends the same.
		if !reclassify {
			panic("--set-subtree-class without --reclassify")
		}
		var devs []int32
		queue := []int32{id(pos[0])}
		for len(queue) > 0 {
			b := m.Bucket(queue[0])
			queue = queue[1:]
			for _, it := range b.Items {
				if it >= 0 {
					devs = append(devs, it)
				} else {
					queue = append(queue, it)
				}
			}
		}
		for _, d := range devs {
			if err := m.SetDeviceClass(d, pos[1]); err != nil {
				return err
			}
		}
		return nil
	}
	panic("unknown crushtool step " + args[0])
}

// fresh returns an editable copy of testdata/DIR/maps/NAME.txt.
func fresh(t *testing.T, dir, name string) *Map {
	t.Helper()
	return loadMapIn(t, filepath.Join("testdata", dir), name).Clone()
}

func TestCloneIsDeep(t *testing.T) {
	orig := loadMap(t, "m05_device_classes")
	text := orig.Decompile()
	c := orig.Clone()
	if !reflect.DeepEqual(orig, c) {
		t.Fatal("clone differs from the original")
	}
	want := orig.Do(1, 7, 3, orig.Reweights(nil))
	// Change the clone every way an edit or a caller could.
	c.Buckets[0].Items[0] = 24
	c.Buckets[0].Weights[0] = 1
	c.Rules[0].Steps[0].Arg1 = -2
	c.Devices[0].Name = "x"
	c.Classes[0] = "y"
	c.ClassBuckets[-1][0] = -99
	c.Types[9] = "z"
	if err := c.Finalize(); err == nil {
		// The changes above need not finalize; they only must not leak.
		t.Log("mutated clone finalized")
	}
	if orig.Decompile() != text || !reflect.DeepEqual(orig.Do(1, 7, 3, orig.Reweights(nil)), want) {
		t.Fatal("changing the clone changed the original")
	}

	ca := loadMapIn(t, "testdata/crushtool", "r03_choose_args_list")
	cc := ca.Clone()
	if !reflect.DeepEqual(ca, cc) {
		t.Fatal("clone with choose_args differs")
	}
	for _, cm := range cc.ChooseArgs {
		for _, a := range cm {
			if a != nil && len(a.WeightSet) > 0 {
				a.WeightSet[0][0] = 12345
			}
		}
	}
	if reflect.DeepEqual(ca, cc) {
		t.Fatal("clone shares choose_args weight sets with the original")
	}
}

// TestEditCloneWhileMapping edits a clone while other goroutines map
// through the original (run with -race).
func TestEditCloneWhileMapping(t *testing.T) {
	orig := loadMap(t, "m05_device_classes")
	w := orig.Reweights(nil)
	want := make([][]int32, 200)
	for x := range want {
		want[x] = orig.Do(0, uint32(x), 3, w)
	}
	done := make(chan error)
	for g := 0; g < 4; g++ {
		go func() {
			mp := orig.NewMapper()
			for x := range want {
				if got := mp.Do(0, uint32(x), 3, w, nil, nil); !reflect.DeepEqual(got, want[x]) {
					done <- fmt.Errorf("x %d: %v, want %v", x, got, want[x])
					return
				}
			}
			done <- nil
		}()
	}
	c := orig.Clone()
	if err := c.InsertItem(25, WeightOne, "osd.25", Location{"host": "host9", "root": "default"}); err != nil {
		t.Error(err)
	}
	if err := c.RemoveItem(3); err != nil {
		t.Error(err)
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	if len(c.Do(0, 1, 3, c.Reweights(nil))) != 3 {
		t.Error("edited clone does not map")
	}
}

// TestEditErrorsLeaveMapUnchanged checks that each refused edit wraps the
// right sentinel and leaves every field of the map (derived state
// included) as it was.
func TestEditErrorsLeaveMapUnchanged(t *testing.T) {
	w := uint32(WeightOne)
	host9 := Location{"host": "host9", "root": "default"}
	for _, tc := range []struct {
		name string
		dir  string // "" for testdata
		map_ string
		edit func(m *Map) error
		want error
	}{
		{"bucket bad name", "", "m05_device_classes", func(m *Map) error { _, err := m.AddBucket("a b", "host", nil); return err }, ErrInvalidArgument},
		{"bucket exists", "", "m05_device_classes", func(m *Map) error { _, err := m.AddBucket("host0", "host", nil); return err }, ErrExists},
		{"bucket name of device", "", "m05_device_classes", func(m *Map) error { _, err := m.AddBucket("osd.1", "host", nil); return err }, ErrExists},
		{"bucket unknown type", "", "m05_device_classes", func(m *Map) error { _, err := m.AddBucket("x", "chassis", nil); return err }, ErrNotFound},
		{"bucket device type", "", "m05_device_classes", func(m *Map) error { _, err := m.AddBucket("x", "osd", nil); return err }, ErrInvalidArgument},
		{"bucket loc unknown type", "", "m05_device_classes", func(m *Map) error {
			_, err := m.AddBucket("x", "host", Location{"datacenter": "dc1"})
			return err
		}, ErrNotFound},
		{"bucket loc wrong type", "", "m05_device_classes", func(m *Map) error {
			_, err := m.AddBucket("x", "host", Location{"rack": "default"})
			return err
		}, ErrInvalidArgument},
		{"insert placed device", "", "m05_device_classes", func(m *Map) error { return m.InsertItem(3, w, "osd.3", host9) }, ErrExists},
		{"insert renames device", "", "m19_sparse_ids", func(m *Map) error { return m.InsertItem(50, w, "foo", host9) }, ErrExists},
		{"insert name of bucket", "", "m05_device_classes", func(m *Map) error { return m.InsertItem(25, w, "host0", host9) }, ErrExists},
		{"insert name of other device", "", "m05_device_classes", func(m *Map) error { return m.InsertItem(25, w, "osd.4", host9) }, ErrExists},
		{"insert bucket id", "", "m05_device_classes", func(m *Map) error { return m.InsertItem(-1, w, "x", host9) }, ErrInvalidArgument},
		{"insert id too large", "", "m05_device_classes", func(m *Map) error { return m.InsertItem(DeviceIDLimit, w, "x", host9) }, ErrInvalidArgument},
		{"insert bad name", "", "m05_device_classes", func(m *Map) error { return m.InsertItem(25, w, "osd 25", host9) }, ErrInvalidArgument},
		{"insert weight too large", "", "m05_device_classes", func(m *Map) error { return m.InsertItem(25, 1<<31, "osd.25", host9) }, ErrInvalidArgument},
		{"insert empty loc", "", "m05_device_classes", func(m *Map) error { return m.InsertItem(25, w, "osd.25", nil) }, ErrInvalidArgument},
		{"insert loc device type", "", "m05_device_classes", func(m *Map) error {
			return m.InsertItem(25, w, "osd.25", Location{"osd": "osd.25", "host": "host0"})
		}, ErrInvalidArgument},
		{"insert loc bad name", "", "m05_device_classes", func(m *Map) error {
			return m.InsertItem(25, w, "osd.25", Location{"host": "host0~ssd"})
		}, ErrInvalidArgument},
		{"insert loc names device", "", "m05_device_classes", func(m *Map) error {
			return m.InsertItem(25, w, "osd.25", Location{"host": "osd.2"})
		}, ErrInvalidArgument},
		{"insert into uniform", "", "m08_uniform", func(m *Map) error {
			return m.InsertItem(40, w, "osd.40", Location{"host": "host0"})
		}, ErrInvalidArgument},
		{"insert through uniform", "", "m11_mixed_algs", func(m *Map) error {
			return m.InsertItem(60, w, "osd.60", Location{"host": "newhost", "rack": "rack0"})
		}, ErrInvalidArgument},
		{"update rename to taken", "", "m05_device_classes", func(m *Map) error {
			return m.UpdateItem(2, 2*w, "osd.3", Location{"host": "host0"})
		}, ErrExists},
		{"update bucket id", "", "m05_device_classes", func(m *Map) error { return m.UpdateItem(-1, w, "host0", host9) }, ErrInvalidArgument},
		{"create-or-move bad loc", "", "m05_device_classes", func(m *Map) error {
			return m.CreateOrMoveItem(2, w, "osd.2", Location{"room": "r"})
		}, ErrNotFound},
		{"move missing", "", "m05_device_classes", func(m *Map) error { return m.MoveBucket(-99, host9) }, ErrNotFound},
		{"move shadow", "", "m05_device_classes", func(m *Map) error { return m.MoveBucket(-8, Location{"root": "default"}) }, ErrInvalidArgument},
		{"move root under its host", "", "m05_device_classes", func(m *Map) error {
			return m.MoveBucket(-7, Location{"host": "host0"})
		}, ErrInvalidArgument},
		{"move host under itself", "", "m05_device_classes", func(m *Map) error {
			return m.MoveBucket(-1, Location{"host": "host0", "root": "default"})
		}, ErrInvalidArgument},
		{"move into uniform", "", "m11_mixed_algs", func(m *Map) error {
			id, _ := m.ItemID("r1h0")
			return m.MoveBucket(id, Location{"rack": "rack0"})
		}, ErrInvalidArgument},
		{"remove missing device", "", "m05_device_classes", func(m *Map) error { return m.RemoveItem(99) }, ErrNotFound},
		{"remove missing bucket", "", "m05_device_classes", func(m *Map) error { return m.RemoveItem(-99) }, ErrNotFound},
		{"remove non-empty", "", "m05_device_classes", func(m *Map) error { return m.RemoveItem(-1) }, ErrInUse},
		{"remove shadow", "", "m05_device_classes", func(m *Map) error { return m.RemoveItem(-22) }, ErrInUse},
		{"remove root a rule takes", "", "m05_device_classes", func(m *Map) error {
			id, _ := m.ItemID("e")
			return m.RemoveItem(id)
		}, ErrInUse},
		{"reweight unplaced", "", "m19_sparse_ids", func(m *Map) error { return m.AdjustItemWeight(50, w) }, ErrNotFound},
		{"reweight too large", "", "m05_device_classes", func(m *Map) error { return m.AdjustItemWeight(1, 1<<31) }, ErrInvalidArgument},
		{"class rebind", "", "m05_device_classes", func(m *Map) error { return m.SetDeviceClass(0, "hdd") }, ErrExists},
		{"class unknown device", "", "m05_device_classes", func(m *Map) error { return m.SetDeviceClass(99, "hdd") }, ErrNotFound},
		{"class of bucket", "", "m05_device_classes", func(m *Map) error { return m.SetDeviceClass(-1, "hdd") }, ErrNotFound},
		{"class bad name", "", "m09_list", func(m *Map) error { return m.SetDeviceClass(0, "h d") }, ErrInvalidArgument},
		{"class through uniform", "", "m08_uniform", func(m *Map) error { return m.SetDeviceClass(0, "hdd") }, ErrInvalidMap},
		{"rm class unknown device", "", "m05_device_classes", func(m *Map) error { return m.RemoveDeviceClass(99) }, ErrNotFound},
		{"rule bad name", "", "m05_device_classes", func(m *Map) error {
			_, err := m.AddSimpleRule("", "default", "host", "", "firstn", RuleReplicated)
			return err
		}, ErrInvalidArgument},
		{"rule exists", "", "m05_device_classes", func(m *Map) error {
			_, err := m.AddSimpleRule("rep_ssd", "default", "host", "", "firstn", RuleReplicated)
			return err
		}, ErrExists},
		{"rule unknown root", "", "m05_device_classes", func(m *Map) error {
			_, err := m.AddSimpleRule("r", "nowhere", "host", "", "firstn", RuleReplicated)
			return err
		}, ErrNotFound},
		{"rule unknown type", "", "m05_device_classes", func(m *Map) error {
			_, err := m.AddSimpleRule("r", "default", "chassis", "", "firstn", RuleReplicated)
			return err
		}, ErrNotFound},
		{"rule unknown class", "", "m05_device_classes", func(m *Map) error {
			_, err := m.AddSimpleRule("r", "default", "host", "tape", "firstn", RuleReplicated)
			return err
		}, ErrNotFound},
		{"rule bad mode", "", "m05_device_classes", func(m *Map) error {
			_, err := m.AddSimpleRule("r", "default", "host", "", "spread", RuleReplicated)
			return err
		}, ErrInvalidArgument},
		{"rule bad type", "", "m05_device_classes", func(m *Map) error {
			_, err := m.AddSimpleRule("r", "default", "host", "", "firstn", RuleType(2))
			return err
		}, ErrInvalidArgument},
		{"ec rule chunk count", "", "m05_device_classes", func(m *Map) error {
			_, err := m.AddErasureRule("r", "default", "host", "", 256)
			return err
		}, ErrInvalidArgument},
		{"remove missing rule", "", "m05_device_classes", func(m *Map) error { return m.RemoveRule(9) }, ErrNotFound},
		{"choose_args", "crushtool", "r03_choose_args_list", func(m *Map) error { return m.RemoveRule(0) }, errors.ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := fresh(t, tc.dir, tc.map_)
			if tc.name == "remove root a rule takes" {
				if _, err := m.AddBucket("e", "root", nil); err != nil {
					t.Fatal(err)
				}
				if _, err := m.AddSimpleRule("re", "e", "host", "", "firstn", RuleReplicated); err != nil {
					t.Fatal(err)
				}
			}
			before := m.Clone()
			err := tc.edit(m)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !reflect.DeepEqual(before, m) {
				t.Fatal("failed edit changed the map")
			}
		})
	}
}

// TestEditNoOps checks the edits Ceph answers with "nothing to do".
func TestEditNoOps(t *testing.T) {
	for _, tc := range []struct {
		name string
		map_ string
		edit func(m *Map) error
	}{
		{"move bucket where it is", "m05_device_classes", func(m *Map) error {
			return m.MoveBucket(-1, Location{"root": "default"})
		}},
		{"move device where it is", "m05_device_classes", func(m *Map) error {
			return m.MoveBucket(3, Location{"host": "host0", "root": "elsewhere"})
		}},
		{"create-or-move where it is", "m05_device_classes", func(m *Map) error {
			return m.CreateOrMoveItem(3, 7*WeightOne, "osd.3", Location{"host": "host0"})
		}},
		{"update to same", "m05_device_classes", func(m *Map) error {
			return m.UpdateItem(3, 2*WeightOne, "osd.3", Location{"host": "host0"})
		}},
		{"same class", "m05_device_classes", func(m *Map) error { return m.SetDeviceClass(4, "nvme") }},
		{"no class to remove", "m02_rack_host_osd", func(m *Map) error { return m.RemoveDeviceClass(4) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := fresh(t, "", tc.map_)
			before := m.Clone()
			if err := tc.edit(m); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(before, m) {
				t.Fatalf("no-op edit changed the map:\n%s", firstDiff(m.Decompile(), before.Decompile()))
			}
		})
	}
}

// TestDeviceClassEditsMatchText checks SetDeviceClass and
// RemoveDeviceClass against compiling the decompiled text with the
// device line changed: with every shadow id written in the text, Ceph's
// rebuild and the compiler must build the same shadow trees.
func TestDeviceClassEditsMatchText(t *testing.T) {
	for _, tc := range []struct {
		name      string
		dir, map_ string
		edit      func(m *Map) error
		line      string // device line in the text
		newLine   string
	}{
		{"remove only nvme device", "", "m05_device_classes", func(m *Map) error { return m.RemoveDeviceClass(4) },
			"device 4 osd.4 class nvme", "device 4 osd.4"},
		{"remove ssd device", "", "m05_device_classes", func(m *Map) error { return m.RemoveDeviceClass(9) },
			"device 9 osd.9 class ssd", "device 9 osd.9"},
		{"set class of classless device", "edit", "e01_straw_classes", func(m *Map) error { return m.SetDeviceClass(11, "ssd") },
			"device 11 osd.11", "device 11 osd.11 class ssd"},
		{"rebind via remove and set", "", "m05_device_classes", func(m *Map) error {
			if err := m.RemoveDeviceClass(2); err != nil {
				return err
			}
			return m.SetDeviceClass(2, "ssd")
		}, "device 2 osd.2 class hdd", "device 2 osd.2 class ssd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := fresh(t, tc.dir, tc.map_)
			text := m.Decompile()
			if !strings.Contains(text, tc.line+"\n") {
				t.Fatalf("no line %q", tc.line)
			}
			want, err := Compile(strings.Replace(text, tc.line+"\n", tc.newLine+"\n", 1))
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.edit(m); err != nil {
				t.Fatal(err)
			}
			if got, w := m.Decompile(), want.Decompile(); got != w {
				t.Fatalf("text differs: %s", firstDiff(got, w))
			}
			if !reflect.DeepEqual(m.Buckets, want.Buckets) || !reflect.DeepEqual(m.ClassBuckets, want.ClassBuckets) ||
				!reflect.DeepEqual(m.Classes, want.Classes) {
				t.Fatal("buckets or classes differ from the compiled text's")
			}
		})
	}
}

func TestAddErasureRule(t *testing.T) {
	m := fresh(t, "", "m05_device_classes")
	id, err := m.AddErasureRule("ec42", "default", "host", "hdd", 6)
	if err != nil {
		t.Fatal(err)
	}
	hddRoot := m.ClassBuckets[-7][1]
	if hddRoot == 0 {
		t.Fatal("no hdd shadow of default")
	}
	want := &Rule{ID: 6, Name: "ec42", Type: RuleErasure, MinSize: 3, MaxSize: 6, Steps: []Step{
		{Op: OpSetChooseLeafTries, Arg1: 5}, {Op: OpSetChooseTries, Arg1: 100},
		{Op: OpTake, Arg1: hddRoot}, {Op: OpChooseLeafIndep, Arg1: 0, Arg2: 1}, {Op: OpEmit},
	}}
	if id != 6 || !reflect.DeepEqual(m.Rule(id), want) {
		t.Fatalf("rule %d: %+v, want %+v", id, m.Rule(id), want)
	}
	// Six hosts hold hdd devices: every x maps to six distinct hdd hosts.
	w := m.Reweights(nil)
	for x := uint32(0); x < 100; x++ {
		got := m.Do(id, x, 6, w)
		hosts := map[int32]bool{}
		for _, d := range got {
			if d == ItemNone || m.Devices[d].Class != "hdd" {
				t.Fatalf("x %d: %v", x, got)
			}
			for _, b := range m.Buckets[:6] {
				if slices.Contains(b.Items, d) {
					hosts[b.ID] = true
				}
			}
		}
		if len(hosts) != 6 {
			t.Fatalf("x %d: %v spans %d hosts", x, got, len(hosts))
		}
	}
	if id, err := m.AddSimpleRule("rep", "default", "", "", "indep", RuleErasure); err != nil || id != 7 ||
		m.Rule(7).MaxSize != 20 || m.Rule(7).Steps[3].Op != OpChooseIndep {
		t.Fatalf("device-level indep rule %d %v: %+v", id, err, m.Rule(id))
	}
}

func TestWeightFromFloat(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want uint32
		ok   bool
	}{
		{0, 0, true}, {1, 0x10000, true}, {0.5, 0x8000, true}, {1.1, 72089, true}, {0.0000153, 1, true},
		{300.123, 19668860, true}, {32767.99, 2147483008, true}, {32768, 0, false}, {-0.5, 0, false},
		{math.NaN(), 0, false}, {math.Inf(1), 0, false},
	} {
		got, err := WeightFromFloat(tc.f)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("WeightFromFloat(%v) = %d, %v; want %d, ok %v", tc.f, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("WeightFromFloat(%v): %v is no ErrInvalidArgument", tc.f, err)
		}
	}
}

package crush

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

const header = "device 0 osd.0\ndevice 1 osd.1\ndevice 2 osd.2\ntype 0 osd\ntype 1 host\ntype 2 root\n"

// TestCompileErrors: bad input gets a positioned error of the right kind
// and no map.
func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		kind      error
		want      string // substring, with position
	}{
		{"unknown keyword", "frob 1\n", ErrSyntax, "2:1: unexpected end of input, expected \"{\""},
		{"unknown bucket type", "frob x {\n\talg straw2\n}\n", ErrInvalidMap, "1:1: bucket type \"frob\" is not defined"},
		{"eof in bucket", header + "host h {\n", ErrSyntax, "8:1: unexpected end of input"},
		{"bad device id", "device -1 osd.0\n", ErrSyntax, "1:8: device id -1 out of range"},
		{"device id too big", "device 99999999 osd.0\n", ErrSyntax, "1:8: device id 99999999 out of range"},
		{"bad name", "device 0 osd~0\n", ErrSyntax, "1:10: invalid device name"},
		{"header after bucket", header + "host h {\n\talg straw2\n}\ntype 9 x\n", ErrSyntax, "10:1: \"type\" lines must come before"},
		{"unknown tunable", "tunable frob 1\n", ErrInvalidMap, "1:9: tunable \"frob\" not recognized"},
		{"vary_r too big", "tunable chooseleaf_vary_r 300\n", ErrInvalidMap, "1:27: tunable chooseleaf_vary_r 300 out of range"},
		{"too many tries", "tunable choose_total_tries 5000\n" + header, ErrInvalidMap, "choose_total_tries 5000 above 1000"},
		{"duplicate device", "device 0 a\ndevice 0 b\n", ErrInvalidMap, "2:8: device id 0 defined twice"},
		{"duplicate name", "device 0 a\ndevice 1 a\n", ErrInvalidMap, "2:10: item a defined twice"},
		{"unknown alg", header + "host h {\n\talg straw3\n}\n", ErrInvalidMap, "8:6: unknown bucket alg"},
		{"undefined item", header + "host h {\n\talg straw2\n\titem osd.9\n}\n", ErrInvalidMap, "9:7: item \"osd.9\" in bucket \"h\" is not defined"},
		{"negative device weight", header + "host h {\n\talg straw2\n\titem osd.0 weight -1\n}\n", ErrInvalidMap, "9:20: device weight limited to 100"},
		{"device weight over 100", header + "host h {\n\talg straw2\n\titem osd.0 weight 101\n}\n", ErrInvalidMap, "device weight limited to 100"},
		{"bad weight", header + "host h {\n\talg straw2\n\titem osd.0 weight 1.2.3\n}\n", ErrSyntax, "9:20: expected item weight"},
		{"duplicate pos", header + "host h {\n\talg tree\n\titem osd.0 pos 0\n\titem osd.1 pos 0\n}\n", ErrInvalidMap, "10:17: item \"osd.1\" in bucket \"h\" has explicit pos 0, which is occupied"},
		{"pos too big", header + "host h {\n\talg tree\n\titem osd.0 pos 3\n}\n", ErrInvalidMap, "has pos 3 >= size 1"},
		{"uniform unequal", header + "host h {\n\talg uniform\n\titem osd.0 weight 1\n\titem osd.1 weight 2\n}\n", ErrInvalidMap, "uniform bucket items must all have identical weights"},
		{"uniform zero", header + "host h {\n\talg uniform\n\titem osd.0 weight 0\n}\n", ErrInvalidMap, "uniform bucket \"h\" has items of weight 0"},
		{"type 0 bucket", header + "osd b {\n\talg straw2\n\titem osd.0\n}\n", ErrInvalidMap, "7:1: bucket \"b\" has type 0"},
		{"tree too big", manyDevices(65) + "type 0 osd\ntype 1 host\nhost h {\n\talg tree\n" + manyItems(65) + "}\n", ErrInvalidMap, "69:6: tree bucket \"h\" has 65 items"},
		{"duplicate bucket id", header + "host a {\n\tid -1\n\talg straw2\n}\nhost b {\n\tid -1\n\talg straw2\n}\n", ErrInvalidMap, "duplicate bucket id -1"},
		{"self containing", header + "host a {\n\tid -1\n\talg straw2\n\titem b\n}\nhost b {\n\tid -2\n\talg straw2\n\titem a\n}\n", ErrInvalidMap, "contain each other"},
		{"buckets after rules", header + "host a {\n\talg straw2\n}\nrule r {\n\tid 0\n\ttype replicated\n\tstep take a\n\tstep emit\n}\nhost b {\n\talg straw2\n}\n", ErrInvalidMap, "16:1: buckets must be defined before rules"},
		{"rule id twice", header + "host a {\n\talg straw2\n}\nrule r {\n\tid 0\n\ttype replicated\n\tstep emit\n}\nrule s {\n\tid 0\n\ttype replicated\n\tstep emit\n}\n", ErrInvalidMap, "rule 0 already exists"},
		{"rule id too big", header + "rule r {\n\tid 300\n\ttype replicated\n\tstep emit\n}\n", ErrSyntax, "rule id 300 out of range"},
		{"unknown step", header + "rule r {\n\tid 0\n\ttype replicated\n\tstep frob\n}\n", ErrSyntax, "10:7: unknown step \"frob\""},
		{"noop step", header + "rule r {\n\tid 0\n\ttype replicated\n\tstep noop\n}\n", ErrSyntax, "unknown step \"noop\""},
		{"unknown type in step", header + "host a {\n\talg straw2\n}\nrule r {\n\tid 0\n\ttype replicated\n\tstep take a\n\tstep chooseleaf firstn 0 type rack\n\tstep emit\n}\n", ErrInvalidMap, "type \"rack\" not defined"},
		{"unknown class", header + "host a {\n\talg straw2\n}\nrule r {\n\tid 0\n\ttype replicated\n\tstep take a class ssd\n\tstep emit\n}\n", ErrInvalidMap, "device class \"ssd\" does not exist"},
		{"set tries too big", header + "rule r {\n\tid 0\n\ttype replicated\n\tstep set_choose_tries 5000\n\tstep emit\n}\n", ErrInvalidMap, "set_choose_tries 5000 above 1000"},
		{"choose_args missing bucket", header + "choose_args 0 {\n\t{\n\t\tbucket_id -9\n\t}\n}\n", ErrInvalidMap, "bucket -9 does not exist"},
		{"choose_args size", header + "host a {\n\tid -1\n\talg straw2\n\titem osd.0\n}\nchoose_args 0 {\n\t{\n\t\tbucket_id -1\n\t\tweight_set [\n\t\t\t[ 1 2 ]\n\t\t]\n\t}\n}\n", ErrInvalidMap, "needs exactly 1 weights but got 2"},
		{"choose_args -1", "choose_args -1 {\n}\n", ErrSyntax, "1:13: expected a choose_args index"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Compile(tc.src)
			if err == nil {
				t.Fatalf("compiled:\n%s", m.Decompile())
			}
			if m != nil {
				t.Fatal("a map returned with an error")
			}
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q (kind %v), want %q of kind %v", err, kindOf(err), tc.want, tc.kind)
			}
		})
	}
}

func kindOf(err error) error {
	switch {
	case errors.Is(err, ErrSyntax):
		return ErrSyntax
	case errors.Is(err, ErrInvalidMap):
		return ErrInvalidMap
	}
	return nil
}

func manyDevices(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "device %d d%d\n", i, i)
	}
	return b.String()
}

func manyItems(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "\titem d%d\n", i)
	}
	return b.String()
}

// TestOddMapsDoNotPanic: maps on which Ceph reads outside its arrays
// (undefined behaviour) map without panicking here.
func TestOddMapsDoNotPanic(t *testing.T) {
	// A tree bucket whose weights are all zero and whose size is not a
	// power of two walks past its last leaf.
	m, err := Compile(header + "host h {\n\tid -1\n\talg tree\n\titem osd.0 weight 0\n\titem osd.1 weight 0\n\titem osd.2 weight 0\n}\n" +
		"rule r {\n\tid 0\n\ttype replicated\n\tstep take h\n\tstep choose firstn 1 type osd\n\tstep emit\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	w := m.Reweights(nil)
	for x := uint32(0); x < 100; x++ {
		if out := m.Do(0, x, 1, w); len(out) != 1 || out[0] != 0 {
			t.Fatalf("x %d: %v, want the first item", x, out)
		}
	}
	// Rules that emit bucket ids: the tester counts only devices.
	src, err := os.ReadFile("testdata/crushtool/maps/r04_emit_buckets.txt")
	if err != nil {
		t.Fatal(err)
	}
	if m, err = Compile(string(src)); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rule := 0
	if err := m.RunTest(TestConfig{Rule: &rule, MinX: 0, MaxX: 50, ShowMappings: true, ShowUtilization: true}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "CRUSH rule 0 x 0 [-") {
		t.Fatalf("expected bucket ids in the output:\n%s", out.String())
	}
}

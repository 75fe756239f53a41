package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const mapsDir = "../../crush/testdata/maps"

func runCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return o.String(), e.String(), code
}

// TestCrushCompileCanonical: for every map crushtool -d wrote, compile
// prints the same bytes.
func TestCrushCompileCanonical(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(mapsDir, "m*_*.txt"))
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".src.txt") {
			continue
		}
		n++
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out, errOut, code := runCmd(t, "crush", "compile", f)
		if code != 0 || out != string(want) {
			t.Errorf("%s: exit %d, stderr %q, output equal: %v", f, code, errOut, out == string(want))
		}
	}
	if n != 20 {
		t.Fatalf("checked %d maps, want 20", n)
	}
}

func TestCrushCompileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ src, want string }{
		{"type 0 osd\ntype 1 host\nhost h {\n\talg straw3\n}\n", ":4:6: unknown bucket alg"},
		{"type 0 osd\nhost h {\n\talg straw2\n}\n", ":2:1: bucket type \"host\" is not defined"},
		{"type 0 osd\ntype 1 host\nhost h {\n", ":4:1: unexpected end of input"},
		{"device 0 osd.0\ntype 0 osd\ntype 1 host\nhost h {\n\talg straw2\n\titem osd.9\n}\n", ":6:7: item \"osd.9\""},
		{"device x osd.0\n", ":1:8: expected device id"},
		{"type 0 osd\nrule r {\n\tid 0\n\ttype replicated\n\tstep take nowhere\n\tstep emit\n}\n", ":5:12: in rule \"r\" item \"nowhere\" not defined"},
	} {
		p := filepath.Join(dir, "bad.txt")
		if err := os.WriteFile(p, []byte(tc.src), 0o644); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := runCmd(t, "crush", "compile", p)
		if code != 1 || out != "" || !strings.Contains(errOut, p+tc.want) {
			t.Errorf("src %q: exit %d, stdout %q, stderr %q; want exit 1 and %q", tc.src, code, out, errOut, tc.want)
		}
	}
	if _, errOut, code := runCmd(t, "crush", "compile", filepath.Join(dir, "missing.txt")); code != 1 || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing file: exit %d, stderr %q", code, errOut)
	}
}

// TestCrushTestMatchesCrushtool: the default output is crushtool's
// --show-mappings lines (compared with the first 1000 lines of a golden
// vector).
func TestCrushTestMatchesCrushtool(t *testing.T) {
	f, err := os.Open("../../crush/testdata/mappings/m02_rack_host_osd__r1__n6__w2.txt.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := io.ReadAll(zr)
	args := []string{"crush", "test", "--map", filepath.Join(mapsDir, "m02_rack_host_osd.txt"), "--rule", "1",
		"--num-rep", "6", "--min-x", "0", "--max-x", "999"}
	// the w2 reweights of that vector, as --weight DEVICE WEIGHT pairs
	w2 := strings.Fields("0 0.5 2 0.25 4 0.75 5 0 6 0.9 8 0.1 10 0.333 11 0.5 13 0.25 15 0.75 16 0 17 0.9 19 0.1 21 0.333 22 0.5 24 0.25 26 0.75 27 0 28 0.9 30 0.1 32 0.333 33 0.5 35 0.25 37 0.75 38 0 39 0.9 41 0.1 43 0.333 44 0.5 46 0.25")
	for i := 0; i+1 < len(w2); i += 2 {
		args = append(args, "--weight", w2[i], w2[i+1])
	}
	out, errOut, code := runCmd(t, args...)
	if code != 0 || out != string(want) {
		t.Fatalf("exit %d stderr %q; output equal to crushtool's: %v", code, errOut, out == string(want))
	}
}

func TestCrushTestJSON(t *testing.T) {
	out, errOut, code := runCmd(t, "-o", "json", "crush", "test", "--map", filepath.Join(mapsDir, "m01_flat_straw2.txt"),
		"--rule", "0", "--num-rep", "3", "--min-x", "0", "--max-x", "9", "--show-mappings", "--show-utilization")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Runs []struct {
			Rule     int `json:"rule"`
			NumRep   int `json:"num_rep"`
			Mappings []struct {
				X    int     `json:"x"`
				OSDs []int32 `json:"osds"`
			} `json:"mappings"`
			Inputs  int            `json:"inputs"`
			Sizes   map[string]int `json:"result_sizes"`
			Devices []struct {
				ID     int `json:"id"`
				Stored int `json:"stored"`
			} `json:"devices"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(doc.Runs) != 1 || len(doc.Runs[0].Mappings) != 10 || doc.Runs[0].Inputs != 10 || doc.Runs[0].Sizes["3"] != 10 {
		t.Fatalf("unexpected document: %+v", doc)
	}
	if m := doc.Runs[0].Mappings[0]; m.X != 0 || len(m.OSDs) != 3 || m.OSDs[0] != 16 {
		t.Fatalf("first mapping %+v, want x 0 -> [16 12 21]", m)
	}
	stored := 0
	for _, d := range doc.Runs[0].Devices {
		stored += d.Stored
	}
	if stored != 30 {
		t.Fatalf("devices store %d results, want 30", stored)
	}

	out, _, code = runCmd(t, "-o", "json", "crush", "compile", filepath.Join(mapsDir, "m05_device_classes.txt"))
	var m struct {
		Buckets []struct {
			Name   string `json:"name"`
			Shadow bool   `json:"shadow"`
		} `json:"buckets"`
		Rules []struct {
			Steps []struct {
				Op   string `json:"op"`
				Item string `json:"item"`
			} `json:"steps"`
		} `json:"rules"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &m) != nil || len(m.Buckets) != 28 || m.Rules[1].Steps[0].Item != "default class ssd" {
		t.Fatalf("compile -o json: exit %d, %+v", code, m)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{}, {"frob"}, {"crush"}, {"crush", "frob"}, {"crush", "compile"}, {"crush", "test", "--rule", "0"},
		{"crush", "test", "--map", filepath.Join(mapsDir, "m01_flat_straw2.txt"), "--num-rep", "x"},
		{"-o", "yaml", "crush", "compile", "x"},
	} {
		if _, errOut, code := runCmd(t, args...); code != 2 || errOut == "" {
			t.Errorf("%q: exit %d stderr %q, want 2 and a message", args, code, errOut)
		}
	}
	if _, errOut, code := runCmd(t, "crush", "test", "--map", filepath.Join(mapsDir, "m01_flat_straw2.txt"), "--rule", "7"); code != 1 || !strings.Contains(errOut, "rule 7 does not exist") {
		t.Errorf("missing rule: exit %d stderr %q", code, errOut)
	}
}

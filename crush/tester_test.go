package crush

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCrushtoolOutputs compares RunTest with crushtool --test for the
// statistics, utilization and bad-mapping outputs and the default rule
// and replica ranges (testdata/crushtool, made by its gen.sh).
func TestCrushtoolOutputs(t *testing.T) {
	b, err := os.ReadFile("testdata/crushtool/CASES")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		n++
		name, mapName, args := f[0], f[1], f[2:]
		t.Run(name, func(t *testing.T) {
			cfg, rest, err := ParseTestArgs(args)
			if err != nil || len(rest) != 0 {
				t.Fatalf("ParseTestArgs(%q) = %v, rest %q", args, err, rest)
			}
			want, err := os.ReadFile(filepath.Join("testdata/crushtool", name+".out"))
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			// MAP is relative to testdata: [SET/]maps/NAME
			dir := filepath.Join("testdata", strings.TrimSuffix(filepath.Dir(mapName), "maps"))
			if err := loadMapIn(t, dir, filepath.Base(mapName)).RunTest(cfg, &got); err != nil {
				t.Fatal(err)
			}
			if got.String() != string(want) {
				t.Fatalf("output differs from crushtool's: %s", firstDiff(got.String(), string(want)))
			}
		})
	}
	if n < 14 {
		t.Fatalf("only %d cases", n)
	}
}

func TestParseTestArgs(t *testing.T) {
	cfg, rest, err := ParseTestArgs([]string{"--rule", "2", "--num_rep=4", "--x", "7", "--weight", "3", "0.5",
		"--weight", "9", "2", "--pool-id", "5", "--show-utilization", "map.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if *cfg.Rule != 2 || *cfg.NumRep != 4 || cfg.MinX != 7 || cfg.MaxX != 7 || *cfg.PoolID != 5 ||
		!cfg.ShowUtilization || cfg.Reweights[3] != 0x8000 || cfg.Reweights[9] != WeightOne ||
		len(rest) != 1 || rest[0] != "map.txt" {
		t.Fatalf("parsed %+v rest %q", cfg, rest)
	}
	for _, bad := range [][]string{
		{"--rule"}, {"--rule", "x"}, {"--rule", "300"}, {"--num-rep", "-1"}, {"--num-rep", "256"},
		{"--weight", "1"}, {"--weight", "a", "1"}, {"--weight", "1", "z"}, {"--weight=1", "2"},
		{"--min-x", "9", "--max-x", "3"}, {"--frobnicate"}, {"--pool-id", "1e3"},
	} {
		if _, _, err := ParseTestArgs(bad); err == nil {
			t.Errorf("ParseTestArgs(%q) accepted", bad)
		}
	}
}

func TestReweightFromFloat(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want uint32
	}{
		{0, 0}, {1, 0x10000}, {2, 0x10000}, {-1, 0}, {0.5, 0x8000}, {0.333, 21823}, {0.1, 6553}, {0.9, 58982},
	} {
		if got := ReweightFromFloat(tc.f); got != tc.want {
			t.Errorf("ReweightFromFloat(%v) = %d, want %d", tc.f, got, tc.want)
		}
	}
}

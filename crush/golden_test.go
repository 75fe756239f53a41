package crush

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The golden vectors are crushtool 16.2.15 --test --show-mappings outputs:
// testdata/mappings (copied from shared/crush-vectors; 10,000 inputs each)
// and testdata/extra (made here by testdata/extra/gen.py for what those
// miss: local retries, choose_args, huge weights, straw v1 corners,
// uniform indep, odd rule shapes, random maps; 5,000 inputs each).
// testdata keeps the first 1,000 lines of each output for readable diffs,
// and each manifest the SHA-256 of the whole output, so the test checks
// every line of every vector: the first 1,000 line by line, all by hash.

// vectorSets are the folders holding a maps/ folder and a
// mappings/MANIFEST.tsv, with the number of vectors each must have.
var vectorSets = []struct {
	dir  string
	rows int
}{
	{"testdata", 406},
	{"testdata/extra", 485},
}

type manifestRow struct {
	dir     string
	file    string
	mapName string
	rule    int
	numRep  int
	weights map[int32]uint32
	poolID  *int64
	lines   int
	sha     string
}

func readManifest(t testing.TB, dir string) []manifestRow {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "mappings/MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []manifestRow
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 9 {
			t.Fatalf("manifest: %d columns in %q", len(c), sc.Text())
		}
		r := manifestRow{dir: dir, file: c[0], mapName: strings.TrimSuffix(filepath.Base(c[1]), ".txt"), sha: c[8]}
		r.rule, _ = strconv.Atoi(c[2])
		r.numRep, _ = strconv.Atoi(c[3])
		r.lines, _ = strconv.Atoi(c[7])
		if c[4] != "-" {
			r.weights = map[int32]uint32{}
			f := strings.Fields(c[4])
			for i := 0; i+2 < len(f); i += 3 {
				if f[i] != "--weight" {
					t.Fatalf("manifest weights %q", c[4])
				}
				d, _ := strconv.Atoi(f[i+1])
				w, err := strconv.ParseFloat(f[i+2], 64)
				if err != nil {
					t.Fatal(err)
				}
				r.weights[int32(d)] = ReweightFromFloat(w)
			}
		}
		if c[5] != "-" {
			p, _ := strconv.ParseInt(c[5], 10, 64)
			r.poolID = &p
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

var (
	mapCacheMu sync.Mutex
	mapCache   = map[string]*Map{}
)

// loadMap compiles testdata/maps/NAME.txt once per test binary.
func loadMap(t testing.TB, name string) *Map { return loadMapIn(t, "testdata", name) }

// loadMapIn compiles DIR/maps/NAME.txt once per test binary.
func loadMapIn(t testing.TB, dir, name string) *Map {
	t.Helper()
	mapCacheMu.Lock()
	defer mapCacheMu.Unlock()
	key := dir + "/" + name
	if m, ok := mapCache[key]; ok {
		return m
	}
	src, err := os.ReadFile(filepath.Join(dir, "maps", name+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Compile(string(src))
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	mapCache[key] = m
	return m
}

func readGzipLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestGoldenMappings(t *testing.T) {
	var rows []manifestRow
	for _, vs := range vectorSets {
		r := readManifest(t, vs.dir)
		if len(r) != vs.rows {
			t.Fatalf("%s manifest has %d rows, want %d", vs.dir, len(r), vs.rows)
		}
		rows = append(rows, r...)
	}
	for _, row := range rows {
		t.Run(strings.TrimSuffix(row.file, ".txt.gz"), func(t *testing.T) {
			t.Parallel()
			m := loadMapIn(t, row.dir, row.mapName)
			cfg := TestConfig{
				Rule: &row.rule, NumRep: &row.numRep, MinX: 0, MaxX: row.lines - 1,
				Reweights: row.weights, PoolID: row.poolID, ShowMappings: true,
			}
			var out bytes.Buffer
			if err := m.RunTest(cfg, &out); err != nil {
				t.Fatal(err)
			}
			got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			want := readGzipLines(t, filepath.Join(row.dir, "mappings", row.file))
			bad := 0
			for i := range want {
				if i >= len(got) || got[i] != want[i] {
					if bad < 5 {
						g := "<missing>"
						if i < len(got) {
							g = got[i]
						}
						t.Errorf("line %d:\n got  %s\n want %s", i+1, g, want[i])
					}
					bad++
				}
			}
			if bad > 0 {
				t.Fatalf("%d of the first %d lines differ", bad, len(want))
			}
			sum := sha256.Sum256(out.Bytes())
			if h := hex.EncodeToString(sum[:]); h != row.sha {
				t.Fatalf("output of %d lines differs from crushtool's beyond line %d: sha256 %s, want %s",
					len(got), len(want), h, row.sha)
			}
		})
	}
}

// TestGoldenMapsCoverPlan checks the manifest covers every (map, rule,
// num-rep) the vector plan lists, so a truncated manifest cannot pass.
func TestGoldenMapsCoverPlan(t *testing.T) {
	rows := readManifest(t, "testdata")
	have := map[string]bool{}
	for _, r := range rows {
		have[fmt.Sprintf("%s/%d/%d", r.mapName, r.rule, r.numRep)] = true
	}
	b, err := os.ReadFile("testdata/maps/PLAN.tsv")
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if i == 0 {
			continue
		}
		c := strings.Split(line, "\t")
		for _, n := range strings.Split(c[2], ",") {
			k := fmt.Sprintf("%s/%s/%s", c[0], c[1], n)
			if !have[k] {
				t.Errorf("plan entry %s has no vector", k)
			}
		}
	}
}

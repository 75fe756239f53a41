package crush

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mapFiles returns the maps folder and name of every source map of the
// vector sets (20 shared ones, 34 extra ones, 5 written for corner cases
// found in review).
func mapFiles(t testing.TB) [][2]string {
	t.Helper()
	var out [][2]string
	for _, vs := range []struct {
		dir  string
		want int
	}{{"testdata/maps", 20}, {"testdata/extra/maps", 34}, {"testdata/crushtool/maps", 5}} {
		files, err := filepath.Glob(filepath.Join(vs.dir, "*.src.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) != vs.want {
			t.Fatalf("found %d source maps in %s, want %d", len(files), vs.dir, vs.want)
		}
		for _, f := range files {
			out = append(out, [2]string{vs.dir, strings.TrimSuffix(filepath.Base(f), ".src.txt")})
		}
	}
	return out
}

// firstDiff describes the first differing line of two texts.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got  %q\n want %q", i+1, gl, wl)
		}
	}
	return "texts equal"
}

// TestDecompileIsCrushtool: for every map crushtool -d wrote, compiling
// and decompiling gives back the same bytes.
func TestDecompileIsCrushtool(t *testing.T) {
	for _, f := range mapFiles(t) {
		dir, name := f[0], f[1]
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(dir, name+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			m, err := Compile(string(want))
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Decompile(); got != string(want) {
				t.Fatalf("decompile differs from crushtool -d: %s", firstDiff(got, string(want)))
			}
		})
	}
}

// TestCompileSourceLikeCrushtool: the hand-written sources (no shadow ids,
// buckets without ids, no tunables for legacy maps) compile to what
// crushtool -c built, as its decompiled text shows.
func TestCompileSourceLikeCrushtool(t *testing.T) {
	for _, f := range mapFiles(t) {
		dir, name := f[0], f[1]
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, name+".src.txt"))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(dir, name+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			m, err := Compile(string(src))
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Decompile(); got != string(want) {
				t.Fatalf("compiled source differs from crushtool's: %s", firstDiff(got, string(want)))
			}
		})
	}
}

// TestCompileDecompileFixedPoint: compile -> decompile -> compile ->
// decompile is stable.
func TestCompileDecompileFixedPoint(t *testing.T) {
	for _, f := range mapFiles(t) {
		dir, name := f[0], f[1]
		src, err := os.ReadFile(filepath.Join(dir, name+".src.txt"))
		if err != nil {
			t.Fatal(err)
		}
		m1, err := Compile(string(src))
		if err != nil {
			t.Fatal(err)
		}
		t1 := m1.Decompile()
		m2, err := Compile(t1)
		if err != nil {
			t.Fatalf("%s: recompile: %v", name, err)
		}
		if t2 := m2.Decompile(); t2 != t1 {
			t.Errorf("%s: not a fixed point: %s", name, firstDiff(t2, t1))
		}
	}
}

// TestCompileRejectsWhatCrushtoolRejects: inputs crushtool refuses to
// compile (testdata/extra/rejected) fail here too.
func TestCompileRejectsWhatCrushtoolRejects(t *testing.T) {
	b, err := os.ReadFile("testdata/extra/rejected/EXPECTED.tsv")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if i == 0 {
			continue
		}
		c := strings.Split(line, "\t")
		src, err := os.ReadFile(filepath.Join("testdata/extra/rejected", c[0]+".txt"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Compile(string(src)); err == nil {
			t.Errorf("%s (%s) compiled; crushtool says %q", c[0], c[1], c[3])
		} else {
			t.Logf("%s: %v (crushtool: %s)", c[0], err, c[3])
		}
		n++
	}
	if n != 7 {
		t.Fatalf("checked %d inputs, want 7", n)
	}
}

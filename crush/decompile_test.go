package crush

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mapNames(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/maps/*.src.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 20 {
		t.Fatalf("found %d source maps, want 20", len(files))
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".src.txt"))
	}
	return names
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
	for _, name := range mapNames(t) {
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata/maps", name+".txt"))
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
	for _, name := range mapNames(t) {
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("testdata/maps", name+".src.txt"))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("testdata/maps", name+".txt"))
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
	for _, name := range mapNames(t) {
		src, err := os.ReadFile(filepath.Join("testdata/maps", name+".src.txt"))
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

package crush

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzSeeds adds every test map and a few broken ones to the corpus.
func fuzzSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/maps/*.txt")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, s := range []string{
		"", "#", "{", "}", "device", "device 0", "device 0 osd.0 class", "type 0 osd\nhost h {",
		"tunable choose_total_tries 99999999999",
		"type 0 osd\ntype 1 root\nroot r {\n alg uniform\n item osd.0 weight 1\n}",
		"device 0 a\ntype 0 osd\ntype 1 root\nroot r {\n id -1\n alg straw\n item a weight 1e30\n}",
		"device 0 a\ntype 0 osd\ntype 1 root\nroot r {\n alg list\n item a pos 5\n}",
		"type 0 osd\nrule {\n id 0\n type erasure\n step emit\n}",
		"choose_args 18446744073709551615 {\n}\n",
	} {
		f.Add(s)
	}
}

// checkMapping maps a few inputs through every rule of m and checks the
// results are well formed: devices below MaxDevices or ItemNone, no
// device twice in one firstn result.
func checkMapping(t *testing.T, m *Map) {
	t.Helper()
	mp := m.NewMapper()
	w := m.Reweights(nil)
	for _, r := range m.Rules {
		if r == nil {
			continue
		}
		for x := uint32(0); x < 8; x++ {
			for _, n := range []int{1, 3, 6} {
				out := mp.Do(r.ID, x, n, w, m.ChooseArgsFor(0), nil)
				if len(out) > n {
					t.Fatalf("rule %d x %d: %d results for %d replicas", r.ID, x, len(out), n)
				}
				for _, o := range out {
					if o != ItemNone && (o < -BucketIDLimit || o >= m.maxDevices && o >= 0) {
						t.Fatalf("rule %d x %d: result item %d out of range", r.ID, x, o)
					}
				}
			}
		}
	}
}

// FuzzCompile: any input either compiles or fails with a positioned
// ErrSyntax/ErrInvalidMap error, never panics; what compiles decompiles
// to text that compiles to the same text again, and maps without panics.
func FuzzCompile(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 1<<16 {
			return
		}
		m, err := Compile(src)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrInvalidMap) {
				t.Fatalf("error of unknown kind: %v", err)
			}
			if m != nil {
				t.Fatal("a map returned with an error")
			}
			return
		}
		text := m.Decompile()
		m2, err := Compile(text)
		if err != nil {
			// Decompiled weights are rounded to 1/1000; a weight at a
			// limit can round above it. Anything else is a bug.
			var pe *PosError
			if errors.As(err, &pe) && (strings.Contains(pe.Msg, "weight limited") || strings.Contains(pe.Msg, "overflow") || strings.Contains(pe.Msg, "identical weights")) {
				return
			}
			t.Fatalf("decompiled text does not compile: %v\n%s", err, text)
		}
		if text2 := m2.Decompile(); text2 != text {
			t.Fatalf("decompile is not a fixed point: %s", firstDiff(text2, text))
		}
		checkMapping(t, m)
	})
}

// FuzzParseTestArgs: option parsing never panics and never yields a
// configuration RunTest would reject.
func FuzzParseTestArgs(f *testing.F) {
	f.Add("--rule", "0", "--num-rep", "3")
	f.Add("--weight", "1", "0.5", "")
	f.Add("--x", "-3", "--pool-id", "")
	f.Fuzz(func(t *testing.T, a, b, c, d string) {
		cfg, _, err := ParseTestArgs([]string{a, b, c, d})
		if err != nil {
			return
		}
		if cfg.NumRep != nil && (*cfg.NumRep < 0 || *cfg.NumRep > MaxResult) {
			t.Fatalf("num-rep %d accepted", *cfg.NumRep)
		}
		for _, w := range cfg.Reweights {
			if w > WeightOne {
				t.Fatalf("reweight %#x accepted", w)
			}
		}
	})
}

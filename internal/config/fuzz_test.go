package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse: Parse never panics, and whatever it accepts writes out and
// parses back to the same Config.
func FuzzParse(f *testing.F) {
	confs, err := filepath.Glob("testdata/parse/*.conf")
	if err != nil || len(confs) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	for _, p := range confs {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, dir := range []string{goldenDir, ""} {
			c, err := Parse(bytes.NewReader(in), dir)
			if err != nil {
				continue
			}
			var b bytes.Buffer
			if err := c.Write(&b); err != nil {
				t.Fatalf("dir %q: Write of a parsed config: %v", dir, err)
			}
			c2, err := Parse(bytes.NewReader(b.Bytes()), dir)
			if err != nil {
				t.Fatalf("dir %q: Parse(Write(c)): %v\n%s", dir, err, b.String())
			}
			if !reflect.DeepEqual(c, c2) {
				t.Fatalf("dir %q: round trip changed the config:\n got %+v\nwant %+v", dir, c2, c)
			}
		}
	})
}

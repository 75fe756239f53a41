package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// goldenDir is what relative paths resolve against in the golden tests.
const goldenDir = "/etc/loligo"

// kindName names the sentinel err wraps.
func kindName(err error) string {
	for _, k := range []struct {
		name string
		err  error
	}{{"ErrSyntax", ErrSyntax}, {"ErrInvalid", ErrInvalid}, {"ErrMissing", ErrMissing}} {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return "no sentinel"
}

// dump renders a parse result for a golden file.
func dump(c *Config, err error) string {
	var b strings.Builder
	if err != nil {
		fmt.Fprintf(&b, "error: %v\nkind: %s\n", err, kindName(err))
		return b.String()
	}
	fmt.Fprintf(&b, "fsid: %s\n", c.FSID)
	for _, h := range c.MonHosts {
		fmt.Fprintf(&b, "mon_host: %s\n", h)
	}
	if c.CA == "" {
		b.WriteString("ca: (none)\n")
	} else {
		fmt.Fprintf(&b, "ca: %s\n", c.CA)
	}
	for _, n := range c.entityNames() {
		fmt.Fprintf(&b, "entity %s: cert=%s key=%s\n", n, c.Entities[n].Cert, c.Entities[n].Key)
	}
	b.WriteString("--- Write:\n")
	if werr := c.Write(&b); werr != nil {
		fmt.Fprintf(&b, "write error: %v\n", werr)
	}
	return b.String()
}

// TestParseGolden parses testdata/parse/NAME.conf and compares the result
// with NAME.golden. Files named err-* must fail to parse, the others must
// parse and survive a Write/Parse round trip. Run with -update to rewrite
// the golden files, and read the diff before committing it.
func TestParseGolden(t *testing.T) {
	confs, err := filepath.Glob("testdata/parse/*.conf")
	if err != nil || len(confs) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, path := range confs {
		name := strings.TrimSuffix(filepath.Base(path), ".conf")
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(bytes.NewReader(in), goldenDir)
			wantErr := strings.HasPrefix(name, "err-")
			if (err != nil) != wantErr {
				t.Fatalf("Parse error = %v; file name says error: %v", err, wantErr)
			}
			if err != nil {
				var pe *Error
				if !errors.As(err, &pe) || pe.File != "loligo.conf" {
					t.Errorf("error %v is not a *Error naming loligo.conf", err)
				}
				if kindName(err) == "no sentinel" {
					t.Errorf("error %v wraps no sentinel", err)
				}
			} else {
				checkRoundTrip(t, c, goldenDir)
			}
			got := dump(c, err)
			golden := strings.TrimSuffix(path, ".conf") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs (run with -update to rewrite)\n--- got:\n%s--- want:\n%s", golden, got, want)
			}
		})
	}
}

// checkRoundTrip writes c and parses it back with dir.
func checkRoundTrip(t *testing.T, c *Config, dir string) {
	t.Helper()
	var b bytes.Buffer
	if err := c.Write(&b); err != nil {
		t.Fatalf("Write: %v", err)
	}
	c2, err := Parse(&b, dir)
	if err != nil {
		t.Fatalf("Parse(Write(c)): %v\n%s", err, b.String())
	}
	if !reflect.DeepEqual(c, c2) {
		t.Fatalf("round trip changed the config:\n got %+v\nwant %+v\ntext:\n%s", c2, c, b.String())
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		c    Config
	}{
		{"minimal", Config{FSID: "f", MonHosts: []string{"h:1"}, Entities: map[string]EntityKeys{}}},
		{"full", Config{
			FSID:     "c0ffee00-0000-4000-8000-000000000001",
			MonHosts: []string{"10.0.0.1:6789", "[::1]:6789", "mon.example.com:3300"},
			CA:       "/data/keys/ca.crt",
			Entities: map[string]EntityKeys{
				"client.admin": {Cert: "/data/keys/client.admin.crt", Key: "/data/keys/client.admin.key"},
				"osd.3":        {Cert: "/data/keys/osd.3.crt", Key: "/data/keys/osd.3.key"},
				"mds.a":        {Cert: "/d/with space/mds.a.crt", Key: "/d/hash#in/mds.a.key"},
			},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkRoundTrip(t, &tc.c, "/elsewhere")
			checkRoundTrip(t, &tc.c, "")
		})
	}
}

func TestWriteRefuses(t *testing.T) {
	good := func() Config {
		return Config{FSID: "f", MonHosts: []string{"h:1"}, CA: "/ca.crt",
			Entities: map[string]EntityKeys{"client.admin": {Cert: "/a.crt", Key: "/a.key"}}}
	}
	tests := []struct {
		name   string
		modify func(*Config)
		kind   error
	}{
		{"no fsid", func(c *Config) { c.FSID = "" }, ErrMissing},
		{"bad fsid", func(c *Config) { c.FSID = "a/b" }, ErrInvalid},
		{"no mon", func(c *Config) { c.MonHosts = nil }, ErrMissing},
		{"bad mon", func(c *Config) { c.MonHosts = []string{"h"} }, ErrInvalid},
		{"dup mon", func(c *Config) { c.MonHosts = []string{"h:1", "h:1"} }, ErrInvalid},
		{"ca with comment", func(c *Config) { c.CA = "/a #b" }, ErrInvalid},
		{"ca with newline", func(c *Config) { c.CA = "/a\nfsid = g" }, ErrInvalid},
		{"ca with trailing blank", func(c *Config) { c.CA = "/a " }, ErrInvalid},
		{"entity name", func(c *Config) { c.Entities["admin"] = EntityKeys{"/a", "/b"} }, ErrInvalid},
		{"entity without key", func(c *Config) { c.Entities["osd.1"] = EntityKeys{Cert: "/a"} }, ErrMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			if err := c.Write(new(bytes.Buffer)); err != nil {
				t.Fatalf("the good config does not write: %v", err)
			}
			tc.modify(&c)
			var b bytes.Buffer
			err := c.Write(&b)
			if !errors.Is(err, tc.kind) {
				t.Fatalf("Write error = %v, want %v", err, tc.kind)
			}
			if b.Len() != 0 {
				t.Errorf("Write wrote %q before failing", b.String())
			}
		})
	}
}

func TestLoadResolvesAgainstFileDir(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "loligo.conf")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	text := "[global]\nfsid = f\nmon_host = h:1\nca = keys/ca.crt\n[client.admin]\ncert = ../a.crt\nkey = /abs/a.key\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Path:     path,
		FSID:     "f",
		MonHosts: []string{"h:1"},
		CA:       filepath.Join(dir, "sub", "keys", "ca.crt"),
		Entities: map[string]EntityKeys{"client.admin": {Cert: filepath.Join(dir, "a.crt"), Key: "/abs/a.key"}},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load = %+v, want %+v", c, want)
	}
	k, err := c.Keys("client.admin")
	if err != nil || k != want.Entities["client.admin"] {
		t.Errorf("Keys(client.admin) = %+v, %v", k, err)
	}
	_, err = c.Keys("osd.7")
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "[osd.7]") ||
		!strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "client.admin") {
		t.Errorf("Keys(osd.7) error = %v; want ErrMissing naming the file, the entity and the ones present", err)
	}
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "loligo.conf")
	if err := os.WriteFile(path, []byte("[global]\nfsid = f\nmon_host = h:99999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if want := path + ":3: "; err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, ErrInvalid) {
		t.Errorf("Load error = %v, want ErrInvalid starting %q", err, want)
	}
	_, err = Load(filepath.Join(dir, "absent.conf"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "absent.conf") {
		t.Errorf("Load(absent) error = %v, want ErrNotExist naming the file", err)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "loligo.conf")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &Config{FSID: "f", MonHosts: []string{"h:1"}, CA: "keys/ca.crt",
		Entities: map[string]EntityKeys{"client.admin": {Cert: "keys/a.crt", Key: "keys/a.key"}}}
	if err := c.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, want 0644", fi.Mode().Perm())
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.CA != filepath.Join(dir, "keys", "ca.crt") || got.Entities["client.admin"].Key != filepath.Join(dir, "keys", "a.key") {
		t.Errorf("relative paths did not load against the file's dir: %+v", got)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after WriteFile, want only loligo.conf (a temp file left?)", len(entries))
	}
	// An invalid config leaves the file alone.
	bad := &Config{FSID: "f"}
	if err := bad.WriteFile(path); !errors.Is(err, ErrMissing) {
		t.Errorf("WriteFile(invalid) = %v, want ErrMissing", err)
	}
	if _, err := Load(path); err != nil {
		t.Errorf("file damaged by a refused WriteFile: %v", err)
	}
	if err := c.WriteFile(filepath.Join(dir, "no", "such", "dir", "x.conf")); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
}

func TestLocate(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == EnvVar {
				return v
			}
			return ""
		}
	}
	tests := []struct {
		name   string
		flag   string
		getenv func(string) string
		want   string
	}{
		{"flag wins", "/a.conf", env("/b.conf"), "/a.conf"},
		{"env", "", env("/b.conf"), "/b.conf"},
		{"neither", "", env(""), ""},
		{"nil getenv", "", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Locate(tc.flag, tc.getenv)
			if got != tc.want {
				t.Errorf("Locate = %q, want %q", got, tc.want)
			}
			if tc.want == "" {
				if !errors.Is(err, ErrNoConf) || !strings.Contains(err.Error(), "--conf") || !strings.Contains(err.Error(), EnvVar) {
					t.Errorf("error = %v, want ErrNoConf mentioning --conf and %s", err, EnvVar)
				}
			} else if err != nil {
				t.Errorf("error = %v", err)
			}
		})
	}
}

func TestFileGet(t *testing.T) {
	f, err := ParseFile(strings.NewReader("[global]\nmon host = a:1\nx=1\n[osd.1]\nx = 2\n"), "t.conf")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		section, key string
		want         string
		ok           bool
	}{
		{"global", "mon_host", "a:1", true},
		{"global", "mon host", "a:1", true},
		{"global", "x", "1", true},
		{"osd.1", "x", "2", true},
		{"osd.1", "mon_host", "", false},
		{"osd.2", "x", "", false},
		{"Global", "x", "", false},
	}
	for _, tc := range tests {
		got, ok := f.Get(tc.section, tc.key)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Get(%q, %q) = %q, %v; want %q, %v", tc.section, tc.key, got, ok, tc.want, tc.ok)
		}
	}
	if len(f.Sections) != 2 || f.Sections[1].Line != 4 || f.Sections[0].Entries[1].Line != 3 {
		t.Errorf("sections or lines wrong: %+v", f.Sections)
	}
}

func TestParseFileLongLine(t *testing.T) {
	in := "[global]\nfsid = " + strings.Repeat("a", MaxLineLen) + "\n"
	_, err := ParseFile(strings.NewReader(in), "t.conf")
	if !errors.Is(err, ErrSyntax) || !strings.HasPrefix(err.Error(), "t.conf:2: ") {
		t.Errorf("error = %v, want ErrSyntax at t.conf:2", err)
	}
}

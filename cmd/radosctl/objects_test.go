package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/loligo/loligo/internal/testcluster"
	"github.com/loligo/loligo/rados"
)

// TestObjectUsage: object commands called wrongly exit 2 with the usage
// line of that command only, before any connection is tried.
func TestObjectUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
		line string // the usage line printed with it
	}{
		{[]string{"put", "data", "obj"}, "put takes 3 argument(s), got 2", "  put POOL OBJ FILE|- "},
		{[]string{"put", "data", "obj", "f", "--max-object-size", "0"}, `--max-object-size "0": want a size above 0`, "  put POOL"},
		{[]string{"put", "data", "obj", "f", "--object-size=1.5M"}, `--object-size "1.5M": want a size such as`, "  put POOL"},
		{[]string{"put", "data", "obj", "f", "--stripe"}, "unknown flag --stripe", "  put POOL"},
		{[]string{"get", "data"}, "get takes 3 argument(s), got 1", "  get POOL OBJ FILE|- "},
		{[]string{"rm", "data"}, "rm takes at least 2 argument(s), got 1", "  rm POOL OBJ..."},
		{[]string{"ls"}, "ls takes 1 argument(s), got 0", "  ls POOL"},
		{[]string{"stat", "data", "a", "b"}, "stat takes 2 argument(s), got 3", "  stat POOL OBJ"},
		{[]string{"setxattr", "data", "obj", "name"}, "setxattr takes 4 argument(s), got 3", "  setxattr POOL"},
		{[]string{"getxattr", "data", "obj"}, "getxattr takes 3 argument(s), got 2", "  getxattr POOL"},
		{[]string{"listxattr", "data"}, "listxattr takes 2 argument(s), got 1", "  listxattr POOL"},
		{[]string{"rmxattr", "data", "obj"}, "rmxattr takes 3 argument(s), got 2", "  rmxattr POOL"},
		{[]string{"setomapval", "data", "obj", "k"}, "setomapval takes 4 argument(s), got 3", "  setomapval POOL"},
		{[]string{"getomapval", "data", "obj"}, "getomapval takes 3 argument(s), got 2", "  getomapval POOL"},
		{[]string{"listomapkeys", "data"}, "listomapkeys takes 2 argument(s), got 1", "  listomapkeys POOL"},
		{[]string{"listomapvals", "data", "o", "x"}, "listomapvals takes 2 argument(s), got 3", "  listomapvals POOL"},
		{[]string{"rmomapkey", "data", "obj"}, "rmomapkey takes 3 argument(s), got 2", "  rmomapkey POOL"},
		{[]string{"df", "now"}, "df takes 0 argument(s), got 1", "  df "},
		{[]string{"ls", "data", "-o", "json"}, "-o is a global flag: put it before the command", "  ls POOL"},
		{[]string{"bench", "data", "10"}, "bench takes 3 argument(s), got 2", "  bench POOL SECONDS"},
		{[]string{"bench", "data", "10", "frob"}, `mode "frob": use write, seq or rand`, "  bench POOL"},
		{[]string{"bench", "data", "ten", "write"}, `SECONDS "ten": want how long to run`, "  bench POOL"},
		{[]string{"bench", "data", "0", "write"}, `SECONDS "0"`, "  bench POOL"},
		{[]string{"bench", "data", "-1", "write"}, `SECONDS "-1"`, "  bench POOL"},
		{[]string{"bench", "data", "NaN", "write"}, `SECONDS "NaN"`, "  bench POOL"},
		{[]string{"bench", "data", "10", "write", "-b", "4X"}, `-b "4X": want a size such as 4096, 64K, 4M or 1G`, "  bench POOL"},
		{[]string{"bench", "data", "10", "write", "-b", "0"}, `-b "0": want a size above 0`, "  bench POOL"},
		{[]string{"bench", "data", "10", "write", "-b"}, "-b needs a value", "  bench POOL"},
		{[]string{"bench", "data", "10", "write", "-t", "0"}, `-t "0": want how many operations`, "  bench POOL"},
		{[]string{"bench", "data", "10", "write", "-t", "many"}, `-t "many"`, "  bench POOL"},
		{[]string{"bench", "data", "10", "seq", "-b", "4K"}, "-b sets the size of a write run", "  bench POOL"},
		{[]string{"bench", "data", "10", "rand", "--no-cleanup"}, "--no-cleanup belongs to write", "  bench POOL"},
		{[]string{"bench", "data", "10", "write", "--run-name="}, "--run-name needs a name", "  bench POOL"},
	} {
		var o, e bytes.Buffer
		code := runEnv(tc.args, &o, &e, func(string) string { return "" })
		if code != 2 || o.Len() != 0 || !strings.Contains(e.String(), tc.want) || !strings.Contains(e.String(), tc.line) {
			t.Errorf("%q: exit %d, stderr:\n%s\nwant exit 2, %q and the usage line %q", tc.args, code, e.String(), tc.want, tc.line)
		}
	}

	// A command's usage holds its own line, not those of the commands it
	// is a prefix of.
	for _, tc := range []struct {
		args    []string
		without string
	}{
		{[]string{"stat"}, "  status "},
		{[]string{"get"}, "  getxattr "},
		{[]string{"rm"}, "  rmomapkey "},
	} {
		var o, e bytes.Buffer
		runEnv(tc.args, &o, &e, func(string) string { return "" })
		if strings.Contains(e.String(), tc.without) || !strings.Contains(e.String(), "(radosctl help lists every command") {
			t.Errorf("%q: usage %q, want no %q", tc.args, e.String(), tc.without)
		}
	}

	// Every object command and bench is in the usage text.
	var o, e bytes.Buffer
	runEnv([]string{"help"}, &o, &e, func(string) string { return "" })
	for _, cmd := range []string{"put", "get", "rm", "ls", "stat", "setxattr", "getxattr", "listxattr", "rmxattr",
		"setomapval", "getomapval", "listomapkeys", "listomapvals", "rmomapkey", "df", "bench"} {
		if !strings.Contains(o.String(), "\n  "+cmd+" ") {
			t.Errorf("usage lacks %s", cmd)
		}
	}
	if !strings.Contains(o.String(), "\nobjects:\n") || !strings.Contains(o.String(), "\nbench:\n") {
		t.Error("usage lacks the objects or bench section")
	}
}

// TestObjectNoCluster: without a config, object commands say how to
// give one; put of a missing file says so before connecting.
func TestObjectNoCluster(t *testing.T) {
	var o, e bytes.Buffer
	code := runEnv([]string{"ls", "data"}, &o, &e, func(string) string { return "" })
	if code != 1 || !strings.Contains(e.String(), "no cluster config: pass --conf FILE") {
		t.Errorf("ls without config: exit %d, %q", code, e.String())
	}
	o.Reset()
	e.Reset()
	missing := filepath.Join(t.TempDir(), "nope")
	code = runEnv([]string{"put", "data", "obj", missing}, &o, &e, func(string) string { return "" })
	if code != 1 || !strings.Contains(e.String(), "no such file") {
		t.Errorf("put of a missing file: exit %d, %q", code, e.String())
	}
	o.Reset()
	e.Reset()
	code = runEnv([]string{"put", "data", "obj", t.TempDir()}, &o, &e, func(string) string { return "" })
	if code != 1 || !strings.Contains(e.String(), "is a directory") {
		t.Errorf("put of a directory: exit %d, %q", code, e.String())
	}
	o.Reset()
	e.Reset()
	code = runEnv([]string{"get", "data", "obj", t.TempDir()}, &o, &e, func(string) string { return "" })
	if code != 1 || !strings.Contains(e.String(), "is a directory: give the file to write") {
		t.Errorf("get into a directory: exit %d, %q", code, e.String())
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	// A failed fill leaves nothing behind.
	_, err := writeFileAtomic(path, func(w io.Writer) (uint64, error) {
		w.Write([]byte("partial"))
		return 7, errors.New("boom")
	})
	if err == nil || err.Error() != "boom" {
		t.Fatalf("err %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left %v", ents)
	}
	// A good one makes the file; a failed one later keeps the old file.
	if n, err := writeFileAtomic(path, func(w io.Writer) (uint64, error) {
		_, err := w.Write([]byte("hello"))
		return 5, err
	}); n != 5 || err != nil {
		t.Fatal(n, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	writeFileAtomic(path, func(w io.Writer) (uint64, error) { return 0, errors.New("boom") })
	if b, _ := os.ReadFile(path); string(b) != "hello" {
		t.Fatalf("file holds %q after a failed rewrite", b)
	}
	// A rewrite keeps the file's mode.
	if _, err := writeFileAtomic(path, func(w io.Writer) (uint64, error) { w.Write([]byte("bye")); return 3, nil }); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if b, _ := os.ReadFile(path); err != nil || string(b) != "bye" || fi.Mode().Perm() != 0o600 {
		t.Fatalf("after rewrite: %q, %v, %v", b, fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("directory holds %v", ents)
	}
}

func TestReadHead(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 10)
	for _, tc := range []struct {
		limit uint64
		want  uint64
	}{{1000, 100}, {100, 100}, {99, 99}, {1, 1}} {
		pieces, total, err := readHead(iotest.OneByteReader(bytes.NewReader(data)), tc.limit)
		if err != nil || total != tc.want || !bytes.Equal(bytes.Join(pieces, nil), data[:tc.want]) {
			t.Errorf("limit %d: %d bytes, %v", tc.limit, total, err)
		}
	}
	pieces, total, err := readHead(strings.NewReader(""), 10)
	if err != nil || total != 0 || len(pieces) != 0 {
		t.Errorf("empty: %d pieces, %d bytes, %v", len(pieces), total, err)
	}
	if _, _, err := readHead(iotest.ErrReader(errors.New("bad disk")), 10); err == nil || err.Error() != "bad disk" {
		t.Errorf("read error: %v", err)
	}
	// What readHead leaves is still in the reader.
	r := strings.NewReader("abcdef")
	pieces, _, _ = readHead(r, 4)
	rest, _ := io.ReadAll(r)
	if string(bytes.Join(pieces, nil)) != "abcd" || string(rest) != "ef" {
		t.Errorf("head %q rest %q", pieces, rest)
	}
}

func TestHexValue(t *testing.T) {
	want := "value (5 bytes) :\n00000000  68 65 6c 6c 6f                                    |hello|\n00000005\n"
	if got := hexValue([]byte("hello")); got != want {
		t.Errorf("hexValue = %q, want %q", got, want)
	}
	if got := hexValue(nil); got != "value (0 bytes) :\n00000000\n" {
		t.Errorf("empty: %q", got)
	}
}

// runIn runs radosctl against the test cluster with stdin.
func (a *admin) runIn(stdin io.Reader, args ...string) (stdout, stderr string, code int) {
	a.t.Helper()
	var o, e bytes.Buffer
	code = runStdin(append([]string{"--conf", a.conf, "--timeout", "20s"}, args...), stdin, &o, &e, func(string) string { return "" })
	return o.String(), e.String(), code
}

func randomFile(t *testing.T, path string, size int) []byte {
	t.Helper()
	b := randomBytes(size)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func randomBytes(size int) []byte {
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(size))
	b := make([]byte, size)
	rand.NewChaCha8(seed).Read(b)
	return b
}

func lsNames(a *admin) []string {
	a.t.Helper()
	var names []string
	a.json(&names, "ls", "data")
	slices.Sort(names)
	return names
}

// lsAll lists the pool with the pieces of striped objects.
func lsAll(a *admin) []string {
	a.t.Helper()
	var names []string
	a.json(&names, "ls", "data", "--all")
	slices.Sort(names)
	return names
}

// piecesOf lists the pieces of the striped object name, in order; they
// must be of one instance.
func piecesOf(a *admin, name string) []string {
	a.t.Helper()
	var pieces []string
	insts := map[string]bool{}
	for _, oid := range lsAll(a) {
		if h, inst, _, ok := rados.ParsePieceName(oid); ok && h == name {
			pieces = append(pieces, oid)
			insts[inst] = true
		}
	}
	if len(insts) > 1 {
		a.t.Errorf("pieces of %s of %d instances: %q", name, len(insts), pieces)
	}
	return pieces
}

// TestObjects runs every object command and bench against a cluster of
// three OSDs. The subtests run in order and share the cluster.
func TestObjects(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{OSDs: 3, Pool: "data", PGNum: 16})
	a := &admin{t: t, c: c, conf: c.ConfPath}
	dir := t.TempDir()
	// Small pieces, so that a few MiB take several reads and writes.
	defer func(p uint64, o int) { ioPiece, omapPage = p, o }(ioPiece, omapPage)
	ioPiece, omapPage = 1<<20, 2

	t.Run("put get", func(t *testing.T) {
		a.t = t
		src, dst := filepath.Join(dir, "in"), filepath.Join(dir, "out")
		want := randomFile(t, src, 3<<20+12345)
		if out := a.ok("put", "data", "plain", src); out != "" {
			t.Errorf("put printed %q", out)
		}
		if out := a.ok("get", "data", "plain", dst); out != "" {
			t.Errorf("get printed %q", out)
		}
		if got, _ := os.ReadFile(dst); !bytes.Equal(got, want) {
			t.Fatalf("get returned %d bytes, not the %d put", len(got), len(want))
		}
		var tj transferJSON
		a.json(&tj, "put", "data", "plain", src)
		if tj != (transferJSON{Pool: "data", Object: "plain", Bytes: uint64(len(want))}) {
			t.Errorf("put -o json: %+v", tj)
		}
		a.json(&tj, "get", "data", "plain", dst)
		if tj != (transferJSON{Pool: "data", Object: "plain", Bytes: uint64(len(want))}) {
			t.Errorf("get -o json: %+v", tj)
		}
		// Rewriting with less data leaves only the new data.
		randomFile(t, src, 1000)
		a.ok("put", "data", "plain", src)
		a.ok("get", "data", "plain", dst)
		if got, _ := os.ReadFile(dst); len(got) != 1000 {
			t.Fatalf("after a smaller put, get returned %d bytes", len(got))
		}
		// An empty file makes an empty object.
		empty := filepath.Join(dir, "empty")
		os.WriteFile(empty, nil, 0o644)
		a.ok("put", "data", "empty", empty)
		a.ok("get", "data", "empty", dst)
		if got, err := os.ReadFile(dst); err != nil || len(got) != 0 {
			t.Fatalf("empty object: %d bytes, %v", len(got), err)
		}
	})

	t.Run("striped", func(t *testing.T) {
		a.t = t
		src, dst := filepath.Join(dir, "big"), filepath.Join(dir, "big.out")
		want := randomFile(t, src, 3<<20+777)
		var tj transferJSON
		a.json(&tj, "put", "data", "big", src, "--max-object-size", "1M", "--object-size", "256K")
		if tj != (transferJSON{Pool: "data", Object: "big", Bytes: uint64(len(want)), Striped: true}) {
			t.Errorf("put -o json: %+v", tj)
		}
		// ls shows the object; ls --all its pieces too: 13 of 256 KiB,
		// of one instance.
		if names := lsNames(a); slices.Contains(names, "big.00000000") || !slices.Contains(names, "big") {
			t.Errorf("ls shows %q, want big and no piece", names)
		}
		if pieces := piecesOf(a, "big"); len(pieces) != 13 || !strings.HasSuffix(pieces[12], ".0000000c") {
			t.Errorf("ls --all shows the pieces %q, want 13 of one instance", pieces)
		}
		a.json(&tj, "get", "data", "big", dst)
		if got, _ := os.ReadFile(dst); !bytes.Equal(got, want) || tj != (transferJSON{Pool: "data", Object: "big", Bytes: uint64(len(want)), Striped: true}) {
			t.Fatalf("get returned %d bytes (%+v), want the %d put", len(got), tj, len(want))
		}
		if out := a.ok("stat", "data", "big"); out != fmt.Sprintf("data/big striped, size %d\n", len(want)) {
			t.Errorf("stat: %q", out)
		}
		var sj statJSON
		a.json(&sj, "stat", "data", "big")
		if sj != (statJSON{Pool: "data", Object: "big", Size: uint64(len(want)), Striped: true}) {
			t.Errorf("stat -o json: %+v", sj)
		}

		// A plain put of the same name replaces the striped object and
		// the other way round.
		small := filepath.Join(dir, "small")
		randomFile(t, small, 100)
		a.ok("put", "data", "big", small)
		if names, pieces := lsNames(a), piecesOf(a, "big"); !slices.Contains(names, "big") || len(pieces) != 0 {
			t.Errorf("after a plain put over a striped object: %q, pieces %q", names, pieces)
		}
		if out := a.ok("stat", "data", "big"); !regexp.MustCompile(`^data/big mtime \S+, size 100, version \d+\n$`).MatchString(out) {
			t.Errorf("stat of the plain object: %q", out)
		}
		a.ok("put", "data", "big", src, "--max-object-size", "1M", "--object-size", "256K")
		if names, pieces := lsNames(a), piecesOf(a, "big"); !slices.Contains(names, "big") || len(pieces) != 13 {
			t.Errorf("after a striped put over a plain object: %q, pieces %q", names, pieces)
		}
		a.ok("get", "data", "big", dst)
		if got, _ := os.ReadFile(dst); !bytes.Equal(got, want) {
			t.Fatalf("get after replacing returned %d bytes", len(got))
		}

		var rj struct {
			Pool    string   `json:"pool"`
			Removed []string `json:"removed"`
		}
		a.json(&rj, "rm", "data", "big")
		if rj.Pool != "data" || !slices.Equal(rj.Removed, []string{"big"}) {
			t.Errorf("rm -o json: %+v", rj)
		}
		for _, n := range lsAll(a) {
			if strings.HasPrefix(n, "big") {
				t.Errorf("rm left %s", n)
			}
		}
	})

	t.Run("stdin stdout", func(t *testing.T) {
		a.t = t
		for _, tc := range []struct {
			size    int
			striped bool
		}{{2<<20 + 3, false}, {3<<20 + 5, true}, {3 << 20, false}, {3<<20 + 1, true}, {0, false}} {
			want := randomBytes(tc.size)
			out, errOut, code := a.runIn(bytes.NewReader(want), "-o", "json", "put", "data", "piped", "-", "--max-object-size", "3M", "--object-size", "512K")
			var tj transferJSON
			if code != 0 || json.Unmarshal([]byte(out), &tj) != nil {
				t.Fatalf("put - of %d bytes: exit %d, %s %s", tc.size, code, out, errOut)
			}
			if tj != (transferJSON{Pool: "data", Object: "piped", Bytes: uint64(tc.size), Striped: tc.striped}) {
				t.Errorf("put - of %d bytes: %+v", tc.size, tj)
			}
			// -o json does not mix into the data on stdout.
			out, errOut, code = a.run("-o", "json", "get", "data", "piped", "-")
			if code != 0 || out != string(want) {
				t.Fatalf("get - of %d bytes: exit %d, %d bytes, %s", tc.size, code, len(out), errOut)
			}
		}
		a.ok("rm", "data", "piped")
	})

	t.Run("ls stat rm", func(t *testing.T) {
		a.t = t
		if names := lsNames(a); !slices.Equal(names, []string{"empty", "plain"}) {
			t.Errorf("ls -o json: %q", names)
		}
		if out := a.ok("ls", "data"); !slices.Equal(slices.Sorted(slices.Values(strings.Fields(out))), []string{"empty", "plain"}) {
			t.Errorf("ls: %q", out)
		}
		out := a.ok("stat", "data", "plain")
		if !regexp.MustCompile(`^data/plain mtime \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+0000, size 1000, version \d+\n$`).MatchString(out) {
			t.Errorf("stat: %q", out)
		}
		var sj statJSON
		a.json(&sj, "stat", "data", "plain")
		mt, err := time.Parse(time.RFC3339Nano, sj.MTime)
		if sj.Pool != "data" || sj.Object != "plain" || sj.Size != 1000 || sj.Version == 0 || sj.Striped || err != nil || time.Since(mt) > time.Hour {
			t.Errorf("stat -o json: %+v (%v)", sj, err)
		}
		a.ok("put", "data", "gone1", filepath.Join(dir, "empty"))
		a.ok("put", "data", "gone2", filepath.Join(dir, "empty"))
		if out := a.ok("rm", "data", "gone1", "gone2"); out != "" {
			t.Errorf("rm printed %q", out)
		}
		if names := lsNames(a); !slices.Equal(names, []string{"empty", "plain"}) {
			t.Errorf("after rm: %q", names)
		}
	})

	t.Run("xattrs", func(t *testing.T) {
		a.t = t
		if out := a.ok("setxattr", "data", "plain", "user.b", "hello world"); out != "" {
			t.Errorf("setxattr printed %q", out)
		}
		var ej entryJSON
		a.json(&ej, "setxattr", "data", "plain", "user.a", "\xff\x00bin")
		if ej.Pool != "data" || ej.Object != "plain" || ej.Name == nil || *ej.Name != "user.a" || ej.Value != nil {
			t.Errorf("setxattr -o json: %+v", ej)
		}
		if out := a.ok("getxattr", "data", "plain", "user.b"); out != "hello world" {
			t.Errorf("getxattr: %q", out)
		}
		if out := a.ok("getxattr", "data", "plain", "user.a"); out != "\xff\x00bin" {
			t.Errorf("getxattr of a binary value: %q", out)
		}
		var m map[string]any
		a.json(&m, "getxattr", "data", "plain", "user.b")
		if !maps.Equal(m, map[string]any{"pool": "data", "object": "plain", "name": "user.b", "value": "hello world"}) {
			t.Errorf("getxattr -o json: %v", m)
		}
		m = nil
		a.json(&m, "getxattr", "data", "plain", "user.a")
		if m["value_base64"] != "/wBiaW4=" || m["value"] != nil {
			t.Errorf("getxattr -o json of a binary value: %v", m)
		}
		if out := a.ok("listxattr", "data", "plain"); out != "user.a\nuser.b\n" {
			t.Errorf("listxattr: %q", out)
		}
		var names []string
		a.json(&names, "listxattr", "data", "plain")
		if !slices.Equal(names, []string{"user.a", "user.b"}) {
			t.Errorf("listxattr -o json: %q", names)
		}
		if out := a.ok("rmxattr", "data", "plain", "user.a"); out != "" {
			t.Errorf("rmxattr printed %q", out)
		}
		a.json(&ej, "rmxattr", "data", "plain", "user.b")
		if *ej.Name != "user.b" {
			t.Errorf("rmxattr -o json: %+v", ej)
		}
		a.json(&names, "listxattr", "data", "plain")
		if out := a.ok("listxattr", "data", "plain"); out != "" || names == nil || len(names) != 0 {
			t.Errorf("listxattr after rmxattr: %q, %q", out, names)
		}
		a.fails(1, "object plain in pool data has no xattr \"user.a\"", "getxattr", "data", "plain", "user.a")
		a.fails(1, "object nothing not found in pool data", "getxattr", "data", "nothing", "user.a")
		a.fails(1, "object nothing not found in pool data", "listxattr", "data", "nothing")
	})

	t.Run("omap", func(t *testing.T) {
		a.t = t
		// omapPage is 2: five keys take three pages.
		for _, k := range []string{"k3", "k1", "k5", "k2"} {
			if out := a.ok("setomapval", "data", "plain", k, "value of "+k); out != "" {
				t.Errorf("setomapval printed %q", out)
			}
		}
		var ej entryJSON
		a.json(&ej, "setomapval", "data", "plain", "k4", "\x01\x02")
		if ej.Key == nil || *ej.Key != "k4" || ej.Object != "plain" {
			t.Errorf("setomapval -o json: %+v", ej)
		}
		if out := a.ok("getomapval", "data", "plain", "k1"); out != hexValue([]byte("value of k1")) {
			t.Errorf("getomapval: %q", out)
		}
		var m map[string]any
		a.json(&m, "getomapval", "data", "plain", "k1")
		if !maps.Equal(m, map[string]any{"pool": "data", "object": "plain", "key": "k1", "value": "value of k1"}) {
			t.Errorf("getomapval -o json: %v", m)
		}
		if out := a.ok("listomapkeys", "data", "plain"); out != "k1\nk2\nk3\nk4\nk5\n" {
			t.Errorf("listomapkeys: %q", out)
		}
		var keys []string
		a.json(&keys, "listomapkeys", "data", "plain")
		if !slices.Equal(keys, []string{"k1", "k2", "k3", "k4", "k5"}) {
			t.Errorf("listomapkeys -o json: %q", keys)
		}
		want := "k1\n" + hexValue([]byte("value of k1")) + "\n" + "k2\n" + hexValue([]byte("value of k2")) + "\n" +
			"k3\n" + hexValue([]byte("value of k3")) + "\n" + "k4\n" + hexValue([]byte("\x01\x02")) + "\n" +
			"k5\n" + hexValue([]byte("value of k5")) + "\n"
		if out := a.ok("listomapvals", "data", "plain"); out != want {
			t.Errorf("listomapvals:\n%s\nwant\n%s", out, want)
		}
		var vals []map[string]string
		a.json(&vals, "listomapvals", "data", "plain")
		if len(vals) != 5 || !maps.Equal(vals[0], map[string]string{"key": "k1", "value": "value of k1"}) ||
			!maps.Equal(vals[3], map[string]string{"key": "k4", "value": "\x01\x02"}) || vals[4]["key"] != "k5" {
			t.Errorf("listomapvals -o json: %v", vals)
		}
		if out := a.ok("rmomapkey", "data", "plain", "k2"); out != "" {
			t.Errorf("rmomapkey printed %q", out)
		}
		a.json(&ej, "rmomapkey", "data", "plain", "k4")
		if *ej.Key != "k4" {
			t.Errorf("rmomapkey -o json: %+v", ej)
		}
		if out := a.ok("listomapkeys", "data", "plain"); out != "k1\nk3\nk5\n" {
			t.Errorf("listomapkeys after rmomapkey: %q", out)
		}
		a.fails(1, `object plain in pool data has no omap key "k2"`, "getomapval", "data", "plain", "k2")
		a.fails(1, "object nothing not found in pool data", "getomapval", "data", "nothing", "k1")
		a.fails(1, "object nothing not found in pool data", "listomapkeys", "data", "nothing")
		a.json(&keys, "listomapkeys", "data", "empty")
		if keys == nil || len(keys) != 0 {
			t.Errorf("listomapkeys of an object without omap: %q", keys)
		}
	})

	t.Run("df", func(t *testing.T) {
		a.t = t
		var d dfJSON
		a.json(&d, "df")
		if len(d.Pools) != 1 || d.Pools[0].Name != "data" || d.Pools[0].ID < 0 || d.Pools[0].Objects != 2 || d.Pools[0].Used < 1000 {
			t.Errorf("df -o json pools: %+v", d.Pools)
		}
		if len(d.OSDs) != 3 || d.Total.Avail == 0 {
			t.Errorf("df -o json osds: %+v, total %+v", d.OSDs, d.Total)
		}
		var used uint64
		for i, o := range d.OSDs {
			used += o.Used
			if o.ID != int32(i) || !o.Up || o.Avail == 0 || o.PercentUsed < 0 || o.PercentUsed > 100 {
				t.Errorf("osd %d: %+v", i, o)
			}
		}
		if used != d.Total.Used {
			t.Errorf("total used %d, OSDs add up to %d", d.Total.Used, used)
		}
		out := a.ok("df")
		for _, re := range []string{`(?m)^POOLS:\nNAME\s+ID\s+OBJECTS\s+USED\ndata\s+\d+\s+2\s+\d`, `(?m)^OSDS:\n\s*ID\s+UP\s+USED\s+AVAIL\s+%USE\n`,
			`(?m)^\s*osd\.0\s+up\s+\d`, `(?m)^\s*osd\.2\s+up\s+`, `(?m)^TOTAL\s+\d+(\.\d)? [KMGT]?i?B\s+\d`} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("df lacks %s:\n%s", re, out)
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		a.t = t
		src := filepath.Join(dir, "in")
		for _, args := range [][]string{
			{"put", "nopool", "o", src}, {"get", "nopool", "o", "-"}, {"ls", "nopool"}, {"stat", "nopool", "o"},
			{"rm", "nopool", "o"}, {"setxattr", "nopool", "o", "n", "v"}, {"listomapkeys", "nopool", "o"}, {"bench", "nopool", "1", "write"},
		} {
			a.fails(1, "pool 'nopool' does not exist (pools: data); radosctl pool create nopool PG_NUM makes it", args...)
		}
		out := filepath.Join(dir, "never")
		a.fails(1, "object missing not found in pool data (radosctl ls data lists its objects)", "get", "data", "missing", out)
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a failed get left %s: %v", out, err)
		}
		if ents, _ := os.ReadDir(dir); slices.ContainsFunc(ents, func(e os.DirEntry) bool { return strings.HasPrefix(e.Name(), ".") }) {
			t.Errorf("a failed get left a temporary file: %v", ents)
		}
		a.fails(1, "object missing not found in pool data", "stat", "data", "missing")
		a.fails(1, "object missing not found in pool data", "rm", "data", "missing")
		// rm goes on past a missing object and reports it.
		a.ok("put", "data", "x1", src)
		a.fails(1, "object missing not found in pool data", "rm", "data", "missing", "x1")
		if names := lsNames(a); slices.Contains(names, "x1") {
			t.Errorf("rm stopped at the missing object: %q", names)
		}
		a.fails(1, "no such file or directory", "get", "data", "plain", filepath.Join(dir, "nodir", "f"))
	})

	t.Run("bad names", func(t *testing.T) { a.t = t; badNames(t, a, dir) })
	t.Run("long names", func(t *testing.T) { a.t = t; longNames(t, a, dir) })
	t.Run("racing puts", func(t *testing.T) { a.t = t; racingPuts(t, a, dir) })
	t.Run("orphans", func(t *testing.T) { a.t = t; orphans(t, a, c) })

	t.Run("bench", func(t *testing.T) { a.t = t; benchOnCluster(t, a) })
}

// longNames: put, stat, get and rm of names near the limit (an object
// name has at most 2048 bytes; a striped object's at most 2013, as its
// pieces' names add to it). Nothing is changed by a command that fails,
// and messages name the object asked for.
func longNames(t *testing.T, a *admin, dir string) {
	small, big, dst := filepath.Join(dir, "names-small"), filepath.Join(dir, "names-big"), filepath.Join(dir, "names-out")
	want := randomFile(t, small, 1000)
	randomFile(t, big, 3<<20)
	before := lsAll(a)
	for _, n := range []int{2013, 2040, 2048} {
		name := strings.Repeat("n", n-4) + fmt.Sprintf("%04d", n)
		if out := a.ok("put", "data", name, small); out != "" {
			t.Errorf("put of a %d-byte name printed %q", n, out)
		}
		if out := a.ok("stat", "data", name); !strings.HasPrefix(out, "data/"+name+" mtime ") {
			t.Errorf("stat of a %d-byte name: %q", n, out)
		}
		a.ok("get", "data", name, dst)
		if got, _ := os.ReadFile(dst); !bytes.Equal(got, want) {
			t.Errorf("get of a %d-byte name: %d bytes", n, len(got))
		}
		if n == 2013 {
			// The longest name a striped object may have.
			a.ok("put", "data", name, big, "--max-object-size", "1M")
			a.ok("get", "data", name, dst)
			if got, _ := os.ReadFile(dst); len(got) != 3<<20 {
				t.Errorf("get of a striped object with a %d-byte name: %d bytes", n, len(got))
			}
			if pieces := piecesOf(a, name); len(pieces) != 1 {
				t.Errorf("%d pieces", len(pieces))
			}
		} else {
			// A striped put is refused before it writes anything.
			a.fails(1, fmt.Sprintf("the name has %d bytes, more than the 2013 a striped object's may have", n),
				"put", "data", name, big, "--max-object-size", "1M")
			a.ok("get", "data", name, dst)
			if got, _ := os.ReadFile(dst); !bytes.Equal(got, want) {
				t.Errorf("after a refused striped put, get of a %d-byte name: %d bytes", n, len(got))
			}
		}
		if out := a.ok("rm", "data", name); out != "" {
			t.Errorf("rm of a %d-byte name printed %q", n, out)
		}
		for _, verb := range []string{"stat", "rm"} {
			a.fails(1, fmt.Sprintf("object %s not found in pool data", name), verb, "data", name)
		}
		a.fails(1, fmt.Sprintf("object %s not found in pool data", name), "get", "data", name, dst)
	}
	long := strings.Repeat("l", 2049)
	for _, args := range [][]string{{"put", "data", long, small}, {"stat", "data", long}, {"get", "data", long, dst}, {"rm", "data", long}} {
		a.fails(1, "has 2049 bytes, more than the 2048 an object name may have", args...)
	}
	if after := lsAll(a); !slices.Equal(after, before) {
		t.Errorf("the pool held %q, now %q", before, after)
	}
}

// badNames: names that are not UTF-8 (proto strings must be) are refused
// by the client, with a message saying so, not gRPC's.
func badNames(t *testing.T, a *admin, dir string) {
	small, big, dst := filepath.Join(dir, "names-small"), filepath.Join(dir, "names-big"), filepath.Join(dir, "names-out")
	randomFile(t, small, 1000)
	randomFile(t, big, 3<<20)
	before := lsAll(a)
	const bad = "caf\xe9"
	for _, args := range [][]string{
		{"put", "data", bad, small}, {"put", "data", bad, big, "--max-object-size", "1M"}, {"stat", "data", bad},
		{"get", "data", bad, dst}, {"rm", "data", bad}, {"setxattr", "data", bad, "n", "v"}, {"listomapkeys", "data", bad},
	} {
		_, errOut, code := a.run(args...)
		if code != 1 || !strings.Contains(errOut, `data/"caf\xe9": the object name is not valid UTF-8 (object names are 1..2048 bytes of UTF-8 without NUL)`) ||
			strings.Contains(errOut, "grpc") || strings.Contains(errOut, bad) {
			t.Errorf("radosctl %q: exit %d, %q", args, code, errOut)
		}
	}
	a.ok("put", "data", "names-x", small)
	a.fails(1, `step 0 (setxattr): the xattr name "user.\xff" is not valid UTF-8`, "setxattr", "data", "names-x", "user.\xff", "v")
	a.fails(1, `step 0 (omap_set): the omap key "k\xff" is not valid UTF-8`, "setomapval", "data", "names-x", "k\xff", "v")
	a.fails(1, `pool_create.name "p\xff" is not valid UTF-8`, "pool", "create", "p\xff", "8")
	a.ok("rm", "data", "names-x")
	if after := lsAll(a); !slices.Equal(after, before) {
		t.Errorf("the pool held %q, now %q", before, after)
	}
}

// racingPuts: puts of one name at once, striped and plain, leave one of
// them, whole, and no piece of the others. A plain put of more than one
// write (ioPiece is 1 MiB here) that another put overtakes stops with a
// message saying so.
func racingPuts(t *testing.T, a *admin, dir string) {
	before := lsAll(a)
	for round := range 3 {
		type put struct {
			data    []byte
			args    []string
			striped bool
			failed  bool
		}
		var puts []*put
		for i, size := range []int{700<<10 + round, 600<<10 + 7*round, 100<<10 + round, 1500<<10 + round} {
			f := filepath.Join(dir, fmt.Sprintf("race-%d", i))
			maxSize := "256K"
			if i == 3 {
				maxSize = "2M"
			}
			puts = append(puts, &put{data: randomFile(t, f, size), striped: i < 2,
				args: []string{"put", "data", "raced", f, "--max-object-size", maxSize, "--object-size", "64K"}})
		}
		var wg sync.WaitGroup
		for i, p := range puts {
			wg.Go(func() {
				_, errOut, code := a.run(p.args...)
				if i == 3 && code == 1 && strings.Contains(errOut, "another put, or another change, of the object came after the first 1048576 bytes of this one: the object is that one's") {
					p.failed = true
					return
				}
				if code != 0 {
					t.Errorf("radosctl %q: exit %d, %s", p.args, code, errOut)
				}
			})
		}
		wg.Wait()
		dst := filepath.Join(dir, "race-out")
		var tj transferJSON
		a.json(&tj, "get", "data", "raced", dst)
		got, _ := os.ReadFile(dst)
		winner := slices.IndexFunc(puts, func(p *put) bool { return bytes.Equal(p.data, got) && !p.failed })
		if winner < 0 {
			t.Fatalf("round %d: get returned %d bytes that are no put's whole file", round, len(got))
		}
		pieces := piecesOf(a, "raced")
		if want := (len(got) + 64<<10 - 1) / (64 << 10); tj.Striped != puts[winner].striped || !tj.Striped && len(pieces) != 0 || tj.Striped && len(pieces) != want {
			t.Errorf("round %d: put %d won (%+v), %d pieces left", round, winner, tj, len(pieces))
		}
		t.Logf("round %d: put %d won; the plain put of two writes was overtaken: %v", round, winner, puts[3].failed)
	}
	a.ok("rm", "data", "raced")
	if after := lsAll(a); !slices.Equal(after, before) {
		t.Errorf("the pool held %q, now %q", before, after)
	}
}

// orphans: pieces that no head names are listed (once old enough) and
// removed by orphans --rm; a striped object's own are not.
func orphans(t *testing.T, a *admin, c *testcluster.Cluster) {
	src := filepath.Join(t.TempDir(), "f")
	randomFile(t, src, 300<<10)
	a.ok("put", "data", "kept", src, "--max-object-size", "100K", "--object-size", "64K")
	kept := piecesOf(a, "kept")
	// Pieces of an instance that no head names: a put that stopped.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := rados.Connect(ctx, rados.Options{ConfPath: c.ConfPath})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ioc, err := conn.OpenPool(ctx, "data")
	if err != nil {
		t.Fatal(err)
	}
	stray := []string{"kept.~00000000000000aa.00000000", "kept.~00000000000000aa.00000001", "gone.~00000000000000bb.00000000"}
	for _, oid := range stray {
		if err := ioc.WriteFull(ctx, oid, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if out := a.ok("orphans", "data"); out != "" {
		t.Errorf("orphans found pieces written just now: %q", out)
	}
	var oj orphansJSON
	a.json(&oj, "orphans", "data", "--min-age", "0s")
	if slices.Sort(oj.Orphans); !slices.Equal(oj.Orphans, slices.Sorted(slices.Values(stray))) || oj.Removed {
		t.Errorf("orphans -o json: %+v, want %q", oj, stray)
	}
	if out := a.ok("orphans", "data", "--min-age=0s", "--rm"); len(strings.Fields(out)) != 3 {
		t.Errorf("orphans --rm printed %q", out)
	}
	if out := a.ok("orphans", "data", "--min-age", "0s"); out != "" {
		t.Errorf("orphans after --rm: %q", out)
	}
	if got := piecesOf(a, "kept"); !slices.Equal(got, kept) {
		t.Errorf("the object's own pieces: %q, were %q", got, kept)
	}
	a.fails(2, `--min-age "soon": want a duration`, "orphans", "data", "--min-age", "soon")
	a.ok("rm", "data", "kept")
}

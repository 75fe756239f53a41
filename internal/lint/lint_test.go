package lint

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/loligo/loligo"

// allowed lists, for every package of the module, the packages of the
// module it may import (DESIGN.md section 2). A "/*" suffix allows a
// whole subtree. A package missing from this table fails the test: add it
// here, with the DESIGN.md row it follows, when you create it.
var allowed = map[string][]string{
	"crush":          {},
	"clustermap":     {"crush", "proto/loligopb"},
	"proto/loligopb": {},
	"cmd/radosctl":   {"rados", "clustermap", "crush", "proto/loligopb"},
	"internal/lint":  {},
	// Small named internal packages (DESIGN.md section 2).
	"internal/clock":       {},
	"internal/config":      {},
	"internal/pki":         {},
	"internal/transport":   {"internal/pki"},
	"internal/testcluster": {"mon", "osd", "osd/*", "internal/*", "clustermap", "proto/loligopb"},
	"mon":                  {"clustermap", "crush", "proto/loligopb", "internal/*"},
	"osd":                  {"osd/*", "clustermap", "proto/loligopb", "internal/*"},
	"osd/pg":               {"clustermap", "proto/loligopb"},
	"osd/store":            {"proto/loligopb"},
	"osd/ec":               {},
	"rados":                {"clustermap", "crush", "proto/loligopb", "internal/*"},
	"mds":                  {"rados", "clustermap", "proto/loligopb"},
	"client":               {"rados", "proto/loligopb"},
	"fuse":                 {"client"},
	"gateway/s3":           {"rados", "proto/loligopb"},
	"cmd/loligo":           {"*"},
}

// exclusive names third-party module prefixes that only one package (and
// its tests) may import.
var exclusive = map[string]string{
	"go.etcd.io/":                   "mon",
	"github.com/cockroachdb/pebble": "osd/store",
}

// stdlibOnly packages may import nothing outside the standard library.
var stdlibOnly = map[string]bool{"crush": true, "osd/ec": false}

type pkgInfo struct {
	imports     map[string]bool // non-test imports
	testImports map[string]bool
	hasDoc      bool
	docText     string
	goFiles     int
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("repository root not found at %s", dir)
	}
	return dir
}

// scan parses the imports of every Go file of the module.
func scan(t *testing.T) map[string]*pkgInfo {
	t.Helper()
	root := repoRoot(t)
	pkgs := map[string]*pkgInfo{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" && strings.Contains(path, string(filepath.Separator)+"gen_") {
			return nil // go:generate programs
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		p := pkgs[rel]
		if p == nil {
			p = &pkgInfo{imports: map[string]bool{}, testImports: map[string]bool{}}
			pkgs[rel] = p
		}
		isTest := strings.HasSuffix(path, "_test.go")
		if !isTest {
			p.goFiles++
		}
		if filepath.Base(path) == "doc.go" && f.Doc != nil {
			p.hasDoc = true
			p.docText = f.Doc.Text()
		}
		for _, im := range f.Imports {
			ip := strings.Trim(im.Path.Value, `"`)
			if isTest {
				p.testImports[ip] = true
			} else {
				p.imports[ip] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

func allows(rules []string, target string) bool {
	for _, r := range rules {
		switch {
		case r == "*":
			return true
		case strings.HasSuffix(r, "/*"):
			if strings.HasPrefix(target, strings.TrimSuffix(r, "*")) {
				return true
			}
		case r == target:
			return true
		}
	}
	return false
}

func isStdlib(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func TestImportDirections(t *testing.T) {
	pkgs := scan(t)
	names := make([]string, 0, len(pkgs))
	for n := range pkgs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		p := pkgs[name]
		if p.goFiles == 0 {
			continue
		}
		rules, ok := allowed[name]
		if !ok {
			t.Errorf("package %s is not in the import table of internal/lint; add it with the rule from DESIGN.md section 2", name)
			continue
		}
		for im := range p.imports {
			if own, ok := strings.CutPrefix(im, module+"/"); ok {
				if own != name && !allows(rules, own) {
					t.Errorf("%s imports %s, which DESIGN.md section 2 does not allow", name, own)
				}
				continue
			}
			if stdlibOnly[name] && !isStdlib(im) {
				t.Errorf("%s must use the standard library only, but imports %s", name, im)
			}
		}
		for _, set := range []map[string]bool{p.imports, p.testImports} {
			for im := range set {
				for prefix, owner := range exclusive {
					if strings.HasPrefix(im, prefix) && name != owner && !strings.HasPrefix(name, "cmd/") {
						t.Errorf("%s imports %s; only %s may", name, im, owner)
					}
				}
			}
		}
	}
}

// TestPackageDocs: every package has a doc.go whose package comment says
// who may import it, and no package is a grab bag.
func TestPackageDocs(t *testing.T) {
	for name, p := range scan(t) {
		if p.goFiles == 0 {
			continue
		}
		base := filepath.Base(name)
		switch base {
		case "util", "utils", "common", "misc", "helpers":
			t.Errorf("package %s: name it after what it owns, not %q", name, base)
		}
		if !p.hasDoc {
			t.Errorf("package %s has no doc.go with a package comment", name)
			continue
		}
		if !strings.Contains(strings.ToLower(p.docText), "import") {
			t.Errorf("package %s: doc.go should say who may import it", name)
		}
	}
}

package config

import (
	"bufio"
	"errors"
	"io"
	"strings"
)

// MaxLineLen is the longest line ParseFile accepts, in bytes.
const MaxLineLen = 64 << 10

// File is a conf file as read, before the schema is applied: its sections
// in file order, each with its entries in file order.
type File struct {
	Name     string // for error messages
	Sections []Section
}

// Section is one [name] of a File.
type Section struct {
	Name    string
	Line    int
	Entries []Entry
}

// Entry is one key = value line. Key is normalized: spaces are
// underscores. Value has its surrounding blanks and any trailing comment
// removed.
type Entry struct {
	Key, Value string
	Line       int
}

// Get returns the value of key in section, normalizing key as ParseFile
// does ("mon host" finds mon_host).
func (f *File) Get(section, key string) (string, bool) {
	key = normalizeKey(key)
	for _, s := range f.Sections {
		if s.Name != section {
			continue
		}
		for _, e := range s.Entries {
			if e.Key == key {
				return e.Value, true
			}
		}
	}
	return "", false
}

// ParseFile reads the INI syntax of r. name is used in error messages.
// Section names are made of letters, digits, '.', '_' and '-'; keys also
// may contain spaces, which become underscores. A section, or a key
// within a section, given twice is an error, as are control characters
// (other than tab) and lines longer than MaxLineLen. Errors wrap
// ErrSyntax.
func ParseFile(r io.Reader, name string) (*File, error) {
	f := &File{Name: name}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLineLen)
	sectionLine := map[string]int{}
	var cur *Section
	var keyLine map[string]int // of cur
	n := 0
	for sc.Scan() {
		n++
		raw := sc.Text()
		if i := strings.IndexFunc(raw, isControl); i >= 0 {
			return nil, errorf(ErrSyntax, name, n, "control character %q at column %d", raw[i], i+1)
		}
		line := trimBlank(raw)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case line[0] == '[':
			end := strings.IndexByte(line, ']')
			if end < 0 {
				return nil, errorf(ErrSyntax, name, n, "section header without ]")
			}
			if rest := trimBlank(line[end+1:]); rest != "" && rest[0] != '#' && rest[0] != ';' {
				return nil, errorf(ErrSyntax, name, n, "text %q after section header", rest)
			}
			sname := trimBlank(line[1:end])
			if !validSectionName(sname) {
				return nil, errorf(ErrSyntax, name, n, "bad section name [%s]: use letters, digits, '.', '_' and '-', as in [global] or [client.admin]", sname)
			}
			if first, dup := sectionLine[sname]; dup {
				return nil, errorf(ErrSyntax, name, n, "section [%s] given twice (first on line %d); merge them", sname, first)
			}
			sectionLine[sname] = n
			f.Sections = append(f.Sections, Section{Name: sname, Line: n})
			cur = &f.Sections[len(f.Sections)-1] // valid until the next append
			keyLine = map[string]int{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				return nil, errorf(ErrSyntax, name, n, "want [section], key = value or a comment, got %q", line)
			}
			k = trimBlank(k)
			if k == "" {
				return nil, errorf(ErrSyntax, name, n, "no key before =")
			}
			if !validKey(k) {
				return nil, errorf(ErrSyntax, name, n, "bad key %q: use letters, digits, spaces, '.', '_' and '-'", k)
			}
			if cur == nil {
				return nil, errorf(ErrSyntax, name, n, "key %s before any [section]; put it under [global]", k)
			}
			k = normalizeKey(k)
			if first, dup := keyLine[k]; dup {
				return nil, errorf(ErrSyntax, name, n, "key %s given twice in [%s] (first on line %d)", k, cur.Name, first)
			}
			keyLine[k] = n
			cur.Entries = append(cur.Entries, Entry{Key: k, Value: value(v), Line: n})
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, errorf(ErrSyntax, name, n+1, "line longer than %d bytes", MaxLineLen)
		}
		return nil, err
	}
	return f, nil
}

// value returns the value part of a line (what follows the first '='),
// without a trailing comment and surrounding blanks. A comment starts at a
// '#' or ';' that begins the value or follows a blank.
func value(s string) string {
	for i := 0; i < len(s); i++ {
		if (s[i] == '#' || s[i] == ';') && (i == 0 || isBlank(s[i-1])) {
			s = s[:i]
			break
		}
	}
	return trimBlank(s)
}

// writable reports whether value(" " + s) == s, that is whether s can be
// written as a value and read back unchanged.
func writable(s string) bool {
	return s != "" && value(" "+s) == s && strings.IndexFunc(s, isControl) < 0
}

func normalizeKey(k string) string { return strings.ReplaceAll(k, " ", "_") }

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

func trimBlank(s string) string { return strings.Trim(s, " \t") }

func isControl(r rune) bool { return (r < 0x20 && r != '\t') || r == 0x7f }

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == '-'
}

func validSectionName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

func validKey(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) && s[i] != ' ' {
			return false
		}
	}
	return s != ""
}

package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// EnvVar is the environment variable Locate reads.
const EnvVar = "LOLIGO_CONF"

// Global is the name of the section of cluster-wide keys.
const Global = "global"

// Config is a checked loligo.conf.
type Config struct {
	// Path is the absolute path Load read the file from; empty when the
	// Config came from Parse. Write does not write it.
	Path string
	// FSID names the cluster ([global] fsid, required): letters, digits,
	// '-' and '_', at most 64 bytes; in practice a UUID.
	FSID string
	// MonHosts are the monitors' addresses ([global] mon_host, required,
	// comma-separated), each HOST:PORT in net.JoinHostPort form, without
	// duplicates, in file order.
	MonHosts []string
	// CA is the path of the cluster CA certificate ([global] ca); empty
	// when absent.
	CA string
	// Entities holds the cert and key paths of each entity section, by
	// section name (such as "client.admin"). Never nil from Parse.
	Entities map[string]EntityKeys
}

// EntityKeys are the paths of an entity's certificate and private key.
type EntityKeys struct {
	Cert, Key string
}

// keys of the schema, by section kind.
var (
	globalKeys = []string{"fsid", "mon_host", "ca"}
	entityKeys = []string{"cert", "key"}
)

// Locate returns the conf file's path: flagValue if it is set, else
// getenv(EnvVar) if that is set, else an error wrapping ErrNoConf that
// tells the user to pass --conf or set LOLIGO_CONF. A nil getenv reads no
// environment. It does not check that the file exists; Load does.
func Locate(flagValue string, getenv func(string) string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if getenv != nil {
		if v := getenv(EnvVar); v != "" {
			return v, nil
		}
	}
	return "", fmt.Errorf("%w: pass --conf FILE or set %s to the loligo.conf of your cluster", ErrNoConf, EnvVar)
}

// Load reads and checks the conf file at path. Relative paths in it are
// resolved against the file's directory; errors name path and the line.
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer fh.Close()
	f, err := ParseFile(fh, path)
	if err != nil {
		return nil, err
	}
	c, err := fromFile(f, filepath.Dir(abs))
	if err != nil {
		return nil, err
	}
	c.Path = abs
	return c, nil
}

// Parse reads and checks a conf file from r. Relative paths in it are
// resolved against dir; with an empty dir they are kept as written.
// Errors name the file "loligo.conf".
func Parse(r io.Reader, dir string) (*Config, error) {
	f, err := ParseFile(r, "loligo.conf")
	if err != nil {
		return nil, err
	}
	return fromFile(f, dir)
}

// fromFile applies the schema to f.
func fromFile(f *File, dir string) (*Config, error) {
	c := &Config{Entities: map[string]EntityKeys{}}
	var haveGlobal bool
	for _, s := range f.Sections {
		if s.Name == Global {
			haveGlobal = true
			if err := c.global(f.Name, s, dir); err != nil {
				return nil, err
			}
			continue
		}
		if err := c.entity(f.Name, s, dir); err != nil {
			return nil, err
		}
	}
	if !haveGlobal {
		return nil, errorf(ErrMissing, f.Name, 0, "no [global] section; it needs fsid and mon_host")
	}
	if c.FSID == "" {
		return nil, errorf(ErrMissing, f.Name, 0, "no fsid in [global]")
	}
	if len(c.MonHosts) == 0 {
		return nil, errorf(ErrMissing, f.Name, 0, "no mon_host in [global]; list the monitors as HOST:PORT, comma-separated")
	}
	return c, nil
}

func (c *Config) global(file string, s Section, dir string) error {
	for _, e := range s.Entries {
		if e.Value == "" {
			return errorf(ErrInvalid, file, e.Line, "%s is empty", e.Key)
		}
		switch e.Key {
		case "fsid":
			if err := checkFSID(e.Value); err != nil {
				return errorf(ErrInvalid, file, e.Line, "%v", err)
			}
			c.FSID = e.Value
		case "mon_host":
			hosts, err := parseMonHost(e.Value)
			if err != nil {
				return errorf(ErrInvalid, file, e.Line, "mon_host: %v", err)
			}
			c.MonHosts = hosts
		case "ca":
			p, err := resolve(dir, e.Value)
			if err != nil {
				return errorf(ErrInvalid, file, e.Line, "ca: %v", err)
			}
			c.CA = p
		default:
			if slices.Contains(entityKeys, e.Key) {
				return errorf(ErrInvalid, file, e.Line, "%s belongs in an entity section such as [client.admin], not [global]", e.Key)
			}
			return errorf(ErrInvalid, file, e.Line, "unknown key %s in [global] (known: %s)", e.Key, strings.Join(globalKeys, ", "))
		}
	}
	return nil
}

func (c *Config) entity(file string, s Section, dir string) error {
	if !entityShaped(s.Name) {
		return errorf(ErrInvalid, file, s.Line, "unknown section [%s]: want [global] or an entity such as [client.admin] or [osd.3]", s.Name)
	}
	var k EntityKeys
	for _, e := range s.Entries {
		if e.Value == "" {
			return errorf(ErrInvalid, file, e.Line, "%s is empty", e.Key)
		}
		var dst *string
		switch e.Key {
		case "cert":
			dst = &k.Cert
		case "key":
			dst = &k.Key
		default:
			if slices.Contains(globalKeys, e.Key) {
				return errorf(ErrInvalid, file, e.Line, "%s belongs in [global], not [%s]", e.Key, s.Name)
			}
			return errorf(ErrInvalid, file, e.Line, "unknown key %s in [%s] (known: %s)", e.Key, s.Name, strings.Join(entityKeys, ", "))
		}
		p, err := resolve(dir, e.Value)
		if err != nil {
			return errorf(ErrInvalid, file, e.Line, "%s: %v", e.Key, err)
		}
		*dst = p
	}
	switch {
	case k.Cert == "" && k.Key == "":
		return errorf(ErrMissing, file, s.Line, "[%s] has neither cert nor key", s.Name)
	case k.Cert == "":
		return errorf(ErrMissing, file, s.Line, "[%s] has a key but no cert", s.Name)
	case k.Key == "":
		return errorf(ErrMissing, file, s.Line, "[%s] has a cert but no key", s.Name)
	}
	c.Entities[s.Name] = k
	return nil
}

// Keys returns the cert and key paths of entity, or an error wrapping
// ErrMissing if the file has no section for it.
func (c *Config) Keys(entity string) (EntityKeys, error) {
	if k, ok := c.Entities[entity]; ok {
		return k, nil
	}
	name := c.Path
	if name == "" {
		name = "loligo.conf"
	}
	return EntityKeys{}, errorf(ErrMissing, name, 0, "no [%s] section with cert and key; add one, or use an entity that has one (%s)", entity, c.entityList())
}

func (c *Config) entityList() string {
	if len(c.Entities) == 0 {
		return "this file has none"
	}
	return "this file has " + strings.Join(c.entityNames(), ", ")
}

// entityNames returns the names of c.Entities, sorted.
func (c *Config) entityNames() []string {
	names := make([]string, 0, len(c.Entities))
	for n := range c.Entities {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Validate reports whether c can be written: FSID and MonHosts as Parse
// accepts them, and every path non-empty, without control characters,
// without surrounding blanks and without a '#' or ';' that starts it or
// follows a blank (those would read back as a comment). Errors wrap
// ErrMissing or ErrInvalid.
func (c *Config) Validate() error {
	if c.FSID == "" {
		return fmt.Errorf("%w: no FSID", ErrMissing)
	}
	if err := checkFSID(c.FSID); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(c.MonHosts) == 0 {
		return fmt.Errorf("%w: no MonHosts", ErrMissing)
	}
	seen := map[string]bool{}
	for _, h := range c.MonHosts {
		if _, err := parseHostPort(h); err != nil {
			return fmt.Errorf("%w: MonHosts: %v", ErrInvalid, err)
		}
		if seen[h] {
			return fmt.Errorf("%w: MonHosts: %s listed twice", ErrInvalid, h)
		}
		seen[h] = true
	}
	if c.CA != "" && !writable(c.CA) {
		return fmt.Errorf("%w: CA path %q cannot be written to a conf file", ErrInvalid, c.CA)
	}
	for _, ent := range c.entityNames() {
		k := c.Entities[ent]
		if !entityShaped(ent) {
			return fmt.Errorf("%w: entity %q: want TYPE.ID such as client.admin", ErrInvalid, ent)
		}
		for _, p := range []string{k.Cert, k.Key} {
			if p == "" {
				return fmt.Errorf("%w: entity %s: cert and key are both required", ErrMissing, ent)
			}
			if !writable(p) {
				return fmt.Errorf("%w: entity %s: path %q cannot be written to a conf file", ErrInvalid, ent, p)
			}
		}
	}
	return nil
}

// Write writes c in the conf format: [global] (fsid, mon_host, ca), then
// the entity sections sorted by name. Paths are written as they are in c,
// relative or absolute. It validates c first.
func (c *Config) Write(w io.Writer) error {
	if err := c.Validate(); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("[global]\n")
	fmt.Fprintf(&b, "fsid = %s\n", c.FSID)
	fmt.Fprintf(&b, "mon_host = %s\n", strings.Join(c.MonHosts, ", "))
	if c.CA != "" {
		fmt.Fprintf(&b, "ca = %s\n", c.CA)
	}
	for _, n := range c.entityNames() {
		k := c.Entities[n]
		fmt.Fprintf(&b, "\n[%s]\ncert = %s\nkey = %s\n", n, k.Cert, k.Key)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteFile writes c to path atomically (a temporary file in the same
// directory, synced, then renamed over path), with mode 0644. It does not
// change c.Path.
func (c *Config) WriteFile(path string) error {
	var b strings.Builder
	if err := c.Write(&b); err != nil {
		return err
	}
	return writeAtomic(path, []byte(b.String()), 0o644)
}

// writeAtomic replaces path with data: readers see the old file or the
// new one, never a part.
func writeAtomic(path string, data []byte, mode os.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("config: writing %s: %w", path, err)
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		// Make the rename durable; not every file system can sync a
		// directory, and the file is in place either way.
		d.Sync()
		d.Close()
	}
	return nil
}

// resolve makes a path value absolute against dir (if dir is set and p is
// relative), and checks that the result can be written back.
func resolve(dir, p string) (string, error) {
	r := p
	if dir != "" && !filepath.IsAbs(p) {
		r = filepath.Join(dir, p)
	}
	if !writable(r) {
		return "", fmt.Errorf("path %q resolves to %q, which ends in a blank", p, r)
	}
	return r, nil
}

func checkFSID(s string) error {
	ok := s != "" && len(s) <= 64
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
	}
	if !ok {
		return fmt.Errorf("fsid %q: want up to 64 letters, digits, '-' and '_' (a UUID)", s)
	}
	return nil
}

// entityShaped reports whether s looks like TYPE.ID. The full check
// (known types, id syntax) is internal/pki's ValidEntity.
func entityShaped(s string) bool {
	t, id, ok := strings.Cut(s, ".")
	return ok && t != "" && id != "" && validSectionName(s)
}

// parseMonHost parses a comma-separated HOST:PORT list.
func parseMonHost(v string) ([]string, error) {
	var hosts []string
	seen := map[string]bool{}
	for item := range strings.SplitSeq(v, ",") {
		item = trimBlank(item)
		if item == "" {
			return nil, fmt.Errorf("empty entry in %q; separate HOST:PORT entries with single commas", v)
		}
		h, err := parseHostPort(item)
		if err != nil {
			return nil, err
		}
		if seen[h] {
			return nil, fmt.Errorf("%s listed twice", h)
		}
		seen[h] = true
		hosts = append(hosts, h)
	}
	return hosts, nil
}

// parseHostPort checks a HOST:PORT and returns it in net.JoinHostPort
// form. HOST is an IP address without a zone or a host name of letters,
// digits, '-' and '_' labels; PORT is decimal, 1 to 65535.
func parseHostPort(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		why := err.Error()
		var ae *net.AddrError
		if errors.As(err, &ae) {
			why = ae.Err
		}
		hint := ""
		if strings.ContainsAny(s, " \t") {
			hint = " (separate entries with commas)"
		} else if strings.Count(s, ":") > 1 && !strings.HasPrefix(s, "[") {
			hint = " (write an IPv6 address as [ADDR]:PORT)"
		}
		return "", fmt.Errorf("%q is not HOST:PORT: %s%s", s, why, hint)
	}
	if host == "" {
		return "", fmt.Errorf("%q has no host", s)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return "", fmt.Errorf("%q: an address with a zone is not allowed", s)
		}
	} else if !validHostname(host) {
		return "", fmt.Errorf("%q: bad host %q", s, host)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return "", fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, port)
	}
	return net.JoinHostPort(host, strconv.FormatUint(p, 10)), nil
}

func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

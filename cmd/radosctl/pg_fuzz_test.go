package main

import (
	"fmt"
	"testing"
)

// FuzzParsePGID: parsing never panics; what it accepts is a PG of the map
// (an existing pool, a seed below its pg_num), and the PG's canonical
// text, by pool id or by name, parses back to the same PG. What
// splitPGID accepts, joined back, splits the same way.
func FuzzParsePGID(f *testing.F) {
	m := testMap(f)
	for _, s := range []string{"1.0", "1.7", "1.8", "data.3", "ec.3", "4.A", "1.1f", "1", "1.", ".1", "1.g", "1.-1",
		"9.0", "nope.0", "a.b.c", "1.100000000", "+1.2", "-1.2", "data..1", "1.2.3", "ec.0x1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if pool, seed, err := splitPGID(s); err == nil {
			p2, s2, err := splitPGID(fmt.Sprintf("%s.%x", pool, seed))
			if err != nil || p2 != pool || s2 != seed {
				t.Fatalf("splitPGID(%q) = %q, %x; joined back it splits to %q, %x, %v", s, pool, seed, p2, s2, err)
			}
		}
		pg, err := parsePGID(m, "pg query", s)
		if err != nil {
			return
		}
		p := m.Pools[pg.Pool]
		if p == nil || pg.Seed >= p.PGNum {
			t.Fatalf("parsePGID(%q) = %s, not a PG of the map", s, pg)
		}
		for _, text := range []string{pg.String(), fmt.Sprintf("%s.%x", p.Name, pg.Seed)} {
			if again, err := parsePGID(m, "pg query", text); err != nil || again != pg {
				t.Fatalf("parsePGID(%q) = %s, but %q parses to %s, %v", s, pg, text, again, err)
			}
		}
	})
}

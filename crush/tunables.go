package crush

import (
	"fmt"
	"sort"
)

// Tunables are the map-wide knobs of the mapping algorithm. The zero value
// is not a valid profile; start from a named one (Profile) or from
// LegacyTunables, which is what a text map without tunable lines gets.
type Tunables struct {
	// ChooseLocalTries is how many times a collision is retried in the same
	// bucket before descending again (legacy 2, 0 from bobtail on).
	ChooseLocalTries uint32
	// ChooseLocalFallbackTries enables an exhaustive permutation search of
	// a bucket after that many local failures (legacy 5, later 0).
	ChooseLocalFallbackTries uint32
	// ChooseTotalTries bounds the retries of one replica (legacy 19, 50).
	// Ceph stores retries, so the mapper makes ChooseTotalTries+1 tries.
	ChooseTotalTries uint32
	// ChooseleafDescendOnce makes chooseleaf try each leaf descent once.
	ChooseleafDescendOnce uint32
	// ChooseleafVaryR feeds the parent's r into the leaf descent
	// (r >> (vary_r-1)); 0 disables it.
	ChooseleafVaryR uint32
	// ChooseleafStable starts every leaf descent at rep 0, so adding a
	// replica does not reshuffle the earlier ones.
	ChooseleafStable uint32
	// StrawCalcVersion selects how straw (v1) lengths are computed when a
	// straw bucket is built (0 is the original, buggy calculation).
	StrawCalcVersion uint32
	// AllowedBucketAlgs is a bit mask (1<<Alg) of the algorithms new
	// buckets may use. It does not affect mapping.
	AllowedBucketAlgs uint32
}

// Bucket algorithm masks.
const (
	LegacyAllowedBucketAlgs = 1<<AlgUniform | 1<<AlgList | 1<<AlgStraw
	HammerAllowedBucketAlgs = LegacyAllowedBucketAlgs | 1<<AlgStraw2
)

// LegacyTunables are argonaut's values with straw_calc_version 0. The
// text compiler starts from them, as crushtool does, so that a given text
// map always compiles to the same placements.
func LegacyTunables() Tunables {
	return Tunables{
		ChooseLocalTries:         2,
		ChooseLocalFallbackTries: 5,
		ChooseTotalTries:         19,
		AllowedBucketAlgs:        LegacyAllowedBucketAlgs,
	}
}

// profiles apply a named tunables profile on top of existing tunables, as
// Ceph's CrushWrapper::set_tunables_* do (some leave straw_calc_version as
// it was).
var profiles = map[string]func(t *Tunables){
	"legacy": func(t *Tunables) {
		argonaut(t)
		t.StrawCalcVersion = 0
	},
	"argonaut": argonaut,
	"bobtail":  bobtail,
	"firefly":  firefly,
	"hammer":   hammer,
	"jewel":    jewel,
	"optimal": func(t *Tunables) {
		jewel(t)
		t.StrawCalcVersion = 1
	},
	"default": func(t *Tunables) {
		jewel(t)
		t.StrawCalcVersion = 1
	},
}

func argonaut(t *Tunables) {
	t.ChooseLocalTries = 2
	t.ChooseLocalFallbackTries = 5
	t.ChooseTotalTries = 19
	t.ChooseleafDescendOnce = 0
	t.ChooseleafVaryR = 0
	t.ChooseleafStable = 0
	t.AllowedBucketAlgs = LegacyAllowedBucketAlgs
}

func bobtail(t *Tunables) {
	argonaut(t)
	t.ChooseLocalTries = 0
	t.ChooseLocalFallbackTries = 0
	t.ChooseTotalTries = 50
	t.ChooseleafDescendOnce = 1
}

func firefly(t *Tunables) {
	bobtail(t)
	t.ChooseleafVaryR = 1
}

func hammer(t *Tunables) {
	firefly(t)
	t.AllowedBucketAlgs = HammerAllowedBucketAlgs
}

func jewel(t *Tunables) {
	hammer(t)
	t.ChooseleafStable = 1
}

// ProfileNames lists the named tunables profiles.
func ProfileNames() []string {
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ApplyProfile sets the tunables of the named profile (legacy, argonaut,
// bobtail, firefly, hammer, jewel, optimal, default). Profiles that do not
// define straw_calc_version leave it unchanged, as in Ceph.
func (t *Tunables) ApplyProfile(name string) error {
	f, ok := profiles[name]
	if !ok {
		return fmt.Errorf("%w: unknown tunables profile %q (known: %v)", ErrInvalidMap, name, ProfileNames())
	}
	f(t)
	return nil
}

// Profile returns the tunables of a named profile applied to the legacy
// values.
func Profile(name string) (Tunables, error) {
	t := LegacyTunables()
	err := t.ApplyProfile(name)
	return t, err
}

// Bounds on the tries tunables and set_*_tries steps. Ceph has none, but
// when a rule cannot be satisfied the mapper's work grows with the
// product of these, so a map with millions of tries would hang every
// client computing a placement. Ceph recommends 50 total tries and its
// erasure rules use 100; legacy maps use 2 local and 5 fallback tries.
const (
	MaxTries      = 1000 // choose_total_tries, set_choose_tries, set_chooseleaf_tries
	MaxLocalTries = 100  // choose_local_tries, choose_local_fallback_tries and their steps
)

// validate rejects values Ceph stores in 8 bits and unreasonable tries.
func (t *Tunables) validate() error {
	for _, f := range []struct {
		name  string
		v, hi uint32
	}{
		{"choose_local_tries", t.ChooseLocalTries, MaxLocalTries},
		{"choose_local_fallback_tries", t.ChooseLocalFallbackTries, MaxLocalTries},
		{"choose_total_tries", t.ChooseTotalTries, MaxTries},
	} {
		if f.v > f.hi {
			return fmt.Errorf("%w: tunable %s %d above %d", ErrInvalidMap, f.name, f.v, f.hi)
		}
	}
	for _, f := range []struct {
		name string
		v    uint32
	}{
		{"chooseleaf_vary_r", t.ChooseleafVaryR},
		{"chooseleaf_stable", t.ChooseleafStable},
		{"straw_calc_version", t.StrawCalcVersion},
	} {
		if f.v > 255 {
			return fmt.Errorf("%w: tunable %s %d out of range 0..255", ErrInvalidMap, f.name, f.v)
		}
	}
	return nil
}

package pki

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestValidEntity(t *testing.T) {
	tests := []struct {
		s  string
		ok bool
	}{
		{"mon.a", true},
		{"osd.0", true},
		{"osd.3", true},
		{"osd.2147483647", true},
		{"mds.a", true},
		{"client.admin", true},
		{"rgw.gw-1_A", true},
		{"client." + strings.Repeat("x", 64), true},

		{"", false},
		{"osd", false},
		{"osd.", false},
		{".3", false},
		{"osd.03", false},
		{"osd.-3", false},
		{"osd.+3", false},
		{"osd.3a", false},
		{"osd.a", false},
		{"osd.2147483648", false},
		{"osd.99999999999999999999", false},
		{"client.", false},
		{"client." + strings.Repeat("x", 65), false},
		{"client.rgw.gw1", false},
		{"client.ad min", false},
		{"client.admin\n", false},
		{"client.é", false},
		{"Client.admin", false},
		{"mgr.x", false},
		{"admin", false},
	}
	for _, tc := range tests {
		err := ValidEntity(tc.s)
		if (err == nil) != tc.ok {
			t.Errorf("ValidEntity(%q) = %v, want ok=%v", tc.s, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadEntity) {
			t.Errorf("ValidEntity(%q) = %v, does not wrap ErrBadEntity", tc.s, err)
		}
	}
}

// entityRE is the dumb version of ValidEntity that FuzzValidEntity checks
// it against.
var entityRE = regexp.MustCompile(`^(?:osd\.(0|[1-9][0-9]*)|(?:mon|mds|client|rgw)\.[A-Za-z0-9_-]{1,64})$`)

func refValid(s string) bool {
	m := entityRE.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	if m[1] != "" {
		n, err := strconv.ParseUint(m[1], 10, 64)
		return err == nil && n <= 1<<31-1
	}
	return true
}

func FuzzValidEntity(f *testing.F) {
	for _, s := range []string{"osd.3", "osd.0", "osd.03", "client.admin", "mon.a", "mds.x-y_z", "rgw.", "x.y", "osd.2147483648", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidEntity(s)
		if got, want := err == nil, refValid(s); got != want {
			t.Fatalf("ValidEntity(%q) = %v, reference says valid=%v", s, err, want)
		}
		if err != nil && !errors.Is(err, ErrBadEntity) {
			t.Fatalf("ValidEntity(%q) = %v, does not wrap ErrBadEntity", s, err)
		}
	})
}

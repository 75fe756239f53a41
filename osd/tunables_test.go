package osd

import (
	"strconv"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "123": 123, "64K": 64 << 10, "100M": 100 << 20, "2g": 2 << 30} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "M", "1.5M", "12X", "-", "9223372036854775807G"} {
		if _, err := parseBytes(bad); err == nil {
			t.Errorf("parseBytes(%q) took it", bad)
		}
	}
}

// FuzzParseBytes: any input is either refused or read back as a number
// that, printed plainly, parses to the same value.
func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"0", "64K", "100M", "2G", "9223372036854775807", "1x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseBytes(s)
		if err != nil {
			return
		}
		back, err := parseBytes(strconv.FormatInt(n, 10))
		if err != nil || back != n {
			t.Fatalf("%q -> %d -> %d, %v", s, n, back, err)
		}
	})
}

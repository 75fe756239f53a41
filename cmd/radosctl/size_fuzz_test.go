package main

import (
	"strconv"
	"strings"
	"testing"
)

// parseSize never panics, and what it accepts is a positive whole number
// of bytes that the text names.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"4096", "4K", "4M", "1G", "64KiB", "0", "", "K", "-1", "9999999999999999999G", "1.5M", "4kb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err != nil {
			return
		}
		if n == 0 {
			t.Fatalf("parseSize(%q) = 0 without an error", s)
		}
		digits := strings.TrimRight(s, "KMGkmgiBb")
		base, perr := strconv.ParseUint(digits, 10, 64)
		if perr != nil || n%base != 0 {
			t.Fatalf("parseSize(%q) = %d, not a multiple of %q", s, n, digits)
		}
	})
}

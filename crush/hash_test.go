package crush

import (
	"bufio"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestHashVectors checks the rjenkins1 hashes against values computed by
// a model that reproduces every crushtool vector (testdata/hash32.tsv).
func TestHashVectors(t *testing.T) {
	f, err := os.Open("testdata/hash32.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		c := strings.Split(line, "\t")
		args := strings.Fields(c[1])
		var a [4]uint32
		for i, s := range args {
			v, err := strconv.ParseUint(s, 10, 32)
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			a[i] = uint32(v)
		}
		want, err := strconv.ParseUint(c[2], 10, 32)
		if err != nil {
			t.Fatal(err)
		}
		var got uint32
		switch c[0] {
		case "crush_hash32_2":
			got = Hash2(a[0], a[1])
		case "crush_hash32_3":
			got = Hash3(a[0], a[1], a[2])
		case "crush_hash32_4":
			got = Hash4(a[0], a[1], a[2], a[3])
		default:
			t.Fatalf("unknown function %q", c[0])
		}
		if got != uint32(want) {
			t.Errorf("%s(%v) = %d, want %d", c[0], args, got, want)
		}
		n++
	}
	if n != 500 {
		t.Fatalf("checked %d vectors, want 500", n)
	}
}

// TestHashUnknownType: only rjenkins1 exists; Ceph returns 0 for others.
func TestHashUnknownType(t *testing.T) {
	if got := hash3(1, 1, 2, 3); got != 0 {
		t.Fatalf("hash3 with type 1 = %d, want 0", got)
	}
	if got := hash4(7, 1, 2, 3, 4); got != 0 {
		t.Fatalf("hash4 with type 7 = %d, want 0", got)
	}
	if hash3(HashRjenkins1, 1, 2, 3) != Hash3(1, 2, 3) {
		t.Fatal("hash3 with rjenkins1 differs from Hash3")
	}
}

// refMix is crush_hashmix written as the macro reads, the reference the
// generated, unrolled hashes are checked against.
func refMix(a, b, c uint32) (uint32, uint32, uint32) {
	a -= b
	a -= c
	a ^= c >> 13
	b -= c
	b -= a
	b ^= a << 8
	c -= a
	c -= b
	c ^= b >> 13
	a -= b
	a -= c
	a ^= c >> 12
	b -= c
	b -= a
	b ^= a << 16
	c -= a
	c -= b
	c ^= b >> 5
	a -= b
	a -= c
	a ^= c >> 3
	b -= c
	b -= a
	b ^= a << 10
	c -= a
	c -= b
	c ^= b >> 15
	return a, b, c
}

func refHash3(a, b, c uint32) uint32 {
	h := hashSeed ^ a ^ b ^ c
	x, y := uint32(hashX), uint32(hashY)
	a, b, h = refMix(a, b, h)
	c, x, h = refMix(c, x, h)
	y, a, h = refMix(y, a, h)
	b, x, h = refMix(b, x, h)
	_, _, h = refMix(y, c, h)
	return h
}

func refHash2(a, b uint32) uint32 {
	h := hashSeed ^ a ^ b
	x, y := uint32(hashX), uint32(hashY)
	a, b, h = refMix(a, b, h)
	_, a, h = refMix(x, a, h)
	_, _, h = refMix(b, y, h)
	return h
}

func refHash4(a, b, c, d uint32) uint32 {
	h := hashSeed ^ a ^ b ^ c ^ d
	x, y := uint32(hashX), uint32(hashY)
	a, b, h = refMix(a, b, h)
	c, d, h = refMix(c, d, h)
	_, x, h = refMix(a, x, h)
	y, _, h = refMix(y, b, h)
	_, _, h = refMix(c, x, h)
	_, _, h = refMix(y, d, h)
	return h
}

// TestGeneratedHashesMatchReference compares the unrolled hashes with the
// macro-shaped reference on random inputs.
func TestGeneratedHashesMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100000; i++ {
		a, b, c, d := r.Uint32(), r.Uint32(), r.Uint32(), r.Uint32()
		if g, w := Hash2(a, b), refHash2(a, b); g != w {
			t.Fatalf("Hash2(%d,%d) = %d, reference %d", a, b, g, w)
		}
		if g, w := Hash3(a, b, c), refHash3(a, b, c); g != w {
			t.Fatalf("Hash3(%d,%d,%d) = %d, reference %d", a, b, c, g, w)
		}
		if g, w := Hash4(a, b, c, d), refHash4(a, b, c, d); g != w {
			t.Fatalf("Hash4(%d,%d,%d,%d) = %d, reference %d", a, b, c, d, g, w)
		}
	}
}

// TestStrHashVectors checks ceph_str_hash_rjenkins on names of every tail
// length (testdata/str_hash_rjenkins.tsv).
func TestStrHashVectors(t *testing.T) {
	f, err := os.Open("testdata/str_hash_rjenkins.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		c := strings.Split(line, "\t")
		var key []byte
		if c[0] != "-" {
			if key, err = hex.DecodeString(c[0]); err != nil {
				t.Fatal(err)
			}
		}
		want, err := strconv.ParseUint(c[2], 10, 32)
		if err != nil {
			t.Fatal(err)
		}
		if got := StrHash(key); got != uint32(want) {
			t.Errorf("StrHash(%s) = %d, want %d", c[1], got, want)
		}
		n++
	}
	if n < 60 {
		t.Fatalf("checked only %d names", n)
	}
}

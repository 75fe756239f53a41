package crush

import (
	"bufio"
	"compress/gzip"
	"math/big"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestCrushLnAllInputs compares crushLn with every value of crush_ln
// (testdata/crush_ln.tsv.gz, all 65536 inputs).
func TestCrushLnAllInputs(t *testing.T) {
	f, err := os.Open("testdata/crush_ln.tsv.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		c := strings.Fields(line)
		u, err := strconv.ParseUint(c[0], 10, 32)
		if err != nil {
			t.Fatal(err)
		}
		want, err := strconv.ParseUint(strings.TrimPrefix(c[1], "0x"), 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		if got := crushLn(uint32(u)); got != want {
			t.Fatalf("crushLn(%d) = %#x, want %#x", u, got, want)
		}
		n++
	}
	if n != 65536 {
		t.Fatalf("checked %d inputs, want 65536", n)
	}
}

// log2Big returns log2(y) for y in [1, 2] to prec bits, by
// ln(y) = 2 atanh((y-1)/(y+1)) and ln 2 the same way.
func log2Big(y *big.Float, prec uint) *big.Float {
	ln := func(y *big.Float) *big.Float {
		one := new(big.Float).SetPrec(prec).SetInt64(1)
		z := new(big.Float).SetPrec(prec).Quo(new(big.Float).SetPrec(prec).Sub(y, one), new(big.Float).SetPrec(prec).Add(y, one))
		z2 := new(big.Float).SetPrec(prec).Mul(z, z)
		sum := new(big.Float).SetPrec(prec)
		term := new(big.Float).SetPrec(prec).Set(z)
		for k := int64(1); k < 400; k += 2 {
			sum.Add(sum, new(big.Float).SetPrec(prec).Quo(term, new(big.Float).SetPrec(prec).SetInt64(k)))
			term.Mul(term, z2)
		}
		return sum.Mul(sum, new(big.Float).SetPrec(prec).SetInt64(2))
	}
	two := new(big.Float).SetPrec(prec).SetInt64(2)
	return new(big.Float).SetPrec(prec).Quo(ln(y), ln(two))
}

// TestLnTablesRegularParts checks the parts of the embedded tables that
// follow their documented formulas: RH[k] = ceil(2^55/(128+k)),
// LH[k] = floor(2^48 log2(1+k/128)) for k < 128, LH[128] = 0xffff00000000
// (a Ceph special case), and LL[j] = 2^48 log2(1+j/2^15) for j = 0, 1.
func TestLnTablesRegularParts(t *testing.T) {
	const prec = 200
	two55 := new(big.Int).Lsh(big.NewInt(1), 55)
	for k := int64(0); k <= 128; k++ {
		d := big.NewInt(128 + k)
		q, r := new(big.Int).QuoRem(two55, d, new(big.Int))
		if r.Sign() != 0 {
			q.Add(q, big.NewInt(1))
		}
		if got := lnTab.rhlh[2*k]; got != q.Uint64() {
			t.Errorf("RH[%d] = %#x, want %#x", k, got, q.Uint64())
		}
	}
	scale := new(big.Float).SetPrec(prec).SetMantExp(big.NewFloat(1), 48)
	for k := int64(0); k < 128; k++ {
		y := new(big.Float).SetPrec(prec).Quo(new(big.Float).SetPrec(prec).SetInt64(128+k), new(big.Float).SetPrec(prec).SetInt64(128))
		v := new(big.Float).SetPrec(prec).Mul(log2Big(y, prec), scale)
		want, _ := v.Int(nil) // truncation = floor for non-negative values
		if got := lnTab.rhlh[2*k+1]; got != want.Uint64() {
			t.Errorf("LH[%d] = %#x, want %#x", k, got, want.Uint64())
		}
	}
	if got := lnTab.rhlh[257]; got != 0xffff00000000 {
		t.Errorf("LH[128] = %#x, want 0xffff00000000", got)
	}
	for j := int64(0); j <= 1; j++ {
		y := new(big.Float).SetPrec(prec).Quo(new(big.Float).SetPrec(prec).SetInt64(32768+j), new(big.Float).SetPrec(prec).SetInt64(32768))
		v := new(big.Float).SetPrec(prec).Mul(log2Big(y, prec), scale)
		want, _ := v.Int(nil)
		if got := lnTab.ll[j]; got != want.Uint64() {
			t.Errorf("LL[%d] = %#x, want %#x", j, got, want.Uint64())
		}
	}
}

func TestParseLnTablesRejectsBadInput(t *testing.T) {
	for _, in := range []string{
		"RHLH 0 0x1 extra",
		"RHLH 999 0x1",
		"XX 0 0x1",
		"LL 0 zz",
		"RHLH 0 0x1\n", // incomplete
	} {
		if _, err := parseLnTables(in); err == nil {
			t.Errorf("parseLnTables(%q) succeeded", in)
		}
	}
	if _, err := parseLnTables(lnTablesText); err != nil {
		t.Fatalf("embedded tables: %v", err)
	}
}

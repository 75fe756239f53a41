package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
	}{
		{"1", 1}, {"4096", 4096}, {"4K", 4096}, {"4k", 4096}, {"64K", 64 << 10}, {"4M", 4 << 20}, {"4m", 4 << 20},
		{"1G", 1 << 30}, {"3g", 3 << 30}, {"1KiB", 1024}, {"16MiB", 16 << 20}, {"2GiB", 2 << 30}, {"007K", 7 << 10},
	} {
		got, err := parseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "K", "M", "0", "0K", "-1", "-4K", "1.5M", "4X", "4KB", "4B", "4 K", " 4K", "4K ", "4KK",
		"4iB", "0x10", "1e3", "99999999999G", "18446744073709551616", "8589934592G"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

func TestPercentile(t *testing.T) {
	seq := func(n int) []time.Duration { // 1..n ms
		s := make([]time.Duration, n)
		for i := range s {
			s[i] = ms(float64(i + 1))
		}
		return s
	}
	for _, tc := range []struct {
		vals []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{seq(1), 50, ms(1)}, {seq(1), 99, ms(1)}, {seq(1), 0, ms(1)}, {seq(1), 100, ms(1)},
		{seq(2), 50, ms(1)}, {seq(2), 51, ms(2)}, {seq(2), 99, ms(2)},
		{seq(4), 50, ms(2)}, {seq(4), 75, ms(3)}, {seq(4), 76, ms(4)},
		{seq(10), 50, ms(5)}, {seq(10), 90, ms(9)}, {seq(10), 99, ms(10)},
		// Exactly p*n/100 is the rank: no float error at 99 of 100 or 1000.
		{seq(100), 50, ms(50)}, {seq(100), 99, ms(99)}, {seq(100), 100, ms(100)},
		{seq(1000), 99, ms(990)}, {seq(1000), 50, ms(500)}, {seq(1001), 50, ms(501)},
		{seq(200), 99, ms(198)}, {seq(3), 99, ms(3)},
	} {
		if got := percentile(tc.vals, tc.p); got != tc.want {
			t.Errorf("p%g of %d values = %v, want %v", tc.p, len(tc.vals), got, tc.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name    string
		lats    []time.Duration
		bytes   uint64
		elapsed time.Duration
		want    benchSummary
	}{
		{"empty", nil, 0, 0, benchSummary{}},
		{"no time", []time.Duration{ms(1)}, 10, 0, benchSummary{Ops: 1, Bytes: 10, LatAvgMs: 1, LatP50Ms: 1, LatP99Ms: 1, LatMaxMs: 1}},
		{"unsorted", []time.Duration{ms(4), ms(1), ms(3), ms(2)}, 4 << 20, 2 * time.Second,
			benchSummary{Ops: 4, Bytes: 4 << 20, Seconds: 2, MBPerSec: 2, IOPS: 2, LatAvgMs: 2.5, LatP50Ms: 2, LatP99Ms: 4, LatMaxMs: 4}},
		{"rounded", []time.Duration{1234567, 1234567, 3 * time.Millisecond}, 1000, 3 * time.Second,
			benchSummary{Ops: 3, Bytes: 1000, Seconds: 3, MBPerSec: 0, IOPS: 1, LatAvgMs: 1.823, LatP50Ms: 1.235, LatP99Ms: 3, LatMaxMs: 3}},
		{"thirds", []time.Duration{ms(10), ms(10), ms(10)}, 3 << 20, 1500 * time.Millisecond,
			benchSummary{Ops: 3, Bytes: 3 << 20, Seconds: 1.5, MBPerSec: 2, IOPS: 2, LatAvgMs: 10, LatP50Ms: 10, LatP99Ms: 10, LatMaxMs: 10}},
		{"bandwidth", []time.Duration{ms(1)}, 1 << 20, 3 * time.Second,
			benchSummary{Ops: 1, Bytes: 1 << 20, Seconds: 3, MBPerSec: 0.333, IOPS: 0.333, LatAvgMs: 1, LatP50Ms: 1, LatP99Ms: 1, LatMaxMs: 1}},
	} {
		if got := summarize(tc.lats, tc.bytes, tc.elapsed); got != tc.want {
			t.Errorf("%s: summarize = %+v\nwant %+v", tc.name, got, tc.want)
		}
	}

	// A large random sample: percentiles agree with a sort done here.
	lats := make([]time.Duration, 100_000)
	for i := range lats {
		lats[i] = time.Duration(rand.Int64N(int64(time.Second)))
	}
	sorted := slices.Sorted(slices.Values(lats))
	s := summarize(lats, 0, time.Second)
	if s.LatP99Ms != round(float64(sorted[98_999])/1e6, 3) || s.LatP50Ms != round(float64(sorted[49_999])/1e6, 3) ||
		s.LatMaxMs != round(float64(sorted[99_999])/1e6, 3) || s.Ops != 100_000 || s.IOPS != 100_000 {
		t.Errorf("random sample: %+v", s)
	}
}

// TestSummaryJSON: -o json has exactly the documented fields, all numbers.
func TestSummaryJSON(t *testing.T) {
	var b bytes.Buffer
	e := &env{stdout: &b, json: true}
	if err := printSummary(e, "write", 4096, summarize([]time.Duration{ms(2), ms(1)}, 8192, time.Second)); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	want := []string{"bytes", "iops", "lat_avg_ms", "lat_max_ms", "lat_p50_ms", "lat_p99_ms", "mb_per_sec", "ops", "seconds"}
	if got := sortedKeys(m); !reflect.DeepEqual(got, want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
	for k, v := range m {
		if _, ok := v.(float64); !ok {
			t.Errorf("%s is %T, want a number", k, v)
		}
	}
	if m["ops"] != 2.0 || m["bytes"] != 8192.0 || m["lat_avg_ms"] != 1.5 || m["lat_p50_ms"] != 1.0 || m["lat_max_ms"] != 2.0 {
		t.Errorf("values: %v", m)
	}
}

func TestFormatSummary(t *testing.T) {
	s := benchSummary{Ops: 120, Bytes: 120 << 16, Seconds: 2.0041, MBPerSec: 3.742, IOPS: 59.877, LatAvgMs: 66.8, LatP50Ms: 61.25, LatP99Ms: 140, LatMaxMs: 151.123}
	want := `Total time run:         2.004 s
Total writes made:      120
Write size:             65536
Total bytes:            7864320
Bandwidth (MB/sec):     3.742
Average IOPS:           59.877
Average latency (ms):   66.800
p50 latency (ms):       61.250
p99 latency (ms):       140.000
Max latency (ms):       151.123
`
	if got := formatSummary("write", 65536, s); got != want {
		t.Errorf("write summary:\n%s\nwant\n%s", got, want)
	}
	got := formatSummary("seq", 4096, benchSummary{})
	if !strings.Contains(got, "Total reads made:       0\nRead size:              4096\n") {
		t.Errorf("seq summary:\n%s", got)
	}
}

func TestFormatProgress(t *testing.T) {
	for _, tc := range []struct {
		p    benchProgress
		want string
	}{
		{benchProgress{Sec: 1, Cur: 16, Started: 16}, "    1      16        16         0     0.000     0.000           -    0.000000"},
		{benchProgress{Sec: 2, Cur: 16, Started: 38, Finished: 22, AvgMBs: 43.99321, CurMBs: 44, LastLat: 1293960 * time.Microsecond, AvgLat: 983017 * time.Microsecond},
			"    2      16        38        22    43.993    44.000    1.293960    0.983017"},
		{benchProgress{Sec: 123456, Cur: 1, Started: 12345678901, Finished: 12345678900, AvgMBs: 1234567.5, CurMBs: 0.0004, LastLat: time.Microsecond, AvgLat: 2 * time.Microsecond},
			"123456       1 12345678901 12345678900 1234567.500     0.000    0.000001    0.000002"},
	} {
		if got := formatProgress(tc.p); got != tc.want {
			t.Errorf("formatProgress(%+v) =\n%q\nwant\n%q", tc.p, got, tc.want)
		}
	}
	if progressHeader != "  sec Cur ops   started  finished  avg MB/s  cur MB/s last lat(s)  avg lat(s)" {
		t.Errorf("header %q", progressHeader)
	}
	// The columns line up with the header.
	line := formatProgress(benchProgress{Sec: 2, Cur: 16, Started: 38, Finished: 22, AvgMBs: 43.99, CurMBs: 44, LastLat: time.Second, AvgLat: time.Second})
	if len(line) != len(progressHeader) {
		t.Errorf("line %d wide, header %d", len(line), len(progressHeader))
	}
}

func TestBenchPattern(t *testing.T) {
	// The filler is fixed: data written by one radosctl checks in another.
	f := benchFiller(64)
	if got := benchFiller(16); !bytes.Equal(got, f[:16]) {
		t.Fatal("filler depends on the size")
	}
	if !bytes.Equal(f, benchFiller(64)) || bytes.Equal(f[:32], make([]byte, 32)) {
		t.Fatal("filler is not a fixed pseudo-random stream")
	}
	obj := func(n uint64, size int) []byte {
		b := benchFiller(uint64(size))
		h := benchHeader(n)
		copy(b, h[:])
		return b
	}
	if h := benchHeader(0x0102); string(h[8:]) != benchMagic || !bytes.Equal(h[:8], []byte{2, 1, 0, 0, 0, 0, 0, 0}) {
		t.Fatalf("header %q", h)
	}
	flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[i] ^= 1; return b }
	for _, tc := range []struct {
		name string
		data []byte
		n    uint64
		size int
		want string
	}{
		{"good", obj(7, 4096), 7, 4096, ""},
		{"good tiny", obj(7, 5), 7, 5, ""},
		{"good one byte", obj(7, 1), 7, 1, ""},
		{"good header only", obj(1<<40, 16), 1 << 40, 16, ""},
		{"short", obj(7, 4096)[:4000], 7, 4096, "read 4000 bytes, want 4096"},
		{"long", append(obj(7, 4096), 0), 7, 4096, "read 4097 bytes, want 4096"},
		{"empty", nil, 7, 4096, "read 0 bytes, want 4096"},
		{"other object", obj(8, 4096), 7, 4096, "holds the data of object 8"},
		{"not ours", make([]byte, 4096), 7, 4096, "does not start with the benchmark header"},
		{"tiny other", obj(8, 12), 7, 12, "does not start with the benchmark header"},
		{"one byte other", obj(8, 1), 7, 1, "does not start with the benchmark header"},
		{"high bytes other", obj(7+1<<40, 4096), 7, 4096, "holds the data of object 1099511627783"},
		{"body", flip(obj(7, 4096), 1000), 7, 4096, "differs from the written data at byte 1000"},
		{"last byte", flip(obj(7, 4096), 4095), 7, 4096, "differs from the written data at byte 4095"},
		{"first body byte", flip(obj(7, 4096), 16), 7, 4096, "differs from the written data at byte 16"},
	} {
		if got := checkBench(tc.data, tc.n, benchFiller(uint64(tc.size))); got != tc.want {
			t.Errorf("%s: checkBench = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		want string
	}{
		{0, "0 B"}, {1, "1 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {10 * 1024, "10 KiB"},
		{1024*1024 - 1, "1023 KiB"}, {1 << 20, "1.0 MiB"}, {4 << 20, "4.0 MiB"}, {100 << 20, "100 MiB"},
		{3 << 30, "3.0 GiB"}, {5 << 40, "5.0 TiB"}, {1 << 62, "4.0 EiB"}, {15<<60 + 1<<59, "15 EiB"},
	} {
		if got := humanBytes(tc.n); got != tc.want {
			t.Errorf("humanBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestPercentUsed(t *testing.T) {
	for _, tc := range []struct {
		used, avail uint64
		want        float64
	}{
		{0, 0, 0}, {0, 10, 0}, {10, 0, 100}, {1, 2, 33.33}, {2, 1, 66.67}, {1, 9999, 0.01}, {1, 99999, 0},
	} {
		if got := percentUsed(tc.used, tc.avail); got != tc.want {
			t.Errorf("percentUsed(%d, %d) = %v, want %v", tc.used, tc.avail, got, tc.want)
		}
	}
}

// benchOnCluster runs bench write, seq and rand against a's pool data.
func benchOnCluster(t *testing.T, a *admin) {
	decode := func(out string) benchSummary {
		t.Helper()
		var m map[string]any
		var s benchSummary
		if err := json.Unmarshal([]byte(out), &m); err != nil || len(m) != 9 || json.Unmarshal([]byte(out), &s) != nil {
			t.Fatalf("summary is not the JSON object of 9 numbers: %v\n%s", err, out)
		}
		if s.Ops == 0 || s.Seconds <= 0 || s.IOPS <= 0 || s.LatMaxMs < s.LatP99Ms || s.LatP99Ms < s.LatP50Ms || s.LatP50Ms <= 0 || s.LatAvgMs <= 0 {
			t.Errorf("implausible summary %+v", s)
		}
		return s
	}
	out, errOut, code := a.run("-o", "json", "bench", "data", "2", "write", "--no-cleanup", "-b", "64K", "-t", "4")
	if code != 0 {
		t.Fatalf("bench write: exit %d\n%s", code, errOut)
	}
	w := decode(out)
	if w.Bytes != w.Ops*64<<10 {
		t.Errorf("write: %d ops, %d bytes", w.Ops, w.Bytes)
	}
	if !strings.Contains(errOut, progressHeader+"\n") || !regexp.MustCompile(`(?m)^    1 +\d+ +\d+ +\d+ +\d+\.\d{3} `).MatchString(errOut) ||
		!strings.Contains(errOut, "Maintaining 4 concurrent writes of 65536 bytes") || strings.Contains(errOut, "Cleaning up") {
		t.Errorf("write progress on stderr:\n%s", errOut)
	}
	names := lsNames(a)
	bench := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return !strings.HasPrefix(n, "benchmark_data_") })
	if uint64(len(bench)) != w.Ops || !slices.Contains(names, "benchmark_last_metadata") {
		t.Errorf("after write --no-cleanup the pool has %d benchmark objects, want %d, and the metadata: %q", len(bench), w.Ops, names)
	}

	for _, mode := range []string{"seq", "rand"} {
		out, errOut, code := a.run("-o", "json", "bench", "data", "1", mode, "-t", "4")
		if code != 0 {
			t.Fatalf("bench %s: exit %d\n%s", mode, code, errOut)
		}
		s := decode(out)
		if s.Bytes != s.Ops*64<<10 || (mode == "seq" && s.Ops > w.Ops) {
			t.Errorf("%s: %+v after writing %d objects", mode, s, w.Ops)
		}
		if !strings.Contains(errOut, progressHeader) {
			t.Errorf("%s: no progress on stderr:\n%s", mode, errOut)
		}
	}
	out = a.ok("bench", "data", "1", "seq")
	if !strings.Contains(out, "Total reads made:") || !strings.Contains(out, "Read size:              65536\n") || !strings.Contains(out, "p99 latency (ms):") {
		t.Errorf("seq summary:\n%s", out)
	}

	// Reads check what they get: object 0 holding object 1's data, and
	// object 2 cut short, are counted and reported.
	prefix := strings.TrimSuffix(bench[0], bench[0][strings.LastIndex(bench[0], "_object"):])
	tmp := t.TempDir()
	o1 := filepath.Join(tmp, "o1")
	a.ok("get", "data", prefix+"_object1", o1)
	a.ok("put", "data", prefix+"_object0", o1)
	os.WriteFile(o1, []byte("short"), 0o644)
	a.ok("put", "data", prefix+"_object2", o1)
	out, errOut, code = a.run("-o", "json", "bench", "data", "1", "seq", "-t", "1")
	if code != 1 || !strings.Contains(errOut, "reads returned other data than the write run wrote; the first: "+prefix+"_object0: holds the data of object 1") {
		t.Errorf("seq over bad data: exit %d\n%s", code, errOut)
	}
	if s := decode(out); s.Ops < 3 {
		t.Errorf("seq over bad data: %+v", s)
	}
	if code != 1 || !regexp.MustCompile(`: 2 of \d+ reads returned other data`).MatchString(errOut) {
		t.Errorf("seq over bad data: want 2 mismatches (objects 0 and 2):\n%s", errOut)
	}

	a.fails(1, "no benchmark data in pool data (no object nothing): write some first with radosctl bench data SECONDS write --no-cleanup",
		"bench", "data", "1", "rand", "--run-name", "nothing")

	// A run with cleanup removes what it wrote and its record. (It
	// reuses the names of the first run's objects: same host and pid.)
	out, errOut, code = a.run("-o", "json", "bench", "data", "1", "write", "-b", "4K", "-t", "2", "--run-name", "myrun")
	if code != 0 {
		t.Fatalf("bench write with cleanup: exit %d\n%s", code, errOut)
	}
	w2 := decode(out)
	if !strings.Contains(errOut, "Cleaning up (deleting ") || !strings.Contains(errOut, "Clean up completed") {
		t.Errorf("cleanup progress:\n%s", errOut)
	}
	names = lsNames(a)
	left := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return !strings.HasPrefix(n, "benchmark_data_") })
	if slices.Contains(names, "myrun") || uint64(len(left)) != w.Ops-min(w.Ops, w2.Ops) {
		t.Errorf("after a run of %d writes with cleanup, %d of the first run's %d objects are left (and myrun: %v)",
			w2.Ops, len(left), w.Ops, slices.Contains(names, "myrun"))
	}
}

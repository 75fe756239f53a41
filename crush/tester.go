package crush

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
)

// TestConfig describes a crushtool --test run. The zero value of each
// field means what crushtool's default does.
type TestConfig struct {
	// Rule restricts the run to one rule id; nil runs every rule.
	Rule *int
	// NumRep fixes the replica count (0..MaxResult); nil runs each rule
	// from its min_size to its max_size.
	NumRep *int
	// MinX and MaxX bound the inputs (inclusive). If either is negative,
	// crushtool's default 0..1023 applies.
	MinX, MaxX int
	// Reweights overrides the reweight of devices (16.16; see
	// ReweightFromFloat). Devices not listed get 1.0 if placed in a
	// bucket, else 0.
	Reweights map[int32]uint32
	// PoolID, if set, hashes each x with the pool id first, as a pool with
	// the HASHPSPOOL flag does (the printed x stays the plain x). As in
	// crushtool, -1 means no pool.
	PoolID *int64
	// ShowMappings prints "CRUSH rule R x X [a,b,c]" for every input.
	ShowMappings bool
	// ShowStatistics prints, per rule and replica count, how many inputs
	// got each result size.
	ShowStatistics bool
	// ShowUtilization adds, per device, how many results it is in and how
	// many its weight predicts (implies ShowStatistics).
	ShowUtilization bool
	// ShowBadMappings prints inputs whose result is short or has holes.
	ShowBadMappings bool
}

// ReweightFromFloat converts a 0..1 reweight as crushtool's --weight does:
// float32, times 65536, truncated to a C int (x86 gives INT_MIN for
// values that do not fit, and NaN), clamped to [0, 0x10000].
func ReweightFromFloat(f float64) uint32 {
	p := float32(f) * float32(WeightOne)
	v := int64(math.MinInt32)
	if p == p && p < 1<<31 && p >= -(1<<31) {
		v = int64(p)
	}
	switch {
	case v < 0:
		return 0
	case v > WeightOne:
		return WeightOne
	}
	return uint32(v)
}

// Reweights returns the reweight vector crushtool builds: one entry per
// device id below MaxDevices, 1.0 for devices placed in a bucket, 0 for
// the others, then the overrides.
func (m *Map) Reweights(overrides map[int32]uint32) []uint32 {
	w := make([]uint32, m.maxDevices)
	for d := range w {
		if ov, ok := overrides[int32(d)]; ok {
			w[d] = ov
		} else if m.DevicePresent(int32(d)) {
			w[d] = WeightOne
		}
	}
	return w
}

// MaxResult bounds the replica count of one mapping; Ceph's rules and
// pools store it in 8 bits, and the mapper's scratch space grows with it.
const MaxResult = 255

// TestRun summarizes the mappings of one rule at one replica count.
type TestRun struct {
	Rule     int
	RuleName string
	NumRep   int
	Inputs   int         // number of x values mapped
	Sizes    map[int]int // result length -> number of inputs
	// Stored counts, per device id, the results a device appears in;
	// Expected is crushtool's estimate from the reweights.
	Stored   []int
	Expected []float32
}

// TestHooks receive a test's results as Map.Test computes them. Nil hooks
// are skipped.
type TestHooks struct {
	// Rule is called before the runs of an existing rule.
	Rule func(r *Rule, minRep, maxRep int)
	// Missing is called for a rule id in the range that does not exist.
	Missing func(ruleID int)
	// Mapping is called for every input; result is valid during the call.
	Mapping func(rule, numRep, x int, result []int32)
	// Done is called after each (rule, replica count).
	Done func(run *TestRun)
}

// Test maps every x of cfg through the selected rules and replica counts
// (crushtool --test's loops) and reports to hooks. The Show fields of cfg
// are ignored; see RunTest for crushtool's text output.
func (m *Map) Test(cfg TestConfig, hooks TestHooks) error {
	if cfg.NumRep != nil && (*cfg.NumRep < 0 || *cfg.NumRep > MaxResult) {
		return fmt.Errorf("%w: num-rep %d out of range 0..%d", ErrInvalidMap, *cfg.NumRep, MaxResult)
	}
	minX, maxX := cfg.MinX, cfg.MaxX
	if minX < 0 || maxX < 0 {
		minX, maxX = 0, 1023
	}
	minRule, maxRule := 0, len(m.Rules)-1
	if cfg.Rule != nil {
		minRule, maxRule = *cfg.Rule, *cfg.Rule
	}
	weights := m.Reweights(cfg.Reweights)
	var total int64
	for _, w := range weights {
		total += int64(w)
	}
	mp := m.NewMapper()
	args := m.ChooseArgsFor(0)
	var buf []int32
	for r := max(minRule, 0); r < len(m.Rules) && r <= maxRule; r++ {
		rule := m.Rule(r)
		if rule == nil {
			if hooks.Missing != nil {
				hooks.Missing(r)
			}
			continue
		}
		minRep, maxRep := int(rule.MinSize), int(rule.MaxSize)
		if cfg.NumRep != nil {
			minRep, maxRep = *cfg.NumRep, *cfg.NumRep
		}
		if hooks.Rule != nil {
			hooks.Rule(rule, minRep, maxRep)
		}
		for nr := minRep; nr <= maxRep; nr++ {
			if int32(total) == 0 { // crushtool sums into a C int
				continue
			}
			run := &TestRun{Rule: r, RuleName: rule.Name, NumRep: nr, Inputs: maxX - minX + 1,
				Sizes: map[int]int{}, Stored: make([]int, len(weights)), Expected: make([]float32, len(weights))}
			for x := minX; x <= maxX; x++ {
				in := uint32(x)
				if cfg.PoolID != nil && *cfg.PoolID != -1 {
					in = Hash2(uint32(x), uint32(*cfg.PoolID))
				}
				buf = mp.Do(r, in, nr, weights, args, buf)
				if hooks.Mapping != nil {
					hooks.Mapping(r, nr, x, buf)
				}
				for _, o := range buf {
					// Rules that emit buckets give negative ids.
					if o >= 0 && int(o) < len(run.Stored) {
						run.Stored[o]++
					}
				}
				run.Sizes[len(buf)]++
			}
			expected := float32(int32(min(nr, m.maxAffectedByRule(rule)) * run.Inputs))
			for i, w := range weights {
				run.Expected[i] = float32(w) / float32(int32(total)) * expected
			}
			if hooks.Done != nil {
				hooks.Done(run)
			}
		}
	}
	return nil
}

// RunTest runs the test described by cfg and writes crushtool's output
// for the selected Show options to out, byte for byte.
func (m *Map) RunTest(cfg TestConfig, out io.Writer) error {
	bw := bufio.NewWriter(out)
	stats := cfg.ShowStatistics || cfg.ShowUtilization
	line := make([]byte, 0, 64)
	hooks := TestHooks{
		Mapping: func(rule, numRep, x int, result []int32) {
			if cfg.ShowMappings {
				line = line[:0]
				line = append(line, "CRUSH rule "...)
				line = strconv.AppendInt(line, int64(rule), 10)
				line = append(line, " x "...)
				line = strconv.AppendInt(line, int64(x), 10)
				line = append(line, ' ')
				line = AppendList(line, result)
				line = append(line, '\n')
				bw.Write(line)
			}
			if cfg.ShowBadMappings && isBadMapping(result, numRep) {
				fmt.Fprintf(bw, "bad mapping rule %d x %d num_rep %d result %s\n", rule, x, numRep, AppendList(nil, result))
			}
		},
	}
	if stats {
		hooks.Missing = func(r int) { fmt.Fprintf(bw, "rule %d dne\n", r) }
		hooks.Rule = func(r *Rule, minRep, maxRep int) {
			fmt.Fprintf(bw, "rule %d (%s), x = %d..%d, numrep = %d..%d\n", r.ID, r.Name, cfg.MinX, cfg.MaxX, minRep, maxRep)
		}
		hooks.Done = func(run *TestRun) {
			keys := make([]int, 0, len(run.Sizes))
			for k := range run.Sizes {
				keys = append(keys, k)
			}
			sort.Ints(keys)
			for _, k := range keys {
				fmt.Fprintf(bw, "rule %d (%s) num_rep %d result size == %d:\t%d/%d\n", run.Rule, run.RuleName, run.NumRep, k, run.Sizes[k], run.Inputs)
			}
			if cfg.ShowUtilization {
				for i, n := range run.Stored {
					if e := run.Expected[i]; e > 0 && n > 0 {
						fmt.Fprintf(bw, "  device %d:\t\t stored : %d\t expected : %s\n", i, n, formatG6(e))
					}
				}
			}
		}
	}
	if cfg.MinX < 0 || cfg.MaxX < 0 {
		cfg.MinX, cfg.MaxX = 0, 1023
	}
	if err := m.Test(cfg, hooks); err != nil {
		return err
	}
	return bw.Flush()
}

// isBadMapping reports a result shorter than asked or with holes.
func isBadMapping(result []int32, numRep int) bool {
	if len(result) != numRep {
		return true
	}
	for _, o := range result {
		if o == ItemNone {
			return true
		}
	}
	return false
}

// AppendList appends items as crushtool prints a vector: "[a,b,c]".
func AppendList(b []byte, items []int32) []byte {
	b = append(b, '[')
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(it), 10)
	}
	return append(b, ']')
}

// formatG6 prints a float as a C++ ostream does by default (%g, six
// significant digits).
func formatG6(f float32) string {
	return strconv.FormatFloat(float64(f), 'g', 6, 64)
}

// maxAffectedByRule is crushtool's estimate of how many distinct items a
// rule can return, used only for the "expected" utilization column. It
// keeps crushtool's quirks: set_* steps count as choices of type 0, shadow
// buckets count, and the fallback bound is the bucket array capacity.
func (m *Map) maxAffectedByRule(r *Rule) int {
	var affected []int32
	replicas := map[int32]int32{}
	for _, s := range r.Steps {
		if s.Op >= OpChooseFirstN && s.Op != OpEmit {
			affected = append(affected, s.Arg2)
			replicas[s.Arg2] = s.Arg1
		}
	}
	byType := map[int32]int{}
	for _, t := range affected {
		for _, b := range m.Buckets {
			if b != nil && b.Name != "" && b.Type == t {
				byType[t]++
			}
		}
	}
	for _, t := range affected {
		if n := replicas[t]; n > 0 && int(n) < byType[t] {
			byType[t] = int(n)
		}
	}
	maxAffected := int(max(m.maxBuckets, m.maxDevices))
	for _, t := range affected {
		if n := byType[t]; n > 0 && n < maxAffected {
			maxAffected = n
		}
	}
	return maxAffected
}

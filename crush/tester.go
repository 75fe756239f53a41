package crush

import (
	"bufio"
	"fmt"
	"io"
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
	// the HASHPSPOOL flag does (the printed x stays the plain x).
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
// float32, times 65536, truncated, clamped to [0, 0x10000].
func ReweightFromFloat(f float64) uint32 {
	v := int64(float32(f) * float32(WeightOne))
	if f != f { // NaN
		v = 0
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

// RunTest runs the test described by cfg and writes crushtool's output
// format to out.
func (m *Map) RunTest(cfg TestConfig, out io.Writer) error {
	if cfg.NumRep != nil && (*cfg.NumRep < 0 || *cfg.NumRep > MaxResult) {
		return fmt.Errorf("%w: num-rep %d out of range 0..%d", ErrInvalidMap, *cfg.NumRep, MaxResult)
	}
	bw := bufio.NewWriter(out)
	minX, maxX := cfg.MinX, cfg.MaxX
	if minX < 0 || maxX < 0 {
		minX, maxX = 0, 1023
	}
	minRule, maxRule := 0, len(m.Rules)-1
	if cfg.Rule != nil {
		minRule, maxRule = *cfg.Rule, *cfg.Rule
	}
	stats := cfg.ShowStatistics || cfg.ShowUtilization
	weights := m.Reweights(cfg.Reweights)
	mp := m.NewMapper()
	args := m.ChooseArgsFor(0)
	var buf []int32
	line := make([]byte, 0, 64)

	for r := minRule; r < len(m.Rules) && r <= maxRule; r++ {
		rule := m.Rule(r)
		if rule == nil {
			if stats {
				fmt.Fprintf(bw, "rule %d dne\n", r)
			}
			continue
		}
		minRep, maxRep := int(rule.MinSize), int(rule.MaxSize)
		if cfg.NumRep != nil {
			minRep, maxRep = *cfg.NumRep, *cfg.NumRep
		}
		if stats {
			fmt.Fprintf(bw, "rule %d (%s), x = %d..%d, numrep = %d..%d\n", r, rule.Name, minX, maxX, minRep, maxRep)
		}
		for nr := minRep; nr <= maxRep; nr++ {
			var total int64
			for _, w := range weights {
				total += int64(w)
			}
			if int32(total) == 0 { // crushtool sums into a C int
				continue
			}
			per := make([]int, len(weights))
			sizes := map[int]int{}
			for x := minX; x <= maxX; x++ {
				in := uint32(x)
				if cfg.PoolID != nil {
					in = Hash2(uint32(x), uint32(*cfg.PoolID))
				}
				buf = mp.Do(r, in, nr, weights, args, buf)
				if cfg.ShowMappings {
					line = line[:0]
					line = append(line, "CRUSH rule "...)
					line = strconv.AppendInt(line, int64(r), 10)
					line = append(line, " x "...)
					line = strconv.AppendInt(line, int64(x), 10)
					line = append(line, ' ')
					line = AppendList(line, buf)
					line = append(line, '\n')
					bw.Write(line)
				}
				hasNone := false
				for _, o := range buf {
					if o == ItemNone {
						hasNone = true
					} else if int(o) < len(per) {
						per[o]++
					}
				}
				sizes[len(buf)]++
				if cfg.ShowBadMappings && (len(buf) != nr || hasNone) {
					fmt.Fprintf(bw, "bad mapping rule %d x %d num_rep %d result %s\n", r, x, nr, AppendList(nil, buf))
				}
			}
			if !stats {
				continue
			}
			keys := make([]int, 0, len(sizes))
			for k := range sizes {
				keys = append(keys, k)
			}
			sort.Ints(keys)
			for _, k := range keys {
				fmt.Fprintf(bw, "rule %d (%s) num_rep %d result size == %d:\t%d/%d\n", r, rule.Name, nr, k, sizes[k], maxX-minX+1)
			}
			if cfg.ShowUtilization {
				expected := float32(int32(min(nr, m.maxAffectedByRule(rule)) * (maxX - minX + 1)))
				for i, n := range per {
					prop := float32(weights[i]) / float32(int32(total))
					exp := prop * expected
					if exp > 0 && n > 0 {
						fmt.Fprintf(bw, "  device %d:\t\t stored : %d\t expected : %s\n", i, n, formatG6(exp))
					}
				}
			}
		}
	}
	return bw.Flush()
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

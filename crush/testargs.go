package crush

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseTestArgs reads crushtool --test options into a TestConfig, with
// crushtool's meaning for each: --rule R, --num-rep N, --min-x A,
// --max-x B, --x X (both bounds), --weight DEV W (a 0..1 reweight,
// repeatable), --pool-id P, and the --show-mappings, --show-statistics,
// --show-utilization and --show-bad-mappings switches. Options may be
// spelled with '-' or '_' and given as "--opt value" or "--opt=value".
// Arguments that are not options are returned in rest.
func ParseTestArgs(args []string) (cfg TestConfig, rest []string, err error) {
	cfg.MinX, cfg.MaxX = -1, -1
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			rest = append(rest, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.ReplaceAll(a[2:], "_", "-"), "=")
		value := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("--%s needs a value", name)
			}
			i++
			return args[i], nil
		}
		intValue := func(lo, hi int64) (int64, error) {
			s, err := value()
			if err != nil {
				return 0, err
			}
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil || v < lo || v > hi {
				return 0, fmt.Errorf("--%s %q: want an integer in %d..%d", name, s, lo, hi)
			}
			return v, nil
		}
		switch name {
		case "rule":
			v, err := intValue(0, 255)
			if err != nil {
				return cfg, nil, err
			}
			r := int(v)
			cfg.Rule = &r
		case "num-rep":
			v, err := intValue(0, MaxResult)
			if err != nil {
				return cfg, nil, err
			}
			n := int(v)
			cfg.NumRep = &n
		case "min-x", "max-x", "x":
			v, err := intValue(0, 1<<31-1)
			if err != nil {
				return cfg, nil, err
			}
			if name != "max-x" {
				cfg.MinX = int(v)
			}
			if name != "min-x" {
				cfg.MaxX = int(v)
			}
		case "pool-id":
			v, err := intValue(-1<<31, 1<<31-1)
			if err != nil {
				return cfg, nil, err
			}
			cfg.PoolID = &v
		case "weight":
			if hasVal {
				return cfg, nil, fmt.Errorf("--weight takes two arguments: --weight DEVICE WEIGHT")
			}
			if i+2 >= len(args) {
				return cfg, nil, fmt.Errorf("--weight needs a device id and a weight")
			}
			dev, err := strconv.ParseInt(args[i+1], 10, 32)
			if err != nil || dev < 0 || dev >= DeviceIDLimit {
				return cfg, nil, fmt.Errorf("--weight device %q: want a device id in 0..%d", args[i+1], DeviceIDLimit-1)
			}
			w, err := strconv.ParseFloat(args[i+2], 64)
			if err != nil {
				return cfg, nil, fmt.Errorf("--weight %s %q: want a number between 0 and 1", args[i+1], args[i+2])
			}
			i += 2
			if cfg.Reweights == nil {
				cfg.Reweights = map[int32]uint32{}
			}
			cfg.Reweights[int32(dev)] = ReweightFromFloat(w)
		case "show-mappings":
			cfg.ShowMappings = true
		case "show-statistics":
			cfg.ShowStatistics = true
		case "show-utilization":
			cfg.ShowUtilization = true
		case "show-bad-mappings":
			cfg.ShowBadMappings = true
		default:
			return cfg, nil, fmt.Errorf("unknown option --%s", name)
		}
	}
	if cfg.MinX >= 0 && cfg.MaxX >= 0 && cfg.MinX > cfg.MaxX {
		return cfg, nil, fmt.Errorf("--min-x %d is above --max-x %d", cfg.MinX, cfg.MaxX)
	}
	return cfg, rest, nil
}

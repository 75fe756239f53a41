package osd

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/loligo/loligo/internal/transport"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// tunables are the settings an admin may change while the OSD runs.
// The throttle limits live in the throttle itself.
type tunables struct {
	scrubInterval     time.Duration
	deepScrubInterval time.Duration
}

// Setting names, as Ceph's where Ceph has one.
const (
	keyRecoveryMaxActive = "osd_recovery_max_active"
	keyRecoveryMaxBytes  = "osd_recovery_max_bytes_per_sec"
	keyScrubInterval     = "osd_scrub_interval"
	keyDeepScrubInterval = "osd_deep_scrub_interval"
)

func (o *OSD) settings() map[string]string {
	active, bps := o.throttle.limits()
	o.tunMu.Lock()
	defer o.tunMu.Unlock()
	return map[string]string{
		keyRecoveryMaxActive: strconv.Itoa(active),
		keyRecoveryMaxBytes:  strconv.FormatInt(bps, 10),
		keyScrubInterval:     o.tun.scrubInterval.String(),
		keyDeepScrubInterval: o.tun.deepScrubInterval.String(),
	}
}

func (o *OSD) scrubIntervals() (shallow, deep time.Duration) {
	o.tunMu.Lock()
	defer o.tunMu.Unlock()
	return o.tun.scrubInterval, o.tun.deepScrubInterval
}

// applySettings validates every change first and applies none on error.
func (o *OSD) applySettings(set map[string]string) error {
	active, bps := o.throttle.limits()
	o.tunMu.Lock()
	tun := o.tun
	o.tunMu.Unlock()
	for _, k := range slices.Sorted(maps.Keys(set)) {
		val := set[k]
		switch k {
		case keyRecoveryMaxActive:
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > 1024 {
				return fmt.Errorf("%s: %q is not a count from 1 to 1024", k, val)
			}
			active = n
		case keyRecoveryMaxBytes:
			n, err := parseBytes(val)
			if err != nil || n < 0 {
				return fmt.Errorf("%s: %q is not a byte rate (e.g. 100M, 0 for no limit)", k, val)
			}
			bps = n
		case keyScrubInterval, keyDeepScrubInterval:
			d, err := time.ParseDuration(val)
			if err != nil {
				return fmt.Errorf("%s: %q is not a duration (e.g. 24h, -1s for never)", k, val)
			}
			if k == keyScrubInterval {
				tun.scrubInterval = d
			} else {
				tun.deepScrubInterval = d
			}
		default:
			return fmt.Errorf("unknown setting %q; the settings are %v", k, slices.Sorted(maps.Keys(o.settings())))
		}
	}
	o.throttle.set(active, bps)
	o.tunMu.Lock()
	o.tun = tun
	o.tunMu.Unlock()
	return nil
}

// parseBytes reads 123, 64K, 100M, 2G (powers of 1024).
func parseBytes(s string) (int64, error) {
	mult := int64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			mult, s = 1<<10, s[:n-1]
		case 'm', 'M':
			mult, s = 1<<20, s[:n-1]
		case 'g', 'G':
			mult, s = 1<<30, s[:n-1]
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if v > math.MaxInt64/mult || v < math.MinInt64/mult {
		return 0, fmt.Errorf("%s: too large", s)
	}
	return v * mult, nil
}

func (s *service) Config(ctx context.Context, req *pb.ConfigRequest) (*pb.ConfigReply, error) {
	if err := adminOnly(ctx); err != nil {
		return &pb.ConfigReply{Result: pb.Result_INVALID, Message: err.Error()}, nil
	}
	if len(req.GetSet()) > 0 {
		if err := s.o.applySettings(req.GetSet()); err != nil {
			return &pb.ConfigReply{Result: pb.Result_INVALID, Message: err.Error(), Values: s.o.settings()}, nil
		}
		s.o.log.Info("settings changed", "set", req.GetSet())
	}
	return &pb.ConfigReply{Values: s.o.settings()}, nil
}

// adminOnly refuses callers other than client.admin and monitors.
func adminOnly(ctx context.Context) error {
	e, err := transport.Entity(ctx)
	if err != nil {
		return err
	}
	if e != "client.admin" && !isMon(e) {
		return fmt.Errorf("%s may not run admin commands on an OSD (only client.admin)", e)
	}
	return nil
}

func isMon(e string) bool { return len(e) > 4 && e[:4] == "mon." }

package osd

import (
	"log/slog"
	"time"

	"google.golang.org/grpc"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/internal/clock"
	"github.com/loligo/loligo/osd/store"
)

// Config configures one OSD. Zero values take the defaults named.
type Config struct {
	// ID and UUID name the OSD; the monitor created them (OSDCreate).
	ID   int32
	UUID string
	// FSID is the cluster's id; it keys the data checksums.
	FSID string
	// DataDir holds the OSD's store (DataDir/store) and identity files.
	DataDir string
	// Addr is the address to listen on (default 127.0.0.1:0); the OSD
	// boots with the address it actually listens on.
	Addr string
	// TLS: the cluster CA and the OSD's own certificate (entity osd.ID).
	CAFile, CertFile, KeyFile string
	// MonHosts are the monitors' addresses.
	MonHosts []string
	// Store tunes the object store; Dir, ChecksumKey and Logger are set
	// by the OSD.
	Store store.Options
	// HeartbeatInterval is how often peers are pinged (default 1s);
	// HeartbeatGrace how long a peer may stay silent before it is
	// reported failed (default 20s, as Ceph's osd_heartbeat_grace).
	HeartbeatInterval time.Duration
	HeartbeatGrace    time.Duration
	// BeaconInterval is how often the OSD tells the monitor it lives
	// (default 5s; the monitor's grace is 20s).
	BeaconInterval time.Duration
	// PeerTimeout bounds each call to a peer (default 10s).
	PeerTimeout time.Duration
	// MonTimeout bounds each call to a monitor (default 10s).
	MonTimeout time.Duration
	// SyncRetry is the pause before a failed catch-up is retried
	// (default 500ms).
	SyncRetry time.Duration
	// TrimInterval is how often the OSD hands memory it no longer uses
	// back to the operating system (default 30s; negative: never). Large
	// writes leave tens of MiB of buffers that Go's own scavenger returns
	// only slowly, so an idle OSD would keep the RSS of its last burst.
	TrimInterval time.Duration
	// Recovery throttles, changeable at run time (Config RPC):
	// RecoveryMaxActive objects copied at once per OSD (default 8: a
	// copy waits mostly on the target's fsync and ingest, so recovery
	// is latency-bound; 8 reaches over half the disk's write bandwidth
	// here while clients keep over half their throughput, see
	// deploy/bench/recovery.sh; Ceph's osd_recovery_max_active_ssd is
	// 10); RecoveryMaxBytes bytes per second (default 0: no byte limit).
	RecoveryMaxActive int
	RecoveryMaxBytes  int64
	// Scrub schedule per PG (staggered by a random share of the
	// interval): ScrubInterval default 24h, DeepScrubInterval default
	// 7 days (Ceph's osd_scrub_min_interval and osd_deep_scrub_interval);
	// negative: never on schedule.
	ScrubInterval     time.Duration
	DeepScrubInterval time.Duration
	// StatsInterval is how often the OSD reports its PGs to the monitor
	// (default 2s; a state change reports sooner).
	StatsInterval time.Duration
	// SpaceRetry is how often an OSD whose disk filled up looks for freed
	// space (default 5s); RestartBelow is the share of the file system
	// in use it waits to fall below (default 0.95, the default full
	// ratio) before it starts again (see Serve).
	SpaceRetry   time.Duration
	RestartBelow float64
	// FailsafeRatio is the share of its file system past which the OSD
	// refuses writes that add data on its own, whatever the map says
	// (Ceph's osd_failsafe_full_ratio; default 0.97; 1 or more: never).
	// The monitor learns of fullness a beacon late; this keeps a burst of
	// writes from running the disk out of space meanwhile.
	FailsafeRatio float64
	// PeerDialOptions are added to every connection to another OSD
	// (tests inject faults with an interceptor; nil: none).
	PeerDialOptions []grpc.DialOption
	// MonDialOptions are added to every connection to a monitor (tests
	// cut an OSD off from the monitors with an interceptor; nil: none).
	MonDialOptions []grpc.DialOption
	Clock          clock.Clock
	Logger         *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.SpaceRetry == 0 {
		c.SpaceRetry = noSpaceRetry
	}
	if c.FailsafeRatio == 0 {
		c.FailsafeRatio = defaultFailsafe
	}
	if c.RestartBelow == 0 {
		c.RestartBelow = clustermap.DefaultFullRatio
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = time.Second
	}
	if c.HeartbeatGrace == 0 {
		c.HeartbeatGrace = 20 * time.Second
	}
	if c.BeaconInterval == 0 {
		c.BeaconInterval = 5 * time.Second
	}
	if c.PeerTimeout == 0 {
		c.PeerTimeout = 10 * time.Second
	}
	if c.MonTimeout == 0 {
		c.MonTimeout = 10 * time.Second
	}
	if c.SyncRetry == 0 {
		c.SyncRetry = 500 * time.Millisecond
	}
	if c.TrimInterval == 0 {
		c.TrimInterval = 30 * time.Second
	}
	if c.RecoveryMaxActive == 0 {
		c.RecoveryMaxActive = 8
	}
	if c.ScrubInterval == 0 {
		c.ScrubInterval = 24 * time.Hour
	}
	if c.DeepScrubInterval == 0 {
		c.DeepScrubInterval = 7 * 24 * time.Hour
	}
	if c.StatsInterval == 0 {
		c.StatsInterval = 2 * time.Second
	}
	if c.Clock == nil {
		c.Clock = clock.Real()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

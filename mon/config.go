package mon

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/loligo/loligo/internal/clock"
	"github.com/loligo/loligo/internal/pki"
	"github.com/loligo/loligo/internal/transport"
)

// Config configures one monitor. Fields marked required must be set; the
// zero value of every other field means the default given.
type Config struct {
	// Name is the monitor's name ("a"); its entity is mon.<Name>.
	// Required.
	Name string
	// FSID is the cluster's id. Required.
	FSID string
	// Addr is the gRPC listen address, HOST:PORT (port 0: any free port;
	// see Mon.Addr). Required.
	Addr string
	// CAFile, CertFile and KeyFile are the cluster CA and this monitor's
	// certificate and key (entity mon.<Name>): its gRPC service and its
	// connections to other monitors. Required.
	CAFile, CertFile, KeyFile string

	// EtcdCAFile, EtcdCertFile and EtcdKeyFile are the etcd CA and this
	// monitor's certificate and key from it (EtcdKeyPaths;
	// PrepareEtcdKeys makes them). Required. The embedded member serves
	// that certificate on its client and peer URLs and accepts there only
	// certificates the etcd CA issued; the monitor's etcd client, to the
	// embedded member or to EtcdEndpoints, presents it. New refuses an
	// etcd CA that is the cluster CA, or an etcd certificate the cluster
	// CA issued: an etcd that trusts the cluster CA lets every OSD and
	// client read and write the map past the monitors' checks.
	EtcdCAFile, EtcdCertFile, EtcdKeyFile string

	// EtcdEndpoints, when set, are the client URLs of an external etcd
	// cluster, and no member is embedded. That cluster must trust only
	// the etcd CA (etcd --trusted-ca-file and --peer-trusted-ca-file,
	// with --client-cert-auth).
	EtcdEndpoints []string

	// The embedded etcd member (when EtcdEndpoints is empty). DataDir
	// holds it (required). ClientURL and PeerURL are https URLs
	// (defaults https://127.0.0.1:6790 and :6791). InitialCluster is
	// etcd's NAME=PEER_URL,... list of the first members (default: this
	// one alone); it is read only when the member starts on an empty
	// directory.
	DataDir                    string
	EtcdClientURL, EtcdPeerURL string
	InitialCluster             string

	// Bootstrap lets this monitor write epoch 1 of a new cluster if etcd
	// holds no map yet. Without it, the monitor waits for the map.
	Bootstrap bool

	// BeaconGrace (osd_beacon_grace) is how long an OSD may send no
	// beacon before it is marked down; peer reports count within it too
	// (default 20s).
	BeaconGrace time.Duration
	// DownOutInterval is how long an OSD stays down before it is marked
	// out (default 600s); negative: never.
	DownOutInterval time.Duration
	// MinReporters is how many distinct peers' reports mark an OSD down
	// (default 2).
	MinReporters int
	// TickInterval is how often the leader checks for failed OSDs
	// (default 1s).
	TickInterval time.Duration
	// SessionTTL is the etcd lease of this monitor's session: a killed
	// leader is replaced within about this time (default 5s).
	SessionTTL time.Duration
	// IncWindow is how many incrementals are kept (default 500).
	IncWindow uint64
	// ConfirmPercent is the share of PGs an admin change may move without
	// the caller's "yes" (default 10); a negative value never asks.
	ConfirmPercent int
	// Limits bound pools (zero value: Ceph's defaults).
	Limits Limits
	// MaxMapSize bounds, in bytes, the encoded OSD map and each
	// incremental (default 32 MiB; at most MaxMapSizeLimit). A change
	// that would make a larger one is refused with ErrTooBig, naming the
	// sizes, and changes nothing. The map is stored in etcd in chunks, so
	// etcd's request limits do not bound it; the default is some ten
	// times the map of the largest real cluster (10,000 OSDs and 100
	// pools make 1.3 MB here, a 60,000-device CRUSH map 2.7 MB; Ceph's
	// maps of such clusters run to a few MB), and half of what one gRPC
	// message carries, which leaves room for the crushtool text that
	// setcrushmap sends.
	MaxMapSize int
	// RequestTimeout bounds one etcd or forwarded request (default 10s).
	RequestTimeout time.Duration
	// PGStaleAfter is how old a PG's newest report may be before PGDump,
	// status and health show the PG "stale+" (default 30s; primaries
	// report every few seconds). A report from an OSD that is down in the
	// map is stale at once; a negative value makes only that count.
	PGStaleAfter time.Duration

	// Clock is the time source (default: the wall clock).
	Clock clock.Clock
	// Logger receives the monitor's log (default: discard).
	Logger *slog.Logger
}

// checkEtcdTrust refuses etcd files that would show that etcd trusts the
// cluster CA: the etcd CA being (or holding) the cluster CA, or an etcd
// certificate the cluster CA issued (etcd must trust its issuer to
// accept it). Either way every OSD's and client's certificate would
// reach the map in etcd, past the monitors' checks.
func (c *Config) checkEtcdTrust() error {
	const fix = "make etcd trust only the etcd CA (DIR/keys/etcd/ca.crt of the bootstrap monitor) and give the monitor its certificate from it (`loligo cert --etcd`; deploy/README.md)"
	shared, err := pki.SharesCA(c.EtcdCAFile, c.CAFile)
	if err != nil {
		return fmt.Errorf("mon: the etcd CA: %w", err)
	}
	if shared {
		return fmt.Errorf("%w: the etcd CA %s is the cluster CA %s: an etcd that trusts it accepts every OSD's and client's certificate, and they could read and change the map past the monitors; %s",
			ErrInvalid, c.EtcdCAFile, c.CAFile, fix)
	}
	issued, err := pki.IssuedBy(c.EtcdCertFile, c.CAFile)
	if err != nil {
		return fmt.Errorf("mon: the etcd certificate: %w", err)
	}
	if issued {
		return fmt.Errorf("%w: the etcd certificate %s was issued by the cluster CA %s: an etcd that accepts it trusts the cluster CA, so every OSD's and client's certificate, and they could read and change the map past the monitors; %s",
			ErrInvalid, c.EtcdCertFile, c.CAFile, fix)
	}
	return nil
}

// DefaultMaxMapSize is Config.MaxMapSize's default.
const DefaultMaxMapSize = 32 << 20

// MaxMapSizeLimit is the largest Config.MaxMapSize: the map travels
// whole in one gRPC message (GetMap, a subscription's full map), and
// OSDs, clients and monitors all accept messages up to
// transport.MaxMessage; 64 KiB are left for the message around it.
const MaxMapSizeLimit = transport.MaxMessage - 64<<10

func (c *Config) withDefaults() (Config, error) {
	out := *c
	for _, req := range []struct{ name, v string }{
		{"Name", c.Name}, {"FSID", c.FSID}, {"Addr", c.Addr},
		{"CAFile", c.CAFile}, {"CertFile", c.CertFile}, {"KeyFile", c.KeyFile},
		{"EtcdCAFile", c.EtcdCAFile}, {"EtcdCertFile", c.EtcdCertFile}, {"EtcdKeyFile", c.EtcdKeyFile},
	} {
		if req.v == "" {
			return out, fmt.Errorf("%w: mon config needs %s", ErrInvalid, req.name)
		}
	}
	if err := pki.ValidEntity("mon." + c.Name); err != nil {
		return out, fmt.Errorf("%w: mon name %q: %v", ErrInvalid, c.Name, err)
	}
	if len(c.EtcdEndpoints) == 0 {
		if c.DataDir == "" {
			return out, fmt.Errorf("%w: an embedded etcd needs DataDir", ErrInvalid)
		}
		def := func(s *string, v string) {
			if *s == "" {
				*s = v
			}
		}
		def(&out.EtcdClientURL, "https://127.0.0.1:6790")
		def(&out.EtcdPeerURL, "https://127.0.0.1:6791")
		def(&out.InitialCluster, c.Name+"="+out.EtcdPeerURL)
		for _, u := range []string{out.EtcdClientURL, out.EtcdPeerURL} {
			pu, err := url.Parse(u)
			if err != nil || pu.Scheme != "https" || pu.Host == "" {
				return out, fmt.Errorf("%w: etcd URL %q: use https://HOST:PORT (etcd is always TLS)", ErrInvalid, u)
			}
		}
		for _, m := range strings.Split(out.InitialCluster, ",") {
			name, u, ok := strings.Cut(m, "=")
			if pu, err := url.Parse(u); !ok || name == "" || err != nil || pu.Scheme != "https" {
				return out, fmt.Errorf("%w: initial cluster member %q: use NAME=https://HOST:PORT", ErrInvalid, m)
			}
		}
	}
	durDef := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	durDef(&out.BeaconGrace, 20*time.Second)
	durDef(&out.DownOutInterval, 600*time.Second)
	durDef(&out.TickInterval, time.Second)
	durDef(&out.SessionTTL, 5*time.Second)
	durDef(&out.RequestTimeout, 10*time.Second)
	durDef(&out.PGStaleAfter, 30*time.Second)
	if out.MinReporters == 0 {
		out.MinReporters = 2
	}
	if out.IncWindow == 0 {
		out.IncWindow = 500
	}
	switch {
	case out.MaxMapSize == 0:
		out.MaxMapSize = DefaultMaxMapSize
	case out.MaxMapSize < 0 || out.MaxMapSize > MaxMapSizeLimit:
		return out, fmt.Errorf("%w: MaxMapSize %d: use 1..%d bytes (what one gRPC message carries to OSDs and clients, less room for its envelope)",
			ErrInvalid, out.MaxMapSize, MaxMapSizeLimit)
	}
	if out.ConfirmPercent == 0 {
		out.ConfirmPercent = 10
	}
	if out.Clock == nil {
		out.Clock = clock.Real()
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	return out, nil
}

package mon

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/loligo/loligo/internal/pki"
)

// startEmbedded starts this monitor's etcd member, TLS with client
// certificates required on both the client and the peer URLs, and waits
// until it serves (which, for a new multi-member cluster, needs a
// majority of the members up). Both URLs serve the monitor's etcd
// certificate and trust only the etcd CA, so only monitors (and
// break-glass operators) get through: the cluster CA's certificates of
// OSDs and clients fail the handshake.
//
// The member does not also restrict the common names it accepts (etcd's
// AllowedCNs): the etcd CA certifies only who may reach etcd anyway, and
// a list of the monitors' names, taken from InitialCluster, would lock
// the other members out of one restarted without it (etcd reads it only
// on an empty directory, so it may be left out on a restart).
func startEmbedded(ctx context.Context, cfg *Config, log *slog.Logger) (*embed.Etcd, error) {
	ec := embed.NewConfig()
	ec.Name = cfg.Name
	ec.Dir = cfg.DataDir
	cu, err := url.Parse(cfg.EtcdClientURL)
	if err != nil {
		return nil, err
	}
	pu, err := url.Parse(cfg.EtcdPeerURL)
	if err != nil {
		return nil, err
	}
	ec.ListenClientUrls, ec.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	ec.ListenPeerUrls, ec.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	ec.InitialCluster = cfg.InitialCluster
	ec.InitialClusterToken = "loligo-" + cfg.FSID
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "member")); err == nil {
		ec.ClusterState = embed.ClusterStateFlagExisting
	}
	tlsInfo := transport.TLSInfo{CertFile: cfg.EtcdCertFile, KeyFile: cfg.EtcdKeyFile, TrustedCAFile: cfg.EtcdCAFile, ClientCertAuth: true}
	ec.ClientTLSInfo = tlsInfo
	ec.PeerTLSInfo = tlsInfo
	// Beacons never reach etcd, so revisions grow with epochs and
	// monitor sessions only; keep a long history for GetMap(old epoch).
	ec.AutoCompactionMode = embed.CompactorModeRevision
	ec.AutoCompactionRetention = "20000"
	ec.LogLevel = "error"
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("mon: etcd data directory: %w", err)
	}
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("mon: starting the embedded etcd member %s (client %s, peer %s): %w",
			cfg.Name, cfg.EtcdClientURL, cfg.EtcdPeerURL, err)
	}
	select {
	case <-e.Server.ReadyNotify():
		log.Info("embedded etcd ready", "client", cfg.EtcdClientURL, "peer", cfg.EtcdPeerURL)
		return e, nil
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("mon: embedded etcd failed: %w", err)
	case <-ctx.Done():
		e.Close()
		return nil, fmt.Errorf("mon: embedded etcd did not become ready (are a majority of %s up?): %w",
			cfg.InitialCluster, ctx.Err())
	}
}

// dialEtcd opens the etcd client, with the monitor's etcd certificate.
func dialEtcd(cfg *Config, endpoints []string) (*clientv3.Client, error) {
	tlsConf, err := pki.ClientConfig(cfg.EtcdCertFile, cfg.EtcdKeyFile, cfg.EtcdCAFile)
	if err != nil {
		return nil, fmt.Errorf("mon: etcd client certificate: %w", err)
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		TLS:         tlsConf,
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
		// Fail calls instead of waiting forever for a lost member.
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("mon: connecting to etcd %v: %w", endpoints, err)
	}
	return cli, nil
}

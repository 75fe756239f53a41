package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/loligo/loligo/internal/config"
	"github.com/loligo/loligo/internal/pki"
	"github.com/loligo/loligo/internal/transport"
	"github.com/loligo/loligo/mon"
	"github.com/loligo/loligo/osd"
	pb "github.com/loligo/loligo/proto/loligopb"
)

func osdCmd(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("loligo osd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.Int("id", -1, "the OSD's id (its data directory must have been made for it)")
	create := fs.Bool("create", false, "make a new OSD in --data: get an id from the monitor and a certificate from the CA in --ca-dir")
	data := fs.String("data", "", "the OSD's data directory (required)")
	confPath := fs.String("conf", "", "cluster config (default $LOLIGO_CONF); its client.admin creates the OSD")
	caDir := fs.String("ca-dir", "", "with --create: the bootstrap monitor's directory (holds keys/ca.key)")
	host := fs.String("host", "", "with --create: the CRUSH host bucket (default: this machine's hostname)")
	addr := fs.String("addr", "127.0.0.1:0", "address to serve on")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	debugAddr := fs.String("debug-addr", "", "serve Go's pprof profiles on this HTTP address (e.g. 127.0.0.1:6070)")
	maxActive := fs.Int("recovery-max-active", 0, "objects recovery and backfill copy at once (0: 8); radosctl tell changes it at run time")
	maxBytes := fs.Int64("recovery-max-bytes", 0, "bytes per second recovery and backfill may copy (0: no limit)")
	scrubIv := fs.Duration("scrub-interval", 0, "how often each PG is scrubbed, staggered (0: 24h; negative: never)")
	deepIv := fs.Duration("deep-scrub-interval", 0, "how often each PG is deep-scrubbed, staggered (0: 7 days; negative: never)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *maxActive < 0 || *maxBytes < 0 {
		return fmt.Errorf("%w: --recovery-max-active and --recovery-max-bytes cannot be negative", errUsage)
	}
	if *data == "" {
		return fmt.Errorf("%w: loligo osd needs --data DIR", errUsage)
	}
	if *debugAddr != "" {
		stop, err := serveDebug(*debugAddr)
		if err != nil {
			return err
		}
		defer stop()
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	path, err := config.Locate(*confPath, os.Getenv)
	if err != nil {
		return err
	}
	conf, err := config.Load(path)
	if err != nil {
		return err
	}
	if *create {
		if *caDir == "" {
			return fmt.Errorf("%w: --create needs --ca-dir (the bootstrap monitor's directory) to certify the new OSD", errUsage)
		}
		h := *host
		if h == "" {
			if h, err = os.Hostname(); err != nil {
				return err
			}
		}
		ident, err := createOSD(ctx, conf, *data, *caDir, h)
		if err != nil {
			return err
		}
		log.Info("created", "id", ident.ID, "uuid", ident.UUID, "host", h)
		*id = int(ident.ID)
	}
	cfg, err := osdConfig(conf, *data, int32(*id), *addr)
	if err != nil {
		return err
	}
	cfg.Logger = log // the OSD names itself in its records
	cfg.RecoveryMaxActive, cfg.RecoveryMaxBytes = *maxActive, *maxBytes
	cfg.ScrubInterval, cfg.DeepScrubInterval = *scrubIv, *deepIv
	return osd.Serve(ctx, cfg, func(o *osd.OSD) {
		log.Info("osd starting", "id", cfg.ID, "addr", o.Addr(), "data", *data)
	})
}

// osdKeys is where an OSD's certificate lives in its data directory.
func osdKeys(data string) string { return filepath.Join(data, "keys") }

// createOSD makes the OSD of a data directory and certifies it.
func createOSD(ctx context.Context, conf *config.Config, data, caDir, host string) (osd.Identity, error) {
	keys, err := conf.Keys("client.admin")
	if err != nil {
		return osd.Identity{}, err
	}
	tlsConf, err := pki.ClientConfig(keys.Cert, keys.Key, conf.CA)
	if err != nil {
		return osd.Identity{}, err
	}
	var last error
	for _, h := range conf.MonHosts {
		cc, err := transport.Dial(h, tlsConf)
		if err != nil {
			return osd.Identity{}, err
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		ident, err := osd.Create(cctx, pb.NewMonClient(cc), data, conf.FSID, host, 0)
		cancel()
		cc.Close()
		if err != nil {
			last = err
			continue
		}
		entity := fmt.Sprintf("osd.%d", ident.ID)
		if cert, _ := pki.Paths(osdKeys(data), entity); !fileExists(cert) {
			if _, _, err := mon.IssueCert(caDir, entity, []string{"127.0.0.1", "localhost"}, osdKeys(data), time.Now()); err != nil {
				return ident, err
			}
		}
		return ident, nil
	}
	return osd.Identity{}, fmt.Errorf("creating an OSD: no monitor answered: %w", last)
}

// osdConfig is the config of the OSD in data, checking it was made for
// this cluster (and for id, when id >= 0).
func osdConfig(conf *config.Config, data string, id int32, addr string) (osd.Config, error) {
	ident, err := osd.LoadIdentity(data)
	if errors.Is(err, fs.ErrNotExist) {
		return osd.Config{}, fmt.Errorf("%s holds no OSD: make one with loligo osd --create --data %s --ca-dir MON_DIR", data, data)
	}
	if err != nil {
		return osd.Config{}, err
	}
	if !ident.Created {
		return osd.Config{}, fmt.Errorf("the OSD in %s was never confirmed by the monitor: run loligo osd --create again", data)
	}
	if ident.FSID != conf.FSID {
		return osd.Config{}, fmt.Errorf("%s belongs to cluster %s, the config to %s", data, ident.FSID, conf.FSID)
	}
	if id >= 0 && ident.ID != id {
		return osd.Config{}, fmt.Errorf("%s holds osd.%d, not osd.%d", data, ident.ID, id)
	}
	entity := fmt.Sprintf("osd.%d", ident.ID)
	cert, key := pki.Paths(osdKeys(data), entity)
	if k, err := conf.Keys(entity); err == nil {
		cert, key = k.Cert, k.Key
	} else if !fileExists(cert) {
		return osd.Config{}, fmt.Errorf("no certificate for %s in %s or the config: loligo cert --dir MON_DIR --name %s --out %s",
			entity, osdKeys(data), entity, osdKeys(data))
	}
	return osd.Config{
		ID: ident.ID, UUID: ident.UUID, FSID: conf.FSID, DataDir: data, Addr: addr,
		CAFile: conf.CA, CertFile: cert, KeyFile: key, MonHosts: conf.MonHosts,
	}, nil
}

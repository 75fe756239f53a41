package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/loligo/loligo/internal/config"
	"github.com/loligo/loligo/mon"
)

const usage = `usage: loligo <command> [flags]

commands:
  up      start a whole cluster in this process (loligo up --dir DIR [--osds 3]),
          or as one child process per daemon (--procs [--restart-delay 10s])
  mon     run a monitor (loligo mon --dir DIR [--bootstrap] ...)
  osd     run an OSD (loligo osd --data DIR [--create --ca-dir MON_DIR] ...)
  cert    issue a certificate from the cluster CA (loligo cert --dir BOOTSTRAP_DIR --name ENTITY --out DIR),
          or with --etcd from the etcd CA (--name mon.NAME, etcd.NAME or breakglass.NAME)

run "loligo COMMAND -h" for the command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "up":
		err = upCmd(ctx, args[1:], os.Stdout, stderr)
	case "mon":
		err = monCmd(ctx, args[1:], stderr)
	case "osd":
		err = osdCmd(ctx, args[1:], stderr)
	case "cert":
		err = certCmd(args[1:], stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stderr, usage)
		return 0
	default:
		err = fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "loligo: %v\n", err)
		if errors.Is(err, errUsage) {
			fmt.Fprint(stderr, usage)
			return 2
		}
		return 1
	}
	return 0
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%w: log level %q: use debug, info, warn or error", errUsage, level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func monCmd(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("loligo mon", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "the monitor's data directory (required)")
	name := fs.String("name", "a", "monitor name; its entity is mon.NAME")
	bootstrap := fs.Bool("bootstrap", false, "create a new cluster in DIR (fsid, CA, certificates, loligo.conf, the first map)")
	addr := fs.String("addr", "127.0.0.1:6789", "gRPC address to serve on")
	confPath := fs.String("conf", "", "cluster config (default DIR/loligo.conf, or $LOLIGO_CONF)")
	clientURL := fs.String("etcd-client-url", "https://127.0.0.1:6790", "embedded etcd client URL (TLS)")
	peerURL := fs.String("etcd-peer-url", "https://127.0.0.1:6791", "embedded etcd peer URL (TLS)")
	initial := fs.String("initial-cluster", "", "embedded etcd's first members, NAME=PEER_URL,... (default: this monitor alone)")
	mons := fs.String("mons", "", "with --bootstrap: every first monitor, NAME=HOST:PORT,... (default: this one); certificates are made for each")
	endpoints := fs.String("etcd-endpoints", "", "use this external etcd cluster (https URLs, comma-separated) instead of an embedded member")
	etcdCA := fs.String("etcd-ca", "", "the etcd CA, the only CA etcd trusts (default DIR/keys/etcd/ca.crt)")
	etcdCert := fs.String("etcd-cert", "", "this monitor's certificate from the etcd CA, for etcd (default DIR/keys/etcd/mon.NAME.crt)")
	etcdKey := fs.String("etcd-key", "", "its key (default DIR/keys/etcd/mon.NAME.key)")
	grace := fs.Duration("beacon-grace", 20*time.Second, "mark an OSD down after this long without beacons (osd_beacon_grace)")
	downOut := fs.Duration("down-out-interval", 600*time.Second, "mark a down OSD out after this long (negative: never)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return fmt.Errorf("%w: loligo mon needs --dir", errUsage)
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	if *bootstrap {
		specs := []mon.MonSpec{{Name: *name, Addr: *addr}}
		if *mons != "" {
			specs = nil
			for _, kv := range strings.Split(*mons, ",") {
				n, a, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("%w: --mons entry %q: use NAME=HOST:PORT", errUsage, kv)
				}
				specs = append(specs, mon.MonSpec{Name: n, Addr: a})
			}
		}
		for i := range specs {
			specs[i].Hosts = urlHosts(*clientURL, *peerURL)
		}
		if _, err := mon.Bootstrap(*dir, specs, time.Now()); err != nil {
			return err
		}
		log.Info("bootstrapped", "conf", mon.ConfPath(*dir))
	}
	path := *confPath
	if path == "" {
		path = mon.ConfPath(*dir)
		if _, err := os.Stat(path); err != nil {
			if path, err = config.Locate("", os.Getenv); err != nil {
				return fmt.Errorf("no config in %s and %w: start the first monitor with --bootstrap, or copy loligo.conf and keys/mon.%s.* from it", *dir, err, *name)
			}
		}
	}
	conf, err := config.Load(path)
	if err != nil {
		return err
	}
	keys, err := conf.Keys("mon." + *name)
	if err != nil {
		// Keys copied next to the config, in DIR/keys, also do.
		cert := filepath.Join(mon.KeysDir(*dir), "mon."+*name+".crt")
		if _, serr := os.Stat(cert); serr != nil {
			return fmt.Errorf("%v: copy keys/mon.%s.crt and .key from the bootstrap monitor's directory into %s", err, *name, mon.KeysDir(*dir))
		}
		keys = config.EntityKeys{Cert: cert, Key: filepath.Join(mon.KeysDir(*dir), "mon."+*name+".key")}
	}
	ek := mon.EtcdKeyPaths(*dir, *name)
	if *etcdCA == "" && *etcdCert == "" && *etcdKey == "" {
		// The bootstrap monitor's directory, made before the etcd CA,
		// gets it now; another monitor's is told what to copy.
		hosts := urlHosts(*clientURL, *peerURL)
		if h, _, err := net.SplitHostPort(*addr); err == nil {
			hosts = append([]string{h}, hosts...)
		}
		var made []string
		if ek, made, err = mon.PrepareEtcdKeys(*dir, *name, hosts, time.Now()); err != nil {
			return err
		}
		if len(made) > 0 {
			log.Warn("made the etcd CA and etcd certificates: etcd accepts only them now; copy keys/etcd/ca.crt and keys/etcd/mon.NAME.* to the other monitors", "files", made)
		}
	} else {
		if (*etcdCert == "") != (*etcdKey == "") {
			return fmt.Errorf("%w: --etcd-cert and --etcd-key go together", errUsage)
		}
		if *etcdCA != "" {
			ek.CA = *etcdCA
		}
		if *etcdCert != "" {
			ek.Cert, ek.Key = *etcdCert, *etcdKey
		}
	}
	cfg := mon.Config{
		Name: *name, FSID: conf.FSID, Addr: *addr,
		CAFile: conf.CA, CertFile: keys.Cert, KeyFile: keys.Key,
		DataDir:       filepath.Join(*dir, "etcd"),
		EtcdClientURL: *clientURL, EtcdPeerURL: *peerURL, InitialCluster: *initial,
		EtcdCAFile: ek.CA, EtcdCertFile: ek.Cert, EtcdKeyFile: ek.Key,
		Bootstrap:   *bootstrap || fileExists(filepath.Join(mon.KeysDir(*dir), "ca.key")),
		BeaconGrace: *grace, DownOutInterval: *downOut,
		Logger: log,
	}
	if *endpoints != "" {
		cfg.EtcdEndpoints = strings.Split(*endpoints, ",")
	}
	m, err := mon.New(cfg)
	if err != nil {
		return err
	}
	log.Info("monitor starting", "name", *name, "addr", m.Addr(), "fsid", conf.FSID, "conf", path)
	return m.Run(ctx)
}

// urlHosts returns the hosts of URLs, for certificate names.
func urlHosts(urls ...string) []string {
	var out []string
	for _, u := range urls {
		rest := strings.TrimPrefix(u, "https://")
		if h, _, err := net.SplitHostPort(rest); err == nil {
			out = append(out, h)
		}
	}
	return out
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func certCmd(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("loligo cert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "the bootstrap monitor's directory (holds keys/ca.key and keys/etcd/ca.key)")
	name := fs.String("name", "", "entity to certify: mon.b, osd.3, client.NAME; with --etcd: mon.NAME, etcd.NAME or breakglass.NAME")
	out := fs.String("out", "", "directory to write ENTITY.crt and ENTITY.key into")
	hosts := fs.String("hosts", "", "extra host names or IPs the certificate is valid for, comma-separated")
	etcd := fs.Bool("etcd", false, "issue from the etcd CA (keys/etcd), the only CA etcd trusts: a monitor's etcd certificate (mon.NAME), "+
		"an external etcd member's server and peer certificate (etcd.NAME), or a break-glass certificate for an operator to reach etcd directly, past the monitors' checks (breakglass.NAME)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *name == "" || *out == "" {
		return fmt.Errorf("%w: loligo cert needs --dir, --name and --out", errUsage)
	}
	var hs []string
	if *hosts != "" {
		hs = strings.Split(*hosts, ",")
	}
	issue := mon.IssueCert
	if *etcd {
		issue = mon.IssueEtcdCert
	}
	cert, key, err := issue(*dir, *name, hs, *out, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s and %s\n", cert, key)
	if *etcd {
		fmt.Fprintf(stderr, "the etcd CA's certificate, which etcd and the monitors trust, is %s\n", mon.EtcdKeyPaths(*dir, "").CA)
		if strings.HasPrefix(*name, "breakglass.") {
			fmt.Fprintf(stderr, "%s reaches etcd directly, past every check of the monitors: keep its key offline and remove it when done\n", *name)
		}
	}
	return nil
}

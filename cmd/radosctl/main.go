package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/loligo/loligo/rados"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks errors caused by how the command was called; run prints
// the usage line with them.
var errUsage = errors.New("usage")

// env is what a command needs from its invocation.
type env struct {
	stdout, stderr io.Writer
	json           bool

	// Cluster connection settings (global flags).
	confPath string
	monHosts []string
	entity   string
	timeout  time.Duration
	getenv   func(string) string

	c *rados.Conn
}

// conn connects to the cluster on first use.
func (e *env) conn(ctx context.Context) (*rados.Conn, error) {
	if e.c != nil {
		return e.c, nil
	}
	path, from := e.confPath, "--conf"
	if path == "" {
		path, from = e.getenv("LOLIGO_CONF"), "$LOLIGO_CONF"
	}
	if path == "" {
		return nil, fmt.Errorf("no cluster config: pass --conf FILE or set LOLIGO_CONF (loligo mon --bootstrap writes DIR/loligo.conf)")
	}
	c, err := rados.Connect(ctx, rados.Options{ConfPath: path, Entity: e.entity, MonHosts: e.monHosts, Timeout: e.timeout})
	if err != nil {
		if errors.Is(err, rados.ErrConfig) {
			return nil, fmt.Errorf("%w (the config named by %s)", err, from)
		}
		return nil, err
	}
	e.c = c
	return c, nil
}

// ctx returns a context bounded by the command timeout.
func (e *env) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), e.timeout)
}

const usage = `usage: radosctl [-o plain|json] [--conf FILE] [--mon HOST:PORT] [--name ENTITY] <command> ...

global flags (before the command):
  -o plain|json      output: tables for people (default) or JSON for scripts
  --conf FILE        cluster config (default $LOLIGO_CONF)
  --mon HOST:PORT    monitor(s) to use instead of the config's mon_host (comma-separated)
  --name ENTITY      who to connect as (default client.admin)
  --timeout D        give up after D (default 30s)

cluster:
  status                                   health, monitors, OSD and pool counts
  health [detail]                          health checks; detail adds what each affects and what to do
  mon stat                                 the monitors and the leader

OSDs and CRUSH:
  osd tree                                 the CRUSH hierarchy and each OSD's state
  osd dump                                 the map: epoch, flags, pools, OSDs
  osd map POOL OBJECT [NAMESPACE]          the PG and OSDs an object maps to
  osd out|in|down ID...                    mark OSDs out (move their data away), in, or down
  osd rm ID...                             remove down OSDs from the map and CRUSH
  osd reweight ID WEIGHT                   set an OSD's reweight, 0.0 to 1.0
  osd set|unset FLAG                       cluster flags: noout, noin, noup, nodown, pause, norebalance, ...
  osd crush reweight NAME WEIGHT           set a device's CRUSH weight (by convention its size in TiB)
  osd crush move NAME TYPE=BUCKET...       move a device or bucket, e.g. host=h1 root=default
  osd crush add-bucket NAME TYPE [TYPE=BUCKET...]
                                           add a bucket, optionally placing it
  osd crush rule ls                        the CRUSH rules
  osd crush rule dump [NAME]               rules in crushtool's text form
  osd crush rule create-replicated NAME ROOT TYPE [CLASS]
                                           a rule taking one copy per TYPE under ROOT
  osd crush rule create-erasure NAME [PROFILE]
                                           a rule for an erasure-code profile (default: default)
  osd crush rule rm NAME
  osd getcrushmap [--out FILE]             the CRUSH map in crushtool's text form
  osd setcrushmap FILE                     check a crushtool text map and install it
  osd erasure-code-profile set NAME k=K m=M [KEY=VALUE...] [--force]
                                           KEY: stripe_unit, crush-root, crush-failure-domain, crush-device-class
  osd erasure-code-profile get NAME|ls|rm NAME

pools:
  pool create NAME PG_NUM [replicated|erasure [PROFILE]] [--size N] [--min-size N] [--rule RULE]
  pool ls [detail]
  pool get NAME KEY|all                    KEY: size, min_size, pg_num, pgp_num, crush_rule, type, ...
  pool set NAME KEY VALUE                  KEY: size, min_size, pg_num, pgp_num, crush_rule
  pool rm NAME [NAME] --yes-i-really-mean-it
                                           delete a pool and all its objects

CRUSH maps offline:
  crush compile MAP.txt                    check a CRUSH map and print its canonical text
  crush test --map MAP.txt ...             map inputs through a rule, as crushtool --test

Every command that changes the map takes --dry-run (say what would change
and which PGs would move, and change nothing) and --yes (allow a change
that moves more than 10% of the PGs). Flags may come anywhere after the
command words.
`

// run executes one radosctl invocation and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	return runEnv(args, stdout, stderr, os.Getenv)
}

// runEnv is run with the environment given, for tests.
func runEnv(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("radosctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	format := fs.String("o", "plain", "output format: plain or json")
	confPath := fs.String("conf", "", "cluster config file")
	mons := fs.String("mon", "", "monitor address(es), HOST:PORT[,HOST:PORT]")
	entity := fs.String("name", "client.admin", "entity to connect as")
	timeout := fs.Duration("timeout", 30*time.Second, "overall deadline")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "radosctl: %v\n%s", err, usage)
		return 2
	}
	e := &env{stdout: stdout, stderr: stderr, confPath: *confPath, entity: *entity, timeout: *timeout, getenv: getenv}
	if *mons != "" {
		e.monHosts = strings.Split(*mons, ",")
	}
	defer func() {
		if e.c != nil {
			e.c.Close()
		}
	}()
	switch *format {
	case "plain":
	case "json":
		e.json = true
	default:
		fmt.Fprintf(stderr, "radosctl: unknown output format %q (use plain or json)\n", *format)
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch rest[0] {
	case "crush":
		err = crushCmd(e, rest[1:])
	case "status":
		err = statusCmd(e, rest[1:])
	case "health":
		err = healthCmd(e, rest[1:])
	case "mon":
		err = monCmd(e, rest[1:])
	case "osd":
		err = osdCmd(e, rest[1:])
	case "pool":
		err = poolCmd(e, rest[1:])
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = fmt.Errorf("%w: unknown command %q", errUsage, rest[0])
	}
	if err != nil {
		fmt.Fprintf(stderr, "radosctl: %v\n", err)
		if errors.Is(err, errUsage) {
			var ue *usageError
			topic := ""
			if errors.As(err, &ue) {
				topic = ue.topic
			}
			fmt.Fprint(stderr, usageFor(topic))
			return 2
		}
		return 1
	}
	return 0
}

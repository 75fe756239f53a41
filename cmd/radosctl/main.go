package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
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
	stdin          io.Reader
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
  --timeout D        give up after D (default 30s; put, get and bench: each call)
  --cpuprofile FILE  write a Go CPU profile of the command (for go tool pprof)

cluster:
  status [--watch [--interval D]]          health, monitors, OSDs, data, PG states and recovery;
                                           --watch redraws it every D (1s) until Ctrl-C
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
  osd set-nearfull-ratio|set-backfillfull-ratio|set-full-ratio R
                                           disk-use thresholds (defaults 0.85, 0.90, 0.95)
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

placement groups (PGID is POOL.SEED: the pool's id or name, the seed in hex, as 1.1f):
  pg stat                                  one line: PG states, data, degraded objects, recovery
  pg dump [--pool NAME]                    every PG: objects, state, up and acting sets, scrub times
  pg ls-by-osd ID [--pool NAME]            the PGs with osd.ID in their up or acting set
  pg query PGID                            the primary's view of a PG (JSON): peers, recovery, scrub
  pg scrub PGID [--wait] [--timeout D]     have the primary compare every object's copies
                                           (versions, sizes, xattrs); --wait waits (up to D,
                                           default 5m) and prints what it found
  pg deep-scrub PGID [--wait] [--timeout D]
                                           scrub and also read every byte and compare digests
  pg repair PGID [--wait] [--timeout D]    deep-scrub and copy the authoritative copy over the
                                           bad ones; --wait prints what was repaired
  pg list-inconsistent PGID                the objects the last scrub found inconsistent

daemons:
  tell osd.N|osd.* config show|get KEY|set KEY VALUE
                                           an OSD's runtime settings (osd.*: every up OSD), until
                                           it restarts. KEY: osd_recovery_max_active,
                                           osd_recovery_max_bytes_per_sec (100M), osd_scrub_interval,
                                           osd_deep_scrub_interval (24h; -1s: never)

pools:
  pool create NAME PG_NUM [replicated|erasure [PROFILE]] [--size N] [--min-size N] [--rule RULE]
  pool ls [detail]
  pool get NAME KEY|all                    KEY: size, min_size, pg_num, pgp_num, crush_rule, type, ...
  pool set NAME KEY VALUE                  KEY: size, min_size, pg_num, pgp_num, crush_rule
  pool rm NAME [NAME] --yes-i-really-mean-it
                                           delete a pool and all its objects

objects:
  put POOL OBJ FILE|- [--max-object-size SIZE] [--object-size SIZE]
                                           store a file (-: standard input) as an object; one
                                           larger than --max-object-size (default 128M) is
                                           striped over objects of --object-size (default 4M)
  get POOL OBJ FILE|-                      fetch an object, plain or striped, into FILE (-: stdout)
  rm POOL OBJ...                           remove objects, plain or striped
  ls POOL [--all]                          the pool's objects (--all: with striped objects' pieces)
  orphans POOL [--min-age DURATION] [--rm] pieces of striped objects that no object refers to
                                           (left by a put or rm cut short) and whose newest
                                           was written --min-age (24h) ago or more; --rm
                                           removes them
  stat POOL OBJ                            an object's modification time, size and version
  setxattr POOL OBJ NAME VALUE             set an extended attribute
  getxattr POOL OBJ NAME                   print an extended attribute's value as it is
  listxattr POOL OBJ                       the names of an object's extended attributes
  rmxattr POOL OBJ NAME
  setomapval POOL OBJ KEY VALUE            set a key of an object's omap
  getomapval POOL OBJ KEY                  print an omap value (hex dump; -o json: text)
  listomapkeys POOL OBJ                    an object's omap keys
  listomapvals POOL OBJ                    an object's omap keys and values
  rmomapkey POOL OBJ KEY
  df                                       space used by each pool and OSD

bench:
  bench POOL SECONDS write|seq|rand [-b SIZE] [-t N] [--no-cleanup] [--run-name NAME]
                                           as rados bench: write for SECONDS keeping N (16)
                                           writes of SIZE (4M) in flight, then remove the
                                           objects unless --no-cleanup; seq and rand read
                                           what the last write run left and check it

SIZE is bytes, or with K, M or G (binary): 4096, 64K, 4M.

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
	return runStdin(args, os.Stdin, stdout, stderr, getenv)
}

// runStdin is runEnv reading standard input (put FILE -) from stdin.
func runStdin(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("radosctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	format := fs.String("o", "plain", "output format: plain or json")
	confPath := fs.String("conf", "", "cluster config file")
	mons := fs.String("mon", "", "monitor address(es), HOST:PORT[,HOST:PORT]")
	entity := fs.String("name", "client.admin", "entity to connect as")
	timeout := fs.Duration("timeout", 30*time.Second, "overall deadline")
	cpuProfile := fs.String("cpuprofile", "", "write a Go CPU profile of this command to FILE")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "radosctl: %v\n%s", err, usage)
		return 2
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "radosctl: --cpuprofile: %v\n", err)
			return 1
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, confPath: *confPath, entity: *entity, timeout: *timeout, getenv: getenv}
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
	case "put":
		err = putCmd(e, rest[1:])
	case "get":
		err = getCmd(e, rest[1:])
	case "rm":
		err = rmCmd(e, rest[1:])
	case "ls":
		err = lsCmd(e, rest[1:])
	case "stat":
		err = statCmd(e, rest[1:])
	case "orphans":
		err = orphansCmd(e, rest[1:])
	case "setxattr":
		err = setxattrCmd(e, rest[1:])
	case "getxattr":
		err = getxattrCmd(e, rest[1:])
	case "listxattr":
		err = listxattrCmd(e, rest[1:])
	case "rmxattr":
		err = rmxattrCmd(e, rest[1:])
	case "setomapval":
		err = setomapvalCmd(e, rest[1:])
	case "getomapval":
		err = getomapvalCmd(e, rest[1:])
	case "listomapkeys":
		err = listomapkeysCmd(e, rest[1:])
	case "listomapvals":
		err = listomapvalsCmd(e, rest[1:])
	case "rmomapkey":
		err = rmomapkeyCmd(e, rest[1:])
	case "df":
		err = dfCmd(e, rest[1:])
	case "bench":
		err = benchCmd(e, rest[1:])
	case "pg":
		err = pgCmd(e, rest[1:])
	case "tell":
		err = tellCmd(e, rest[1:])
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

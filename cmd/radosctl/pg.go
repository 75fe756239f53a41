package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loligo/loligo/clustermap"
	pb "github.com/loligo/loligo/proto/loligopb"
	"github.com/loligo/loligo/rados"
)

// PG commands: stat and dump read the monitors' PG reports; query, the
// scrubs and list-inconsistent go to the PG's acting primary.

func pgCmd(e *env, args []string) error {
	if len(args) == 0 {
		return usagef("pg", "pg needs a subcommand")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "stat":
		return pgStat(e, rest)
	case "dump":
		return pgDump(e, rest)
	case "ls-by-osd":
		return pgLsByOSD(e, rest)
	case "query":
		return pgQuery(e, rest)
	case "scrub", "deep-scrub", "repair":
		return pgScrub(e, sub, rest)
	case "list-inconsistent":
		return pgListInconsistent(e, rest)
	}
	return usagef("pg", "unknown pg subcommand %q", sub)
}

// splitPGID reads the text of a PG id, POOL.SEED: the pool (its id if
// it is a number, else its name, which may hold dots) and the seed in
// hex. It does not check that either exists.
func splitPGID(s string) (pool string, seed uint32, err error) {
	i := strings.LastIndexByte(s, '.')
	if i <= 0 || i == len(s)-1 {
		return "", 0, fmt.Errorf("%q is not a PG id: want POOL.SEED, the pool's id or name and the PG's seed in hex, such as 1.1f", s)
	}
	n, err := strconv.ParseUint(s[i+1:], 16, 32)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not a PG id: the seed %q after the last dot is not a hex number below 2^32 (such as 1.1f)", s, s[i+1:])
	}
	return s[:i], uint32(n), nil
}

// pgArg checks that a takes one argument, a PG id in the form splitPGID
// reads; it is checked before anything connects.
func pgArg(a *cmdArgs) (string, error) {
	if err := a.want(1, 1); err != nil {
		return "", err
	}
	if _, _, err := splitPGID(a.pos[0]); err != nil {
		return "", usagef(a.topic, "%v", err)
	}
	return a.pos[0], nil
}

// parsePGID resolves a PG id against m: the pool must exist and the seed
// be below its pg_num. Malformed text is a usage error of topic.
func parsePGID(m *clustermap.Map, topic, s string) (clustermap.PGID, error) {
	poolText, seed, err := splitPGID(s)
	if err != nil {
		return clustermap.PGID{}, usagef(topic, "%v", err)
	}
	var p *clustermap.Pool
	if id, err := strconv.ParseInt(poolText, 10, 64); err == nil {
		if p = m.Pools[id]; p == nil {
			return clustermap.PGID{}, fmt.Errorf("pg %s: pool %d does not exist (%s)", s, id, poolIDList(m))
		}
	} else if p, err = poolByName(m, poolText); err != nil {
		return clustermap.PGID{}, fmt.Errorf("pg %s: %w", s, err)
	}
	if seed >= p.PGNum {
		return clustermap.PGID{}, fmt.Errorf("pg %s does not exist: pool '%s' (%d) has pg_num %d, so its PGs are %d.0 to %d.%x",
			s, p.Name, p.ID, p.PGNum, p.ID, p.ID, p.PGNum-1)
	}
	return clustermap.PGID{Pool: p.ID, Seed: seed}, nil
}

// poolIDList names the pools by id for an error: "pools: 1 'data', 2 'rbd'".
func poolIDList(m *clustermap.Map) string {
	var parts []string
	for _, id := range m.PoolIDs() {
		parts = append(parts, fmt.Sprintf("%d '%s'", id, m.Pools[id].Name))
	}
	if len(parts) == 0 {
		return "there are no pools"
	}
	return "pools: " + strings.Join(parts, ", ")
}

// pg stat

// pgSummaryJSON is the -o json form of the monitors' PG summary (pg
// stat, and the pgs field of status).
type pgSummaryJSON struct {
	PGs                   uint32            `json:"num_pgs"`
	States                map[string]uint32 `json:"states"`
	Objects               uint64            `json:"objects"`
	Bytes                 uint64            `json:"bytes"`
	DegradedObjects       uint64            `json:"degraded_objects"`
	ObjectCopies          uint64            `json:"object_copies"`
	MisplacedObjects      uint64            `json:"misplaced_objects"`
	UnfoundObjects        uint64            `json:"unfound_objects"`
	RecoveryBytesLeft     uint64            `json:"recovery_bytes_left"`
	RecoveryBytesPerSec   float64           `json:"recovery_bytes_per_sec"`
	RecoveryObjectsPerSec float64           `json:"recovery_objects_per_sec"`
	ScrubErrors           uint64            `json:"scrub_errors"`
}

func summaryJSON(s *pb.PGSummary) *pgSummaryJSON {
	if s == nil {
		return nil
	}
	states := maps.Clone(s.GetStates())
	if states == nil {
		states = map[string]uint32{}
	}
	return &pgSummaryJSON{
		PGs: s.GetPgs(), States: states, Objects: s.GetObjects(), Bytes: s.GetBytes(),
		DegradedObjects: s.GetDegradedObjects(), ObjectCopies: s.GetObjectCopies(),
		MisplacedObjects: s.GetMisplacedObjects(), UnfoundObjects: s.GetUnfoundObjects(),
		RecoveryBytesLeft: s.GetRecoveryBytesLeft(), RecoveryBytesPerSec: s.GetRecoveryBytesPerSec(),
		RecoveryObjectsPerSec: s.GetRecoveryObjectsPerSec(), ScrubErrors: s.GetScrubErrors(),
	}
}

// stateCount is a number of PGs in one state.
type stateCount struct {
	state string
	n     uint32
}

// stateCounts orders a summary's states by count, most first, then by
// name.
func stateCounts(s *pb.PGSummary) []stateCount {
	var out []stateCount
	for st, n := range s.GetStates() {
		out = append(out, stateCount{st, n})
	}
	slices.SortFunc(out, func(a, b stateCount) int { return cmp.Or(cmp.Compare(b.n, a.n), strings.Compare(a.state, b.state)) })
	return out
}

// ratio prints part of whole as Ceph does: "10/900 objects degraded
// (1.111%)".
func ratio(part, whole uint64, what string) string {
	s := fmt.Sprintf("%d/%d objects %s", part, whole, what)
	if whole > 0 {
		s += fmt.Sprintf(" (%.3f%%)", float64(part)*100/float64(whole))
	}
	return s
}

// objectProblems are the summary's degraded, misplaced and unfound
// counts, each only when not zero.
func objectProblems(s *pb.PGSummary) []string {
	var out []string
	if n := s.GetDegradedObjects(); n > 0 {
		out = append(out, ratio(n, s.GetObjectCopies(), "degraded"))
	}
	if n := s.GetMisplacedObjects(); n > 0 {
		out = append(out, ratio(n, s.GetObjectCopies(), "misplaced"))
	}
	if n := s.GetUnfoundObjects(); n > 0 {
		out = append(out, ratio(n, s.GetObjects(), "unfound"))
	}
	return out
}

// rate prints a recovery rate: "50 MiB/s, 3 objects/s".
func rate(s *pb.PGSummary) string {
	obj := s.GetRecoveryObjectsPerSec()
	objs := strconv.FormatFloat(obj, 'f', 0, 64)
	if obj > 0 && obj < 10 {
		objs = strconv.FormatFloat(obj, 'f', 1, 64)
	}
	return fmt.Sprintf("%s/s, %s objects/s", humanBytes(uint64(s.GetRecoveryBytesPerSec())), objs)
}

// recovering reports whether a summary shows recovery under way.
func recovering(s *pb.PGSummary) bool {
	return s.GetRecoveryBytesLeft() > 0 || s.GetRecoveryBytesPerSec() > 0 || s.GetRecoveryObjectsPerSec() > 0
}

// pgStatLine is pg stat's line: "64 pgs: 60 active+clean, 4
// active+recovering; 1.2 GiB data, 300 objects; 10/900 objects degraded
// (1.111%); recovery 50 MiB/s, 3 objects/s, 2.1 GiB left".
func pgStatLine(s *pb.PGSummary) string {
	var b strings.Builder
	if s.GetPgs() == 1 {
		b.WriteString("1 pg")
	} else {
		fmt.Fprintf(&b, "%d pgs", s.GetPgs())
	}
	var states []string
	for _, sc := range stateCounts(s) {
		states = append(states, fmt.Sprintf("%d %s", sc.n, sc.state))
	}
	if len(states) > 0 {
		b.WriteString(": " + strings.Join(states, ", "))
	}
	fmt.Fprintf(&b, "; %s data, %d objects", humanBytes(s.GetBytes()), s.GetObjects())
	for _, p := range objectProblems(s) {
		b.WriteString("; " + p)
	}
	if n := s.GetScrubErrors(); n > 0 {
		fmt.Fprintf(&b, "; %d scrub errors", n)
	}
	if recovering(s) {
		fmt.Fprintf(&b, "; recovery %s", rate(s))
		if left := s.GetRecoveryBytesLeft(); left > 0 {
			fmt.Fprintf(&b, ", %s left", humanBytes(left))
		}
	}
	return b.String()
}

func pgStat(e *env, args []string) error {
	a, err := parseArgs("pg stat", args, nil)
	if err != nil {
		return err
	}
	if err := a.want(0, 0); err != nil {
		return err
	}
	st, err := clusterStatus(e)
	if err != nil {
		return err
	}
	if st.GetPgs() == nil {
		return errors.New("the monitor sent no PG summary: is it older than this radosctl?")
	}
	if e.json {
		return writeJSON(e, summaryJSON(st.GetPgs()))
	}
	_, err = fmt.Fprintln(e.stdout, pgStatLine(st.GetPgs()))
	return err
}

// pg dump, ls-by-osd

// pgStatJSON is one PG in the -o json output of pg dump and ls-by-osd.
type pgStatJSON struct {
	PGID              string             `json:"pgid"`
	Pool              int64              `json:"pool"`
	Seed              uint32             `json:"seed"`
	State             string             `json:"state"`
	Up                []int32            `json:"up"`
	Acting            []int32            `json:"acting"`
	Primary           int32              `json:"primary"`
	IntervalEpoch     uint64             `json:"interval_epoch"`
	Objects           uint64             `json:"objects"`
	Bytes             uint64             `json:"bytes"`
	DegradedObjects   uint64             `json:"degraded_objects"`
	MisplacedObjects  uint64             `json:"misplaced_objects"`
	UnfoundObjects    uint64             `json:"unfound_objects"`
	RecoveryBytesLeft uint64             `json:"recovery_bytes_left"`
	RecoveredBytes    uint64             `json:"recovered_bytes"`
	RecoveredObjects  uint64             `json:"recovered_objects"`
	LastUpdate        string             `json:"last_update"`
	LastScrub         string             `json:"last_scrub"`
	LastDeepScrub     string             `json:"last_deep_scrub"`
	ScrubErrors       uint64             `json:"scrub_errors"`
	Inconsistent      []inconsistentJSON `json:"inconsistent"`
	StateSince        string             `json:"state_since"`
	Reporter          int32              `json:"reporter"`
	Reported          string             `json:"reported"`
	BlockedBy         string             `json:"blocked_by"`
}

type inconsistentJSON struct {
	OID    string   `json:"oid"`
	Errors []string `json:"errors"`
}

// nsTime converts a time in nanoseconds since the epoch; 0 is no time.
func nsTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

func pgStatToJSON(p *pb.PGStatEntry) pgStatJSON {
	inc := []inconsistentJSON{}
	for _, o := range p.GetInconsistent() {
		errs := o.GetErrors()
		if errs == nil {
			errs = []string{}
		}
		inc = append(inc, inconsistentJSON{OID: o.GetOid(), Errors: errs})
	}
	return pgStatJSON{
		PGID: pgID(p).String(), Pool: p.GetPool(), Seed: p.GetSeed(), State: p.GetState(),
		Up: nonNil(p.GetUp()), Acting: nonNil(p.GetActing()), Primary: p.GetPrimary(), IntervalEpoch: p.GetIntervalEpoch(),
		Objects: p.GetObjects(), Bytes: p.GetBytes(), DegradedObjects: p.GetDegradedObjects(),
		MisplacedObjects: p.GetMisplacedObjects(), UnfoundObjects: p.GetUnfoundObjects(),
		RecoveryBytesLeft: p.GetRecoveryBytesLeft(), RecoveredBytes: p.GetRecoveredBytes(), RecoveredObjects: p.GetRecoveredObjects(),
		LastUpdate:    fmt.Sprintf("%d'%d", p.GetLastUpdateEpoch(), p.GetLastUpdateVersion()),
		LastScrub:     jsonTime(nsTime(p.GetLastScrubNs())),
		LastDeepScrub: jsonTime(nsTime(p.GetLastDeepScrubNs())),
		ScrubErrors:   p.GetScrubErrors(), Inconsistent: inc,
		StateSince: jsonTime(nsTime(p.GetStateSinceNs())), Reporter: p.GetReporter(),
		Reported: jsonTime(nsTime(p.GetReportedNs())), BlockedBy: p.GetBlockedBy(),
	}
}

func pgID(p *pb.PGStatEntry) clustermap.PGID {
	return clustermap.PGID{Pool: p.GetPool(), Seed: p.GetSeed()}
}

// scrubStamp prints a scrub time for people: UTC to the second, or
// "never".
func scrubStamp(ns int64) string {
	if ns == 0 {
		return "never"
	}
	return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05Z")
}

// writePGTable prints PGs as pg dump does.
func writePGTable(w io.Writer, pgs []*pb.PGStatEntry) error {
	t := newTable("PGID", "OBJECTS>", "BYTES>", "DEGRADED>", "MISPLACED>", "STATE", "UP", "ACTING", "PRIMARY>", "LAST_SCRUB", "LAST_DEEP_SCRUB")
	for _, p := range pgs {
		primary := strconv.Itoa(int(p.GetPrimary()))
		if p.GetPrimary() == clustermap.NoPrimary {
			primary = "none"
		}
		t.add(pgID(p).String(), strconv.FormatUint(p.GetObjects(), 10), humanBytes(p.GetBytes()),
			strconv.FormatUint(p.GetDegradedObjects(), 10), strconv.FormatUint(p.GetMisplacedObjects(), 10),
			p.GetState(), clustermap.FormatOSDs(p.GetUp()), clustermap.FormatOSDs(p.GetActing()), primary,
			scrubStamp(p.GetLastScrubNs()), scrubStamp(p.GetLastDeepScrubNs()))
	}
	return t.write(w)
}

// printPGs prints PGs sorted by PG id, as a table or -o json.
func printPGs(e *env, pgs []*pb.PGStatEntry) error {
	pgs = slices.Clone(pgs)
	slices.SortFunc(pgs, func(a, b *pb.PGStatEntry) int { return pgID(a).Compare(pgID(b)) })
	if e.json {
		out := []pgStatJSON{}
		for _, p := range pgs {
			out = append(out, pgStatToJSON(p))
		}
		return writeJSON(e, out)
	}
	return writePGTable(e.stdout, pgs)
}

// fetchPGs returns the monitors' newest PG reports, of one pool if
// poolName is not "", with the map it resolved the pool in.
func fetchPGs(e *env, poolName string) ([]*pb.PGStatEntry, *clustermap.Map, error) {
	ctx, cancel := e.ctx()
	defer cancel()
	c, err := e.conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	m, err := c.Map(ctx)
	if err != nil {
		return nil, nil, err
	}
	var pool int64
	if poolName != "" {
		p, err := poolByName(m, poolName)
		if err != nil {
			return nil, nil, err
		}
		pool = p.ID
	}
	rep, err := c.PGDump(ctx, pool)
	if err != nil {
		return nil, nil, fmt.Errorf("PG stats: %w", err)
	}
	return rep.GetPgs(), m, nil
}

func pgDump(e *env, args []string) error {
	a, err := parseArgs("pg dump", args, map[string]bool{"pool": true})
	if err != nil {
		return err
	}
	if err := a.want(0, 0); err != nil {
		return err
	}
	pgs, _, err := fetchPGs(e, a.flags["pool"])
	if err != nil {
		return err
	}
	return printPGs(e, pgs)
}

func pgLsByOSD(e *env, args []string) error {
	const topic = "pg ls-by-osd"
	a, err := parseArgs(topic, args, map[string]bool{"pool": true})
	if err != nil {
		return err
	}
	if err := a.want(1, 1); err != nil {
		return err
	}
	id, err := parseOSDID(topic, a.pos[0])
	if err != nil {
		return err
	}
	pgs, m, err := fetchPGs(e, a.flags["pool"])
	if err != nil {
		return err
	}
	if !m.Exists(id) {
		return fmt.Errorf("osd.%d does not exist in epoch %d (radosctl osd tree lists the OSDs)", id, m.Epoch)
	}
	var mine []*pb.PGStatEntry
	for _, p := range pgs {
		if slices.Contains(p.GetUp(), id) || slices.Contains(p.GetActing(), id) {
			mine = append(mine, p)
		}
	}
	return printPGs(e, mine)
}

// Commands on a PG's primary.

// pgOnPrimary resolves a PG id and runs one PG command on its primary;
// ctx bounds it all.
func pgOnPrimary(ctx context.Context, e *env, topic, pgText string, cmd pb.PGCmd) (clustermap.PGID, int32, *pb.PGCommandReply, error) {
	c, err := e.conn(ctx)
	if err != nil {
		return clustermap.PGID{}, clustermap.NoPrimary, nil, err
	}
	m, err := c.Map(ctx)
	if err != nil {
		return clustermap.PGID{}, clustermap.NoPrimary, nil, err
	}
	pg, err := parsePGID(m, topic, pgText)
	if err != nil {
		return pg, clustermap.NoPrimary, nil, err
	}
	rep, osd, err := pgCommand(ctx, c, pg, cmd, false)
	return pg, osd, rep, err
}

// pgCommand runs cmd on pg's acting primary (rados resends it on RETRY
// and past unreachable OSDs, following the map) and returns the reply
// and the OSD that answered: the PG's acting primary in the
// connection's map once the answer came. A result other than OK is an
// error with the OSD's message; CANCELED (a wait the OSD gave up) wraps
// context.DeadlineExceeded.
func pgCommand(ctx context.Context, c *rados.Conn, pg clustermap.PGID, cmd pb.PGCmd, wait bool) (*pb.PGCommandReply, int32, error) {
	rep, err := c.PGCommand(ctx, pg, cmd, wait)
	osd := actingPrimary(c, pg)
	switch {
	case err == nil:
		return rep, osd, nil
	case rep == nil && errors.Is(err, rados.ErrUnavailable):
		return nil, osd, fmt.Errorf("%w (radosctl pg dump shows its state; try again once it is active)", err)
	case rep == nil:
		return nil, osd, err
	case rep.GetResult() == pb.Result_CANCELED:
		return nil, osd, fmt.Errorf("pg %s: osd.%d: %s: %w", pg, osd, rep.GetMessage(), context.DeadlineExceeded)
	case rep.GetResult() == pb.Result_IO_ERROR:
		// A waited scrub or repair that did not finish: nothing it did
		// not compare may be called clean.
		return nil, osd, fmt.Errorf("osd.%d: %s (radosctl health detail shows PG_SCRUB_FAILED until a scrub finishes)", osd, rep.GetMessage())
	}
	return nil, osd, fmt.Errorf("pg %s: osd.%d refused: %s (%s)", pg, osd, rep.GetMessage(), rep.GetResult())
}

// actingPrimary is pg's acting primary in c's map; NoPrimary if the map
// has none.
func actingPrimary(c *rados.Conn, pg clustermap.PGID) int32 {
	m := c.CurrentMap()
	if m == nil {
		return clustermap.NoPrimary
	}
	pl, err := m.Place(pg)
	if err != nil {
		return clustermap.NoPrimary
	}
	return pl.ActingPrimary
}

func pgQuery(e *env, args []string) error {
	const topic = "pg query"
	a, err := parseArgs(topic, args, nil)
	if err != nil {
		return err
	}
	pgText, err := pgArg(a)
	if err != nil {
		return err
	}
	ctx, cancel := e.ctx()
	defer cancel()
	_, _, rep, err := pgOnPrimary(ctx, e, topic, pgText, pb.PGCmd_PG_CMD_QUERY)
	if err != nil {
		return err
	}
	// The OSD's JSON, as it is, in either output format.
	out := rep.GetJson()
	if !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	_, err = io.WriteString(e.stdout, out)
	return err
}

// inconsistencyJSON is one object of list-inconsistent and a waited
// scrub in -o json output.
type inconsistencyJSON struct {
	OID     string   `json:"oid"`
	Errors  []string `json:"errors"`
	BadOSDs []int32  `json:"bad_osds"`
	AuthOSD int32    `json:"auth_osd"`
}

func inconsistenciesJSON(list []*pb.ScrubInconsistency) []inconsistencyJSON {
	out := []inconsistencyJSON{}
	for _, i := range list {
		errs := i.GetErrors()
		if errs == nil {
			errs = []string{}
		}
		out = append(out, inconsistencyJSON{OID: i.GetOid(), Errors: errs, BadOSDs: nonNil(i.GetBadOsds()), AuthOSD: i.GetAuthOsd()})
	}
	return out
}

// authOSD prints the OSD whose copy repair uses; "none" when no copy is
// good.
func authOSD(id int32) string {
	if id < 0 {
		return "none"
	}
	return fmt.Sprintf("osd.%d", id)
}

// writeInconsistent prints inconsistent objects as a table, one line per
// finding.
func writeInconsistent(w io.Writer, list []*pb.ScrubInconsistency) error {
	t := newTable("OID", "BAD_OSDS", "AUTH_OSD", "ERRORS")
	for _, i := range list {
		errs := i.GetErrors()
		if len(errs) == 0 {
			errs = []string{""}
		}
		for k, msg := range errs {
			if k == 0 {
				t.add(i.GetOid(), clustermap.FormatOSDs(i.GetBadOsds()), authOSD(i.GetAuthOsd()), msg)
			} else {
				t.add("", "", "", msg)
			}
		}
	}
	return t.write(w)
}

func pgListInconsistent(e *env, args []string) error {
	const topic = "pg list-inconsistent"
	a, err := parseArgs(topic, args, nil)
	if err != nil {
		return err
	}
	pgText, err := pgArg(a)
	if err != nil {
		return err
	}
	ctx, cancel := e.ctx()
	defer cancel()
	pg, _, rep, err := pgOnPrimary(ctx, e, topic, pgText, pb.PGCmd_PG_CMD_LIST_INCONSISTENT)
	if err != nil {
		return err
	}
	list := rep.GetInconsistent()
	if e.json {
		return writeJSON(e, inconsistenciesJSON(list))
	}
	if len(list) == 0 {
		_, err := fmt.Fprintf(e.stdout, "pg %s: no inconsistent objects found by the last scrub\n", pg)
		return err
	}
	if err := writeInconsistent(e.stdout, list); err != nil {
		return err
	}
	if n := rep.GetScrubErrors(); n > uint64(len(list)) {
		fmt.Fprintf(e.stdout, "(%d more not listed: the OSD keeps the first %d)\n", n-uint64(len(list)), len(list))
	}
	_, err = fmt.Fprintf(e.stdout, "repair them with: radosctl pg repair %s\n", pg)
	return err
}

// pg scrub, deep-scrub, repair

// defaultScrubWait bounds pg scrub --wait unless --timeout says otherwise.
const defaultScrubWait = 5 * time.Minute

var scrubCmds = map[string]pb.PGCmd{
	"scrub":      pb.PGCmd_PG_CMD_SCRUB,
	"deep-scrub": pb.PGCmd_PG_CMD_DEEP_SCRUB,
	"repair":     pb.PGCmd_PG_CMD_REPAIR,
}

// scrubJSON is the -o json output of pg scrub, deep-scrub and repair.
type scrubJSON struct {
	PGID    string `json:"pgid"`
	OSD     int32  `json:"osd"`
	Command string `json:"command"`
	Waited  bool   `json:"waited"`
	Message string `json:"message"`
	// With --wait: what the scrub found (for repair: what it could not
	// repair).
	ScrubErrors  uint64              `json:"scrub_errors"`
	Inconsistent []inconsistencyJSON `json:"inconsistent"`
	// Repair with --wait: the objects the last scrub before had found
	// inconsistent that are consistent now; empty otherwise.
	Repaired []inconsistencyJSON `json:"repaired"`
}

func pgScrub(e *env, verb string, args []string) error {
	topic := "pg " + verb
	cmd := scrubCmds[verb]
	a, err := parseArgs(topic, args, map[string]bool{"wait": false, "timeout": true})
	if err != nil {
		return err
	}
	pgText, err := pgArg(a)
	if err != nil {
		return err
	}
	wait := a.has("wait")
	limit := defaultScrubWait
	if v, ok := a.flags["timeout"]; ok {
		if !wait {
			return usagef(topic, "--timeout bounds --wait: give both, or neither")
		}
		if limit, err = time.ParseDuration(v); err != nil || limit <= 0 {
			return usagef(topic, "--timeout %q: want a positive duration such as 90s or 10m", v)
		}
	}
	if !wait {
		ctx, cancel := e.ctx()
		defer cancel()
		pg, osd, rep, err := pgOnPrimary(ctx, e, topic, pgText, cmd)
		if err != nil {
			return err
		}
		if e.json {
			return writeJSON(e, scrubJSON{PGID: pg.String(), OSD: osd, Command: verb, Message: rep.GetMessage(),
				Inconsistent: []inconsistencyJSON{}, Repaired: []inconsistencyJSON{}})
		}
		_, err = fmt.Fprintln(e.stdout, rep.GetMessage())
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	c, err := e.conn(ctx)
	if err != nil {
		return err
	}
	m, err := c.Map(ctx)
	if err != nil {
		return err
	}
	pg, err := parsePGID(m, topic, pgText)
	if err != nil {
		return err
	}
	rep, osd, before, err := waitScrub(ctx, c, pg, cmd, verb, limit)
	if err != nil {
		return err
	}
	var repaired []*pb.ScrubInconsistency
	if cmd == pb.PGCmd_PG_CMD_REPAIR {
		still := map[string]bool{}
		for _, i := range rep.GetInconsistent() {
			still[i.GetOid()] = true
		}
		for _, i := range before {
			if !still[i.GetOid()] {
				repaired = append(repaired, i)
			}
		}
	}
	if e.json {
		return writeJSON(e, scrubJSON{PGID: pg.String(), OSD: osd, Command: verb, Waited: true, Message: rep.GetMessage(),
			ScrubErrors: rep.GetScrubErrors(), Inconsistent: inconsistenciesJSON(rep.GetInconsistent()),
			Repaired: inconsistenciesJSON(repaired)})
	}
	return writeScrubResult(e.stdout, pg, osd, verb, rep, repaired)
}

// waitScrub runs cmd on pg's primary and waits until it has run: the
// OSD answers once a scrub that started after the request has ended,
// and keeps the request of a PG that is not active+clean until it is.
// For repair it first reads what the last scrub found, and returns it as
// before.
func waitScrub(ctx context.Context, c *rados.Conn, pg clustermap.PGID, cmd pb.PGCmd, verb string, limit time.Duration) (rep *pb.PGCommandReply, osd int32, before []*pb.ScrubInconsistency, err error) {
	if cmd == pb.PGCmd_PG_CMD_REPAIR {
		r, _, err := pgCommand(ctx, c, pg, pb.PGCmd_PG_CMD_LIST_INCONSISTENT, false)
		if err != nil {
			return nil, clustermap.NoPrimary, nil, err
		}
		before = r.GetInconsistent()
	}
	rep, osd, err = pgCommand(ctx, c, pg, cmd, true)
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
			return nil, osd, nil, scrubTimedOut(c, pg, verb, limit)
		}
		return nil, osd, nil, err
	}
	return rep, osd, before, nil
}

// stateWait bounds the query that says why a waited scrub timed out.
const stateWait = 2 * time.Second

// scrubTimedOut says that a waited scrub did not finish in time and,
// when a query of the primary says so in time, that the PG is not
// active+clean.
func scrubTimedOut(c *rados.Conn, pg clustermap.PGID, verb string, limit time.Duration) error {
	why := ""
	ctx, cancel := context.WithTimeout(context.Background(), stateWait)
	defer cancel()
	if rep, _, err := pgCommand(ctx, c, pg, pb.PGCmd_PG_CMD_QUERY, false); err == nil {
		var q struct {
			State string `json:"state"`
		}
		if json.Unmarshal([]byte(rep.GetJson()), &q) == nil && q.State != "" && !(stateHas(q.State, "active") && stateHas(q.State, "clean")) {
			why = fmt.Sprintf("; it is %s, and its primary scrubs it only when it is active+clean", q.State)
		}
	}
	return fmt.Errorf("pg %s: the %s did not finish within %v%s (a started scrub goes on: radosctl pg dump shows its stamps; wait longer with --timeout)",
		pg, verb, limit, why)
}

// writeScrubResult prints what a waited scrub or repair found.
func writeScrubResult(w io.Writer, pg clustermap.PGID, osd int32, verb string, rep *pb.PGCommandReply, repaired []*pb.ScrubInconsistency) error {
	list, n := rep.GetInconsistent(), rep.GetScrubErrors()
	head := fmt.Sprintf("pg %s: %s on osd.%d done", pg, verb, osd)
	if verb == "repair" {
		switch len(repaired) {
		case 0:
			fmt.Fprintf(w, "%s; the last scrub had found no inconsistent object to repair\n", head)
		default:
			fmt.Fprintf(w, "%s; repaired %s the last scrub had found inconsistent:\n", head, objects(len(repaired)))
			t := newTable("OID", "REPAIRED_OSDS", "FROM")
			for _, i := range repaired {
				t.add(i.GetOid(), clustermap.FormatOSDs(i.GetBadOsds()), authOSD(i.GetAuthOsd()))
			}
			if err := t.write(w); err != nil {
				return err
			}
		}
		if n == 0 {
			_, err := fmt.Fprintln(w, "no scrub errors remain")
			return err
		}
		fmt.Fprintf(w, "%s remain; %s could not be repaired:\n", scrubErrors(n), objects(len(list)))
		return writeInconsistent(w, list)
	}
	if n == 0 {
		_, err := fmt.Fprintf(w, "%s: 0 errors, no inconsistent objects\n", head)
		return err
	}
	fmt.Fprintf(w, "%s: %s, %s inconsistent:\n", head, scrubErrors(n), objects(len(list)))
	if err := writeInconsistent(w, list); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "repair with: radosctl pg repair %s\n", pg)
	return err
}

// scrubErrors counts errors in words: "1 error", "3 errors".
func scrubErrors(n uint64) string {
	if n == 1 {
		return "1 error"
	}
	return fmt.Sprintf("%d errors", n)
}

// objects counts objects in words: "1 object", "3 objects".
func objects(n int) string {
	if n == 1 {
		return "1 object"
	}
	return fmt.Sprintf("%d objects", n)
}

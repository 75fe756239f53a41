package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/loligo/loligo/clustermap"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// changeSpec are the flags of every map-changing command, plus extra.
func changeSpec(extra map[string]bool) map[string]bool {
	spec := map[string]bool{flagDryRun: false, flagYes: false}
	maps.Copy(spec, extra)
	return spec
}

// change sends a map-changing command with a's --dry-run and --yes, and
// prints the result. withID adds the reply's id to -o json output.
func change(e *env, a *cmdArgs, req *pb.CommandRequest, withID bool) error {
	req.DryRun, req.Yes = a.has(flagDryRun), a.has(flagYes)
	ctx, cancel := e.ctx()
	defer cancel()
	c, err := e.conn(ctx)
	if err != nil {
		return err
	}
	rep, err := c.Command(ctx, req)
	if err != nil {
		return err
	}
	return printReply(e, rep, req.DryRun, withID)
}

// clusterMap fetches the newest map.
func clusterMap(e *env) (*clustermap.Map, error) {
	ctx, cancel := e.ctx()
	defer cancel()
	c, err := e.conn(ctx)
	if err != nil {
		return nil, err
	}
	return c.Map(ctx)
}

func clusterStatus(e *env) (*pb.StatusReply, error) {
	ctx, cancel := e.ctx()
	defer cancel()
	c, err := e.conn(ctx)
	if err != nil {
		return nil, err
	}
	return c.Status(ctx)
}

// checkJSON is a health check in -o json output.
type checkJSON struct {
	Code     string   `json:"code"`
	Severity string   `json:"severity"`
	Summary  string   `json:"summary"`
	Detail   []string `json:"detail"`
	Hint     string   `json:"hint"`
}

func checksJSON(st *pb.StatusReply) []checkJSON {
	out := []checkJSON{}
	for _, c := range st.GetChecks() {
		d := c.GetDetail()
		if d == nil {
			d = []string{}
		}
		out = append(out, checkJSON{Code: c.GetCode(), Severity: c.GetSeverity(), Summary: c.GetSummary(), Detail: d, Hint: c.GetHint()})
	}
	return out
}

type monJSON struct {
	Name   string `json:"name"`
	Addr   string `json:"addr"`
	Alive  bool   `json:"alive"`
	Leader bool   `json:"leader"`
}

func monsJSON(st *pb.StatusReply) []monJSON {
	out := []monJSON{}
	for _, m := range st.GetMons() {
		out = append(out, monJSON{Name: m.GetName(), Addr: m.GetAddr(), Alive: m.GetAlive(), Leader: m.GetLeader()})
	}
	return out
}

// monSummary lists the monitors with the leader and the dead marked:
// "a (leader), b, c (down)".
func monSummary(st *pb.StatusReply) string {
	var parts []string
	for _, m := range st.GetMons() {
		s := m.GetName()
		if m.GetLeader() {
			s += " (leader)"
		}
		if !m.GetAlive() {
			s += " (down)"
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "none known"
	}
	if st.GetLeader() == "" {
		parts = append(parts, "no leader")
	}
	return strings.Join(parts, ", ")
}

func statusCmd(e *env, args []string) error {
	const topic = "status"
	a, err := parseArgs(topic, args, map[string]bool{"watch": false, "interval": true})
	if err != nil {
		return err
	}
	if err := a.want(0, 0); err != nil {
		return err
	}
	interval := time.Second
	if v, ok := a.flags["interval"]; ok {
		if !a.has("watch") {
			return usagef(topic, "--interval is how often --watch redraws: give --watch too")
		}
		if interval, err = time.ParseDuration(v); err != nil || interval <= 0 {
			return usagef(topic, "--interval %q: want a positive duration such as 1s or 500ms", v)
		}
	}
	if a.has("watch") {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return watchStatus(ctx, e, interval)
	}
	ctx, cancel := e.ctx()
	defer cancel()
	s, err := gatherStatus(ctx, e)
	if err != nil {
		return err
	}
	return printStatus(e.stdout, e.json, s)
}

func healthCmd(e *env, args []string) error {
	a, err := parseArgs("health", args, nil)
	if err != nil {
		return err
	}
	if err := a.want(0, 1); err != nil {
		return err
	}
	detail := false
	if len(a.pos) == 1 {
		if a.pos[0] != "detail" {
			return usagef("health", "health takes only the word detail, not %q", a.pos[0])
		}
		detail = true
	}
	st, err := clusterStatus(e)
	if err != nil {
		return err
	}
	if e.json {
		// JSON always carries the details and hints.
		return writeJSON(e, struct {
			Health string      `json:"health"`
			Checks []checkJSON `json:"checks"`
		}{st.GetHealth(), checksJSON(st)})
	}
	var b strings.Builder
	b.WriteString(st.GetHealth())
	var sums []string
	for _, c := range st.GetChecks() {
		sums = append(sums, c.GetSummary())
	}
	if len(sums) > 0 {
		b.WriteString(" " + strings.Join(sums, "; "))
	}
	b.WriteByte('\n')
	for _, c := range st.GetChecks() {
		fmt.Fprintf(&b, "[%s] %s: %s\n", sevTag(c.GetSeverity()), c.GetCode(), c.GetSummary())
		if !detail {
			continue
		}
		for _, d := range c.GetDetail() {
			fmt.Fprintf(&b, "    %s\n", d)
		}
		if h := c.GetHint(); h != "" {
			fmt.Fprintf(&b, "    what to do: %s\n", h)
		}
	}
	_, err = fmt.Fprint(e.stdout, b.String())
	return err
}

// sevTag is Ceph's short severity tag.
func sevTag(sev string) string {
	switch sev {
	case "HEALTH_ERR":
		return "ERR"
	case "HEALTH_WARN":
		return "WRN"
	}
	return sev
}

func monCmd(e *env, args []string) error {
	if len(args) == 0 || args[0] != "stat" {
		return usagef("mon", "mon takes the subcommand stat")
	}
	a, err := parseArgs("mon stat", args[1:], nil)
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
	if e.json {
		return writeJSON(e, struct {
			FSID   string    `json:"fsid"`
			Leader string    `json:"leader"`
			Mons   []monJSON `json:"mons"`
		}{st.GetFsid(), st.GetLeader(), monsJSON(st)})
	}
	var addrs, alive []string
	for _, m := range st.GetMons() {
		addrs = append(addrs, m.GetName()+"="+m.GetAddr())
		if m.GetAlive() {
			alive = append(alive, m.GetName())
		}
	}
	leader := st.GetLeader()
	if leader == "" {
		leader = "none"
	}
	_, err = fmt.Fprintf(e.stdout, "%d mons at {%s}, leader %s, alive %s\n",
		len(st.GetMons()), strings.Join(addrs, ","), leader, strings.Join(alive, ","))
	return err
}

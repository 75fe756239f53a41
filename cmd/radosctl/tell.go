package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/rados"
)

// tell osd.N|osd.* config show|get KEY|set KEY VALUE: an OSD's runtime
// settings, read and changed over its admin RPC. Changes last until the
// OSD restarts.

// tellReply is one OSD's answer.
type tellReply struct {
	osd    int32
	values map[string]string // what to print: every setting, or the one asked for
	err    string            // why this OSD did not answer or refused
}

// tellJSON is one OSD in the -o json output of tell: its values, or
// the error.
type tellJSON struct {
	OSD    int32             `json:"osd"`
	Values map[string]string `json:"values,omitempty"`
	Error  string            `json:"error,omitempty"`
}

// tellCmd takes no flags: a VALUE such as -1s is a value, not a flag.
func tellCmd(e *env, args []string) error {
	const topic = "tell"
	if len(args) < 3 {
		return usagef(topic, "tell takes TARGET config show|get KEY|set KEY VALUE")
	}
	target, what, verb := args[0], args[1], args[2]
	if what != "config" {
		return usagef(topic, "tell runs only config (show, get KEY, set KEY VALUE), not %q", what)
	}
	var set map[string]string
	var key string
	switch verb {
	case "show":
		if len(args) != 3 {
			return usagef(topic, "tell TARGET config show takes no more arguments, got %q", args[3:])
		}
	case "get":
		if len(args) != 4 {
			return usagef(topic, "tell TARGET config get takes one KEY, got %d arguments", len(args)-3)
		}
		key = args[3]
	case "set":
		if len(args) != 5 {
			return usagef(topic, "tell TARGET config set takes KEY VALUE, got %d arguments", len(args)-3)
		}
		key, set = args[3], map[string]string{args[3]: args[4]}
	default:
		return usagef(topic, "unknown config subcommand %q (show, get KEY, set KEY VALUE)", verb)
	}
	all := target == "osd.*"
	var one int32
	if !all {
		if !strings.HasPrefix(target, "osd.") {
			return usagef(topic, "tell reaches OSDs only: the target is osd.N or osd.*, not %q", target)
		}
		id, err := parseOSDID(topic, target)
		if err != nil {
			return err
		}
		one = id
	}

	ctx, cancel := e.ctx()
	defer cancel()
	c, err := e.conn(ctx)
	if err != nil {
		return err
	}
	m, err := c.Map(ctx)
	if err != nil {
		return err
	}
	ids := []int32{one}
	if all {
		ids = nil
		for _, id := range m.OSDIDs() {
			if m.OSDs[id].Up {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			return fmt.Errorf("no OSD is up in epoch %d: start the OSDs first", m.Epoch)
		}
	} else if err := osdUp(m, one); err != nil {
		return err
	}
	replies := make([]tellReply, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { replies[i] = tellOne(ctx, c, id, set, key) })
	}
	wg.Wait()

	if e.json {
		out := []tellJSON{}
		for _, r := range replies {
			out = append(out, tellJSON{OSD: r.osd, Values: r.values, Error: r.err})
		}
		if err := writeJSON(e, out); err != nil {
			return err
		}
	} else {
		t := newTable("OSD", "KEY", "VALUE")
		rows := 0
		for _, r := range replies {
			for _, k := range slices.Sorted(maps.Keys(r.values)) {
				t.add(fmt.Sprintf("osd.%d", r.osd), k, r.values[k])
				rows++
			}
		}
		if rows > 0 {
			if err := t.write(e.stdout); err != nil {
				return err
			}
		}
	}
	return tellErrors(replies)
}

// osdUp says what to do when OSD id cannot be told anything in map m:
// it does not exist, or it is down; nil when it is up.
func osdUp(m *clustermap.Map, id int32) error {
	switch o := m.OSDs[id]; {
	case o == nil:
		return fmt.Errorf("osd.%d does not exist in epoch %d (radosctl osd tree lists the OSDs)", id, m.Epoch)
	case !o.Up || o.Addr == "":
		return fmt.Errorf("osd.%d is down in epoch %d: start it, then try again", id, m.Epoch)
	}
	return nil
}

// tellOne reads, or changes and reads, the settings of one OSD.
func tellOne(ctx context.Context, c *rados.Conn, id int32, set map[string]string, key string) tellReply {
	r := tellReply{osd: id}
	rep, err := c.OSDConfig(ctx, id, set)
	switch {
	case err != nil && rep != nil:
		r.err = "refused: " + rep.GetMessage()
		return r
	case err != nil:
		r.err = err.Error()
		return r
	}
	vals := rep.GetValues()
	if key == "" {
		r.values = vals
		return r
	}
	v, ok := vals[key]
	if !ok {
		r.err = fmt.Sprintf("unknown setting %q; the settings are %s", key, strings.Join(slices.Sorted(maps.Keys(vals)), ", "))
		return r
	}
	r.values = map[string]string{key: v}
	return r
}

// tellErrors joins the OSDs' errors, one line per distinct message
// ("osd.0, osd.2: refused: ..."); nil if there are none.
func tellErrors(replies []tellReply) error {
	var msgs []string
	who := map[string][]string{}
	for _, r := range replies {
		if r.err == "" {
			continue
		}
		if who[r.err] == nil {
			msgs = append(msgs, r.err)
		}
		who[r.err] = append(who[r.err], fmt.Sprintf("osd.%d", r.osd))
	}
	if len(msgs) == 0 {
		return nil
	}
	var lines []string
	for _, msg := range msgs {
		lines = append(lines, strings.Join(who[msg], ", ")+": "+msg)
	}
	return errors.New(strings.Join(lines, "\n"))
}

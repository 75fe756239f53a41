package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/loligo/loligo/crush"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// osd crush ...: edits of the cluster's CRUSH map.
func osdCrushCmd(e *env, args []string) error {
	if len(args) == 0 {
		return usagef("osd crush", "osd crush needs a subcommand")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "reweight":
		return crushReweight(e, rest)
	case "move":
		return crushMove(e, rest)
	case "add-bucket":
		return crushAddBucket(e, rest)
	case "rule":
		return crushRuleCmd(e, rest)
	}
	return usagef("osd crush", "unknown osd crush subcommand %q", sub)
}

func crushReweight(e *env, args []string) error {
	const topic = "osd crush reweight"
	a, err := parseArgs(topic, args, changeSpec(nil))
	if err != nil {
		return err
	}
	if err := a.want(2, 2); err != nil {
		return err
	}
	w, err := parseWeight(topic, a.pos[1])
	if err != nil {
		return err
	}
	return change(e, a, &pb.CommandRequest{Cmd: &pb.CommandRequest_CrushReweight{
		CrushReweight: &pb.CrushReweight{Name: a.pos[0], Weight: w}}}, false)
}

func crushMove(e *env, args []string) error {
	const topic = "osd crush move"
	a, err := parseArgs(topic, args, changeSpec(nil))
	if err != nil {
		return err
	}
	if err := a.want(2, -1); err != nil {
		return err
	}
	loc, err := parseLocation(topic, a.pos[1:])
	if err != nil {
		return err
	}
	return change(e, a, &pb.CommandRequest{Cmd: &pb.CommandRequest_CrushMove{
		CrushMove: &pb.CrushMove{Name: a.pos[0], Location: loc}}}, false)
}

func crushAddBucket(e *env, args []string) error {
	const topic = "osd crush add-bucket"
	a, err := parseArgs(topic, args, changeSpec(nil))
	if err != nil {
		return err
	}
	if err := a.want(2, -1); err != nil {
		return err
	}
	loc, err := parseLocation(topic, a.pos[2:])
	if err != nil {
		return err
	}
	return change(e, a, &pb.CommandRequest{Cmd: &pb.CommandRequest_CrushAddBucket{
		CrushAddBucket: &pb.CrushAddBucket{Name: a.pos[0], Type: a.pos[1], Location: loc}}}, true)
}

func crushRuleCmd(e *env, args []string) error {
	if len(args) == 0 {
		return usagef("osd crush rule", "osd crush rule needs a subcommand")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "ls", "list":
		return crushRuleList(e, rest)
	case "dump":
		return crushRuleDump(e, rest)
	case "rm":
		const topic = "osd crush rule rm"
		a, err := parseArgs(topic, rest, changeSpec(nil))
		if err != nil {
			return err
		}
		if err := a.want(1, 1); err != nil {
			return err
		}
		return change(e, a, &pb.CommandRequest{Cmd: &pb.CommandRequest_RuleRm{RuleRm: &pb.RuleRemove{Name: a.pos[0]}}}, false)
	case "create-replicated":
		const topic = "osd crush rule create-replicated"
		a, err := parseArgs(topic, rest, changeSpec(nil))
		if err != nil {
			return err
		}
		if err := a.want(3, 4); err != nil {
			return err
		}
		rc := &pb.RuleCreate{Name: a.pos[0], Root: a.pos[1], FailureDomain: a.pos[2]}
		if len(a.pos) == 4 {
			rc.DeviceClass = a.pos[3]
		}
		return change(e, a, &pb.CommandRequest{Cmd: &pb.CommandRequest_RuleCreate{RuleCreate: rc}}, true)
	case "create-erasure":
		const topic = "osd crush rule create-erasure"
		a, err := parseArgs(topic, rest, changeSpec(nil))
		if err != nil {
			return err
		}
		if err := a.want(1, 2); err != nil {
			return err
		}
		rc := &pb.RuleCreate{Name: a.pos[0], Erasure: true, EcProfile: "default"}
		if len(a.pos) == 2 {
			rc.EcProfile = a.pos[1]
		}
		return change(e, a, &pb.CommandRequest{Cmd: &pb.CommandRequest_RuleCreate{RuleCreate: rc}}, true)
	}
	return usagef("osd crush rule", "unknown osd crush rule subcommand %q", sub)
}

func rules(m *crush.Map) []*crush.Rule {
	var out []*crush.Rule
	for _, r := range m.Rules {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

func crushRuleList(e *env, args []string) error {
	a, err := parseArgs("osd crush rule ls", args, nil)
	if err != nil {
		return err
	}
	if err := a.want(0, 0); err != nil {
		return err
	}
	m, err := clusterMap(e)
	if err != nil {
		return err
	}
	names := []string{}
	for _, r := range rules(m.Crush) {
		names = append(names, r.Name)
	}
	if e.json {
		return writeJSON(e, names)
	}
	for _, n := range names {
		fmt.Fprintln(e.stdout, n)
	}
	return nil
}

// crushRuleDump prints one rule (or all) in crushtool's text form, or as
// JSON: an object for a named rule, a list for all of them.
func crushRuleDump(e *env, args []string) error {
	a, err := parseArgs("osd crush rule dump", args, nil)
	if err != nil {
		return err
	}
	if err := a.want(0, 1); err != nil {
		return err
	}
	m, err := clusterMap(e)
	if err != nil {
		return err
	}
	all := rules(m.Crush)
	if len(a.pos) == 1 {
		i := slices.IndexFunc(all, func(r *crush.Rule) bool { return r.Name == a.pos[0] })
		if i < 0 {
			var names []string
			for _, r := range all {
				names = append(names, r.Name)
			}
			return fmt.Errorf("CRUSH rule %q does not exist (rules: %s)", a.pos[0], strings.Join(names, ", "))
		}
		if e.json {
			return writeJSON(e, ruleToJSON(m.Crush, all[i]))
		}
		all = all[i : i+1]
	} else if e.json {
		out := []ruleJSON{}
		for _, r := range all {
			out = append(out, ruleToJSON(m.Crush, r))
		}
		return writeJSON(e, out)
	}
	text := m.Crush.Decompile()
	for i, r := range all {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		fmt.Fprint(e.stdout, ruleText(text, r.Name))
	}
	return nil
}

// ruleText cuts one rule out of a decompiled map.
func ruleText(text, name string) string {
	start := strings.Index(text, "\nrule "+name+" {\n")
	if start < 0 {
		return ""
	}
	rest := text[start+1:]
	end := strings.Index(rest, "\n}\n")
	if end < 0 {
		return rest
	}
	return rest[:end+3]
}

// osd erasure-code-profile ...

func ecProfileCmd(e *env, args []string) error {
	const topic = "osd erasure-code-profile"
	if len(args) == 0 {
		return usagef(topic, "osd erasure-code-profile needs a subcommand")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "set":
		a, err := parseArgs(topic, rest, changeSpec(map[string]bool{"force": false}))
		if err != nil {
			return err
		}
		if err := a.want(1, -1); err != nil {
			return err
		}
		params := map[string]string{}
		for _, kv := range a.pos[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return usagef(topic, "%q: want KEY=VALUE, such as k=4", kv)
			}
			params[k] = v
		}
		return change(e, a, &pb.CommandRequest{Cmd: &pb.CommandRequest_EcProfileSet{
			EcProfileSet: &pb.ECProfileSet{Name: a.pos[0], Params: params, Force: a.has("force")}}}, false)
	case "rm":
		a, err := parseArgs(topic, rest, changeSpec(nil))
		if err != nil {
			return err
		}
		if err := a.want(1, 1); err != nil {
			return err
		}
		return change(e, a, &pb.CommandRequest{Cmd: &pb.CommandRequest_EcProfileRm{EcProfileRm: &pb.ECProfileRemove{Name: a.pos[0]}}}, false)
	case "ls", "get":
		a, err := parseArgs(topic, rest, nil)
		if err != nil {
			return err
		}
		n := 0
		if sub == "get" {
			n = 1
		}
		if err := a.want(n, n); err != nil {
			return err
		}
		m, err := clusterMap(e)
		if err != nil {
			return err
		}
		names := append([]string{}, sortedKeys(m.ECProfiles)...)
		if sub == "ls" {
			if e.json {
				return writeJSON(e, names)
			}
			for _, name := range names {
				fmt.Fprintln(e.stdout, name)
			}
			return nil
		}
		params, ok := m.ECProfiles[a.pos[0]]
		if !ok {
			return fmt.Errorf("erasure-code profile %q does not exist (profiles: %s)", a.pos[0], strings.Join(names, ", "))
		}
		if e.json {
			if params == nil {
				params = map[string]string{}
			}
			return writeJSON(e, params)
		}
		for _, k := range sortedKeys(params) {
			fmt.Fprintf(e.stdout, "%s=%s\n", k, params[k])
		}
		return nil
	}
	return usagef(topic, "unknown osd erasure-code-profile subcommand %q", sub)
}

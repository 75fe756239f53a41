package main

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/loligo/loligo/clustermap"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// flagReallyDelete confirms pool rm.
const flagReallyDelete = "yes-i-really-mean-it"

func poolCmd(e *env, args []string) error {
	if len(args) == 0 {
		return usagef("pool", "pool needs a subcommand")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "create":
		return poolCreate(e, rest)
	case "ls":
		return poolList(e, rest)
	case "get":
		return poolGet(e, rest)
	case "set":
		return poolSet(e, rest)
	case "rm", "delete":
		return poolRemove(e, rest)
	}
	return usagef("pool", "unknown pool subcommand %q", sub)
}

func poolCreate(e *env, args []string) error {
	const topic = "pool create"
	a, err := parseArgs(topic, args, changeSpec(map[string]bool{"size": true, "min-size": true, "rule": true}))
	if err != nil {
		return err
	}
	if err := a.want(2, 4); err != nil {
		return err
	}
	pgNum, err := strconv.ParseUint(a.pos[1], 10, 32)
	if err != nil {
		return usagef(topic, "PG_NUM %q: want a whole number, such as 32", a.pos[1])
	}
	pc := &pb.PoolCreate{Name: a.pos[0], PgNum: uint32(pgNum), CrushRule: a.flags["rule"]}
	if pc.Size, err = a.uint32Flag("size"); err != nil {
		return err
	}
	if pc.MinSize, err = a.uint32Flag("min-size"); err != nil {
		return err
	}
	if a.has("size") && pc.Size == 0 {
		return fmt.Errorf("--size 0: a pool needs at least one copy")
	}
	if a.has("min-size") && pc.MinSize == 0 {
		return fmt.Errorf("--min-size 0: a pool needs at least one copy to serve")
	}
	typ := "replicated"
	if len(a.pos) >= 3 {
		typ = a.pos[2]
	}
	switch typ {
	case "replicated":
		pc.Type = pb.PoolType_POOL_TYPE_REPLICATED
		if len(a.pos) == 4 {
			return usagef(topic, "a replicated pool takes no erasure-code profile (%q)", a.pos[3])
		}
	case "erasure":
		pc.Type = pb.PoolType_POOL_TYPE_ERASURE
		if len(a.pos) == 4 {
			pc.EcProfile = a.pos[3]
		}
	default:
		return usagef(topic, "pool type %q: use replicated or erasure", typ)
	}
	return change(e, a, &pb.CommandRequest{Cmd: &pb.CommandRequest_PoolCreate{PoolCreate: pc}}, true)
}

func poolList(e *env, args []string) error {
	a, err := parseArgs("pool ls", args, nil)
	if err != nil {
		return err
	}
	if err := a.want(0, 1); err != nil {
		return err
	}
	detail := len(a.pos) == 1
	if detail && a.pos[0] != "detail" {
		return usagef("pool ls", "pool ls takes only the word detail, not %q", a.pos[0])
	}
	m, err := clusterMap(e)
	if err != nil {
		return err
	}
	if e.json {
		if detail {
			out := []poolJSON{}
			for _, id := range m.PoolIDs() {
				out = append(out, poolToJSON(m, m.Pools[id]))
			}
			return writeJSON(e, out)
		}
		names := []string{}
		for _, id := range m.PoolIDs() {
			names = append(names, m.Pools[id].Name)
		}
		return writeJSON(e, names)
	}
	for _, id := range m.PoolIDs() {
		if detail {
			fmt.Fprintln(e.stdout, poolLine(m.Pools[id]))
		} else {
			fmt.Fprintln(e.stdout, m.Pools[id].Name)
		}
	}
	return nil
}

// poolGetKeys are what pool get shows, in order.
var poolGetKeys = []string{"size", "min_size", "pg_num", "pgp_num", "crush_rule", "type", "erasure_code_profile", "hashpspool"}

// poolValue is one pool setting: a number or a string in JSON.
func poolValue(m *clustermap.Map, p *clustermap.Pool, key string) (any, bool) {
	switch key {
	case "size":
		return p.Size, true
	case "min_size":
		return p.MinSize, true
	case "pg_num":
		return p.PGNum, true
	case "pgp_num":
		return p.PGPNum, true
	case "crush_rule":
		return ruleName(m, p.CrushRule), true
	case "type":
		return p.Type.String(), true
	case "erasure_code_profile":
		return p.ECProfile, p.Type == clustermap.PoolErasure
	case "hashpspool":
		return p.Flags&clustermap.FlagHashPSPool != 0, true
	}
	return nil, false
}

func poolGet(e *env, args []string) error {
	const topic = "pool get"
	a, err := parseArgs(topic, args, nil)
	if err != nil {
		return err
	}
	if err := a.want(2, 2); err != nil {
		return err
	}
	m, err := clusterMap(e)
	if err != nil {
		return err
	}
	p, err := poolByName(m, a.pos[0])
	if err != nil {
		return err
	}
	keys := []string{a.pos[1]}
	if a.pos[1] == "all" {
		keys = poolGetKeys
	}
	out := map[string]any{"pool": p.Name, "pool_id": p.ID}
	for _, k := range keys {
		v, ok := poolValue(m, p, k)
		if !ok && a.pos[1] == "all" {
			continue
		}
		if !ok {
			if slices.Contains(poolGetKeys, k) {
				return fmt.Errorf("pool '%s' is %s and has no %s", p.Name, p.Type, k)
			}
			return usagef(topic, "unknown pool setting %q (known: %v, or all)", k, poolGetKeys)
		}
		out[k] = v
		if !e.json {
			fmt.Fprintf(e.stdout, "%s: %v\n", k, v)
		}
	}
	if e.json {
		return writeJSON(e, out)
	}
	return nil
}

func poolSet(e *env, args []string) error {
	const topic = "pool set"
	a, err := parseArgs(topic, args, changeSpec(nil))
	if err != nil {
		return err
	}
	if err := a.want(3, 3); err != nil {
		return err
	}
	return change(e, a, &pb.CommandRequest{Cmd: &pb.CommandRequest_PoolSet{
		PoolSet: &pb.PoolSet{Name: a.pos[0], Key: a.pos[1], Value: a.pos[2]}}}, true)
}

// poolRemove deletes a pool, which loses its data: it wants the name
// (optionally twice, as Ceph does) and --yes-i-really-mean-it, and
// without the flag says what it would delete.
func poolRemove(e *env, args []string) error {
	const topic = "pool rm"
	a, err := parseArgs(topic, args, changeSpec(map[string]bool{flagReallyDelete: false}))
	if err != nil {
		return err
	}
	if err := a.want(1, 2); err != nil {
		return err
	}
	name := a.pos[0]
	if len(a.pos) == 2 && a.pos[1] != name {
		return usagef(topic, "the second name %q must repeat the first, %q", a.pos[1], name)
	}
	if !a.has(flagReallyDelete) && !a.has(flagDryRun) {
		m, err := clusterMap(e)
		if err != nil {
			return err
		}
		p, err := poolByName(m, name)
		if err != nil {
			return err
		}
		return fmt.Errorf("not removing pool '%s': this would delete pool '%s' (id %d, %s, %d PGs) and every object in it, for good; "+
			"to go ahead, repeat the command with --%s: radosctl pool rm %s %s --%s",
			name, name, p.ID, p.Type, p.PGNum, flagReallyDelete, name, name, flagReallyDelete)
	}
	return change(e, a, &pb.CommandRequest{Cmd: &pb.CommandRequest_PoolRm{PoolRm: &pb.PoolRemove{Name: name}}}, true)
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

package main

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/loligo/loligo/clustermap"
	"github.com/loligo/loligo/crush"
	pb "github.com/loligo/loligo/proto/loligopb"
)

func osdCmd(e *env, args []string) error {
	if len(args) == 0 {
		return usagef("osd", "osd needs a subcommand")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "tree":
		return osdTree(e, rest)
	case "dump":
		return osdDump(e, rest)
	case "map":
		return osdMap(e, rest)
	case "out", "in", "down":
		return osdSetState(e, sub, rest)
	case "rm":
		return osdRemove(e, rest)
	case "reweight":
		return osdReweight(e, rest)
	case "set", "unset":
		return osdFlag(e, sub, rest)
	case "set-nearfull-ratio", "set-backfillfull-ratio", "set-full-ratio":
		return osdSetRatio(e, sub, rest)
	case "crush":
		return osdCrushCmd(e, rest)
	case "getcrushmap":
		return osdGetCrushMap(e, rest)
	case "setcrushmap":
		return osdSetCrushMap(e, rest)
	case "erasure-code-profile":
		return ecProfileCmd(e, rest)
	case "pool":
		return poolCmd(e, rest) // Ceph's spelling: osd pool create ...
	}
	return usagef("osd", "unknown osd subcommand %q", sub)
}

func osdSetState(e *env, state string, args []string) error {
	const topic = "osd out|in|down"
	a, err := parseArgs(topic, args, changeSpec(nil))
	if err != nil {
		return err
	}
	if err := a.want(1, -1); err != nil {
		return err
	}
	ids, err := osdIDs(topic, a.pos)
	if err != nil {
		return err
	}
	st := map[string]pb.OSDSetState_State{"out": pb.OSDSetState_STATE_OUT, "in": pb.OSDSetState_STATE_IN,
		"down": pb.OSDSetState_STATE_DOWN}[state]
	return change(e, a, &pb.CommandRequest{Cmd: &pb.CommandRequest_OsdState{OsdState: &pb.OSDSetState{Ids: ids, State: st}}}, false)
}

func osdIDs(topic string, args []string) ([]int32, error) {
	var ids []int32
	for _, s := range args {
		id, err := parseOSDID(topic, s)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func osdRemove(e *env, args []string) error {
	const topic = "osd rm"
	a, err := parseArgs(topic, args, changeSpec(nil))
	if err != nil {
		return err
	}
	if err := a.want(1, -1); err != nil {
		return err
	}
	ids, err := osdIDs(topic, a.pos)
	if err != nil {
		return err
	}
	return change(e, a, &pb.CommandRequest{Cmd: &pb.CommandRequest_OsdRm{OsdRm: &pb.OSDRemove{Ids: ids}}}, false)
}

func osdReweight(e *env, args []string) error {
	const topic = "osd reweight"
	a, err := parseArgs(topic, args, changeSpec(nil))
	if err != nil {
		return err
	}
	if err := a.want(2, 2); err != nil {
		return err
	}
	id, err := parseOSDID(topic, a.pos[0])
	if err != nil {
		return err
	}
	w, err := parseWeight(topic, a.pos[1])
	if err != nil {
		return err
	}
	return change(e, a, &pb.CommandRequest{Cmd: &pb.CommandRequest_OsdReweight{OsdReweight: &pb.OSDReweight{Id: id, Weight: w}}}, false)
}

func osdFlag(e *env, verb string, args []string) error {
	const topic = "osd set|unset"
	a, err := parseArgs(topic, args, changeSpec(nil))
	if err != nil {
		return err
	}
	if err := a.want(1, 1); err != nil {
		return err
	}
	return change(e, a, &pb.CommandRequest{Cmd: &pb.CommandRequest_Flag{Flag: &pb.FlagChange{Flag: a.pos[0], Set: verb == "set"}}}, false)
}

// osdSetRatio is osd set-nearfull-ratio|set-backfillfull-ratio|set-full-ratio RATIO.
func osdSetRatio(e *env, verb string, args []string) error {
	topic := "osd " + verb
	a, err := parseArgs(topic, args, changeSpec(nil))
	if err != nil {
		return err
	}
	if err := a.want(1, 1); err != nil {
		return err
	}
	r, err := strconv.ParseFloat(a.pos[0], 64)
	if err != nil || !(r > 0 && r <= 1) {
		return usagef(topic, "the ratio is a share of the disk in (0, 1], like 0.9; got %q", a.pos[0])
	}
	which := map[string]pb.OSDFullness{
		"set-nearfull-ratio":     pb.OSDFullness_OSD_FULLNESS_NEARFULL,
		"set-backfillfull-ratio": pb.OSDFullness_OSD_FULLNESS_BACKFILLFULL,
		"set-full-ratio":         pb.OSDFullness_OSD_FULLNESS_FULL,
	}[verb]
	return change(e, a, &pb.CommandRequest{Cmd: &pb.CommandRequest_SetFullRatio{SetFullRatio: &pb.SetFullRatio{Which: which, Ratio: r}}}, false)
}

// osd tree

// treeNodeJSON is one line of osd tree in -o json output, as Ceph's
// "nodes" entries.
type treeNodeJSON struct {
	ID          int32   `json:"id"`
	Name        string  `json:"name"`
	Type        string  `json:"type"`
	TypeID      int32   `json:"type_id"`
	Depth       int     `json:"depth"`
	CrushWeight float64 `json:"crush_weight"`
	DeviceClass string  `json:"device_class,omitempty"`
	// Children: buckets only.
	Children []int32 `json:"children,omitzero"`
	// OSDs only.
	Exists          *bool    `json:"exists,omitempty"`
	Status          string   `json:"status,omitempty"` // up, down, dne
	Reweight        *float64 `json:"reweight,omitempty"`
	PrimaryAffinity *float64 `json:"primary_affinity,omitempty"`
}

type treeItem struct {
	id       int32
	depth    int
	weight   uint32
	children []int32
}

// treeWalk lists the CRUSH hierarchy as Ceph's osd tree does: the roots
// (not shadow ones) by ascending id, depth first, each bucket's children
// sorted buckets by name, then devices by class and id. stray are the
// OSDs of the map that are in no bucket.
func treeWalk(m *clustermap.Map) (items []treeItem, stray []int32) {
	cm := m.Crush
	child := map[int32]bool{}
	var roots []int32
	for _, b := range cm.Buckets {
		if b == nil || cm.IsShadow(b.ID) {
			continue
		}
		for _, it := range b.Items {
			child[it] = true
		}
	}
	for _, b := range cm.Buckets {
		if b != nil && !cm.IsShadow(b.ID) && !child[b.ID] {
			roots = append(roots, b.ID)
		}
	}
	slices.Sort(roots)
	class := map[int32]string{}
	for _, d := range cm.Devices {
		class[d.ID] = d.Class
	}
	touched := map[int32]bool{}
	var visit func(id int32, depth int, w uint32)
	visit = func(id int32, depth int, w uint32) {
		it := treeItem{id: id, depth: depth, weight: w}
		touched[id] = true
		b := cm.Bucket(id)
		if b == nil {
			items = append(items, it)
			return
		}
		type kid struct {
			key string
			id  int32
			w   uint32
		}
		var kids []kid
		for i, c := range b.Items {
			var key string
			if c >= 0 {
				key = fmt.Sprintf("%s_osd.%08d", class[c], c)
			} else {
				n, _ := cm.ItemName(c)
				key = "_" + n
			}
			kids = append(kids, kid{key, c, b.ItemWeight(i)})
		}
		sort.SliceStable(kids, func(i, j int) bool { return kids[i].key < kids[j].key })
		it.children = []int32{}
		for _, k := range kids {
			it.children = append(it.children, k.id)
		}
		items = append(items, it)
		for _, k := range kids {
			visit(k.id, depth+1, k.w)
		}
	}
	for _, r := range roots {
		visit(r, 0, cm.Bucket(r).Weight())
	}
	for _, id := range m.OSDIDs() {
		if !touched[id] {
			stray = append(stray, id)
		}
	}
	return items, stray
}

func osdTree(e *env, args []string) error {
	a, err := parseArgs("osd tree", args, nil)
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
	return printOSDTree(e, m)
}

// printOSDTree prints m's CRUSH hierarchy with the OSDs' states.
func printOSDTree(e *env, m *clustermap.Map) error {
	items, stray := treeWalk(m)
	cm := m.Crush
	class := map[int32]string{}
	for _, d := range cm.Devices {
		class[d.ID] = d.Class
	}
	node := func(it treeItem) treeNodeJSON {
		n := treeNodeJSON{ID: it.id, Depth: it.depth, CrushWeight: fixedFloat(it.weight), Children: it.children}
		n.Name, _ = cm.ItemName(it.id)
		if b := cm.Bucket(it.id); b != nil {
			n.TypeID, n.Type = b.Type, cm.Types[b.Type]
			return n
		}
		if n.Name == "" {
			n.Name = fmt.Sprintf("osd.%d", it.id)
		}
		n.Type, n.DeviceClass = "osd", class[it.id]
		o, ok := m.OSDs[it.id]
		n.Exists = &ok
		if !ok {
			n.Status = "dne"
			return n
		}
		n.Status = "down"
		if o.Up {
			n.Status = "up"
		}
		rw, pa := fixedFloat(o.Weight), fixedFloat(o.PrimaryAffinity)
		n.Reweight, n.PrimaryAffinity = &rw, &pa
		return n
	}
	for _, id := range stray {
		items = append(items, treeItem{id: id})
	}
	if e.json {
		out := struct {
			Nodes []treeNodeJSON `json:"nodes"`
			Stray []treeNodeJSON `json:"stray"`
		}{[]treeNodeJSON{}, []treeNodeJSON{}}
		for i, it := range items {
			if i < len(items)-len(stray) {
				out.Nodes = append(out.Nodes, node(it))
			} else {
				out.Stray = append(out.Stray, node(it))
			}
		}
		return writeJSON(e, out)
	}
	t := newTable("ID>", "CLASS>", "WEIGHT>", "TYPE NAME", "STATUS>", "REWEIGHT>", "PRI-AFF>")
	for _, it := range items {
		n := node(it)
		name := strings.Repeat("    ", n.Depth)
		if n.ID < 0 {
			name += n.Type + " " + n.Name
		} else {
			name += n.Name
		}
		row := []string{fmt.Sprint(n.ID), n.DeviceClass, weightf(it.weight), name, "", "", ""}
		if o, ok := m.OSDs[n.ID]; ok {
			row[4], row[5], row[6] = n.Status, weightf(o.Weight), weightf(o.PrimaryAffinity)
		} else if n.ID >= 0 {
			row[4], row[5], row[6] = "DNE", "0", "0"
		}
		t.add(row...)
	}
	return t.write(e.stdout)
}

// osd dump

type poolJSON struct {
	ID            int64    `json:"pool_id"`
	Name          string   `json:"pool_name"`
	Type          string   `json:"type"`
	Size          uint32   `json:"size"`
	MinSize       uint32   `json:"min_size"`
	CrushRule     int32    `json:"crush_rule"`
	CrushRuleName string   `json:"crush_rule_name"`
	PGNum         uint32   `json:"pg_num"`
	PGPNum        uint32   `json:"pgp_num"`
	Flags         []string `json:"flags"`
	ECProfile     string   `json:"erasure_code_profile,omitempty"`
}

func poolToJSON(m *clustermap.Map, p *clustermap.Pool) poolJSON {
	return poolJSON{ID: p.ID, Name: p.Name, Type: p.Type.String(), Size: p.Size, MinSize: p.MinSize,
		CrushRule: p.CrushRule, CrushRuleName: ruleName(m, p.CrushRule), PGNum: p.PGNum, PGPNum: p.PGPNum,
		Flags: poolFlags(p.Flags), ECProfile: p.ECProfile}
}

func ruleName(m *clustermap.Map, id int32) string {
	if r := m.Crush.Rule(int(id)); r != nil {
		return r.Name
	}
	return ""
}

func poolFlags(f clustermap.PoolFlags) []string {
	out := []string{}
	if f&clustermap.FlagHashPSPool != 0 {
		out = append(out, "hashpspool")
	}
	if rest := f &^ clustermap.FlagHashPSPool; rest != 0 {
		out = append(out, fmt.Sprintf("%#x", uint64(rest)))
	}
	return out
}

// poolLine is a pool as Ceph's osd dump prints it.
func poolLine(p *clustermap.Pool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "pool %d '%s' %s", p.ID, p.Name, p.Type)
	if p.Type == clustermap.PoolErasure {
		fmt.Fprintf(&b, " profile %s", p.ECProfile)
	}
	fmt.Fprintf(&b, " size %d min_size %d crush_rule %d object_hash rjenkins pg_num %d pgp_num %d",
		p.Size, p.MinSize, p.CrushRule, p.PGNum, p.PGPNum)
	if f := poolFlags(p.Flags); len(f) > 0 {
		fmt.Fprintf(&b, " flags %s", strings.Join(f, ","))
	}
	return b.String()
}

type osdJSON struct {
	ID              int32    `json:"osd"`
	UUID            string   `json:"uuid"`
	Up              bool     `json:"up"`
	In              bool     `json:"in"`
	Weight          float64  `json:"weight"`
	PrimaryAffinity float64  `json:"primary_affinity"`
	UpFrom          uint64   `json:"up_from"`
	DownStamp       string   `json:"down_stamp"`
	Addr            string   `json:"addr"`
	State           []string `json:"state"`
}

// osdState is Ceph's state set of an OSD, sorted: autoout, exists, up.
func osdState(o *clustermap.OSD) []string {
	st := []string{"exists"}
	if o.AutoOut {
		st = append([]string{"autoout"}, st...)
	}
	if o.Up {
		st = append(st, "up")
	}
	return st
}

type pgOSDsJSON struct {
	PG   string  `json:"pgid"`
	OSDs []int32 `json:"osds"`
}

type primaryTempJSON struct {
	PG  string `json:"pgid"`
	OSD int32  `json:"osd"`
}

type upmapItemsJSON struct {
	PG       string     `json:"pgid"`
	Mappings [][2]int32 `json:"mappings"` // [from, to] pairs
}

func osdDump(e *env, args []string) error {
	a, err := parseArgs("osd dump", args, nil)
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
	return printOSDDump(e, m)
}

// printOSDDump prints m as Ceph's osd dump does.
func printOSDDump(e *env, m *clustermap.Map) error {
	ids := m.OSDIDs()
	if e.json {
		out := struct {
			Epoch        uint64                       `json:"epoch"`
			FSID         string                       `json:"fsid"`
			Created      string                       `json:"created"`
			Modified     string                       `json:"modified"`
			Flags        []string                     `json:"flags"`
			MaxOSD       int32                        `json:"max_osd"`
			Pools        []poolJSON                   `json:"pools"`
			OSDs         []osdJSON                    `json:"osds"`
			PGTemp       []pgOSDsJSON                 `json:"pg_temp"`
			PrimaryTemp  []primaryTempJSON            `json:"primary_temp"`
			PGUpmap      []pgOSDsJSON                 `json:"pg_upmap"`
			PGUpmapItems []upmapItemsJSON             `json:"pg_upmap_items"`
			ECProfiles   map[string]map[string]string `json:"erasure_code_profiles"`
		}{Epoch: m.Epoch, FSID: m.FSID, Created: jsonTime(m.Created), Modified: jsonTime(m.Modified),
			Flags: append([]string{}, m.Flags.Names()...), MaxOSD: m.OSDLimit(), Pools: []poolJSON{}, OSDs: []osdJSON{},
			PGTemp: []pgOSDsJSON{}, PrimaryTemp: []primaryTempJSON{}, PGUpmap: []pgOSDsJSON{}, PGUpmapItems: []upmapItemsJSON{},
			ECProfiles: map[string]map[string]string{}}
		for _, id := range m.PoolIDs() {
			out.Pools = append(out.Pools, poolToJSON(m, m.Pools[id]))
		}
		for _, id := range ids {
			o := m.OSDs[id]
			out.OSDs = append(out.OSDs, osdJSON{ID: id, UUID: o.UUID, Up: o.Up, In: o.In(), Weight: fixedFloat(o.Weight),
				PrimaryAffinity: fixedFloat(o.PrimaryAffinity), UpFrom: o.UpFrom, DownStamp: jsonTime(o.DownStamp),
				Addr: o.Addr, State: osdState(o)})
		}
		for _, pg := range clustermap.SortedPGs(m.PGTemp) {
			out.PGTemp = append(out.PGTemp, pgOSDsJSON{pg.String(), m.PGTemp[pg]})
		}
		for _, pg := range clustermap.SortedPGs(m.PrimaryTemp) {
			out.PrimaryTemp = append(out.PrimaryTemp, primaryTempJSON{pg.String(), m.PrimaryTemp[pg]})
		}
		for _, pg := range clustermap.SortedPGs(m.PGUpmap) {
			out.PGUpmap = append(out.PGUpmap, pgOSDsJSON{pg.String(), m.PGUpmap[pg]})
		}
		for _, pg := range clustermap.SortedPGs(m.PGUpmapItems) {
			out.PGUpmapItems = append(out.PGUpmapItems, upmapItemsJSON{pg.String(), m.PGUpmapItems[pg]})
		}
		maps.Copy(out.ECProfiles, m.ECProfiles)
		return writeJSON(e, out)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "epoch %d\nfsid %s\ncreated %s\nmodified %s\n", m.Epoch, m.FSID, cephTime(m.Created), cephTime(m.Modified))
	b.WriteString("flags")
	if names := m.Flags.Names(); len(names) > 0 {
		b.WriteString(" " + strings.Join(names, ","))
	}
	b.WriteString("\n\n")
	for _, id := range m.PoolIDs() {
		b.WriteString(poolLine(m.Pools[id]) + "\n")
	}
	if len(m.Pools) > 0 {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "max_osd %d\n", m.OSDLimit())
	for _, id := range ids {
		o := m.OSDs[id]
		upDown, inOut := "down", "out"
		if o.Up {
			upDown = "up  "
		}
		if o.In() {
			inOut = "in "
		}
		fmt.Fprintf(&b, "osd.%d %s %s weight %s", id, upDown, inOut, g6(o.Weight))
		if o.PrimaryAffinity != crush.WeightOne {
			fmt.Fprintf(&b, " primary_affinity %s", g6(o.PrimaryAffinity))
		}
		addr := o.Addr
		if addr == "" {
			addr = "-"
		}
		fmt.Fprintf(&b, " up_from %d %s %s %s\n", o.UpFrom, addr, strings.Join(osdState(o), ","), o.UUID)
	}
	for _, pg := range clustermap.SortedPGs(m.PGTemp) {
		fmt.Fprintf(&b, "pg_temp %s %s\n", pg, osdList(m.PGTemp[pg]))
	}
	for _, pg := range clustermap.SortedPGs(m.PrimaryTemp) {
		fmt.Fprintf(&b, "primary_temp %s %d\n", pg, m.PrimaryTemp[pg])
	}
	for _, pg := range clustermap.SortedPGs(m.PGUpmap) {
		fmt.Fprintf(&b, "pg_upmap %s %s\n", pg, osdList(m.PGUpmap[pg]))
	}
	for _, pg := range clustermap.SortedPGs(m.PGUpmapItems) {
		var pairs []string
		for _, p := range m.PGUpmapItems[pg] {
			pairs = append(pairs, fmt.Sprintf("%d,%d", p[0], p[1]))
		}
		fmt.Fprintf(&b, "pg_upmap_items %s [%s]\n", pg, strings.Join(pairs, ","))
	}
	_, err := fmt.Fprint(e.stdout, b.String())
	return err
}

// osd map

func osdMap(e *env, args []string) error {
	const topic = "osd map"
	a, err := parseArgs(topic, args, nil)
	if err != nil {
		return err
	}
	if err := a.want(2, 3); err != nil {
		return err
	}
	poolName, obj, ns := a.pos[0], a.pos[1], ""
	if len(a.pos) == 3 {
		ns = a.pos[2]
	}
	m, err := clusterMap(e)
	if err != nil {
		return err
	}
	p, err := poolByName(m, poolName)
	if err != nil {
		return err
	}
	hash := clustermap.HashKey(obj, ns)
	pl, err := m.PlaceObject(p.ID, obj, ns)
	if err != nil {
		return err
	}
	raw := clustermap.PGID{Pool: p.ID, Seed: hash}
	if e.json {
		return writeJSON(e, struct {
			Epoch         uint64  `json:"epoch"`
			Pool          string  `json:"pool"`
			PoolID        int64   `json:"pool_id"`
			Object        string  `json:"objname"`
			Namespace     string  `json:"namespace"`
			RawPG         string  `json:"raw_pgid"`
			PG            string  `json:"pgid"`
			Up            []int32 `json:"up"`
			UpPrimary     int32   `json:"up_primary"`
			Acting        []int32 `json:"acting"`
			ActingPrimary int32   `json:"acting_primary"`
		}{m.Epoch, p.Name, p.ID, obj, ns, raw.String(), pl.PG.String(), nonNil(pl.Up), pl.UpPrimary, nonNil(pl.Acting), pl.ActingPrimary})
	}
	full := obj
	if ns != "" {
		full = ns + "/" + obj
	}
	_, err = fmt.Fprintf(e.stdout, "osdmap e%d pool '%s' (%d) object '%s' -> pg %s (%s) -> up (%s, p%d) acting (%s, p%d)\n",
		m.Epoch, p.Name, p.ID, full, raw, pl.PG, osdList(pl.Up), pl.UpPrimary, osdList(pl.Acting), pl.ActingPrimary)
	return err
}

func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}

// poolByName is m.PoolByName with an error that says what to do.
func poolByName(m *clustermap.Map, name string) (*clustermap.Pool, error) {
	p, err := m.PoolByName(name)
	if err != nil {
		var names []string
		for _, id := range m.PoolIDs() {
			names = append(names, m.Pools[id].Name)
		}
		have := "there are no pools"
		if len(names) > 0 {
			have = "pools: " + strings.Join(names, ", ")
		}
		return nil, fmt.Errorf("pool '%s' does not exist (%s)", name, have)
	}
	return p, nil
}

// CRUSH map text

func osdGetCrushMap(e *env, args []string) error {
	const topic = "osd getcrushmap"
	a, err := parseArgs(topic, args, map[string]bool{"out": true})
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
	path, toFile := a.flags["out"]
	if !toFile {
		if e.json {
			return writeJSON(e, crushJSON(m.Crush))
		}
		_, err := fmt.Fprint(e.stdout, m.Crush.Decompile())
		return err
	}
	var data []byte
	if e.json {
		var b bytes.Buffer
		if err := encodeJSON(&b, crushJSON(m.Crush)); err != nil {
			return err
		}
		data = b.Bytes()
	} else {
		data = []byte(m.Crush.Decompile())
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stderr, "wrote the CRUSH map of epoch %d to %s\n", m.Epoch, path)
	return err
}

func osdSetCrushMap(e *env, args []string) error {
	const topic = "osd setcrushmap"
	a, err := parseArgs(topic, args, changeSpec(nil))
	if err != nil {
		return err
	}
	if err := a.want(1, 1); err != nil {
		return err
	}
	path := a.pos[0]
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if _, err := compileCrushText(path, string(src)); err != nil {
		return err
	}
	return change(e, a, &pb.CommandRequest{Cmd: &pb.CommandRequest_SetCrushMap{SetCrushMap: &pb.SetCrushMap{Text: string(src)}}}, false)
}

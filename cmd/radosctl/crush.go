package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/loligo/loligo/crush"
)

func crushCmd(e *env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: crush needs a subcommand (compile or test)", errUsage)
	}
	switch args[0] {
	case "compile":
		return crushCompile(e, args[1:])
	case "test":
		return crushTest(e, args[1:])
	}
	return fmt.Errorf("%w: unknown crush subcommand %q", errUsage, args[0])
}

// loadCrushText reads and compiles a text map, reporting errors as
// FILE:LINE:COL.
func loadCrushText(path string) (*crush.Map, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return compileCrushText(path, string(src))
}

// compileCrushText compiles src, read from path, reporting errors as
// FILE:LINE:COL.
func compileCrushText(path, src string) (*crush.Map, error) {
	m, err := crush.Compile(src)
	if err != nil {
		var pe *crush.PosError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d:%d: %s", path, pe.Line, pe.Col, pe.Msg)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

func crushCompile(e *env, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%w: crush compile takes one map file", errUsage)
	}
	m, err := loadCrushText(args[0])
	if err != nil {
		return err
	}
	if e.json {
		return writeJSON(e, crushJSON(m))
	}
	_, err = fmt.Fprint(e.stdout, m.Decompile())
	return err
}

func crushTest(e *env, args []string) error {
	var mapPath string
	var rest []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--map" || a == "-map":
			if i+1 >= len(args) {
				return fmt.Errorf("%w: --map needs a file", errUsage)
			}
			mapPath = args[i+1]
			i++
		case len(a) > 6 && a[:6] == "--map=":
			mapPath = a[6:]
		default:
			rest = append(rest, a)
		}
	}
	if mapPath == "" {
		return fmt.Errorf("%w: crush test needs --map MAP.txt", errUsage)
	}
	cfg, extra, err := crush.ParseTestArgs(rest)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if len(extra) > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, extra)
	}
	if !cfg.ShowMappings && !cfg.ShowStatistics && !cfg.ShowUtilization && !cfg.ShowBadMappings {
		cfg.ShowMappings = true
	}
	m, err := loadCrushText(mapPath)
	if err != nil {
		return err
	}
	if cfg.Rule != nil && m.Rule(*cfg.Rule) == nil {
		return fmt.Errorf("rule %d does not exist (the map has rules %s)", *cfg.Rule, ruleList(m))
	}
	if !e.json {
		return m.RunTest(cfg, e.stdout)
	}
	return crushTestJSON(e, m, cfg)
}

func ruleList(m *crush.Map) string {
	s := ""
	for _, r := range m.Rules {
		if r != nil {
			if s != "" {
				s += ", "
			}
			s += fmt.Sprintf("%d (%s)", r.ID, r.Name)
		}
	}
	if s == "" {
		return "none"
	}
	return s
}

// crushTestJSON streams one JSON document:
// {"runs":[{"rule":..,"num_rep":..,"mappings":[{"x":..,"osds":[..]}],
// "result_sizes":{..},"devices":[{"id":..,"stored":..,"expected":..}]}]}.
func crushTestJSON(e *env, m *crush.Map, cfg crush.TestConfig) error {
	w := bufio.NewWriter(e.stdout)
	fmt.Fprint(w, `{"runs":[`)
	firstRun, firstMapping := true, true
	hooks := crush.TestHooks{
		Mapping: func(rule, numRep, x int, result []int32) {
			if !cfg.ShowMappings {
				return
			}
			if firstMapping {
				if !firstRun {
					w.WriteByte(',')
				}
				fmt.Fprintf(w, `{"rule":%d,"num_rep":%d,"mappings":[`, rule, numRep)
				firstMapping = false
			} else {
				w.WriteByte(',')
			}
			fmt.Fprintf(w, `{"x":%d,"osds":%s}`, x, crush.AppendList(nil, result))
		},
		Done: func(run *crush.TestRun) {
			if firstMapping {
				if !firstRun {
					w.WriteByte(',')
				}
				fmt.Fprintf(w, `{"rule":%d,"num_rep":%d,"mappings":[`, run.Rule, run.NumRep)
			}
			w.WriteString("]")
			sizes, _ := json.Marshal(run.Sizes)
			fmt.Fprintf(w, `,"rule_name":%q,"inputs":%d,"result_sizes":%s,"devices":[`, run.RuleName, run.Inputs, sizes)
			first := true
			for i, n := range run.Stored {
				if n == 0 && run.Expected[i] == 0 {
					continue
				}
				if !first {
					w.WriteByte(',')
				}
				first = false
				fmt.Fprintf(w, `{"id":%d,"stored":%d,"expected":%g}`, i, n, run.Expected[i])
			}
			w.WriteString("]}")
			firstRun, firstMapping = false, true
		},
	}
	if err := m.Test(cfg, hooks); err != nil {
		return err
	}
	w.WriteString("]}\n")
	return w.Flush()
}

func writeJSON(e *env, v any) error { return encodeJSON(e.stdout, v) }

// encodeJSON writes v as indented JSON.
func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// crushJSON is the -o json form of a compiled map.
func crushJSON(m *crush.Map) any {
	type item struct {
		ID     int32   `json:"id"`
		Name   string  `json:"name"`
		Weight float64 `json:"weight"`
	}
	type bucket struct {
		ID     int32   `json:"id"`
		Name   string  `json:"name"`
		Type   string  `json:"type"`
		Alg    string  `json:"alg"`
		Weight float64 `json:"weight"`
		Items  []item  `json:"items"`
		Shadow bool    `json:"shadow,omitempty"`
	}
	name := func(id int32) string {
		n, _ := m.ItemName(id)
		return n
	}
	out := struct {
		Tunables crush.Tunables   `json:"tunables"`
		Devices  []crush.Device   `json:"devices"`
		Types    map[int32]string `json:"types"`
		Buckets  []bucket         `json:"buckets"`
		Rules    []ruleJSON       `json:"rules"`
	}{Tunables: m.Tunables, Devices: m.Devices, Types: m.Types}
	for _, b := range m.Buckets {
		if b == nil {
			continue
		}
		jb := bucket{ID: b.ID, Name: b.Name, Type: m.Types[b.Type], Alg: b.Alg.String(),
			Weight: float64(b.Weight()) / crush.WeightOne, Shadow: m.IsShadow(b.ID)}
		for i, it := range b.Items {
			jb.Items = append(jb.Items, item{ID: it, Name: name(it), Weight: float64(b.ItemWeight(i)) / crush.WeightOne})
		}
		out.Buckets = append(out.Buckets, jb)
	}
	sort.Slice(out.Buckets, func(i, j int) bool { return out.Buckets[i].ID > out.Buckets[j].ID })
	for _, r := range m.Rules {
		if r != nil {
			out.Rules = append(out.Rules, ruleToJSON(m, r))
		}
	}
	return out
}

// ruleJSON is the -o json form of a CRUSH rule.
type ruleJSON struct {
	ID      int        `json:"id"`
	Name    string     `json:"name"`
	Type    string     `json:"type"`
	MinSize uint8      `json:"min_size"`
	MaxSize uint8      `json:"max_size"`
	Steps   []stepJSON `json:"steps"`
}

type stepJSON struct {
	Op   string `json:"op"`
	Item string `json:"item,omitempty"`
	Num  *int32 `json:"num,omitempty"`
	Type string `json:"type,omitempty"`
	Val  *int32 `json:"value,omitempty"`
}

func ruleToJSON(m *crush.Map, r *crush.Rule) ruleJSON {
	jr := ruleJSON{ID: r.ID, Name: r.Name, Type: r.Type.String(), MinSize: r.MinSize, MaxSize: r.MaxSize, Steps: []stepJSON{}}
	for _, s := range r.Steps {
		js := stepJSON{Op: s.Op.String()}
		switch s.Op {
		case crush.OpTake:
			orig, class := m.SplitClass(s.Arg1)
			js.Item, _ = m.ItemName(orig)
			if class != "" {
				js.Item += " class " + class
			}
		case crush.OpChooseFirstN, crush.OpChooseIndep, crush.OpChooseLeafFirstN, crush.OpChooseLeafIndep:
			n := s.Arg1
			js.Num, js.Type = &n, m.Types[s.Arg2]
		case crush.OpEmit, crush.OpNoop:
		default:
			v := s.Arg1
			js.Val = &v
		}
		jr.Steps = append(jr.Steps, js)
	}
	return jr
}

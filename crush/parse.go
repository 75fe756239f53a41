package crush

import (
	"math"
)

// The syntax tree of crushtool's text format. Parsing only checks the
// grammar; compile.go gives it meaning in Ceph's order.

type astFile struct {
	tunables   []astTunable
	devices    []astDevice
	types      []astType
	buckets    []*astBucket
	rules      []*astRule
	chooseArgs []*astChooseArgs
}

type astTunable struct {
	name token
	val  int64
	at   token
}

type astDevice struct {
	id    int64
	at    token
	name  token
	class *token
}

type astType struct {
	id   int64
	at   token
	name token
}

type astBucketID struct {
	id    int64
	at    token
	class *token
}

type astItem struct {
	name      token
	weight    *float32
	weightTok token
	pos       int64 // -1: none
	posTok    token
}

type astBucket struct {
	typ    token
	name   token
	ids    []astBucketID
	alg    token
	hashes []token
	items  []astItem
}

type astStep struct {
	kind  token  // take, emit, choose, chooseleaf, set_*
	item  token  // take
	class *token // take ... class C
	mode  token  // firstn | indep
	n     int64  // choose N, or the set_* value
	typ   token  // choose ... type T
}

type astRule struct {
	at      token
	name    *token
	id      int64
	idTok   token
	typ     token
	minSize int64
	maxSize int64
	steps   []astStep
}

type astChooseArg struct {
	at        token
	bucketID  int64
	weightSet [][]float32
	ids       []int64
	hasIDs    bool
}

type astChooseArgs struct {
	at    token
	index uint64
	args  []astChooseArg
}

// parse reads crush map text into a syntax tree. The order of sections is
// crushtool's: tunables, devices and types; then buckets and rules; then
// choose_args.
func parse(src string) (*astFile, error) {
	s := newTokenStream(src)
	f := &astFile{}
	section := 0 // 0 header, 1 buckets and rules, 2 choose_args
	for !s.atEOF() {
		t, _ := s.peek()
		switch t.text {
		case "tunable", "device", "type":
			if section > 0 {
				return nil, s.errorf(t, "%q lines must come before buckets, rules and choose_args", t.text)
			}
			if err := parseHeader(s, f); err != nil {
				return nil, err
			}
		case "rule":
			if section > 1 {
				return nil, s.errorf(t, "rules must come before choose_args")
			}
			section = 1
			r, err := parseRule(s)
			if err != nil {
				return nil, err
			}
			f.rules = append(f.rules, r)
		case "choose_args":
			section = 2
			ca, err := parseChooseArgs(s)
			if err != nil {
				return nil, err
			}
			f.chooseArgs = append(f.chooseArgs, ca)
		case "{", "}", "[", "]":
			return nil, s.errorf(t, "unexpected %q", t.text)
		default:
			if section > 1 {
				return nil, s.errorf(t, "buckets must come before choose_args")
			}
			section = 1
			b, err := parseBucket(s)
			if err != nil {
				return nil, err
			}
			f.buckets = append(f.buckets, b)
		}
	}
	return f, nil
}

func parseHeader(s *tokenStream, f *astFile) error {
	kw, _ := s.next("")
	switch kw.text {
	case "tunable":
		name, err := s.name("tunable name")
		if err != nil {
			return err
		}
		v, at, err := s.integer("tunable value", 0, math.MaxUint32)
		if err != nil {
			return err
		}
		f.tunables = append(f.tunables, astTunable{name: name, val: v, at: at})
	case "device":
		id, at, err := s.integer("device id", 0, DeviceIDLimit-1)
		if err != nil {
			return err
		}
		name, err := s.name("device name")
		if err != nil {
			return err
		}
		d := astDevice{id: id, at: at, name: name}
		if s.peekIs("class") {
			s.next("")
			c, err := s.name("device class")
			if err != nil {
				return err
			}
			d.class = &c
		}
		f.devices = append(f.devices, d)
	case "type":
		id, at, err := s.integer("type id", 0, math.MaxInt32)
		if err != nil {
			return err
		}
		name, err := s.name("type name")
		if err != nil {
			return err
		}
		f.types = append(f.types, astType{id: id, at: at, name: name})
	}
	return nil
}

func parseBucket(s *tokenStream) (*astBucket, error) {
	b := &astBucket{}
	var err error
	if b.typ, err = s.name("bucket type"); err != nil {
		return nil, err
	}
	if b.name, err = s.name("bucket name"); err != nil {
		return nil, err
	}
	if _, err = s.expect("{"); err != nil {
		return nil, err
	}
	for s.peekIs("id") {
		s.next("")
		id, at, err := s.integer("bucket id", -BucketIDLimit, -1)
		if err != nil {
			return nil, err
		}
		bid := astBucketID{id: id, at: at}
		if s.peekIs("class") {
			s.next("")
			c, err := s.name("device class")
			if err != nil {
				return nil, err
			}
			bid.class = &c
		}
		b.ids = append(b.ids, bid)
	}
	kw, err := s.next(`"alg"`)
	if err != nil {
		return nil, err
	}
	if kw.text != "alg" {
		return nil, s.errorf(kw, "expected \"id\" or \"alg\" in bucket %s, found %q", b.name.text, kw.text)
	}
	if b.alg, err = s.name("bucket algorithm"); err != nil {
		return nil, err
	}
	for s.peekIs("hash") {
		s.next("")
		h, err := s.next("hash")
		if err != nil {
			return nil, err
		}
		if h.text != "rjenkins1" && !isDecimal(h.text) {
			return nil, s.errorf(h, "expected a hash (rjenkins1 or a number), found %q", h.text)
		}
		b.hashes = append(b.hashes, h)
	}
	for {
		t, err := s.next(`"item" or "}"`)
		if err != nil {
			return nil, err
		}
		if t.text == "}" {
			return b, nil
		}
		if t.text != "item" {
			return nil, s.errorf(t, "expected \"item\" or \"}\" in bucket %s, found %q", b.name.text, t.text)
		}
		it := astItem{pos: -1}
		if it.name, err = s.name("item name"); err != nil {
			return nil, err
		}
		if s.peekIs("weight") {
			s.next("")
			w, wt, err := s.real("item weight")
			if err != nil {
				return nil, err
			}
			it.weight, it.weightTok = &w, wt
		}
		if s.peekIs("pos") {
			s.next("")
			if it.pos, it.posTok, err = s.integer("item position", 0, math.MaxInt32); err != nil {
				return nil, err
			}
		}
		b.items = append(b.items, it)
	}
}

// stepArgs are the set_* steps, which all take one non-negative integer.
var setSteps = map[string]Op{
	"set_choose_tries":                OpSetChooseTries,
	"set_choose_local_tries":          OpSetChooseLocalTries,
	"set_choose_local_fallback_tries": OpSetChooseLocalFallbackTries,
	"set_chooseleaf_tries":            OpSetChooseLeafTries,
	"set_chooseleaf_vary_r":           OpSetChooseLeafVaryR,
	"set_chooseleaf_stable":           OpSetChooseLeafStable,
}

func parseRule(s *tokenStream) (*astRule, error) {
	at, _ := s.next("")
	r := &astRule{at: at, minSize: 1, maxSize: 100}
	if !s.peekIs("{") {
		n, err := s.name("rule name")
		if err != nil {
			return nil, err
		}
		r.name = &n
	}
	if _, err := s.expect("{"); err != nil {
		return nil, err
	}
	kw, err := s.next(`"id"`)
	if err != nil {
		return nil, err
	}
	if kw.text != "id" && kw.text != "ruleset" {
		return nil, s.errorf(kw, "expected \"id\", found %q", kw.text)
	}
	if r.id, r.idTok, err = s.integer("rule id", 0, 255); err != nil {
		return nil, err
	}
	if _, err := s.expect("type"); err != nil {
		return nil, err
	}
	if r.typ, err = s.next("rule type"); err != nil {
		return nil, err
	}
	if r.typ.text != "replicated" && r.typ.text != "erasure" {
		return nil, s.errorf(r.typ, "rule type must be replicated or erasure, found %q", r.typ.text)
	}
	if s.peekIs("min_size") {
		s.next("")
		if r.minSize, _, err = s.integer("min_size", 0, 255); err != nil {
			return nil, err
		}
	}
	if s.peekIs("max_size") {
		s.next("")
		if r.maxSize, _, err = s.integer("max_size", 0, 255); err != nil {
			return nil, err
		}
	}
	for {
		t, err := s.next(`"step" or "}"`)
		if err != nil {
			return nil, err
		}
		if t.text == "}" {
			if len(r.steps) == 0 {
				return nil, s.errorf(t, "rule has no steps")
			}
			return r, nil
		}
		if t.text != "step" {
			return nil, s.errorf(t, "expected \"step\" or \"}\", found %q", t.text)
		}
		st, err := parseStep(s)
		if err != nil {
			return nil, err
		}
		r.steps = append(r.steps, st)
	}
}

func parseStep(s *tokenStream) (astStep, error) {
	var st astStep
	var err error
	if st.kind, err = s.next("step kind"); err != nil {
		return st, err
	}
	switch st.kind.text {
	case "take":
		if st.item, err = s.name("item name"); err != nil {
			return st, err
		}
		if s.peekIs("class") {
			s.next("")
			c, err := s.name("device class")
			if err != nil {
				return st, err
			}
			st.class = &c
		}
	case "emit":
	case "choose", "chooseleaf":
		if st.mode, err = s.next("firstn or indep"); err != nil {
			return st, err
		}
		if st.mode.text != "firstn" && st.mode.text != "indep" {
			return st, s.errorf(st.mode, "expected firstn or indep, found %q", st.mode.text)
		}
		if st.n, _, err = s.integer("replica count", math.MinInt32, math.MaxInt32); err != nil {
			return st, err
		}
		if _, err = s.expect("type"); err != nil {
			return st, err
		}
		if st.typ, err = s.name("type name"); err != nil {
			return st, err
		}
	default:
		if _, ok := setSteps[st.kind.text]; !ok {
			return st, s.errorf(st.kind, "unknown step %q", st.kind.text)
		}
		if st.n, _, err = s.integer(st.kind.text+" value", 0, math.MaxInt32); err != nil {
			return st, err
		}
	}
	return st, nil
}

func parseChooseArgs(s *tokenStream) (*astChooseArgs, error) {
	at, _ := s.next("")
	idxTok, err := s.next("choose_args index")
	if err != nil {
		return nil, err
	}
	idx, ok := chooseArgsIndex(idxTok.text)
	if !ok {
		return nil, s.errorf(idxTok, "expected a choose_args index (a non-negative integer), found %q", idxTok.text)
	}
	ca := &astChooseArgs{at: at, index: idx}
	if _, err := s.expect("{"); err != nil {
		return nil, err
	}
	for {
		t, err := s.next(`"{" or "}"`)
		if err != nil {
			return nil, err
		}
		if t.text == "}" {
			return ca, nil
		}
		if t.text != "{" {
			return nil, s.errorf(t, "expected \"{\" or \"}\" in choose_args, found %q", t.text)
		}
		a := astChooseArg{at: t}
		if _, err := s.expect("bucket_id"); err != nil {
			return nil, err
		}
		if a.bucketID, _, err = s.integer("bucket id", -BucketIDLimit, -1); err != nil {
			return nil, err
		}
		if s.peekIs("weight_set") {
			s.next("")
			if _, err := s.expect("["); err != nil {
				return nil, err
			}
			for !s.peekIs("]") {
				if _, err := s.expect("["); err != nil {
					return nil, err
				}
				var ws []float32
				for !s.peekIs("]") {
					w, _, err := s.real("weight")
					if err != nil {
						return nil, err
					}
					ws = append(ws, w)
				}
				s.next("")
				a.weightSet = append(a.weightSet, ws)
			}
			s.next("")
		}
		if s.peekIs("ids") {
			s.next("")
			a.hasIDs = true
			if _, err := s.expect("["); err != nil {
				return nil, err
			}
			for !s.peekIs("]") {
				id, _, err := s.integer("id", math.MinInt32, math.MaxInt32)
				if err != nil {
					return nil, err
				}
				a.ids = append(a.ids, id)
			}
			s.next("")
		}
		if _, err := s.expect("}"); err != nil {
			return nil, err
		}
		ca.args = append(ca.args, a)
	}
}

// chooseArgsIndex reads a choose_args index the way crushtool does:
// strtol clamps to LONG_MAX, the value is truncated to a C int, and the
// int widens back to the unsigned 64-bit key. That is how the default set
// (printed as 18446744073709551615) survives a round trip.
func chooseArgsIndex(s string) (uint64, bool) {
	if s == "" || !isDecimal(s) || s[0] == '-' {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		d := uint64(s[i] - '0')
		if v > (math.MaxInt64-d)/10 {
			v = math.MaxInt64
			break
		}
		v = v*10 + d
	}
	return uint64(int64(int32(uint32(v)))), true
}

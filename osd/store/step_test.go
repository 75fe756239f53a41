package store

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/loligo/loligo/proto/loligopb"
)

func limitOpts(dir string) Options {
	o := smallOpts(dir)
	o.MaxObjectSize = 10000
	o.MaxWriteSize = 2000
	o.MaxXattrName = 8
	o.MaxXattrValue = 16
	o.MaxOmapKey = 8
	o.MaxOmapValue = 16
	o.MaxOmapEntries = 4
	return o
}

func kv(pairs ...string) map[string][]byte {
	m := map[string][]byte{}
	for i := 0; i+1 < len(pairs); i += 2 {
		m[pairs[i]] = []byte(pairs[i+1])
	}
	return m
}

func TestSteps(t *testing.T) {
	big := pattern(300, 1) // chunked (InlineMax 100, chunks of 64)
	type tc struct {
		name    string
		setup   [][]*pb.OpStep // operations run first on object "o"
		steps   []*pb.OpStep
		err     error
		failed  int // index of the failing step
		data    []byte
		absent  bool
		results func(t *testing.T, res []*pb.StepResult)
	}
	xattrSetup := [][]*pb.OpStep{{setxattrStep("a", []byte("mid"))}}
	omapSetup := [][]*pb.OpStep{{omapSetStep(kv("k1", "v1", "k2", "v2", "p1", "x"))}, {omapSetStep(kv("p2", "y"))}}
	cases := []tc{
		{name: "create exclusive absent", steps: []*pb.OpStep{createStep(true)}, data: []byte{}},
		{name: "create exclusive exists", setup: [][]*pb.OpStep{{writeFullStep([]byte("x"))}}, steps: []*pb.OpStep{createStep(true)}, err: ErrExists},
		{name: "create exists", setup: [][]*pb.OpStep{{writeFullStep([]byte("x"))}}, steps: []*pb.OpStep{createStep(false)}, data: []byte("x")},
		{name: "write extends with zeros", steps: []*pb.OpStep{writeStep(3, []byte("ab"))}, data: []byte("\x00\x00\x00ab")},
		{name: "write chunked middle", setup: [][]*pb.OpStep{{writeFullStep(big)}}, steps: []*pb.OpStep{writeStep(60, []byte("XXXXXXXX"))},
			data: append(append(slices.Clone(big[:60]), "XXXXXXXX"...), big[68:]...)},
		{name: "write past end of chunked", setup: [][]*pb.OpStep{{writeFullStep(big)}}, steps: []*pb.OpStep{writeStep(400, []byte("z"))},
			data: append(append(slices.Clone(big), make([]byte, 100)...), 'z')},
		{name: "write empty creates", steps: []*pb.OpStep{writeStep(50, nil)}, data: []byte{}},
		{name: "write full shorter", setup: [][]*pb.OpStep{{writeFullStep(big)}}, steps: []*pb.OpStep{writeFullStep([]byte("s"))}, data: []byte("s")},
		{name: "write full empty", setup: [][]*pb.OpStep{{writeFullStep(big)}}, steps: []*pb.OpStep{writeFullStep(nil)}, data: []byte{}},
		{name: "append", setup: [][]*pb.OpStep{{writeFullStep(big)}}, steps: []*pb.OpStep{appendStep([]byte("end"))}, data: append(slices.Clone(big), "end"...)},
		{name: "truncate shrink", setup: [][]*pb.OpStep{{writeFullStep(big)}}, steps: []*pb.OpStep{truncateStep(130)}, data: big[:130]},
		{name: "truncate to inline", setup: [][]*pb.OpStep{{writeFullStep(big)}}, steps: []*pb.OpStep{truncateStep(10)}, data: big[:10]},
		{name: "truncate extend", setup: [][]*pb.OpStep{{writeFullStep([]byte("ab"))}}, steps: []*pb.OpStep{truncateStep(200)}, data: append([]byte("ab"), make([]byte, 198)...)},
		{name: "truncate creates", steps: []*pb.OpStep{truncateStep(5)}, data: make([]byte, 5)},
		{name: "shrink then extend reads zeros", setup: [][]*pb.OpStep{{writeFullStep(big)}}, steps: []*pb.OpStep{truncateStep(70), truncateStep(300)},
			data: append(slices.Clone(big[:70]), make([]byte, 230)...)},
		{name: "zero", setup: [][]*pb.OpStep{{writeFullStep(big)}}, steps: []*pb.OpStep{zeroStep(10, 150)},
			data: append(append(slices.Clone(big[:10]), make([]byte, 150)...), big[160:]...)},
		{name: "zero does not extend", setup: [][]*pb.OpStep{{writeFullStep([]byte("abc"))}}, steps: []*pb.OpStep{zeroStep(1, 100)}, data: []byte("a\x00\x00")},
		{name: "zero absent", steps: []*pb.OpStep{zeroStep(0, 1)}, err: ErrNotFound},
		{name: "remove absent", steps: []*pb.OpStep{removeStep()}, err: ErrNotFound},
		{name: "remove", setup: [][]*pb.OpStep{{writeFullStep(big), setxattrStep("a", nil)}}, steps: []*pb.OpStep{removeStep()}, absent: true},
		{name: "remove and recreate", setup: [][]*pb.OpStep{{writeFullStep(big), setxattrStep("a", nil), omapSetStep(kv("k", "v"))}},
			steps: []*pb.OpStep{removeStep(), writeStep(0, []byte("new")), getxattrsStep(), omapKeysStep("", 0)}, data: []byte("new"),
			results: func(t *testing.T, res []*pb.StepResult) {
				if len(res[2].Kv) != 0 || len(res[3].Keys) != 0 {
					t.Errorf("recreated object has xattrs %v, omap %v", res[2].Kv, res[3].Keys)
				}
			}},
		{name: "setxattr creates", steps: []*pb.OpStep{setxattrStep("a", []byte("v")), getxattrStep("a")}, data: []byte{},
			results: func(t *testing.T, res []*pb.StepResult) { wantBytes(t, res[1].Data, []byte("v")) }},
		{name: "setxattr empty name", steps: []*pb.OpStep{setxattrStep("", nil)}, err: ErrInvalid},
		{name: "setxattr long name", steps: []*pb.OpStep{setxattrStep("123456789", nil)}, err: ErrTooBig},
		{name: "setxattr big value", steps: []*pb.OpStep{setxattrStep("a", make([]byte, 17))}, err: ErrTooBig},
		{name: "rmxattr", setup: xattrSetup, steps: []*pb.OpStep{rmxattrStep("a"), getxattrsStep()}, data: []byte{},
			results: func(t *testing.T, res []*pb.StepResult) {
				if len(res[1].Kv) != 0 {
					t.Errorf("xattrs %v after rmxattr", res[1].Kv)
				}
			}},
		{name: "rmxattr absent xattr", setup: xattrSetup, steps: []*pb.OpStep{rmxattrStep("b")}, err: ErrNoData},
		{name: "rmxattr absent object", steps: []*pb.OpStep{rmxattrStep("b")}, err: ErrNotFound},
		{name: "getxattr absent xattr", setup: xattrSetup, steps: []*pb.OpStep{getxattrStep("b")}, err: ErrNoData},
		{name: "getxattr absent object", steps: []*pb.OpStep{getxattrStep("a")}, err: ErrNotFound},
		{name: "getxattrs", setup: [][]*pb.OpStep{{setxattrStep("a", []byte("1")), setxattrStep("b", []byte("2"))}}, steps: []*pb.OpStep{getxattrsStep()},
			results: func(t *testing.T, res []*pb.StepResult) {
				if !maps.EqualFunc(res[0].Kv, kv("a", "1", "b", "2"), bytes.Equal) {
					t.Errorf("getxattrs %v", res[0].Kv)
				}
			}},
		{name: "cmpxattr eq", setup: xattrSetup, steps: []*pb.OpStep{cmpxattrStep("a", pb.CmpOp_CMP_EQ, []byte("mid"))}},
		{name: "cmpxattr eq false", setup: xattrSetup, steps: []*pb.OpStep{cmpxattrStep("a", pb.CmpOp_CMP_EQ, []byte("mie"))}, err: ErrCanceled},
		{name: "cmpxattr ne", setup: xattrSetup, steps: []*pb.OpStep{cmpxattrStep("a", pb.CmpOp_CMP_NE, []byte("x"))}},
		{name: "cmpxattr ne false", setup: xattrSetup, steps: []*pb.OpStep{cmpxattrStep("a", pb.CmpOp_CMP_NE, []byte("mid"))}, err: ErrCanceled},
		{name: "cmpxattr gt", setup: xattrSetup, steps: []*pb.OpStep{cmpxattrStep("a", pb.CmpOp_CMP_GT, []byte("mic"))}},
		{name: "cmpxattr gt false", setup: xattrSetup, steps: []*pb.OpStep{cmpxattrStep("a", pb.CmpOp_CMP_GT, []byte("mid"))}, err: ErrCanceled},
		{name: "cmpxattr gte", setup: xattrSetup, steps: []*pb.OpStep{cmpxattrStep("a", pb.CmpOp_CMP_GTE, []byte("mid"))}},
		{name: "cmpxattr gte false", setup: xattrSetup, steps: []*pb.OpStep{cmpxattrStep("a", pb.CmpOp_CMP_GTE, []byte("mie"))}, err: ErrCanceled},
		{name: "cmpxattr lt", setup: xattrSetup, steps: []*pb.OpStep{cmpxattrStep("a", pb.CmpOp_CMP_LT, []byte("mie"))}},
		{name: "cmpxattr lt false", setup: xattrSetup, steps: []*pb.OpStep{cmpxattrStep("a", pb.CmpOp_CMP_LT, []byte("mid"))}, err: ErrCanceled},
		{name: "cmpxattr lte", setup: xattrSetup, steps: []*pb.OpStep{cmpxattrStep("a", pb.CmpOp_CMP_LTE, []byte("mid"))}},
		{name: "cmpxattr lte false", setup: xattrSetup, steps: []*pb.OpStep{cmpxattrStep("a", pb.CmpOp_CMP_LTE, []byte("mic"))}, err: ErrCanceled},
		{name: "cmpxattr absent is empty", setup: xattrSetup, steps: []*pb.OpStep{cmpxattrStep("zz", pb.CmpOp_CMP_EQ, nil)}},
		{name: "cmpxattr bad cmp", setup: xattrSetup, steps: []*pb.OpStep{cmpxattrStep("a", pb.CmpOp_CMP_UNSPECIFIED, nil)}, err: ErrInvalid},
		{name: "cmpxattr absent object", steps: []*pb.OpStep{cmpxattrStep("a", pb.CmpOp_CMP_EQ, nil)}, err: ErrNotFound},
		{name: "omap get keys", setup: omapSetup, steps: []*pb.OpStep{omapKeysStep("", 0), omapKeysStep("k1", 2), omapKeysStep("p1", 2)},
			results: func(t *testing.T, res []*pb.StepResult) {
				if !slices.Equal(res[0].Keys, []string{"k1", "k2", "p1", "p2"}) || res[0].More {
					t.Errorf("keys %v more %v", res[0].Keys, res[0].More)
				}
				if !slices.Equal(res[1].Keys, []string{"k2", "p1"}) || !res[1].More {
					t.Errorf("keys after k1 %v more %v", res[1].Keys, res[1].More)
				}
				if !slices.Equal(res[2].Keys, []string{"p2"}) || res[2].More {
					t.Errorf("keys after p1 %v more %v", res[2].Keys, res[2].More)
				}
			}},
		{name: "omap get vals prefix", setup: omapSetup, steps: []*pb.OpStep{omapValsStep("", "p", 0), omapValsStep("a", "k", 1), omapValsStep("p1", "p", 0)},
			results: func(t *testing.T, res []*pb.StepResult) {
				if !maps.EqualFunc(res[0].Kv, kv("p1", "x", "p2", "y"), bytes.Equal) || res[0].More {
					t.Errorf("vals p %v", res[0].Kv)
				}
				if !maps.EqualFunc(res[1].Kv, kv("k1", "v1"), bytes.Equal) || !res[1].More {
					t.Errorf("vals k max 1 %v more %v", res[1].Kv, res[1].More)
				}
				if !maps.EqualFunc(res[2].Kv, kv("p2", "y"), bytes.Equal) {
					t.Errorf("vals after p1 %v", res[2].Kv)
				}
			}},
		{name: "omap by keys", setup: omapSetup, steps: []*pb.OpStep{omapByKeysStep("k1", "nope", "p2")},
			results: func(t *testing.T, res []*pb.StepResult) {
				if !maps.EqualFunc(res[0].Kv, kv("k1", "v1", "p2", "y"), bytes.Equal) {
					t.Errorf("by keys %v", res[0].Kv)
				}
			}},
		{name: "omap changes seen in op", setup: omapSetup,
			steps: []*pb.OpStep{omapRmStep("k2"), omapSetStep(kv("k3", "v3", "k1", "new")), omapValsStep("", "", 0), omapClearStep(), omapSetStep(kv("z", "1")), omapKeysStep("", 0)},
			results: func(t *testing.T, res []*pb.StepResult) {
				if !maps.EqualFunc(res[2].Kv, kv("k1", "new", "k3", "v3", "p1", "x", "p2", "y"), bytes.Equal) {
					t.Errorf("vals in op %v", res[2].Kv)
				}
				if !slices.Equal(res[5].Keys, []string{"z"}) {
					t.Errorf("keys after clear %v", res[5].Keys)
				}
			}},
		{name: "omap rm absent object", steps: []*pb.OpStep{omapRmStep("a")}, err: ErrNotFound},
		{name: "omap clear absent object", steps: []*pb.OpStep{omapClearStep()}, err: ErrNotFound},
		{name: "omap get absent object", steps: []*pb.OpStep{omapKeysStep("", 0)}, err: ErrNotFound},
		{name: "omap empty key", steps: []*pb.OpStep{omapSetStep(kv("", "v"))}, err: ErrInvalid},
		{name: "omap long key", steps: []*pb.OpStep{omapSetStep(kv("123456789", "v"))}, err: ErrTooBig},
		{name: "omap big value", steps: []*pb.OpStep{omapSetStep(kv("k", "12345678901234567"))}, err: ErrTooBig},
		{name: "omap too many", steps: []*pb.OpStep{omapSetStep(kv("a", "", "b", "", "c", "", "d", "", "e", ""))}, err: ErrTooBig},
		{name: "omap rm too many", setup: omapSetup, steps: []*pb.OpStep{omapRmStep("a", "b", "c", "d", "e")}, err: ErrTooBig},
		{name: "omap keys capped", setup: omapSetup, steps: []*pb.OpStep{omapSetStep(kv("x1", "", "x2", "")), omapKeysStep("", 100)},
			results: func(t *testing.T, res []*pb.StepResult) {
				if len(res[1].Keys) != 4 || !res[1].More {
					t.Errorf("keys %v more %v, want 4 and more", res[1].Keys, res[1].More)
				}
			}},
		{name: "omap cmp", setup: omapSetup, steps: []*pb.OpStep{omapCmpStep(pb.CmpOp_CMP_EQ, kv("k1", "v1", "k2", "v2")), omapCmpStep(pb.CmpOp_CMP_EQ, kv("none", ""))}},
		{name: "omap cmp false", setup: omapSetup, steps: []*pb.OpStep{omapCmpStep(pb.CmpOp_CMP_GT, kv("k1", "v0", "k2", "v3"))}, err: ErrCanceled},
		{name: "read clipped", setup: [][]*pb.OpStep{{writeFullStep(big)}}, steps: []*pb.OpStep{readStep(290, 100), readStep(500, 1), readStep(64, 64)},
			results: func(t *testing.T, res []*pb.StepResult) {
				wantBytes(t, res[0].Data, big[290:])
				wantBytes(t, res[1].Data, nil)
				wantBytes(t, res[2].Data, big[64:128])
			}},
		{name: "read absent", steps: []*pb.OpStep{readStep(0, 0)}, err: ErrNotFound},
		{name: "stat", setup: [][]*pb.OpStep{{writeFullStep(big)}}, steps: []*pb.OpStep{statStep()},
			results: func(t *testing.T, res []*pb.StepResult) {
				if res[0].Size != 300 || res[0].Version != 1 || res[0].MtimeNs != 1000 {
					t.Errorf("stat %v", res[0])
				}
			}},
		{name: "stat sees write", steps: []*pb.OpStep{writeStep(0, []byte("abc")), statStep(), readStep(1, 0)},
			results: func(t *testing.T, res []*pb.StepResult) {
				if res[1].Size != 3 || res[1].MtimeNs != 1000 {
					t.Errorf("stat %v", res[1])
				}
				wantBytes(t, res[2].Data, []byte("bc"))
			}},
		{name: "stat absent", steps: []*pb.OpStep{statStep()}, err: ErrNotFound},
		{name: "assert version", setup: [][]*pb.OpStep{{createStep(false)}}, steps: []*pb.OpStep{assertVersionStep(1)}},
		{name: "assert version absent", steps: []*pb.OpStep{assertVersionStep(0)}},
		{name: "assert version wrong", setup: [][]*pb.OpStep{{createStep(false)}}, steps: []*pb.OpStep{assertVersionStep(2)}, err: ErrVersion},
		{name: "assert exists", setup: [][]*pb.OpStep{{createStep(false)}}, steps: []*pb.OpStep{assertExistsStep()}},
		{name: "assert exists absent", steps: []*pb.OpStep{assertExistsStep()}, err: ErrNotFound},
		{name: "object too big", steps: []*pb.OpStep{truncateStep(10001)}, err: ErrTooBig},
		{name: "write too far", steps: []*pb.OpStep{writeStep(9999, []byte("ab"))}, err: ErrTooBig},
		{name: "step too big", steps: []*pb.OpStep{writeFullStep(make([]byte, 2001))}, err: ErrTooBig},
		{name: "op too big", steps: []*pb.OpStep{writeStep(0, make([]byte, 1500)), appendStep(make([]byte, 600))}, err: ErrTooBig, failed: 1},
		{name: "unknown code", steps: []*pb.OpStep{{Code: 99}}, err: ErrInvalid},
		{name: "unspecified code", steps: []*pb.OpStep{{Code: pb.OpCode_OP_UNSPECIFIED}}, err: ErrInvalid},
		{name: "late failure", setup: [][]*pb.OpStep{{writeFullStep(big), setxattrStep("a", []byte("1")), omapSetStep(kv("k", "v"))}},
			steps: []*pb.OpStep{writeStep(0, []byte("XX")), truncateStep(5), setxattrStep("a", []byte("2")), omapClearStep(), omapSetStep(kv("q", "r")),
				cmpxattrStep("a", pb.CmpOp_CMP_EQ, []byte("1"))},
			err: ErrCanceled, failed: 5},
		{name: "late failure remove", setup: [][]*pb.OpStep{{writeFullStep(big)}}, steps: []*pb.OpStep{removeStep(), assertExistsStep()}, err: ErrNotFound, failed: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := openStore(t, inMem(limitOpts(t.TempDir())))
			for _, st := range c.setup {
				s.mustOp(testPG, "o", st...)
			}
			before, beforeErr := s.Export(testPG, "o")
			beforeLog, _ := s.Log(testPG)
			res, err := s.op(testPG, "o", c.steps...)
			if c.err != nil {
				var se *StepError
				if !errors.As(err, &se) || !errors.Is(err, c.err) {
					t.Fatalf("error %v, want a StepError wrapping %v", err, c.err)
				}
				if se.Index != c.failed || se.Code != c.steps[c.failed].Code {
					t.Fatalf("failed step %d (%v), want %d", se.Index, se.Code, c.failed)
				}
				after, afterErr := s.Export(testPG, "o")
				if (beforeErr == nil) != (afterErr == nil) || !proto.Equal(before, after) {
					t.Fatalf("a failed op changed the object: %v (%v) -> %v (%v)", before, beforeErr, after, afterErr)
				}
				if afterLog, _ := s.Log(testPG); len(afterLog) != len(beforeLog) {
					t.Fatalf("a failed op added to the log")
				}
				s.checkClean()
				return
			}
			if err != nil {
				t.Fatalf("op: %v", err)
			}
			if len(res) != len(c.steps) {
				t.Fatalf("%d results for %d steps", len(res), len(c.steps))
			}
			if c.results != nil {
				c.results(t, res)
			}
			got, err := s.read(testPG, "o")
			switch {
			case c.absent:
				wantErr(t, err, ErrNotFound)
			case c.data != nil:
				wantErr(t, err, nil)
				wantBytes(t, got, c.data)
			}
			s.checkClean()
			// The same after a reopen.
			s.reopen()
			got2, err2 := s.read(testPG, "o")
			if (err == nil) != (err2 == nil) || !bytes.Equal(got, got2) {
				t.Fatalf("after reopen: %q (%v), before %q (%v)", got2, err2, got, err)
			}
		})
	}
}

func TestPrepareInvalid(t *testing.T) {
	s := newStore(t)
	v := &pb.Eversion{Epoch: 1, Version: 1}
	for _, oid := range []string{"", "a\x00b", string(make([]byte, MaxNameLen+1)), "\xff"} {
		_, _, err := s.Prepare(testPG, oid, []*pb.OpStep{statStep()}, v, time.Now())
		var se *StepError
		if !errors.Is(err, ErrInvalid) || errors.As(err, &se) {
			t.Errorf("name %q: error %v, want ErrInvalid (not a step error)", oid, err)
		}
	}
	_, _, err := s.Prepare(testPG, "a", nil, v, time.Now())
	wantErr(t, err, ErrInvalid)
	_, _, err = s.Prepare(testPG, "a", []*pb.OpStep{writeStep(0, []byte("x"))}, nil, time.Now())
	wantErr(t, err, ErrInvalid)
	// Read-only ops need no eversion and give no transaction.
	s.mustOp(testPG, "a", writeFullStep([]byte("x")))
	txn, res, err := s.Prepare(testPG, "a", []*pb.OpStep{readStep(0, 0)}, nil, time.Now())
	if err != nil || txn != nil || string(res[0].Data) != "x" {
		t.Fatalf("read-only Prepare: %v %v %v", txn, res, err)
	}
	// Writes give a transaction even when they change nothing but mtime.
	txn, _, err = s.Prepare(testPG, "a", []*pb.OpStep{createStep(false)}, s.next(), time.Unix(5, 0))
	if err != nil || txn == nil || txn.Meta.MtimeNs != 5e9 {
		t.Fatalf("create on existing: %v %v", txn, err)
	}
	se := &StepError{Index: 2, Code: pb.OpCode_OP_READ, Err: ErrNotFound}
	if se.Error() != "step 2 (OP_READ): store: object not found" {
		t.Errorf("StepError text %q", se.Error())
	}
}

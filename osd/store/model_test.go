package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// model is the dumb version: each object's data as a byte slice (nil:
// absent).
type model map[string][]byte

// apply runs steps on a copy of the model's object, returning the new
// data (nil: absent), the results of reads and the error Prepare must give.
func (m model) apply(oid string, steps []*pb.OpStep) (data []byte, reads [][]byte, err error) {
	cur, exists := m[oid]
	cur = append([]byte(nil), cur...)
	for _, st := range steps {
		switch st.Code {
		case pb.OpCode_OP_WRITE:
			exists = true
			if len(st.Data) > 0 {
				end := int(st.Offset) + len(st.Data)
				if end > len(cur) {
					cur = append(cur, make([]byte, end-len(cur))...)
				}
				copy(cur[st.Offset:], st.Data)
			}
		case pb.OpCode_OP_WRITE_FULL:
			exists = true
			cur = append([]byte(nil), st.Data...)
		case pb.OpCode_OP_APPEND:
			exists = true
			cur = append(cur, st.Data...)
		case pb.OpCode_OP_TRUNCATE:
			exists = true
			n := int(st.Offset)
			if n < len(cur) {
				cur = cur[:n]
			} else {
				cur = append(cur, make([]byte, n-len(cur))...)
			}
		case pb.OpCode_OP_ZERO:
			if !exists {
				return nil, nil, ErrNotFound
			}
			end := min(int(st.Offset)+int(st.Length), len(cur))
			for i := int(st.Offset); i < end; i++ {
				cur[i] = 0
			}
		case pb.OpCode_OP_REMOVE:
			if !exists {
				return nil, nil, ErrNotFound
			}
			exists, cur = false, nil
		case pb.OpCode_OP_READ:
			if !exists {
				return nil, nil, ErrNotFound
			}
			off := min(int(st.Offset), len(cur))
			end := len(cur)
			if st.Length > 0 {
				end = min(off+int(st.Length), len(cur))
			}
			reads = append(reads, append([]byte{}, cur[off:end]...))
		case pb.OpCode_OP_ASSERT_VERSION:
			return nil, nil, ErrVersion // the test only asserts wrong versions
		}
	}
	if !exists {
		return nil, reads, nil
	}
	if cur == nil {
		cur = []byte{}
	}
	return cur, reads, nil
}

// randomStep draws a data step; sizes cross chunk (64) and inline (100)
// boundaries and reach the ingest threshold (512).
func randomStep(r *rand.Rand, size int) *pb.OpStep {
	n := func() int {
		switch r.IntN(4) {
		case 0:
			return r.IntN(8)
		case 1:
			return r.IntN(130)
		case 2:
			return 64 * r.IntN(12)
		default:
			return r.IntN(1500)
		}
	}
	off := func() uint64 {
		if r.IntN(3) == 0 {
			return uint64(64 * r.IntN(20))
		}
		return uint64(r.IntN(size + 200))
	}
	switch r.IntN(16) {
	case 0, 1, 2, 3:
		return writeStep(off(), randBytes(r, n()))
	case 4, 5:
		return writeFullStep(randBytes(r, n()))
	case 6, 7:
		return appendStep(randBytes(r, n()))
	case 8, 9:
		return truncateStep(uint64(n()))
	case 10, 11:
		return zeroStep(off(), uint64(n()))
	case 12:
		return removeStep()
	default:
		return readStep(off(), uint64(r.IntN(3)*r.IntN(300)))
	}
}

func TestModel(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ingestMin int
		inlineMax int
		disk      bool
	}{
		{"ingest", 512, 100, true},
		{"noingest", -1, 100, false},
		{"noinline", 300, -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := smallOpts(t.TempDir())
			if !tc.disk {
				o = inMem(o)
			}
			o.IngestMin, o.InlineMax = tc.ingestMin, tc.inlineMax
			runModel(t, openStore(t, o), 1500)
		})
	}
}

func runModel(t *testing.T, s *tstore, ops int) {
	r := rand.New(rand.NewPCG(42, 7))
	m := model{}
	oids := []string{"a", "b", "obj-c", "d/e"}
	for i := 0; i < ops; i++ {
		if i == ops/2 {
			s.reopen()
		}
		oid := oids[r.IntN(len(oids))]
		var steps []*pb.OpStep
		for range 1 + r.IntN(3)*r.IntN(3) {
			steps = append(steps, randomStep(r, len(m[oid])))
		}
		failLate := r.IntN(10) == 0
		if failLate {
			steps = append(steps, assertVersionStep(1<<40))
		}
		want, wantReads, wantErrv := m.apply(oid, steps)
		res, err := s.op(testPG, oid, steps...)
		desc := fmt.Sprintf("op %d on %q (%s)", i, oid, describe(steps))
		if wantErrv != nil {
			if !errors.Is(err, wantErrv) {
				t.Fatalf("%s: error %v, want %v", desc, err, wantErrv)
			}
		} else {
			if err != nil {
				t.Fatalf("%s: %v", desc, err)
			}
			k := 0
			for j, st := range steps {
				if st.Code == pb.OpCode_OP_READ {
					if string(res[j].Data) != string(wantReads[k]) {
						t.Fatalf("%s: read step %d: got %d bytes, want %d", desc, j, len(res[j].Data), len(wantReads[k]))
					}
					k++
				}
			}
			if want == nil {
				delete(m, oid)
			} else {
				m[oid] = want
			}
		}
		// The object as stored equals the model.
		got, err := s.read(testPG, oid)
		if cur, ok := m[oid]; ok {
			if err != nil {
				t.Fatalf("%s: read back: %v", desc, err)
			}
			if string(got) != string(cur) {
				t.Fatalf("%s: read back %d bytes, model has %d (first diff at %d)", desc, len(got), len(cur), firstDiff(got, cur))
			}
		} else if !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: read back of absent object: %v", desc, err)
		}
	}
	r2 := s.checkClean()
	var n, bytes uint64
	for _, d := range m {
		n++
		bytes += uint64(len(d))
	}
	if r2.Objects != n || r2.Bytes != bytes {
		t.Fatalf("Check found %d objects, %d bytes; model has %d, %d", r2.Objects, r2.Bytes, n, bytes)
	}
	info, err := s.Info(testPG)
	wantErr(t, err, nil)
	if info.Objects != n || info.Bytes != bytes {
		t.Fatalf("info %d objects %d bytes; model %d, %d", info.Objects, info.Bytes, n, bytes)
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func describe(steps []*pb.OpStep) string {
	s := ""
	for _, st := range steps {
		s += fmt.Sprintf("%s(off=%d len=%d data=%d) ", st.Code, st.Offset, st.Length, len(st.Data))
	}
	return s
}

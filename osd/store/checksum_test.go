package store

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/loligo/loligo/proto/loligopb"
)

func TestFlipByteChunked(t *testing.T) {
	s := newStore(t)
	d := pattern(1000, 9)
	s.mustOp(testPG, "o", writeFullStep(d))
	wantErr(t, s.FlipByte(testPG, "o", 130), nil) // chunk 2

	before := s.CorruptionCount()
	res, err := s.op(testPG, "o", readStep(0, 0))
	if !errors.Is(err, ErrCorrupt) || res != nil {
		t.Fatalf("read of a corrupt chunk: %v, results %v", err, res)
	}
	if s.CorruptionCount() != before+1 {
		t.Fatalf("corruption count %d, want %d", s.CorruptionCount(), before+1)
	}
	for _, want := range []string{`"o"`, "chunk 2", testPG.String()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	// Reads that avoid the chunk work; those touching it fail.
	res, err = s.op(testPG, "o", readStep(0, 128))
	wantErr(t, err, nil)
	wantBytes(t, res[0].Data, d[:128])
	_, err = s.op(testPG, "o", readStep(190, 2))
	wantErr(t, err, ErrCorrupt)
	// Read-modify-write of the chunk verifies it first; Export too.
	_, err = s.op(testPG, "o", writeStep(140, []byte("x")))
	wantErr(t, err, ErrCorrupt)
	_, err = s.Export(testPG, "o")
	wantErr(t, err, ErrCorrupt)
	r, err := s.Check()
	wantErr(t, err, nil)
	if len(r.Problems) != 1 || !strings.Contains(r.Problems[0].What, "checksum") {
		t.Fatalf("Check problems %v", r.Problems)
	}
	// Rewriting the whole chunk needs no read, and repairs it.
	s.mustOp(testPG, "o", writeStep(128, d[128:192]))
	got, err := s.read(testPG, "o")
	wantErr(t, err, nil)
	wantBytes(t, got, d)
	s.checkClean()
}

func TestFlipByteInline(t *testing.T) {
	s := newStore(t)
	s.mustOp(testPG, "small", writeFullStep([]byte("hello world")), setxattrStep("a", []byte("b")))
	wantErr(t, s.FlipByte(testPG, "small", 4), nil)
	before := s.CorruptionCount()
	res, err := s.op(testPG, "small", readStep(0, 0))
	if !errors.Is(err, ErrCorrupt) || res != nil {
		t.Fatalf("read of corrupt inline data: %v %v", err, res)
	}
	if s.CorruptionCount() != before+1 {
		t.Fatalf("corruption count did not increase")
	}
	// A write that keeps the data inline must verify it.
	_, err = s.op(testPG, "small", setxattrStep("c", nil))
	wantErr(t, err, ErrCorrupt)
	_, err = s.Export(testPG, "small")
	wantErr(t, err, ErrCorrupt)
	// Stat and xattrs need no data.
	_, err = s.op(testPG, "small", statStep(), getxattrStep("a"))
	wantErr(t, err, nil)
	r, _ := s.Check()
	if len(r.Problems) != 1 {
		t.Fatalf("Check problems %v", r.Problems)
	}
	s.mustOp(testPG, "small", writeFullStep([]byte("fixed")))
	s.checkClean()
}

func TestFlipByteErrors(t *testing.T) {
	s := newStore(t)
	wantErr(t, s.FlipByte(testPG, "none", 0), ErrNotFound)
	s.mustOp(testPG, "sparse", truncateStep(1000), writeStep(0, pattern(200, 1)))
	wantErr(t, s.FlipByte(testPG, "sparse", 1000), ErrInvalid)
	wantErr(t, s.FlipByte(testPG, "sparse", 900), ErrNoData)
}

func TestApplyRefusesBadSums(t *testing.T) {
	s := newStore(t)
	d := pattern(700, 5)
	s.mustOp(testPG, "o", writeFullStep(d), omapSetStep(kv("k", "v")))
	s.mustOp(testPG, "small", writeFullStep([]byte("tiny")))
	for _, tc := range []struct {
		name   string
		oid    string
		steps  []*pb.OpStep
		tamper func(*pb.Txn)
	}{
		{"chunk data", "o", []*pb.OpStep{writeStep(100, pattern(300, 7))}, func(t *pb.Txn) { t.Chunks[1].Data[3] ^= 0x10 }},
		{"chunk sum", "o", []*pb.OpStep{writeStep(100, pattern(300, 7))}, func(t *pb.Txn) { t.Chunks[0].Sum++ }},
		{"new gen", "o", []*pb.OpStep{writeFullStep(pattern(900, 2)), omapSetStep(kv("z", "z"))}, func(t *pb.Txn) { t.Chunks[len(t.Chunks)-1].Data[0]++ }},
		{"inline", "small", []*pb.OpStep{appendStep([]byte("er"))}, func(t *pb.Txn) { t.Meta.Inline[0]++ }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := s.Export(testPG, tc.oid)
			wantErr(t, err, nil)
			info, _ := s.Info(testPG)
			v := s.next()
			txn, _, err := s.Prepare(testPG, tc.oid, tc.steps, v, time.Now())
			wantErr(t, err, nil)
			txn = proto.Clone(txn).(*pb.Txn)
			tc.tamper(txn)
			n := s.CorruptionCount()
			err = s.Apply(testPG, txn, &pb.LogEntry{Version: v, Oid: tc.oid})
			wantErr(t, err, ErrCorrupt)
			if s.CorruptionCount() != n+1 {
				t.Errorf("corruption count %d, want %d", s.CorruptionCount(), n+1)
			}
			after, err := s.Export(testPG, tc.oid)
			wantErr(t, err, nil)
			if !proto.Equal(before, after) {
				t.Fatalf("refused transaction changed the object")
			}
			info2, _ := s.Info(testPG)
			if !proto.Equal(info, info2) {
				t.Fatalf("refused transaction changed the info: %v -> %v", info, info2)
			}
		})
	}
	s.checkClean()
}

package rados

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/loligo/loligo/proto/loligopb"
)

func TestWriteOpSteps(t *testing.T) {
	data := []byte("hello")
	kv := map[string][]byte{"k": []byte("v")}
	w := NewWriteOp().
		Create(true).
		Write(data, 7).
		WriteFull(data).
		Append(data).
		Truncate(3).
		Zero(1, 2).
		Remove().
		SetXattr("a", []byte("x")).
		RmXattr("a").
		OmapSet(kv).
		OmapRmKeys([]string{"k", "l"}).
		OmapClear().
		CmpXattr("a", CmpGTE, []byte("y")).
		AssertVersion(42).
		AssertExists().
		OmapCmp(kv, CmpNE)
	want := []*pb.OpStep{
		{Code: pb.OpCode_OP_CREATE, Exclusive: true},
		{Code: pb.OpCode_OP_WRITE, Offset: 7, Data: data},
		{Code: pb.OpCode_OP_WRITE_FULL, Data: data},
		{Code: pb.OpCode_OP_APPEND, Data: data},
		{Code: pb.OpCode_OP_TRUNCATE, Offset: 3},
		{Code: pb.OpCode_OP_ZERO, Offset: 1, Length: 2},
		{Code: pb.OpCode_OP_REMOVE},
		{Code: pb.OpCode_OP_SETXATTR, Name: "a", Value: []byte("x")},
		{Code: pb.OpCode_OP_RMXATTR, Name: "a"},
		{Code: pb.OpCode_OP_OMAP_SET, Kv: kv},
		{Code: pb.OpCode_OP_OMAP_RM_KEYS, Keys: []string{"k", "l"}},
		{Code: pb.OpCode_OP_OMAP_CLEAR},
		{Code: pb.OpCode_OP_CMPXATTR, Name: "a", Cmp: pb.CmpOp_CMP_GTE, Value: []byte("y")},
		{Code: pb.OpCode_OP_ASSERT_VERSION, Version: 42},
		{Code: pb.OpCode_OP_ASSERT_EXISTS},
		{Code: pb.OpCode_OP_OMAP_CMP, Kv: kv, Cmp: pb.CmpOp_CMP_NE},
	}
	checkSteps(t, w.steps, want)
	// The caller's buffer is sent as is, not copied.
	if &w.steps[1].Data[0] != &data[0] {
		t.Error("Write copied the data")
	}
	if !isWrite(w.steps) {
		t.Error("isWrite = false for a write op")
	}
}

func checkSteps(t *testing.T, got, want []*pb.OpStep) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d steps, want %d", len(got), len(want))
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("step %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestReadOpStepsAndResults(t *testing.T) {
	r := NewReadOp()
	rd := r.Read(5, 10)
	st := r.Stat()
	r.CmpXattr("n", CmpEQ, []byte("v"))
	xa := r.GetXattr("n")
	xs := r.GetXattrs()
	r.AssertVersion(9).AssertExists().OmapCmp(map[string][]byte{"a": nil}, CmpLT)
	ks := r.OmapGetKeys("after", 0)
	vs := r.OmapGetVals("s", "p", 5)
	vk := r.OmapGetValsByKeys([]string{"x"})
	checkSteps(t, r.steps, []*pb.OpStep{
		{Code: pb.OpCode_OP_READ, Offset: 5, Length: 10},
		{Code: pb.OpCode_OP_STAT},
		{Code: pb.OpCode_OP_CMPXATTR, Name: "n", Cmp: pb.CmpOp_CMP_EQ, Value: []byte("v")},
		{Code: pb.OpCode_OP_GETXATTR, Name: "n"},
		{Code: pb.OpCode_OP_GETXATTRS},
		{Code: pb.OpCode_OP_ASSERT_VERSION, Version: 9},
		{Code: pb.OpCode_OP_ASSERT_EXISTS},
		{Code: pb.OpCode_OP_OMAP_CMP, Kv: map[string][]byte{"a": nil}, Cmp: pb.CmpOp_CMP_LT},
		{Code: pb.OpCode_OP_OMAP_GET_KEYS, StartAfter: "after", Max: defaultOmapMax},
		{Code: pb.OpCode_OP_OMAP_GET_VALS, StartAfter: "s", Prefix: "p", Max: 5},
		{Code: pb.OpCode_OP_OMAP_GET_VALS_BY_KEYS, Keys: []string{"x"}},
	})
	if isWrite(r.steps) {
		t.Error("isWrite = true for a read op")
	}
	payload := []byte("0123456789")
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC)
	results := []*pb.StepResult{
		{Data: payload},
		{Size: 77, MtimeNs: mtime.UnixNano(), Version: 3},
		{},
		{Data: []byte("v")},
		{Kv: map[string][]byte{"n": []byte("v")}},
		{}, {}, {},
		{Keys: []string{"b", "c"}, More: true},
		{Kv: map[string][]byte{"pa": []byte("1")}},
		// The last result is missing: its handle gets zero values.
	}
	r.complete(results)
	if &rd.Data[0] != &payload[0] {
		t.Error("Read copied the reply's data")
	}
	if st.Size != 77 || st.Version != 3 || !st.ModTime.Equal(mtime) {
		t.Errorf("stat = %+v", st.ObjectStat)
	}
	if string(xa.Value) != "v" || string(xs.Attrs["n"]) != "v" {
		t.Errorf("xattrs = %q, %v", xa.Value, xs.Attrs)
	}
	if strings.Join(ks.Keys, ",") != "b,c" || !ks.More {
		t.Errorf("keys = %v more %v", ks.Keys, ks.More)
	}
	if string(vs.Vals["pa"]) != "1" || vs.More {
		t.Errorf("vals = %v more %v", vs.Vals, vs.More)
	}
	if vk.Vals == nil || len(vk.Vals) != 0 {
		t.Errorf("missing result gave %v, want an empty map", vk.Vals)
	}
}

func TestResultKinds(t *testing.T) {
	for _, tc := range []struct {
		r    pb.Result
		want error
	}{
		{pb.Result_OK, nil},
		{pb.Result_NOT_FOUND, ErrNotFound},
		{pb.Result_EXISTS, ErrExists},
		{pb.Result_NO_DATA, ErrNoData},
		{pb.Result_CANCELED, ErrCanceled},
		{pb.Result_VERSION_MISMATCH, ErrVersion},
		{pb.Result_INVALID, ErrInvalid},
		{pb.Result_TOO_BIG, ErrTooBig},
		{pb.Result_CORRUPT, ErrCorrupt},
		{pb.Result_FULL, ErrFull},
		{pb.Result_IO_ERROR, ErrIO},
		{pb.Result_RETRY, ErrUnavailable},
		{pb.Result(99), ErrIO},
	} {
		if got := resultKind(tc.r); got != tc.want {
			t.Errorf("resultKind(%v) = %v, want %v", tc.r, got, tc.want)
		}
	}
	// Every result of the protocol is mapped on purpose.
	for v, name := range pb.Result_name {
		if resultKind(pb.Result(v)) == nil && pb.Result(v) != pb.Result_OK {
			t.Errorf("%s maps to success", name)
		}
	}
}

func TestReplyError(t *testing.T) {
	steps := NewWriteOp().AssertExists().CmpXattr("a", CmpEQ, nil).Append([]byte("x")).steps
	err := replyError("data", "obj", steps, &pb.OpReply{Result: pb.Result_CANCELED, FailedStep: 1, Message: "xattr a differs"})
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrCanceled) || e.Step != 1 {
		t.Fatalf("err = %#v, want ErrCanceled at step 1", err)
	}
	for _, s := range []string{"data/obj", "step 1", "cmpxattr", "xattr a differs"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%q does not mention %q", err, s)
		}
	}
	err = replyError("data", "obj", steps, &pb.OpReply{Result: pb.Result_NOT_FOUND, FailedStep: -1})
	if !errors.As(err, &e) || !errors.Is(err, ErrNotFound) || e.Step != -1 || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("err = %#v, want ErrNotFound not at a step", err)
	}
	if err := replyError("data", "obj", steps, &pb.OpReply{FailedStep: -1}); err != nil {
		t.Fatalf("OK reply gave %v", err)
	}
}

func TestOSDErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		code  codes.Code
		retry bool
		kind  error
	}{
		{codes.Unavailable, true, nil},
		{codes.DeadlineExceeded, true, nil},
		{codes.Canceled, true, nil},
		{codes.PermissionDenied, false, ErrDenied},
		{codes.Unauthenticated, false, ErrDenied},
		{codes.InvalidArgument, false, ErrInvalid},
		{codes.ResourceExhausted, false, ErrTooBig},
		{codes.Unimplemented, false, ErrUnavailable},
	} {
		err := status.Error(tc.code, "boom")
		if got := osdRetryable(err, false); got != tc.retry {
			t.Errorf("%v: retryable %v, want %v", tc.code, got, tc.retry)
		}
		if osdRetryable(err, true) {
			t.Errorf("%v: retryable after the caller's context ended", tc.code)
		}
		if tc.kind != nil {
			err := convertOSD(err, "osd.1")
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), "osd.1") || err.(*Error).Step != -1 {
				t.Errorf("%v: %#v, want %v", tc.code, err, tc.kind)
			}
		}
	}
}

func TestStepName(t *testing.T) {
	if got := stepName(pb.OpCode_OP_OMAP_GET_VALS_BY_KEYS); got != "omap_get_vals_by_keys" {
		t.Errorf("got %q", got)
	}
	if got := stepName(pb.OpCode(77)); got != "op77" {
		t.Errorf("got %q", got)
	}
}

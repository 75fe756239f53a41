package osd

import (
	"testing"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// TestAddsData: a full PG refuses exactly the ops that may need more
// space; those that only take data away, and reads, go through.
func TestAddsData(t *testing.T) {
	step := func(c pb.OpCode) *pb.OpStep { return &pb.OpStep{Code: c} }
	for _, tc := range []struct {
		steps []pb.OpCode
		want  bool
	}{
		{[]pb.OpCode{pb.OpCode_OP_REMOVE}, false},
		{[]pb.OpCode{pb.OpCode_OP_TRUNCATE}, false},
		{[]pb.OpCode{pb.OpCode_OP_ZERO}, false},
		{[]pb.OpCode{pb.OpCode_OP_RMXATTR, pb.OpCode_OP_OMAP_RM_KEYS, pb.OpCode_OP_OMAP_CLEAR}, false},
		{[]pb.OpCode{pb.OpCode_OP_ASSERT_VERSION, pb.OpCode_OP_REMOVE}, false},
		{[]pb.OpCode{pb.OpCode_OP_READ, pb.OpCode_OP_STAT}, false},
		{[]pb.OpCode{pb.OpCode_OP_WRITE}, true},
		{[]pb.OpCode{pb.OpCode_OP_WRITE_FULL}, true},
		{[]pb.OpCode{pb.OpCode_OP_APPEND}, true},
		{[]pb.OpCode{pb.OpCode_OP_CREATE}, true},
		{[]pb.OpCode{pb.OpCode_OP_SETXATTR}, true},
		{[]pb.OpCode{pb.OpCode_OP_OMAP_SET}, true},
		{[]pb.OpCode{pb.OpCode_OP_REMOVE, pb.OpCode_OP_CREATE}, true},
	} {
		var steps []*pb.OpStep
		for _, c := range tc.steps {
			steps = append(steps, step(c))
		}
		if got := addsData(steps); got != tc.want {
			t.Errorf("addsData(%v) = %v, want %v", tc.steps, got, tc.want)
		}
	}
}

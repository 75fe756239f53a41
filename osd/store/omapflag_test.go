package store

import (
	"testing"

	pb "github.com/loligo/loligo/proto/loligopb"
)

// Objects remember whether they may have omap entries, so removing one
// without omap writes no range deletion, and one with omap loses it.
func TestOmapFlag(t *testing.T) {
	ts := newStore(t)
	pg := PGID{Pool: 1, PS: 2}
	keys := func(oid string) []string {
		t.Helper()
		return ts.mustOp(pg, oid, omapKeysStep("", 0))[0].GetKeys()
	}
	ts.mustOp(pg, "a", omapSetStep(map[string][]byte{"k1": []byte("v"), "k2": nil}))
	ts.mustOp(pg, "a", writeFullStep([]byte("data")))
	if got := keys("a"); len(got) != 2 {
		t.Fatalf("after write_full the omap has %v, want k1 and k2", got)
	}
	ts.mustOp(pg, "a", removeStep())
	ts.mustOp(pg, "a", createStep(true))
	if got := keys("a"); len(got) != 0 {
		t.Fatalf("a removed and created again still has omap keys %v", got)
	}
	// Cleared, then set again in one op.
	ts.mustOp(pg, "a", omapSetStep(map[string][]byte{"x": nil}))
	ts.mustOp(pg, "a", &pb.OpStep{Code: pb.OpCode_OP_OMAP_CLEAR}, omapSetStep(map[string][]byte{"y": nil}))
	if got := keys("a"); len(got) != 1 || got[0] != "y" {
		t.Fatalf("after clear+set the omap has %v, want [y]", got)
	}
	ts.mustOp(pg, "a", &pb.OpStep{Code: pb.OpCode_OP_OMAP_CLEAR})
	ts.mustOp(pg, "a", removeStep())
	ts.mustOp(pg, "b", writeFullStep([]byte("no omap")))
	ts.mustOp(pg, "b", removeStep())
	ts.checkClean()
}

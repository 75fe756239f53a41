package mon

import (
	"context"
	"time"

	"github.com/loligo/loligo/clustermap"
)

// SetActivateHook makes f run in PGActivate between the first check and
// its write (nil: nothing); external tests race map changes with it.
func SetActivateHook(f func()) {
	if f == nil {
		testHookActivateChecked.Store(nil)
		return
	}
	testHookActivateChecked.Store(&f)
}

// SetBatchHook makes f run in the leader goroutine when a batch starts,
// with the proposals it holds so far, before it takes the queued ones
// (nil: nothing); f may block so that more queue.
func SetBatchHook(f func(n int)) {
	if f == nil {
		testHookBatch.Store(nil)
		return
	}
	testHookBatch.Store(&f)
}

// QueuedProposals is how many changes wait for mo's leader goroutine
// (0 when mo does not lead).
func QueuedProposals(mo *Mon) int {
	if l := mo.leader.Load(); l != nil {
		return len(l.proposals)
	}
	return 0
}

// SetCommitHook makes f run around each epoch's etcd transaction (see
// testHookCommit; nil: nothing).
func SetCommitHook(f func(applied bool) error) {
	if f == nil {
		testHookCommit.Store(nil)
		return
	}
	testHookCommit.Store(&f)
}

// ProposeForTest makes fn's change through mo's leader goroutine, as
// every change is made (validated, one epoch, written), and returns the
// epoch; for building maps too large to build command by command.
func ProposeForTest(ctx context.Context, mo *Mon, fn func(m *clustermap.Map) error) (uint64, error) {
	l := mo.leader.Load()
	if l == nil {
		return 0, ErrNotLeader
	}
	r := l.propose(ctx, &proposal{fn: func(m *clustermap.Map, _ uint64, _ time.Time) (cmdResult, error) {
		return cmdResult{msg: "test change"}, fn(m)
	}})
	return r.epoch, r.err
}

package testcluster

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"sync"
)

// Ledger is what the writers of a fault-injection test know: per
// object, the content (SHA-256) of its last acknowledged write and of
// the writes sent after it whose answer never came (they may or may not
// have been applied). A read may return the former or any of the latter,
// never anything older. Safe for concurrent use.
type Ledger struct {
	mu    sync.Mutex
	acked map[string][32]byte
	maybe map[string][][32]byte
	sent  map[string][][32]byte // every write sent, oldest first
	n     int
}

// Sending records a write about to be sent.
func (l *Ledger) Sending(oid string, data []byte) {
	h := sha256.Sum256(data)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.maybe == nil {
		l.acked, l.maybe, l.sent = map[string][32]byte{}, map[string][][32]byte{}, map[string][][32]byte{}
	}
	l.maybe[oid] = append(l.maybe[oid], h)
	l.sent[oid] = append(l.sent[oid], h)
}

// Acked records that the write of data (sent with Sending) was
// acknowledged: earlier unanswered writes can no longer show.
func (l *Ledger) Acked(oid string, data []byte) {
	h := sha256.Sum256(data)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acked[oid], l.maybe[oid] = h, nil
	l.n++
}

// Allowed says whether reading data (exists false: the object is
// absent) is consistent with what was acknowledged.
func (l *Ledger) Allowed(oid string, data []byte, exists bool) bool {
	h := sha256.Sum256(data)
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.acked[oid]
	switch {
	case !ok && !exists:
		return true
	case ok && exists && a == h:
		return true
	}
	return exists && slices.Contains(l.maybe[oid], h)
}

// Describe says which write sent to oid data is (to explain a read that
// Allowed refused): its place among the writes sent, and the place of
// the last acknowledged one.
func (l *Ledger) Describe(oid string, data []byte) string {
	h := sha256.Sum256(data)
	l.mu.Lock()
	defer l.mu.Unlock()
	sent := l.sent[oid]
	acked := -1
	if a, ok := l.acked[oid]; ok {
		acked = slices.Index(sent, a)
	}
	at := slices.Index(sent, h)
	if at < 0 {
		return fmt.Sprintf("none of the %d writes sent (last acknowledged: #%d)", len(sent), acked)
	}
	return fmt.Sprintf("write #%d of %d sent (last acknowledged: #%d)", at, len(sent), acked)
}

// Acknowledged is the number of acknowledged writes.
func (l *Ledger) Acknowledged() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// Objects lists the objects with an acknowledged write.
func (l *Ledger) Objects() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for oid := range l.acked {
		out = append(out, oid)
	}
	slices.Sort(out)
	return out
}

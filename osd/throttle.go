package osd

import (
	"context"
	"sync"
	"time"

	"github.com/loligo/loligo/internal/clock"
)

// throttle bounds the OSD's recovery and backfill: at most maxActive
// objects in flight (waiters with the lowest priority value go first:
// PGs with the fewest complete copies), and at most bytesPerSec bytes
// copied per second (0: no byte limit). Both may change at run time.
type throttle struct {
	clk clock.Clock

	mu          sync.Mutex
	maxActive   int
	bytesPerSec int64
	active      int
	waiters     []*slotWaiter
	seq         uint64
	next        time.Time // when the byte budget allows the next copy
}

type slotWaiter struct {
	prio  int
	seq   uint64
	ready chan struct{}
}

func newThrottle(clk clock.Clock, maxActive int, bytesPerSec int64) *throttle {
	return &throttle{clk: clk, maxActive: max(maxActive, 1), bytesPerSec: bytesPerSec}
}

// set changes the limits.
func (t *throttle) set(maxActive int, bytesPerSec int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.maxActive, t.bytesPerSec = max(maxActive, 1), bytesPerSec
	t.grant()
}

func (t *throttle) limits() (int, int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.maxActive, t.bytesPerSec
}

// acquire waits for a slot.
func (t *throttle) acquire(ctx context.Context, prio int) error {
	t.mu.Lock()
	if t.active < t.maxActive && len(t.waiters) == 0 {
		t.active++
		t.mu.Unlock()
		return nil
	}
	t.seq++
	w := &slotWaiter{prio: prio, seq: t.seq, ready: make(chan struct{})}
	t.waiters = append(t.waiters, w)
	t.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		t.mu.Lock()
		defer t.mu.Unlock()
		select {
		case <-w.ready:
			// Granted meanwhile: give it back.
			t.active--
			t.grant()
		default:
			for i, x := range t.waiters {
				if x == w {
					t.waiters = append(t.waiters[:i], t.waiters[i+1:]...)
					break
				}
			}
		}
		return ctx.Err()
	}
}

func (t *throttle) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.active--
	t.grant()
}

// grant hands free slots to the best waiters; t.mu is held.
func (t *throttle) grant() {
	for t.active < t.maxActive && len(t.waiters) > 0 {
		best := 0
		for i, w := range t.waiters {
			b := t.waiters[best]
			if w.prio < b.prio || w.prio == b.prio && w.seq < b.seq {
				best = i
			}
		}
		w := t.waiters[best]
		t.waiters = append(t.waiters[:best], t.waiters[best+1:]...)
		t.active++
		close(w.ready)
	}
}

// bytes waits until n more bytes fit the byte rate.
func (t *throttle) bytes(ctx context.Context, n int) error {
	t.mu.Lock()
	if t.bytesPerSec <= 0 {
		t.mu.Unlock()
		return nil
	}
	now := t.clk.Now()
	start := t.next
	if start.Before(now) {
		start = now
	}
	t.next = start.Add(time.Duration(float64(n) / float64(t.bytesPerSec) * float64(time.Second)))
	wait := start.Sub(now)
	t.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	select {
	case <-t.clk.After(wait):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

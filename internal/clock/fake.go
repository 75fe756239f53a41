package clock

import (
	"fmt"
	"sync"
	"time"
)

// Fake is a Clock whose time moves only when the test says so. The zero
// value is not usable; call NewFake.
type Fake struct {
	mu struct {
		sync.Mutex
		now     time.Time
		seq     uint64    // creation order of waiters, to break deadline ties
		waiters []*waiter // pending timers and running tickers, unordered
	}
	// changed is signalled (with mu held) whenever waiters change, for
	// BlockUntil.
	changed *sync.Cond
	// testHookFire, if set, is called (with mu held) for every deadline
	// fired, with the firing waiter's creation number.
	testHookFire func(deadline time.Time, seq uint64)
}

// waiter is one pending timer or running ticker.
type waiter struct {
	deadline time.Time
	seq      uint64
	period   time.Duration // 0 for a one-shot timer
	ch       chan time.Time
}

// NewFake returns a Fake clock set to start.
func NewFake(start time.Time) *Fake {
	f := &Fake{}
	f.mu.now = start
	f.changed = sync.NewCond(&f.mu)
	return f
}

// Now returns the fake's current time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.now
}

// After returns a channel that receives the fake time once the clock has
// been advanced by d. A d of zero or less fires at once and registers no
// waiter.
func (f *Fake) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- f.mu.now
		return ch
	}
	f.addLocked(&waiter{deadline: f.mu.now.Add(d), ch: ch})
	return ch
}

// NewTicker returns a Ticker that ticks every d of fake time. It panics if
// d is not positive.
func (f *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic(fmt.Errorf("clock: non-positive interval %v for NewTicker", d))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &waiter{deadline: f.mu.now.Add(d), period: d, ch: make(chan time.Time, 1)}
	f.addLocked(w)
	return &fakeTicker{f: f, w: w}
}

// Advance moves the clock forward by d, firing every timer and ticker due
// by then in deadline order. A ticker's channel keeps the first tick not
// yet received and drops later ones, as a time.Ticker's does, so a
// receiver that reads after Advance returns sees one tick however many
// fell due; to see each tick, advance one period at a time and receive in
// between. A negative d is treated as zero.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d < 0 {
		d = 0
	}
	f.advanceToLocked(f.mu.now.Add(d))
}

// Set sets the clock to t. If t is later than Now, it fires what falls
// due as Advance does; if t is earlier, time moves back and nothing fires
// (pending deadlines keep their absolute times).
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.After(f.mu.now) {
		f.advanceToLocked(t)
		return
	}
	f.mu.now = t
}

// BlockUntil waits until at least n waiters (pending timers made by After
// and tickers not stopped) are registered. Use it to know that the code
// under test is waiting before calling Advance.
func (f *Fake) BlockUntil(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.mu.waiters) < n {
		f.changed.Wait()
	}
}

// Waiters returns the number of pending timers and running tickers.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.mu.waiters)
}

// addLocked registers w. f.mu must be held.
func (f *Fake) addLocked(w *waiter) {
	f.mu.seq++
	w.seq = f.mu.seq
	f.mu.waiters = append(f.mu.waiters, w)
	f.changed.Broadcast()
}

// removeLocked unregisters w if it is registered. f.mu must be held.
func (f *Fake) removeLocked(w *waiter) {
	for i, x := range f.mu.waiters {
		if x == w {
			f.mu.waiters = append(f.mu.waiters[:i], f.mu.waiters[i+1:]...)
			f.changed.Broadcast()
			return
		}
	}
}

// nextLocked returns the waiter due first (ties: created first), or nil.
// f.mu must be held.
func (f *Fake) nextLocked() *waiter {
	var next *waiter
	for _, w := range f.mu.waiters {
		if next == nil || w.deadline.Before(next.deadline) ||
			(w.deadline.Equal(next.deadline) && w.seq < next.seq) {
			next = w
		}
	}
	return next
}

// advanceToLocked fires everything due by t, in order, then sets the
// clock to t. f.mu must be held.
func (f *Fake) advanceToLocked(t time.Time) {
	for {
		w := f.nextLocked()
		if w == nil || w.deadline.After(t) {
			break
		}
		f.mu.now = w.deadline
		if f.testHookFire != nil {
			f.testHookFire(w.deadline, w.seq)
		}
		select {
		case w.ch <- w.deadline:
		default: // a ticker whose last tick was not received yet
		}
		if w.period == 0 {
			f.removeLocked(w)
			continue
		}
		if skip := t.Sub(w.deadline) / w.period; skip > 1 && len(w.ch) == cap(w.ch) {
			// The tick is still unreceived, so the ticks due before the
			// last one by t would be dropped too: skip them, so a long
			// Advance over a short ticker stays cheap.
			w.deadline = w.deadline.Add((skip - 1) * w.period)
		}
		w.deadline = w.deadline.Add(w.period)
	}
	f.mu.now = t
}

type fakeTicker struct {
	f *Fake
	w *waiter
}

func (t *fakeTicker) C() <-chan time.Time { return t.w.ch }

func (t *fakeTicker) Stop() {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	t.f.removeLocked(t.w)
}

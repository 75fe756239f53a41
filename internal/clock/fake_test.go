package clock

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// recv returns what ch holds right now, or false.
func recv(ch <-chan time.Time) (time.Time, bool) {
	select {
	case v := <-ch:
		return v, true
	default:
		return time.Time{}, false
	}
}

func TestFakeAdvanceOrder(t *testing.T) {
	type fire struct {
		at  time.Duration
		seq uint64
	}
	tests := []struct {
		name    string
		timers  []time.Duration // After(d), created in this order: seq 1, 2, ...
		tickers []time.Duration // then NewTicker(d)
		advance []time.Duration
		want    []fire
	}{
		{
			name:    "timers fire by deadline, not creation",
			timers:  []time.Duration{3 * time.Second, time.Second, 2 * time.Second},
			advance: []time.Duration{5 * time.Second},
			want:    []fire{{time.Second, 2}, {2 * time.Second, 3}, {3 * time.Second, 1}},
		},
		{
			name:    "ties fire in creation order",
			timers:  []time.Duration{time.Second, time.Second, time.Second},
			advance: []time.Duration{time.Second},
			want:    []fire{{time.Second, 1}, {time.Second, 2}, {time.Second, 3}},
		},
		{
			name:    "nothing fires before its deadline",
			timers:  []time.Duration{time.Second},
			advance: []time.Duration{999 * time.Millisecond, time.Millisecond},
			want:    []fire{{time.Second, 1}},
		},
		{
			name:    "tickers interleave with timers",
			timers:  []time.Duration{2500 * time.Millisecond},
			tickers: []time.Duration{time.Second},
			advance: []time.Duration{3 * time.Second},
			// The 2s tick is skipped: the 1s one was not received, so
			// it would be dropped.
			want: []fire{{time.Second, 2}, {2500 * time.Millisecond, 1}, {3 * time.Second, 2}},
		},
		{
			name:    "a ticker and a timer due together: creation order",
			timers:  []time.Duration{time.Second},
			tickers: []time.Duration{time.Second},
			advance: []time.Duration{time.Second},
			want:    []fire{{time.Second, 1}, {time.Second, 2}},
		},
		{
			name:    "small steps fire the same as one step",
			timers:  []time.Duration{1500 * time.Millisecond},
			tickers: []time.Duration{time.Second},
			advance: []time.Duration{700 * time.Millisecond, 700 * time.Millisecond, 700 * time.Millisecond},
			want:    []fire{{time.Second, 2}, {1500 * time.Millisecond, 1}, {2 * time.Second, 2}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := NewFake(t0)
			var got []fire
			f.testHookFire = func(d time.Time, seq uint64) {
				if now := f.mu.now; !now.Equal(d) {
					t.Errorf("Now during fire = %v, want the deadline %v", now, d)
				}
				got = append(got, fire{d.Sub(t0), seq})
			}
			for _, d := range tc.timers {
				f.After(d)
			}
			for _, d := range tc.tickers {
				f.NewTicker(d)
			}
			var total time.Duration
			for _, d := range tc.advance {
				f.Advance(d)
				total += d
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("fired %v, want %v", got, tc.want)
			}
			if now := f.Now(); !now.Equal(t0.Add(total)) {
				t.Errorf("Now = %v, want %v", now, t0.Add(total))
			}
		})
	}
}

func TestFakeAfterValues(t *testing.T) {
	f := NewFake(t0)
	a := f.After(2 * time.Second)
	b := f.After(time.Second)
	if f.Waiters() != 2 {
		t.Fatalf("Waiters = %d, want 2", f.Waiters())
	}
	f.Advance(1500 * time.Millisecond)
	if _, ok := recv(a); ok {
		t.Error("2s timer fired after 1.5s")
	}
	if v, ok := recv(b); !ok || !v.Equal(t0.Add(time.Second)) {
		t.Errorf("1s timer: got %v %v, want %v", v, ok, t0.Add(time.Second))
	}
	f.Advance(time.Hour)
	if v, ok := recv(a); !ok || !v.Equal(t0.Add(2*time.Second)) {
		t.Errorf("2s timer: got %v %v, want %v", v, ok, t0.Add(2*time.Second))
	}
	if f.Waiters() != 0 {
		t.Errorf("Waiters = %d after all fired, want 0", f.Waiters())
	}
	// A timer fires once.
	f.Advance(time.Hour)
	if _, ok := recv(a); ok {
		t.Error("timer fired twice")
	}
}

func TestFakeAfterNonPositive(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		f := NewFake(t0)
		v, ok := recv(f.After(d))
		if !ok || !v.Equal(t0) {
			t.Errorf("After(%v): got %v %v, want %v at once", d, v, ok, t0)
		}
		if f.Waiters() != 0 {
			t.Errorf("After(%v) registered a waiter", d)
		}
	}
}

func TestFakeTicker(t *testing.T) {
	f := NewFake(t0)
	tk := f.NewTicker(time.Second)
	if _, ok := recv(tk.C()); ok {
		t.Fatal("ticker ticked at creation")
	}
	f.Advance(999 * time.Millisecond)
	if _, ok := recv(tk.C()); ok {
		t.Fatal("ticker ticked early")
	}
	f.Advance(time.Millisecond)
	if v, ok := recv(tk.C()); !ok || !v.Equal(t0.Add(time.Second)) {
		t.Fatalf("first tick: got %v %v, want %v", v, ok, t0.Add(time.Second))
	}
	// Unreceived ticks are dropped; the channel keeps the first one.
	f.Advance(5 * time.Second)
	if v, ok := recv(tk.C()); !ok || !v.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("after 5s: got %v %v, want %v", v, ok, t0.Add(2*time.Second))
	}
	if _, ok := recv(tk.C()); ok {
		t.Fatal("more than one tick buffered")
	}
	// The schedule keeps its phase: next tick at 7s.
	f.Advance(999 * time.Millisecond)
	if _, ok := recv(tk.C()); ok {
		t.Fatal("tick off phase")
	}
	f.Advance(time.Millisecond)
	if v, ok := recv(tk.C()); !ok || !v.Equal(t0.Add(7*time.Second)) {
		t.Fatalf("tick at 7s: got %v %v", v, ok)
	}
	tk.Stop()
	if f.Waiters() != 0 {
		t.Errorf("Waiters = %d after Stop, want 0", f.Waiters())
	}
	f.Advance(10 * time.Second)
	if v, ok := recv(tk.C()); ok {
		t.Errorf("tick %v after Stop", v)
	}
	tk.Stop() // idempotent
}

func TestFakeTickerLongAdvance(t *testing.T) {
	// A day over a nanosecond ticker must not loop once per tick.
	f := NewFake(t0)
	tk := f.NewTicker(time.Nanosecond)
	other := f.After(12 * time.Hour)
	f.Advance(24 * time.Hour)
	if v, ok := recv(tk.C()); !ok || !v.Equal(t0.Add(time.Nanosecond)) {
		t.Errorf("tick: got %v %v, want the first one", v, ok)
	}
	if _, ok := recv(other); !ok {
		t.Error("timer inside the long advance did not fire")
	}
	f.Advance(time.Nanosecond)
	if v, ok := recv(tk.C()); !ok || !v.Equal(t0.Add(24*time.Hour+time.Nanosecond)) {
		t.Errorf("next tick: got %v %v, want %v", v, ok, t0.Add(24*time.Hour+time.Nanosecond))
	}
}

func TestFakeTickerPanicsOnNonPositive(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewTicker(0) did not panic")
		}
	}()
	NewFake(t0).NewTicker(0)
}

func TestFakeSet(t *testing.T) {
	f := NewFake(t0)
	a := f.After(time.Minute)
	f.Set(t0.Add(-time.Hour))
	if !f.Now().Equal(t0.Add(-time.Hour)) {
		t.Fatalf("Set back: Now = %v", f.Now())
	}
	if _, ok := recv(a); ok {
		t.Fatal("setting time back fired a timer")
	}
	f.Set(t0.Add(time.Minute))
	if v, ok := recv(a); !ok || !v.Equal(t0.Add(time.Minute)) {
		t.Fatalf("Set forward: got %v %v", v, ok)
	}
}

func TestFakeBlockUntil(t *testing.T) {
	f := NewFake(t0)
	got := make(chan time.Time)
	go func() {
		tk := f.NewTicker(time.Second)
		defer tk.Stop()
		got <- <-f.After(time.Minute)
	}()
	f.BlockUntil(2)
	f.Advance(time.Minute)
	if v := <-got; !v.Equal(t0.Add(time.Minute)) {
		t.Errorf("got %v, want %v", v, t0.Add(time.Minute))
	}
	f.BlockUntil(0) // returns at once
}

func TestFakeConcurrent(t *testing.T) {
	f := NewFake(t0)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				d := time.Duration(i*100+j) * time.Millisecond
				select {
				case <-f.After(d):
				default:
				}
				tk := f.NewTicker(time.Millisecond)
				f.Advance(time.Millisecond)
				_ = f.Now()
				tk.Stop()
			}
		})
	}
	wg.Wait()
	f.Advance(time.Hour)
	if n := f.Waiters(); n != 0 {
		t.Errorf("Waiters = %d after all timers fired and tickers stopped", n)
	}
}

func TestReal(t *testing.T) {
	c := Real()
	before := time.Now()
	if now := c.Now(); now.Before(before) {
		t.Errorf("Real().Now() = %v, before %v", now, before)
	}
	<-c.After(time.Millisecond)
	tk := c.NewTicker(time.Millisecond)
	<-tk.C()
	tk.Stop()
}

// The interfaces are satisfied.
var (
	_ Clock  = (*Fake)(nil)
	_ Clock  = Real()
	_ Ticker = (*fakeTicker)(nil)
)

package clock

import "time"

// Clock tells the time and makes timers and tickers. Implementations are
// safe for concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives the time once d has passed.
	// A d of zero or less fires at once.
	After(d time.Duration) <-chan time.Time
	// NewTicker returns a Ticker that ticks every d. It panics if d is not
	// positive, as time.NewTicker does.
	NewTicker(d time.Duration) Ticker
}

// Ticker delivers ticks at a fixed interval until stopped.
type Ticker interface {
	// C returns the channel the ticks arrive on; always the same one. It
	// holds at most one tick: ticks nobody received are dropped.
	C() <-chan time.Time
	// Stop turns the ticker off; no tick is sent after Stop returns. It
	// does not close the channel.
	Stop()
}

// Real returns the wall clock, backed by the time package.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (realClock) NewTicker(d time.Duration) Ticker       { return realTicker{time.NewTicker(d)} }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

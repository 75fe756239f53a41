// Package clock is injectable time: the Clock interface that code which
// waits, times out or ticks takes instead of calling the time package, the
// wall clock (Real) and a fake clock for tests (Fake).
//
// It owns nothing else: state machines that advance on ticks (crush,
// osd/pg, the mon's map transitions) take ticks as events and need no
// Clock at all; the daemon loops that drive them use one.
//
// Invariants:
//
//   - A Fake's time moves only when Advance or Set is called. Advance fires
//     every timer and ticker that falls due, in deadline order (ties in
//     the order they were created), and sets Now to each deadline while it
//     fires it, so a receiver sees the same times it would see from the
//     wall clock.
//   - Like the time package, a Ticker's channel holds one tick and drops
//     ticks nobody received; a timer's channel holds its one value, so
//     firing never blocks.
//   - Every Fake method is safe for concurrent use (tests run with -race).
//
// Clock values are passed explicitly; there is no package-level clock.
//
// Who may import it: anyone. It imports nothing of Loligo's, and only the
// standard library.
package clock

//go:build !race

package ec

// raceEnabled: the race detector is on (see big_test.go for its use).
const raceEnabled = false

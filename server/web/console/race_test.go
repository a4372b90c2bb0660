//go:build race

package console_test

// raceEnabled: the real-browser test is skipped under the race detector
// (CI runs it once, without -race; the server code it drives is raced by
// the other tests of this package).
const raceEnabled = true

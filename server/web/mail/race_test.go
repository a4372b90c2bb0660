//go:build race

package mail_test

// raceEnabled: the real-browser test is skipped under the race detector
// (CI runs it once, without -race).
const raceEnabled = true

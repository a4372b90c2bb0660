//go:build race

package imapd

// raceEnabled: the race detector distorts heap measurements and slows the
// 10k-message fill several-fold, so the memory-bound test skips under it.
const raceEnabled = true

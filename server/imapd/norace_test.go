//go:build !race

package imapd

const raceEnabled = false

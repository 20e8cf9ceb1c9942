//go:build race

package bootstrap

// raceEnabled: the race detector shadows memory, so RSS figures mean little.
const raceEnabled = true

// Package system holds the production services that talk to the machine
// rather than to a store: the wall clock, the secret generator and the
// per-key rate limiters (token buckets on golang.org/x/time/rate).
// adapters/memory keeps its fakes for tests; bootstrap wires these.
package system

// Package fault holds the fault suite (make fault): a steady fan-out load
// through the Go API client against a server on its own NATS (a
// nats-server process) and Postgres (a private cluster made with initdb),
// one fault injected per scenario (NATS stopped, NATS frozen, Postgres
// restarted, the server SIGKILLed or restarted gracefully), and every chat
// read back at the end: every acknowledged message stored exactly once, no
// seq gap, every delivery made, and the delivery latency before, during and
// after the fault. Its tests skip unless FECHATTER_FAULT names scenarios.
package fault

// Package ports declares the interfaces the application needs from the
// outside world: repositories, read models, the outbox and event bus, and
// services such as the clock, password hashing and tokens. Adapters implement
// them; porttest holds the contract suites every implementation must pass.
package ports

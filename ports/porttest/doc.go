// Package porttest holds the contract suites every implementation of the
// repository ports must pass: adapters/memory and adapters/postgres run the
// same Run* functions. The suites are black-box (port methods and domain
// constructors only), run their cases in parallel and isolate them by unique
// data, never by truncating tables, so one database can serve a whole package.
package porttest

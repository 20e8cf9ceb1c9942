// Package querytest holds the contract suites for the read models of
// package query. Adapters run them next to the porttest suites, writing
// through the repository ports and reading through the read model.
package querytest

// Package memory implements every port in process memory, for tests and
// for running the application without infrastructure. One Store holds all
// data behind one mutex; a transaction holds that mutex from start to end
// and undoes its writes on error. It passes the same contract suites
// (ports/porttest, application/query/querytest) as the Postgres adapter.
package memory

// Package bench is the load generator behind `fechatter bench`: it drives
// a running server as real clients do (sign-up, chats, one WebSocket per
// user, sends paced by an open-loop scheduler) and reports throughput,
// loss and latency percentiles with the machine they were measured on.
//
// Every run signs up a fresh workspace with unique names, so runs can
// share a server and a database.
package bench

// Package deploy holds no code of the server: it is the Go module of the
// deployment checks (deploy/go.mod), kept apart from the server's module so
// that Helm, the Kubernetes API types, compose-go and Prometheus never enter
// the server's go.mod or binary. Its tests render and lint the Helm chart
// (helm/fechatter) and decode every manifest strictly into the Kubernetes
// API types, load both Compose files with compose-go, parse the alert rules
// and dashboard queries with Prometheus' parser, run the alert rules' unit
// tests (monitoring/alerts_test.yml, promtool's format), check that a
// running server exports every metric they name, and restore a backup.
// `make test` runs them.
package deploy

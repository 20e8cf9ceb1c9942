// Package bootstrap is the one place that knows every layer: it loads the
// configuration profile, builds the logger, wires adapters to the application
// with one fx module per adapter, and exposes the `fechatter` command line.
// Nothing but main imports it; constructors stay plain Go in the adapters.
package bootstrap

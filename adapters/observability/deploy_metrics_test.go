package observability_test

import (
	"testing"

	"github.com/fechatter/fechatter/adapters/observability"
)

// The metrics the alert rules and dashboard (deploy/monitoring) read.
func TestNATSSlowConsumerAndDeliveryMetrics(t *testing.T) {
	t.Parallel()
	m := observability.New(observability.Options{})
	text := scrape(t, m)
	for _, line := range []string{
		"fechatter_nats_connected 0",
		"fechatter_websocket_slow_consumer_closes_total 0",
		"fechatter_websocket_deliveries_total 0",
	} {
		if !hasLine(text, line) {
			t.Errorf("no line %q before anything happened", line)
		}
	}
	up := true
	m.WatchNATS(func() bool { return up })
	m.SlowConsumerClosed()
	m.Delivered(10)
	m.Delivered(5)
	text = scrape(t, m)
	for _, line := range []string{
		"fechatter_nats_connected 1",
		"fechatter_websocket_slow_consumer_closes_total 1",
		"fechatter_websocket_deliveries_total 15",
	} {
		if !hasLine(text, line) {
			t.Errorf("no line %q", line)
		}
	}
	up = false
	if !hasLine(scrape(t, m), "fechatter_nats_connected 0") {
		t.Error("the gauge does not follow a disconnection")
	}
}

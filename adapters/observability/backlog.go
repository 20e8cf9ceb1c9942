package observability

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// backlogCollector reports the outbox backlog, counted at each scrape: a
// gauge kept up to date by the relay would need the relay to count, and
// the count must be right across several instances sharing the outbox.
type backlogCollector struct {
	count func(ctx context.Context) (int, error)
	desc  *prometheus.Desc
}

func newBacklogCollector(count func(ctx context.Context) (int, error)) *backlogCollector {
	return &backlogCollector{count: count, desc: prometheus.NewDesc(MetricOutboxBacklog,
		"Events committed but not yet published to NATS (rows in the outbox).", nil, nil)}
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), backlogTimeout)
	defer cancel()
	n, err := c.count(ctx)
	if err != nil {
		// The scrape goes on without this metric (ContinueOnError).
		ch <- prometheus.NewInvalidMetric(c.desc, fmt.Errorf("count the outbox: %w", err))
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
}

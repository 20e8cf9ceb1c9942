// Package observability measures the service: Prometheus metrics on a
// registry of its own (served at /metrics) and the live figures of the
// health report (/health). Other layers report to it through their own
// small interfaces (application.SendObserver, the HTTP adapter's
// RequestObserver, the indexer's lag hook, a SearchIndex decorator); it
// never reaches into them.
//
// Metrics: fechatter_messages_sent_total, fechatter_message_send_duration_seconds{outcome},
// fechatter_search_index_lag_seconds, fechatter_search_index_writes_total{op},
// fechatter_search_index_write_failures_total{op}, fechatter_search_index_documents_total{op},
// fechatter_active_users, fechatter_websocket_connections,
// fechatter_http_requests_total{method,route,status},
// fechatter_http_request_duration_seconds{method,route}, fechatter_outbox_backlog,
// fechatter_nats_connected, fechatter_websocket_slow_consumer_closes_total,
// fechatter_websocket_deliveries_total (the last two fed by the gateway
// through SlowConsumerClosed and Delivered),
// go_sql_*{db_name="fechatter"} (the pool), and the Go runtime (go_*) and
// process (process_*) collectors.
//
// Active users are the distinct users with a live WebSocket once a gateway
// reports its connections (WatchConnections); without one, the distinct
// users who made an authenticated request in the last 5 minutes.
package observability

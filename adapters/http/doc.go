// Package http is the REST adapter: Fiber routes for API.md, request
// decoding and validation, Bearer authentication, the one error handler that
// turns error kinds into statuses, health probes and the OpenAPI document.
package http

// Package web serves the browser client: a page, its ES modules and its
// style sheet, embedded in the binary and served at / by the same server
// as the API. There is no build step; the client speaks only the public
// API (REST under /api/v1 and the WebSocket).
package web

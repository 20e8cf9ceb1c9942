package bootstrap

import (
	"context"

	"go.uber.org/fx"
	"go.uber.org/zap"

	httpadapter "github.com/fechatter/fechatter/adapters/http"
	"github.com/fechatter/fechatter/adapters/ws"
	"github.com/fechatter/fechatter/application"
	"github.com/fechatter/fechatter/ports"
)

// wsModule mounts the WebSocket gateway on the HTTP server. It comes after
// httpModule, so on stop it closes the sockets (1001, after draining) before
// the HTTP server shuts down (fasthttp does not wait for WebSockets).
func wsModule(cfg Config) fx.Option {
	return fx.Module("ws",
		fx.Provide(func(app application.App, tokens ports.TokenIssuer, sub ports.EventSubscriber, log *zap.Logger) *ws.Gateway {
			return ws.NewGateway(app, tokens, sub, log.Named("ws"), ws.Options{HeartbeatInterval: cfg.Presence.Heartbeat})
		}),
		fx.Invoke(func(lc fx.Lifecycle, gw *ws.Gateway, srv *httpadapter.Server) {
			gw.Mount(srv.Fiber())
			lc.Append(fx.Hook{OnStop: func(ctx context.Context) error { return gw.Close(ctx) }})
		}),
	)
}

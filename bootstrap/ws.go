package bootstrap

import (
	"context"

	"go.uber.org/fx"
	"go.uber.org/zap"

	httpadapter "github.com/fechatter/fechatter/adapters/http"
	"github.com/fechatter/fechatter/adapters/observability"
	"github.com/fechatter/fechatter/adapters/ws"
	"github.com/fechatter/fechatter/application"
	"github.com/fechatter/fechatter/ports"
)

type gatewayIn struct {
	fx.In
	App     application.App
	Tokens  ports.TokenIssuer
	Sub     ports.EventSubscriber
	Log     *zap.Logger
	Metrics *observability.Metrics `optional:"true"` // deliveries and slow-consumer closes
}

// wsModule mounts the WebSocket gateway on the HTTP server. It comes after
// httpModule, so on stop it closes the sockets (1001, after draining) before
// the HTTP server shuts down (fasthttp does not wait for WebSockets).
func wsModule(cfg Config) fx.Option {
	return fx.Module("ws",
		fx.Provide(func(in gatewayIn) *ws.Gateway {
			opts := ws.Options{HeartbeatInterval: cfg.Presence.Heartbeat}
			if in.Metrics != nil {
				opts.Observer = in.Metrics
			}
			return ws.NewGateway(in.App, in.Tokens, in.Sub, in.Log.Named("ws"), opts)
		}),
		fx.Invoke(func(lc fx.Lifecycle, gw *ws.Gateway, srv *httpadapter.Server) {
			gw.Mount(srv.Fiber())
			lc.Append(fx.Hook{OnStop: func(ctx context.Context) error { return gw.Close(ctx) }})
		}),
	)
}

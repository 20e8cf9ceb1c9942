package bootstrap

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
	"go.uber.org/fx"

	"github.com/fechatter/fechatter/adapters/postgres"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/ports"
)

// storeModule binds the Postgres repositories and read models to their
// ports. (The *bun.DB and the Transactor come from postgresModule.)
func storeModule() fx.Option {
	return fx.Module("store",
		fx.Provide(
			fx.Annotate(postgres.NewWorkspaceRepository, fx.As(new(ports.WorkspaceRepository))),
			fx.Annotate(postgres.NewUserRepository, fx.As(new(ports.UserRepository))),
			fx.Annotate(postgres.NewInviteRepository, fx.As(new(ports.InviteRepository))),
			fx.Annotate(postgres.NewRefreshTokenRepository, fx.As(new(ports.RefreshTokenRepository))),
			fx.Annotate(postgres.NewChatRepository, fx.As(new(ports.ChatRepository))),
			fx.Annotate(postgres.NewMessageRepository, fx.As(new(ports.MessageRepository))),
			fx.Annotate(postgres.NewReceiptRepository, fx.As(new(ports.ReceiptRepository))),
			fx.Annotate(postgres.NewReceiptReadModel, fx.As(new(query.ReceiptReadModel))),
			fx.Annotate(postgres.NewChatReadModel, fx.As(new(query.ChatReadModel))),
			postgres.NewMessageReadModel,
			func(r *postgres.MessageReadModel) query.MessageReadModel { return r },
			// One outbox serves the commands and the relay: the in-process
			// signal travels from its Add to its Notify.
			postgres.NewOutbox,
			func(o *postgres.Outbox) ports.Outbox { return o },
			func(o *postgres.Outbox) ports.OutboxStore { return o },
			newMessageSender,
			func(cfg Config) chat.Limits {
				return chat.Limits{Group: cfg.Limits.GroupMembers, Channel: cfg.Limits.ChannelMembers}
			},
		),
	)
}

// newMessageSender starts the group-commit writers of sends on a pool of
// their own (one connection per writer): reads, however many, can never
// keep a send waiting for a connection. The writers stop, after writing
// what is queued, when the application stops (before the database closes:
// fx stops in reverse order of construction). The *bun.DB argument orders
// it after the main pool, which creates the database if needed.
func newMessageSender(lc fx.Lifecycle, _ *bun.DB, outbox *postgres.Outbox, cfg Config) (ports.MessageSender, error) {
	writers := cfg.Database.SendWriters
	ctx, cancel := context.WithTimeout(context.Background(), dbOpenTimeout)
	defer cancel()
	own, err := postgres.Open(ctx, cfg.Database.URL, postgres.WithMaxOpenConns(writers), postgres.WithMaxIdleConns(writers),
		postgres.WithApplicationName("fechatter-sender"))
	if err != nil {
		return nil, fmt.Errorf("open the send writers' connections: %w", err)
	}
	s := postgres.NewMessageSender(own, outbox, postgres.SenderOptions{Writers: writers, MaxBatch: cfg.Database.SendBatch})
	lc.Append(fx.Hook{OnStop: func(context.Context) error {
		s.Close()
		return own.Close()
	}})
	return s, nil
}

package bootstrap

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/fechatter/fechatter/adapters/filestore"
	"github.com/fechatter/fechatter/adapters/imaging"
	"github.com/fechatter/fechatter/adapters/postgres"
	"github.com/fechatter/fechatter/application"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/ports"
)

// filesModule provides the ports of files and reactions (issue 14): the
// file store of the profile (a directory or an S3 bucket), the metadata
// repositories, the image inspector and the link signer; and runs the
// orphan sweep.
func filesModule(cfg Config) fx.Option {
	return fx.Module("files",
		fx.Provide(
			fx.Annotate(postgres.NewReactionRepository, fx.As(new(ports.ReactionRepository))),
			fx.Annotate(postgres.NewThreadRepository, fx.As(new(ports.ThreadRepository))),
			fx.Annotate(postgres.NewProfileRepository, fx.As(new(ports.ProfileRepository))),
			func(r *postgres.MessageReadModel) query.ThreadReadModel { return r },
			fx.Annotate(postgres.NewFileRepository, fx.As(new(ports.FileRepository))),
			func() ports.FileInspector { return imaging.Inspector{} },
			func(clock ports.Clock) query.FileLinks {
				return query.NewFileLinks(fileLinkKey(cfg.Auth.JWTSecret), cfg.Files.LinkTTL, clock)
			},
			func(lc fx.Lifecycle) (ports.FileStore, error) { return newFileStore(lc, cfg.Files) },
		),
		fx.Invoke(func(lc fx.Lifecycle, app application.App, log *zap.Logger) {
			runOrphanSweep(lc, app.Commands.CleanFiles, cfg.Files.OrphanSweep, log)
		}),
	)
}

// fileLinkKey derives the key of file links from the JWT secret, so every
// instance signs alike without another secret to configure.
func fileLinkKey(secret string) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("fechatter file links v1"))
	return mac.Sum(nil)
}

func newFileStore(lc fx.Lifecycle, cfg FilesConfig) (ports.FileStore, error) {
	if cfg.Backend == FilesS3 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return filestore.NewS3(ctx, filestore.S3Config{Endpoint: cfg.S3.Endpoint, Bucket: cfg.S3.Bucket, Region: cfg.S3.Region,
			AccessKey: cfg.S3.AccessKey, SecretKey: cfg.S3.SecretKey, Secure: cfg.S3.Secure, Prefix: cfg.S3.Prefix})
	}
	return filestore.NewDir(cfg.Dir)
}

// runOrphanSweep deletes unattached files older than 24 h every interval
// (every instance sweeps; deleting twice is harmless).
func runOrphanSweep(lc fx.Lifecycle, cleaner command.FileCleaner, every time.Duration, log *zap.Logger) {
	if every <= 0 {
		every = 10 * time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			go func() {
				defer close(done)
				t := time.NewTicker(every)
				defer t.Stop()
				for {
					for {
						n, err := cleaner.SweepOrphans(ctx, 100)
						if err != nil && ctx.Err() == nil {
							log.Warn("orphan file sweep failed", zap.Error(err))
						}
						if n > 0 {
							log.Info("orphan files deleted", zap.Int("files", n))
						}
						if n < 100 || err != nil {
							break
						}
					}
					select {
					case <-ctx.Done():
						return
					case <-t.C:
					}
				}
			}()
			return nil
		},
		OnStop: func(context.Context) error { cancel(); <-done; return nil },
	})
}

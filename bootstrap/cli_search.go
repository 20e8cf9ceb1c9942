package bootstrap

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/uptrace/bun"

	"github.com/fechatter/fechatter/adapters/postgres"
	"github.com/fechatter/fechatter/application/event"
)

func (c *cli) searchCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "search",
		Short: "Manage the search index",
		Args:  cobra.NoArgs,
	}
	var batch int
	reindex := &cobra.Command{
		Use:   "reindex",
		Short: "Rebuild the search index from Postgres (safe to repeat; runs beside a Meilisearch-backed server)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withConfigAndDatabase(cmd.Context(), false, func(ctx context.Context, cfg Config, db *bun.DB) error {
				si, err := openSearchIndex(cfg)
				if err != nil {
					return err
				}
				defer func() { _ = si.close() }()
				if si.prepare != nil {
					if err := si.prepare(ctx); err != nil {
						return fmt.Errorf("prepare %s index: %w", cfg.Search.Backend, err)
					}
				}
				bar := newProgressBar(c.stderr, "reindex")
				n, err := event.Reindex(ctx, postgres.NewMessageReadModel(db), si.SearchIndex, batch, bar.update)
				bar.finish()
				if err != nil {
					return fmt.Errorf("reindex stopped after %d messages: %w", n, err)
				}
				fmt.Fprintf(c.stdout, "reindexed %d messages into %s in %s\n", n, cfg.Search.Backend, bar.elapsed().Round(time.Millisecond))
				return nil
			})
		},
	}
	reindex.Flags().IntVar(&batch, "batch", 500, "messages per index request")
	cmd.AddCommand(reindex)
	return cmd
}

// progressBar draws one line that it rewrites: bar, counts, rate.
type progressBar struct {
	w     io.Writer
	label string
	start time.Time
	last  time.Time
	drawn bool
}

func newProgressBar(w io.Writer, label string) *progressBar {
	return &progressBar{w: w, label: label, start: time.Now()}
}

func (p *progressBar) elapsed() time.Duration { return time.Since(p.start) }

func (p *progressBar) update(done, total int) {
	now := time.Now()
	if done < total && now.Sub(p.last) < 100*time.Millisecond {
		return // at most ten redraws a second
	}
	p.last = now
	const width = 30
	filled := width
	pct := 100.0
	if total > 0 {
		filled = width * done / total
		pct = 100 * float64(done) / float64(total)
	}
	rate := float64(done) / max(now.Sub(p.start).Seconds(), 1e-3)
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d %5.1f%% %.0f msg/s", p.label,
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total, pct, rate)
	p.drawn = true
}

func (p *progressBar) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

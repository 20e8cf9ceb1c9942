package postgres

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/file"
	"github.com/fechatter/fechatter/ports"
)

var _ ports.FileRepository = (*FileRepository)(nil)

// FileRepository keeps file metadata in files and the bytes each
// workspace uses in workspace_storage.
type FileRepository struct{ db *bun.DB }

// NewFileRepository returns a FileRepository on db.
func NewFileRepository(db *bun.DB) *FileRepository {
	mustDB(db, "NewFileRepository")
	return &FileRepository{db: db}
}

type fileRow struct {
	bun.BaseModel `bun:"table:files,alias:f"`

	ID          int64     `bun:"id,pk,autoincrement"`
	WorkspaceID int64     `bun:"workspace_id,notnull"`
	UploaderID  int64     `bun:"uploader_id,notnull"`
	Name        string    `bun:"name,notnull"`
	ContentType string    `bun:"content_type,notnull"`
	Size        int64     `bun:"size,notnull"`
	SHA256      string    `bun:"sha256,notnull"`
	Width       int       `bun:"width,nullzero"`
	Height      int       `bun:"height,nullzero"`
	StorageKey  string    `bun:"storage_key,notnull"`
	ThumbKey    string    `bun:"thumb_key,nullzero"`
	ThumbType   string    `bun:"thumb_type,nullzero"`
	ThumbSize   int64     `bun:"thumb_size,notnull"`
	MessageID   int64     `bun:"message_id,nullzero"`
	ChatID      int64     `bun:"chat_id,nullzero"`
	CreatedAt   time.Time `bun:"created_at,notnull"`
	DeletedAt   time.Time `bun:"deleted_at,nullzero"`
}

func fileRowOf(f *file.File) fileRow {
	return fileRow{ID: f.ID(), WorkspaceID: f.WorkspaceID(), UploaderID: f.UploaderID(), Name: f.Name(),
		ContentType: f.ContentType(), Size: f.Size(), SHA256: f.SHA256(), Width: f.Width(), Height: f.Height(),
		StorageKey: f.Key(), ThumbKey: f.ThumbKey(), ThumbType: f.ThumbType(), ThumbSize: f.ThumbSize(),
		MessageID: f.MessageID(), ChatID: f.ChatID(), CreatedAt: f.CreatedAt(), DeletedAt: f.DeletedAt()}
}

func (r fileRow) domain() *file.File {
	return file.UnmarshalFromDatabase(file.Stored{ID: r.ID, MessageID: r.MessageID, ChatID: r.ChatID, DeletedAt: utc(r.DeletedAt),
		Upload: file.Upload{WorkspaceID: r.WorkspaceID, UploaderID: r.UploaderID, Name: r.Name, ContentType: r.ContentType,
			Size: r.Size, SHA256: r.SHA256, Width: r.Width, Height: r.Height, Key: r.StorageKey, ThumbKey: r.ThumbKey,
			ThumbType: r.ThumbType, ThumbSize: r.ThumbSize, CreatedAt: utc(r.CreatedAt)}})
}

// queryFile shows a row as the API's File, links to be signed.
func (r fileRow) query() query.File {
	out := query.File{ID: r.ID, WorkspaceID: r.WorkspaceID, UploaderID: r.UploaderID, Name: r.Name,
		ContentType: r.ContentType, Size: r.Size, SHA256: r.SHA256, CreatedAt: utc(r.CreatedAt)}
	if r.Width > 0 && r.Height > 0 {
		w, h := r.Width, r.Height
		out.Width, out.Height = &w, &h
	}
	if r.ThumbKey != "" {
		empty := ""
		out.ThumbnailURL = &empty
	}
	return out
}

// Add moves the workspace's counter with a conditional upsert (which
// serialises concurrent uploads of one workspace on its row), then inserts.
func (r *FileRepository) Add(ctx context.Context, f *file.File, quota int64) error {
	return inTx(ctx, r.db, func(ctx context.Context) error {
		db := conn(ctx, r.db)
		bytes := f.Size() + f.ThumbSize()
		var used []int64
		err := db.NewRaw(`INSERT INTO workspace_storage AS s (workspace_id, used_bytes) VALUES (?, ?)
ON CONFLICT (workspace_id) DO UPDATE SET used_bytes = s.used_bytes + excluded.used_bytes
WHERE s.used_bytes + excluded.used_bytes <= ?
RETURNING used_bytes`, f.WorkspaceID(), bytes, quota).Scan(ctx, &used)
		if err != nil {
			return dbError(err, "count file against the quota")
		}
		if len(used) == 0 || used[0] > quota {
			return errs.New(errs.TooLarge, "the workspace's storage quota of %d bytes would be exceeded", quota)
		}
		row := fileRowOf(f)
		if _, err := db.NewInsert().Model(&row).ExcludeColumn("id").Returning("id").Exec(ctx); err != nil {
			return dbError(err, "add file")
		}
		f.Assign(row.ID)
		return nil
	})
}

func (r *FileRepository) ByID(ctx context.Context, id int64) (*file.File, error) {
	var row fileRow
	q := conn(ctx, r.db).NewSelect().Model(&row).Where("id = ?", id)
	if txFrom(ctx, r.db) != nil {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, notFound(err, "file %d not found", id)
	}
	return row.domain(), nil
}

func (r *FileRepository) Attach(ctx context.Context, files []*file.File) error {
	for _, f := range files {
		_, err := conn(ctx, r.db).NewRaw(`UPDATE files SET message_id = ?, chat_id = ? WHERE id = ?`,
			f.MessageID(), f.ChatID(), f.ID()).Exec(ctx)
		if err != nil {
			return dbError(err, "attach file")
		}
	}
	return nil
}

func (r *FileRepository) ByMessage(ctx context.Context, messageID int64) ([]*file.File, error) {
	var rows []fileRow
	err := conn(ctx, r.db).NewSelect().Model(&rows).Where("message_id = ? AND deleted_at IS NULL", messageID).OrderExpr("id").Scan(ctx)
	if err != nil {
		return nil, dbError(err, "list attachments")
	}
	out := make([]*file.File, len(rows))
	for i, row := range rows {
		out[i] = row.domain()
	}
	return out, nil
}

func (r *FileRepository) MarkDeleted(ctx context.Context, files []*file.File) error {
	if len(files) == 0 {
		return nil
	}
	return inTx(ctx, r.db, func(ctx context.Context) error {
		db := conn(ctx, r.db)
		for _, f := range files {
			var freed []int64
			err := db.NewRaw(`UPDATE files SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL
RETURNING size + thumb_size`, f.DeletedAt(), f.ID()).Scan(ctx, &freed)
			if err != nil {
				return dbError(err, "delete file")
			}
			if len(freed) == 0 {
				continue // already deleted
			}
			if _, err := db.NewRaw(`UPDATE workspace_storage SET used_bytes = greatest(used_bytes - ?, 0) WHERE workspace_id = ?`,
				freed[0], f.WorkspaceID()).Exec(ctx); err != nil {
				return dbError(err, "free file storage")
			}
		}
		return nil
	})
}

func (r *FileRepository) Orphans(ctx context.Context, cutoff time.Time, limit int) ([]*file.File, error) {
	var rows []fileRow
	err := conn(ctx, r.db).NewSelect().Model(&rows).
		Where("message_id IS NULL AND deleted_at IS NULL AND created_at < ?", cutoff).
		Where("NOT EXISTS (SELECT 1 FROM users u WHERE u.avatar_file_id = f.id)").
		OrderExpr("created_at").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, dbError(err, "list orphan files")
	}
	out := make([]*file.File, len(rows))
	for i, row := range rows {
		out[i] = row.domain()
	}
	return out, nil
}

func (r *FileRepository) StorageUsed(ctx context.Context, workspaceID int64) (int64, error) {
	var used []int64
	err := conn(ctx, r.db).NewRaw(`SELECT used_bytes FROM workspace_storage WHERE workspace_id = ?`, workspaceID).Scan(ctx, &used)
	if err != nil {
		return 0, dbError(err, "read storage use")
	}
	if len(used) == 0 {
		return 0, nil
	}
	return used[0], nil
}

func (r *FileRepository) CanRead(ctx context.Context, f *file.File, userID int64) (bool, error) {
	if f.UploaderID() == userID {
		return true, nil
	}
	var ok []bool
	err := conn(ctx, r.db).NewRaw(`SELECT
	EXISTS (SELECT 1 FROM messages m JOIN chat_members cm ON cm.chat_id = m.chat_id AND cm.user_id = ?
		WHERE m.id = ? AND m.deleted_at IS NULL)
	OR EXISTS (SELECT 1 FROM users u WHERE u.avatar_file_id = ? AND u.workspace_id = ?)`,
		userID, f.MessageID(), f.ID(), f.WorkspaceID()).Scan(ctx, &ok)
	if err != nil {
		return false, dbError(err, "check file access")
	}
	return len(ok) == 1 && ok[0], nil
}

// attachmentsFor loads the live files of several messages in one query.
func attachmentsFor(ctx context.Context, db bun.IDB, ids []int64) (map[int64][]query.File, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []fileRow
	err := db.NewSelect().Model(&rows).Where("message_id IN (?) AND deleted_at IS NULL", bun.List(ids)).OrderExpr("message_id, id").Scan(ctx)
	if err != nil {
		return nil, dbError(err, "load attachments")
	}
	out := make(map[int64][]query.File)
	for _, row := range rows {
		out[row.MessageID] = append(out[row.MessageID], row.query())
	}
	return out, nil
}

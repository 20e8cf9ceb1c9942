package http

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/fechatter/fechatter/api"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
)

// uploadPath is the one route whose body is streamed instead of read
// whole (and is exempt from BodyLimit).
const uploadPath = v1 + "/files"

var pFile = param{"id", "path", "integer", "file id"}

func (s *Server) featureRoutes() []route {
	pEmoji := param{"emoji", "path", "string", "one Unicode emoji (URL-encoded) or a short code :name:"}
	linkParams := []param{pFile, {"exp", "query", "integer", "expiry, Unix seconds"}, {"sig", "query", "string", "signature"}}
	return []route{
		{method: "POST", path: uploadPath, summary: "Upload a file: multipart/form-data with one part named file, streamed to storage (never whole in memory). " +
			"content_type is sniffed from the bytes; images get width, height and a thumbnail. 413 above limits.file_max_bytes (default 25 MiB) " +
			"or the workspace's storage quota; 400 for an empty file. A file not attached to a message within 24 h is deleted.",
			auth: true, status: 201, answer: api.File{}, multipart: true, handler: s.uploadFile},
		{method: "PATCH", path: v1 + "/users/me", summary: "Change the caller's fullname and/or avatar (avatar_file_id: an image the caller uploaded; 0 removes it); members of shared chats get user.updated",
			auth: true, status: 200, body: profileBody{}, answer: api.User{}, fails: []int{404}, handler: s.updateProfile},
		{method: "GET", path: v1 + "/files/:id", summary: "A file with fresh signed links (its uploader, or members of a chat whose message carries it)", auth: true, status: 200, answer: api.File{}, params: []param{pFile}, handler: s.getFile},
		{method: "GET", path: v1 + "/files/:id/content", summary: "The file's bytes through a signed link (no bearer token; a wrong or expired signature is 404). " +
			"Range: bytes=a-b, a- and -n (one range; 206, or 416 when unsatisfiable). X-Content-Type-Options: nosniff; Content-Disposition inline for images, audio, video and PDF, else attachment",
			status: 200, binary: true, params: linkParams, handler: s.fileContent(query.LinkContent)},
		{method: "GET", path: v1 + "/files/:id/thumbnail", summary: "A JPEG or PNG of at most 360 px on its longer side, through a signed link; images only, else 404", status: 200, binary: true, params: linkParams, handler: s.fileContent(query.LinkThumbnail)},
		{method: "PUT", path: v1 + "/chats/:id/messages/:seq/reactions/:emoji", summary: "Add the caller's reaction (idempotent); 409 above 20 distinct emoji or on a deleted message; 403 for a previewer of a public channel",
			auth: true, status: 200, answer: api.Reactions{}, params: []param{pChat, pSeq, pEmoji}, fails: []int{403, 409}, handler: s.react(true)},
		{method: "GET", path: v1 + "/chats/:id/messages/:seq/replies", summary: "The replies in the thread of root seq (the root excluded), oldest first",
			auth: true, status: 200, answer: api.Messages{}, params: []param{pChat, {"seq", "path", "integer", "the thread root's seq"},
				{"after_seq", "query", "integer", "replies with seq above this"}, {"limit", "query", "integer", "1..200, default 50"}}, handler: s.listReplies},
		{method: "GET", path: v1 + "/mentions", summary: "Messages of the caller's chats (at query time) that mention the caller or all, newest first; the caller's own are left out",
			auth: true, status: 200, answer: api.Messages{}, params: []param{{"before_id", "query", "integer", "messages with id below this"}, {"limit", "query", "integer", "1..200, default 50"}}, handler: s.listMentions},
		{method: "DELETE", path: v1 + "/chats/:id/messages/:seq/reactions/:emoji", summary: "Remove the caller's reaction (idempotent)",
			auth: true, status: 200, answer: api.Reactions{}, params: []param{pChat, pSeq, pEmoji}, fails: []int{403, 409}, handler: s.react(false)},
	}
}

func (s *Server) react(add bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, seq, err := pathIDs(c, "seq")
		if err != nil {
			return err
		}
		emoji, err := url.PathUnescape(c.Params("emoji"))
		if err != nil {
			return errs.Invalidf("emoji is not URL-encoded correctly")
		}
		rs, err := s.app.Commands.React.Handle(c.UserContext(), command.React{Actor: actor(c), ChatID: id, Seq: seq, Emoji: emoji, Add: add})
		if err != nil {
			return err
		}
		return c.JSON(api.Reactions{Reactions: rs})
	}
}

// uploadFile reads the multipart body as a stream: parts before "file"
// are skipped, the file part flows to the file store as it arrives.
func (s *Server) uploadFile(c *fiber.Ctx) error {
	mt, params, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return errs.Invalidf("upload with Content-Type multipart/form-data and one part named file")
	}
	body := c.Context().RequestBodyStream()
	if body == nil {
		body = strings.NewReader(string(c.Body()))
	}
	max := s.app.Commands.UploadFile.MaxBytes()
	// Whatever the outcome, read the rest of the body (a bounded amount:
	// the closing chunk, a rejected file's tail), so the connection stays
	// in step; past that bound it is closed.
	defer func() {
		if n, _ := io.Copy(io.Discard, io.LimitReader(body, max+1<<20)); n > max {
			c.Context().SetConnectionClose()
		}
	}()
	if n := c.Request().Header.ContentLength(); n > 0 && int64(n) > max+1<<20 {
		c.Context().SetConnectionClose()
		return errs.New(errs.TooLarge, "file is larger than %d bytes", max)
	}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return errs.Invalidf("the upload has no part named file")
		}
		if err != nil {
			return errs.Invalidf("malformed multipart body: %v", err)
		}
		if part.FormName() != "file" {
			_, _ = io.Copy(io.Discard, io.LimitReader(part, max))
			continue
		}
		f, err := s.app.Commands.UploadFile.Handle(c.UserContext(), command.UploadFile{Actor: actor(c), Name: part.FileName(), Body: part})
		if err != nil {
			return err
		}
		return c.Status(fiber.StatusCreated).JSON(f)
	}
}

func (s *Server) getFile(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	f, err := s.app.Queries.GetFile.Handle(c.UserContext(), viewer(c), id)
	if err != nil {
		return err
	}
	return c.JSON(f)
}

// fileContent serves bytes through a signed link, with single ranges.
func (s *Server) fileContent(kind string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := strconv.ParseInt(c.Params("id"), 10, 64)
		if err != nil {
			return errs.NotFoundf("file not found")
		}
		info, f, err := s.app.Queries.OpenFile.Stat(c.UserContext(), kind, id, c.Query("exp"), c.Query("sig"))
		if err != nil {
			return err
		}
		offset, length, partial, ok := parseRange(c.Get(fiber.HeaderRange), info.Size)
		if !ok {
			c.Set(fiber.HeaderContentRange, fmt.Sprintf("bytes */%d", info.Size))
			return c.Status(fiber.StatusRequestedRangeNotSatisfiable).JSON(ErrorBody{Error: ErrorDetail{Code: "invalid_argument", Message: "range not satisfiable"}})
		}
		body, err := s.app.Queries.OpenFile.Open(c.UserContext(), kind, f, offset, length)
		if err != nil {
			return err
		}
		disposition := "attachment"
		if info.Inline {
			disposition = "inline"
		}
		c.Set(fiber.HeaderContentType, info.ContentType)
		c.Set("X-Content-Type-Options", "nosniff")
		c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox")
		c.Set(fiber.HeaderContentDisposition, disposition+"; filename*=UTF-8''"+url.PathEscape(info.Name))
		c.Set(fiber.HeaderAcceptRanges, "bytes")
		c.Set(fiber.HeaderCacheControl, "private, max-age=3600")
		if kind == query.LinkContent {
			c.Set(fiber.HeaderETag, `"`+info.SHA256+`"`)
		}
		if partial {
			c.Set(fiber.HeaderContentRange, fmt.Sprintf("bytes %d-%d/%d", offset, offset+length-1, info.Size))
			c.Status(fiber.StatusPartialContent)
		}
		return c.SendStream(body, int(length))
	}
}

// parseRange reads one "bytes=" range of a body of size bytes. Without a
// usable Range header (absent, another unit, several ranges) the whole body
// is served; ok is false only for a range that cannot be satisfied.
func parseRange(h string, size int64) (offset, length int64, partial, ok bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, size, false, true
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, size, false, true
	}
	switch {
	case first == "": // the last n bytes
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false, err != nil
		}
		n = min(n, size)
		if n == 0 {
			return 0, 0, false, false
		}
		return size - n, n, true, true
	default:
		a, err := strconv.ParseInt(first, 10, 64)
		if err != nil || a < 0 {
			return 0, size, false, true
		}
		if a >= size {
			return 0, 0, false, false
		}
		b := size - 1
		if last != "" {
			if b, err = strconv.ParseInt(last, 10, 64); err != nil || b < a {
				return 0, size, false, err != nil
			}
			b = min(b, size-1)
		}
		return a, b - a + 1, true, true
	}
}

func (s *Server) listReplies(c *fiber.Ctx) error {
	id, seq, err := pathIDs(c, "seq")
	if err != nil {
		return err
	}
	after, _, err := queryInt(c, "after_seq")
	if err != nil {
		return err
	}
	limit, hasLimit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	if hasLimit && (limit < 1 || limit > query.MaxMessageLimit) || after < 0 {
		return errs.Invalidf("limit must be 1..%d and after_seq at least 0", query.MaxMessageLimit)
	}
	msgs, more, err := s.app.Queries.ListReplies.Handle(c.UserContext(), viewer(c), id, seq, after, int(limit))
	if err != nil {
		return err
	}
	return c.JSON(api.Messages{Messages: msgs, HasMore: more})
}

func (s *Server) listMentions(c *fiber.Ctx) error {
	before, hasBefore, err := queryInt(c, "before_id")
	if err != nil {
		return err
	}
	limit, hasLimit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	if hasLimit && (limit < 1 || limit > query.MaxMessageLimit) || hasBefore && before < 1 {
		return errs.Invalidf("limit must be 1..%d and before_id positive", query.MaxMessageLimit)
	}
	msgs, more, err := s.app.Queries.ListMentions.Handle(c.UserContext(), viewer(c), before, int(limit))
	if err != nil {
		return err
	}
	return c.JSON(api.Messages{Messages: msgs, HasMore: more})
}

type profileBody struct {
	Fullname     *string `json:"fullname,omitempty"`
	AvatarFileID *int64  `json:"avatar_file_id,omitempty"`
}

func (s *Server) updateProfile(c *fiber.Ctx) error {
	var b profileBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	if b.Fullname == nil && b.AvatarFileID == nil {
		return errs.Invalidf("give fullname or avatar_file_id")
	}
	u, err := s.app.Commands.UpdateProfile.Handle(c.UserContext(), command.UpdateProfile{Actor: actor(c), Fullname: b.Fullname, AvatarFileID: b.AvatarFileID})
	if err != nil {
		return err
	}
	return c.JSON(u)
}

package http

import (
	"github.com/gofiber/fiber/v2"

	"github.com/fechatter/fechatter/adapters/textcheck"
	"github.com/fechatter/fechatter/api"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
)

// route is one REST route with everything the OpenAPI document says of it:
// the document (GET /openapi.json) is generated from this table and the
// types it names, and the test harnesses validate every exchange against
// it. A route is added here and nowhere else (/work/notes/api-how.md).
type route struct {
	method  string
	path    string // Fiber syntax, e.g. /api/v1/chats/:id
	summary string
	auth    bool
	status  int   // success status
	also    []int // other statuses answered with the success body (200 for a replay, 503 for health)
	// fails are the error statuses of this route beyond those every route
	// of its kind answers (see errorStatuses): 403, 409, 429, ...
	fails   []int
	body    any // request body type, nil if none; fields without omitempty are required
	answer  any // success body type (a package api type), nil if none
	params  []param
	handler fiber.Handler
	// optionalBody: the body may be left out entirely.
	optionalBody bool
	// text: the success answer is text/plain, not JSON.
	text bool
	// multipart: the body is multipart/form-data with a binary part "file"
	// (streamed, not limited to 64 KiB).
	multipart bool
	// binary: the success answer is the bytes of a file (any type), with
	// 206 for a Range and 416 for an unsatisfiable one.
	binary bool
}

type param struct {
	name, in, typ, doc string
}

const v1 = "/api/v1"

var (
	pChat = param{"id", "path", "integer", "chat id"}
	pUser = param{"user_id", "path", "integer", "user id"}
	pSeq  = param{"seq", "path", "integer", "message seq in the chat"}
)

func (s *Server) routeTable() []route {
	return s.touchingWrites(append([]route{ // presence.go
		{method: "GET", path: "/health", summary: "Service health: 200 healthy or degraded (search down), 503 unhealthy (database or NATS down); " +
			"dependency statuses are up or down; metrics.active_users counts WebSocket users, or users with an authenticated request in the last 5 minutes where no gateway reports connections",
			status: 200, answer: query.HealthReport{}, also: []int{503}, handler: s.health},
		{method: "GET", path: "/health/live", summary: "The process is up", status: 200, answer: healthAnswer{}, handler: s.live},
		{method: "GET", path: "/health/ready", summary: "Database and NATS reachable, migrations applied", status: 200, answer: healthAnswer{}, also: []int{503}, handler: s.ready},
		{method: "GET", path: "/metrics", summary: "Prometheus metrics (text exposition format)", status: 200, text: true, fails: []int{404}, handler: s.metrics},
		{method: "GET", path: "/openapi.json", summary: "This document", status: 200, handler: s.openAPI},

		{method: "POST", path: v1 + "/auth/signup", summary: "Create an account (and a workspace, or join one with an invite code)", status: 201, body: signupBody{}, answer: api.AuthResult{}, fails: []int{409, 429}, handler: s.signup},
		{method: "POST", path: v1 + "/auth/signin", summary: "Sign in; rate limited per email and per client address", status: 200, body: signinBody{}, answer: api.AuthResult{}, fails: []int{401, 429}, handler: s.signin},
		{method: "POST", path: v1 + "/auth/refresh", summary: "Rotate a refresh token; reusing a rotated one revokes its family", status: 200, body: refreshBody{}, answer: api.AuthResult{}, fails: []int{401}, handler: s.refresh},
		{method: "POST", path: v1 + "/auth/logout", summary: "Revoke the session of a refresh token; its access tokens are refused at once (401) on every instance and its sockets close with 4001", auth: true, status: 204, body: refreshBody{}, handler: s.logout},
		{method: "POST", path: v1 + "/auth/password", summary: "Change the caller's password (401 on a wrong old_password, which counts as a failed sign-in); every other session of the caller is revoked", auth: true, status: 204, body: passwordBody{}, fails: []int{429}, handler: s.changePassword},
		{method: "POST", path: v1 + "/auth/logout-all", summary: "Sign out everywhere: revoke every session of the caller, this one included", auth: true, status: 204, handler: s.logoutAll},
		{method: "GET", path: v1 + "/users/me", summary: "The caller", auth: true, status: 200, answer: api.User{}, handler: s.me},
		{method: "GET", path: v1 + "/users", summary: "The workspace directory", auth: true, status: 200, answer: api.Users{},
			params: []param{{"q", "query", "string", "part of a name or email"}, {"limit", "query", "integer", "1..200, default 50"}}, handler: s.users},
		{method: "GET", path: v1 + "/workspace", summary: "The caller's workspace", auth: true, status: 200, answer: api.Workspace{}, handler: s.workspace},
		{method: "POST", path: v1 + "/workspace/invites", summary: "Create an invite code (workspace owner or admin)", auth: true, status: 201, body: inviteBody{}, answer: api.Invite{}, optionalBody: true, fails: []int{403}, handler: s.createInvite},

		{method: "POST", path: v1 + "/chats", summary: "Create a chat (200 with the existing one for a repeated direct chat)", auth: true, status: 201, body: createChatBody{}, answer: api.Chat{}, also: []int{200}, fails: []int{404, 409}, handler: s.createChat},
		{method: "GET", path: v1 + "/chats", summary: "The caller's chats, most recent activity first", auth: true, status: 200, answer: api.Chats{}, handler: s.listChats},
		{method: "GET", path: v1 + "/chats/public", summary: "Public channels of the workspace, by name, to browse and join (an addition to API.md)", auth: true, status: 200, answer: api.Chats{},
			params: []param{{"q", "query", "string", "part of the name"}, {"limit", "query", "integer", "1..200, default 50"}}, handler: s.browseChannels},
		{method: "GET", path: v1 + "/chats/:id", summary: "One chat as the caller sees it; a public channel of the workspace is shown to non-members too, with role null (preview; they are not listed among its members)", auth: true, status: 200, answer: api.ChatSummary{}, params: []param{pChat}, handler: s.getChat},
		{method: "PATCH", path: v1 + "/chats/:id", summary: "Rename or describe a chat (owner or admin)", auth: true, status: 200, body: updateChatBody{}, answer: api.Chat{}, params: []param{pChat}, fails: []int{403}, handler: s.updateChat},
		{method: "DELETE", path: v1 + "/chats/:id", summary: "Delete a chat (owner)", auth: true, status: 204, params: []param{pChat}, fails: []int{403}, handler: s.deleteChat},
		{method: "GET", path: v1 + "/chats/:id/members", summary: "Members of a chat", auth: true, status: 200, answer: api.Members{}, params: []param{pChat}, handler: s.listMembers},
		{method: "POST", path: v1 + "/chats/:id/members", summary: "Add members (owner or admin)", auth: true, status: 200, body: addMembersBody{}, answer: api.Members{}, params: []param{pChat}, fails: []int{403, 409}, handler: s.addMembers},
		{method: "PATCH", path: v1 + "/chats/:id/members/:user_id", summary: "Change a member's role (owner); giving owner hands over", auth: true, status: 200, body: roleBody{}, answer: api.Member{}, params: []param{pChat, pUser}, fails: []int{403, 409}, handler: s.changeRole},
		{method: "DELETE", path: v1 + "/chats/:id/members/:user_id", summary: "Remove a member, or leave", auth: true, status: 204, params: []param{pChat, pUser}, fails: []int{403, 409}, handler: s.removeMember},
		{method: "POST", path: v1 + "/chats/:id/join", summary: "Join a public channel", auth: true, status: 200, answer: api.ChatSummary{}, params: []param{pChat}, fails: []int{403, 409}, handler: s.join},

		{method: "POST", path: v1 + "/chats/:id/messages", summary: "Send a message (200 and Idempotent-Replay: true for a repeated idempotency key)", auth: true, status: 201, body: sendBody{}, answer: api.Message{}, params: []param{pChat}, also: []int{200}, fails: []int{403, 409, 429}, handler: s.send},
		{method: "GET", path: v1 + "/chats/:id/messages", summary: "History by seq: before_seq newest first, or after_seq oldest first. Members read; so may any workspace member preview a public channel before joining (read-only: writing, reactions, receipts and typing need membership)", auth: true, status: 200, answer: api.Messages{},
			params: []param{pChat, {"before_seq", "query", "integer", "messages with seq below this, newest first"}, {"after_seq", "query", "integer", "messages with seq above this, oldest first"}, {"limit", "query", "integer", "1..200, default 50"}}, handler: s.listMessages},
		{method: "GET", path: v1 + "/chats/:id/messages/:seq", summary: "One message (members, or a workspace member previewing a public channel)", auth: true, status: 200, answer: api.Message{}, params: []param{pChat, pSeq}, handler: s.getMessage},
		{method: "PATCH", path: v1 + "/chats/:id/messages/:seq", summary: "Edit one's own message", auth: true, status: 200, body: editBody{}, answer: api.Message{}, params: []param{pChat, pSeq}, fails: []int{403, 409}, handler: s.editMessage},
		{method: "DELETE", path: v1 + "/chats/:id/messages/:seq", summary: "Delete a message (sender, or chat owner or admin)", auth: true, status: 204, params: []param{pChat, pSeq}, fails: []int{403}, handler: s.deleteMessage},

		{method: "POST", path: v1 + "/chats/:id/delivered", summary: "Move the caller's delivered pointer forward to seq (lower values are ignored; seq beyond last_seq is 400)", auth: true, status: 200, body: pointerBody{}, answer: api.Member{}, params: []param{pChat}, fails: []int{403}, handler: s.markDelivered},
		{method: "POST", path: v1 + "/chats/:id/read", summary: "Move the caller's read pointer forward to seq, and delivered with it (lower values are ignored; seq beyond last_seq is 400)", auth: true, status: 200, body: pointerBody{}, answer: api.Member{}, params: []param{pChat}, fails: []int{403}, handler: s.markRead},
		{method: "GET", path: v1 + "/chats/:id/messages/:seq/receipts", summary: "When each member other than the sender first had the message delivered and read (null while not)", auth: true, status: 200, answer: api.Receipts{}, params: []param{pChat, pSeq}, handler: s.getReceipts},

		{method: "POST", path: v1 + "/chats/:id/typing", summary: "Start or stop the caller's typing indicator in a chat (as the WebSocket typing frame): starts are broadcast with expires_at = now + 6 s, repeats within 2 s are not", auth: true, status: 204, body: typingBody{}, params: []param{pChat}, fails: []int{403}, handler: s.typing},
		{method: "GET", path: v1 + "/presence", summary: "Presence of users of the caller's workspace (others are left out); offline users carry their stored last_seen, null if never seen", auth: true, status: 200, answer: api.PresenceList{},
			params: []param{{"user_ids", "query", "string", "comma-separated user ids, 1..200"}}, handler: s.presence},

		{method: "GET", path: v1 + "/search/messages", summary: "Full-text search over the messages of the caller's chats; with the chat_id of a public channel of the workspace, searches it before joining (preview)", auth: true, status: 200, answer: api.SearchResults{}, fails: []int{404},
			params: []param{{"q", "query", "string", "1..256 characters"}, {"chat_id", "query", "integer", "only this chat"}, {"limit", "query", "integer", "1..100, default 20"}, {"offset", "query", "integer", "0..1000"}}, handler: s.searchMessages},
	}, s.featureRoutes()...)) // files.go
}

// Request and answer bodies. Pointers tell a missing field from a zero one.

type signupBody struct {
	Email      *string `json:"email"`
	Password   *string `json:"password"`
	Fullname   *string `json:"fullname"`
	Workspace  *string `json:"workspace"`
	InviteCode *string `json:"invite_code,omitempty"`
}

type signinBody struct {
	Email    *string `json:"email"`
	Password *string `json:"password"`
}

// refreshBody: refresh_token may be left out by a web session (cookie).
type refreshBody struct {
	RefreshToken *string `json:"refresh_token,omitempty"`
}

type inviteBody struct {
	MaxUses        *int `json:"max_uses,omitempty"`
	ExpiresInHours *int `json:"expires_in_hours,omitempty"`
}

type createChatBody struct {
	Type        *string `json:"type"`
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
	MemberIDs   []int64 `json:"member_ids,omitempty"` // optional (a channel may start with its creator alone)
}

type updateChatBody struct {
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
}

type addMembersBody struct {
	UserIDs []int64 `json:"user_ids"`
}

type roleBody struct {
	Role *string `json:"role"`
}

type sendBody struct {
	Content        *string `json:"content"`
	IdempotencyKey *string `json:"idempotency_key,omitempty"`
	ReplyToID      *int64  `json:"reply_to_id,omitempty"`
	// AttachmentIDs are 1..10 of the caller's files; content may then be
	// empty.
	AttachmentIDs []int64 `json:"attachment_ids,omitempty"`
}

type editBody struct {
	Content *string `json:"content"`
}

// Handlers.

func (s *Server) signup(c *fiber.Ctx) error {
	var b signupBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	if err := required("email", b.Email, "password", b.Password, "fullname", b.Fullname, "workspace", b.Workspace); err != nil {
		return err
	}
	res, err := s.app.Commands.SignUp.Handle(c.UserContext(), command.SignUp{Email: textcheck.FoldEmail(*b.Email), Password: *b.Password,
		Fullname: *b.Fullname, Workspace: *b.Workspace, InviteCode: deref(b.InviteCode), ClientIP: c.IP()})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(webSessionAnswer(c, res))
}

func (s *Server) signin(c *fiber.Ctx) error {
	var b signinBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	if err := required("email", b.Email, "password", b.Password); err != nil {
		return err
	}
	res, err := s.app.Commands.SignIn.Handle(c.UserContext(), command.SignIn{Email: textcheck.FoldEmail(*b.Email), Password: *b.Password, ClientIP: c.IP()})
	if err != nil {
		return err
	}
	return c.JSON(webSessionAnswer(c, res))
}

func (s *Server) refresh(c *fiber.Ctx) error {
	var b refreshBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	b.RefreshToken = webSessionToken(c, b.RefreshToken)
	if err := required("refresh_token", b.RefreshToken); err != nil {
		return err
	}
	res, err := s.app.Commands.RefreshSession.Handle(c.UserContext(), command.RefreshSession{RefreshToken: *b.RefreshToken})
	if err != nil {
		return err
	}
	return c.JSON(webSessionAnswer(c, res))
}

func (s *Server) logout(c *fiber.Ctx) error {
	var b refreshBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	b.RefreshToken = webSessionToken(c, b.RefreshToken)
	if err := required("refresh_token", b.RefreshToken); err != nil {
		return err
	}
	if err := s.app.Commands.Logout.Handle(c.UserContext(), command.Logout{Actor: actor(c), RefreshToken: *b.RefreshToken}); err != nil {
		return err
	}
	clearWebSession(c)
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) me(c *fiber.Ctx) error {
	u, err := s.app.Queries.Me.Handle(c.UserContext(), viewer(c))
	if err != nil {
		return err
	}
	return c.JSON(u)
}

func (s *Server) users(c *fiber.Ctx) error {
	limit, hasLimit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	if hasLimit && (limit < 1 || limit > query.MaxUserLimit) {
		return errs.Invalidf("limit must be 1..%d", query.MaxUserLimit)
	}
	us, err := s.app.Queries.Directory.Handle(c.UserContext(), viewer(c), c.Query("q"), int(limit))
	if err != nil {
		return err
	}
	return c.JSON(api.Users{Users: us})
}

func (s *Server) workspace(c *fiber.Ctx) error {
	w, err := s.app.Queries.GetWorkspace.Handle(c.UserContext(), viewer(c))
	if err != nil {
		return err
	}
	return c.JSON(w)
}

func (s *Server) createInvite(c *fiber.Ctx) error {
	var b inviteBody
	if len(c.Body()) > 0 {
		if err := decodeBody(c, &b); err != nil {
			return err
		}
	}
	inv, err := s.app.Commands.CreateInvite.Handle(c.UserContext(), command.CreateInvite{Actor: actor(c), MaxUses: b.MaxUses, ExpiresInHours: b.ExpiresInHours})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(api.Invite{Code: inv.Code, ExpiresAt: inv.ExpiresAt.UTC(), MaxUses: inv.MaxUses})
}

func (s *Server) createChat(c *fiber.Ctx) error {
	var b createChatBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	if err := required("type", b.Type); err != nil {
		return err
	}
	ch, created, err := s.app.Commands.CreateChat.Handle(c.UserContext(), command.CreateChat{Actor: actor(c), Type: *b.Type,
		Name: deref(b.Name), Description: deref(b.Description), MemberIDs: b.MemberIDs})
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if created {
		status = fiber.StatusCreated
	}
	return c.Status(status).JSON(ch)
}

func (s *Server) listChats(c *fiber.Ctx) error {
	cs, err := s.app.Queries.ListChats.Handle(c.UserContext(), viewer(c))
	if err != nil {
		return err
	}
	if cs == nil {
		cs = []query.ChatSummary{}
	}
	return c.JSON(api.Chats{Chats: cs})
}

func (s *Server) getChat(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	cs, err := s.app.Queries.GetChat.Handle(c.UserContext(), viewer(c), id)
	if err != nil {
		return err
	}
	return c.JSON(cs)
}

func (s *Server) updateChat(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var b updateChatBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	ch, err := s.app.Commands.UpdateChat.Handle(c.UserContext(), command.UpdateChat{Actor: actor(c), ChatID: id, Name: b.Name, Description: b.Description})
	if err != nil {
		return err
	}
	return c.JSON(ch)
}

func (s *Server) deleteChat(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := s.app.Commands.DeleteChat.Handle(c.UserContext(), command.DeleteChat{Actor: actor(c), ChatID: id}); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) listMembers(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ms, err := s.app.Queries.ListMembers.Handle(c.UserContext(), viewer(c), id)
	if err != nil {
		return err
	}
	return c.JSON(api.Members{Members: ms})
}

func (s *Server) addMembers(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var b addMembersBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	if err := required("user_ids", b.UserIDs); err != nil {
		return err
	}
	ms, err := s.app.Commands.AddMembers.Handle(c.UserContext(), command.AddMembers{Actor: actor(c), ChatID: id, UserIDs: b.UserIDs})
	if err != nil {
		return err
	}
	return c.JSON(api.Members{Members: ms})
}

func (s *Server) changeRole(c *fiber.Ctx) error {
	id, uid, err := pathIDs(c, "user_id")
	if err != nil {
		return err
	}
	var b roleBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	if err := required("role", b.Role); err != nil {
		return err
	}
	m, err := s.app.Commands.ChangeRole.Handle(c.UserContext(), command.ChangeRole{Actor: actor(c), ChatID: id, UserID: uid, Role: *b.Role})
	if err != nil {
		return err
	}
	return c.JSON(m)
}

func (s *Server) removeMember(c *fiber.Ctx) error {
	id, uid, err := pathIDs(c, "user_id")
	if err != nil {
		return err
	}
	if err := s.app.Commands.RemoveMember.Handle(c.UserContext(), command.RemoveMember{Actor: actor(c), ChatID: id, UserID: uid}); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) join(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := s.app.Commands.JoinChannel.Handle(c.UserContext(), command.JoinChannel{Actor: actor(c), ChatID: id}); err != nil {
		return err
	}
	cs, err := s.app.Queries.GetChat.Handle(c.UserContext(), viewer(c), id)
	if err != nil {
		return err
	}
	return c.JSON(cs)
}

func (s *Server) send(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var b sendBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	if b.Content == nil && len(b.AttachmentIDs) > 0 {
		b.Content = new(string) // a message of files alone
	}
	if err := required("content", b.Content); err != nil {
		return err
	}
	if b.IdempotencyKey != nil && *b.IdempotencyKey == "" {
		return errs.Invalidf("idempotency_key must be 1..64 characters")
	}
	m, replay, err := s.app.Commands.SendMessage.Handle(c.UserContext(), command.SendMessage{Actor: actor(c), ChatID: id,
		Content: *b.Content, IdempotencyKey: deref(b.IdempotencyKey), ReplyToID: deref(b.ReplyToID), AttachmentIDs: b.AttachmentIDs})
	if err != nil {
		return err
	}
	if replay {
		c.Set("Idempotent-Replay", "true")
		return c.JSON(m)
	}
	return c.Status(fiber.StatusCreated).JSON(m)
}

func (s *Server) listMessages(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	before, hasBefore, err := queryInt(c, "before_seq")
	if err != nil {
		return err
	}
	after, hasAfter, err := queryInt(c, "after_seq")
	if err != nil {
		return err
	}
	limit, hasLimit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	if hasBefore && hasAfter {
		return errs.Invalidf("give before_seq or after_seq, not both")
	}
	if hasLimit && (limit < 1 || limit > query.MaxMessageLimit) {
		return errs.Invalidf("limit must be 1..%d", query.MaxMessageLimit)
	}
	if hasBefore && before < 1 || hasAfter && after < 0 {
		return errs.Invalidf("before_seq must be at least 1 and after_seq at least 0")
	}
	page := query.Page{BeforeSeq: before, AfterSeq: after, Forward: hasAfter, Limit: int(limit)}
	msgs, more, err := s.app.Queries.ListMessages.Handle(c.UserContext(), viewer(c), id, page)
	if err != nil {
		return err
	}
	return c.JSON(api.Messages{Messages: msgs, HasMore: more})
}

func (s *Server) getMessage(c *fiber.Ctx) error {
	id, seq, err := pathIDs(c, "seq")
	if err != nil {
		return err
	}
	m, err := s.app.Queries.GetMessage.Handle(c.UserContext(), viewer(c), id, seq)
	if err != nil {
		return err
	}
	return c.JSON(m)
}

func (s *Server) editMessage(c *fiber.Ctx) error {
	id, seq, err := pathIDs(c, "seq")
	if err != nil {
		return err
	}
	var b editBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	if err := required("content", b.Content); err != nil {
		return err
	}
	m, err := s.app.Commands.EditMessage.Handle(c.UserContext(), command.EditMessage{Actor: actor(c), ChatID: id, Seq: seq, Content: *b.Content})
	if err != nil {
		return err
	}
	return c.JSON(m)
}

func (s *Server) deleteMessage(c *fiber.Ctx) error {
	id, seq, err := pathIDs(c, "seq")
	if err != nil {
		return err
	}
	if err := s.app.Commands.DeleteMessage.Handle(c.UserContext(), command.DeleteMessage{Actor: actor(c), ChatID: id, Seq: seq}); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) searchMessages(c *fiber.Ctx) error {
	chatID, hasChat, err := queryInt(c, "chat_id")
	if err != nil {
		return err
	}
	if hasChat && chatID <= 0 {
		return errs.Invalidf("chat_id must be positive")
	}
	limit, hasLimit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	if hasLimit && (limit < 1 || limit > query.MaxSearchLimit) {
		return errs.Invalidf("limit must be 1..%d", query.MaxSearchLimit)
	}
	offset, _, err := queryInt(c, "offset")
	if err != nil {
		return err
	}
	res, err := s.app.Queries.SearchMessages.Handle(c.UserContext(), viewer(c), query.SearchParams{
		Q: c.Query("q"), ChatID: chatID, Limit: int(limit), Offset: int(offset)})
	if err != nil {
		return err
	}
	return c.JSON(res)
}

func (s *Server) browseChannels(c *fiber.Ctx) error {
	limit, hasLimit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	if hasLimit && (limit < 1 || limit > query.MaxChannelLimit) {
		return errs.Invalidf("limit must be 1..%d", query.MaxChannelLimit)
	}
	cs, err := s.app.Queries.BrowseChannels.Handle(c.UserContext(), viewer(c), c.Query("q"), int(limit))
	if err != nil {
		return err
	}
	return c.JSON(api.Chats{Chats: cs})
}

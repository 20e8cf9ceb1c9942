package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fechatter/fechatter/api"
)

// apiPrefix is API.md's base path.
const apiPrefix = "/api/v1"

// maxAnswer bounds an answer body read into memory.
const maxAnswer = 16 << 20

// Client calls the REST API as one user. It is safe for concurrent use;
// SignUp, SignIn and Refresh replace the session it authenticates with.
// Access tokens are not refreshed behind the caller's back: rotation is
// single-use, so doing it implicitly from concurrent calls would revoke
// the session; call Refresh before ExpiresIn runs out.
type Client struct {
	base string // scheme://host[:port], no trailing slash
	hc   *http.Client
	wire func(sent bool, frame []byte) // WithWireHook

	mu      sync.RWMutex
	session Session
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client use hc (share one between the clients of
// many users so they share its connection pool).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithWireHook makes every WebSocket connection of the client call hook
// with each text frame as it crosses the wire: sent is true for a frame
// the client sends. It runs on the connection's reader or writer and must
// be quick; tests use it to check frames against the API document.
func WithWireHook(hook func(sent bool, frame []byte)) Option {
	return func(c *Client) { c.wire = hook }
}

// NewHTTPClient returns an http.Client suited to many concurrent calls to
// one server: up to maxConns kept-alive connections, a 30s timeout.
func NewHTTPClient(maxConns int) *http.Client {
	t := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        maxConns,
		MaxIdleConnsPerHost: maxConns,
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

// New returns a client of the server at baseURL (http://host:port, or
// https://...), not signed in.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("client: base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q must be http(s)://host[:port]", baseURL)
	}
	c := &Client{base: u.Scheme + "://" + u.Host + strings.TrimSuffix(u.Path, apiPrefix)}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = NewHTTPClient(16)
	}
	return c, nil
}

// BaseURL is the server's address as given to New.
func (c *Client) BaseURL() string { return c.base }

// Session is the current session (zero before sign-in).
func (c *Client) Session() Session {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.session
}

// WithSession returns a client of the same server and HTTP client acting
// as another session.
func (c *Client) WithSession(s Session) *Client {
	return &Client{base: c.base, hc: c.hc, wire: c.wire, session: s}
}

// At returns a client of another server, another instance of the same
// cluster (one signing secret), acting as the same session and sharing the
// HTTP client: what a client does when the instance it talked to is gone.
func (c *Client) At(baseURL string) (*Client, error) {
	n, err := New(baseURL, WithHTTPClient(c.hc))
	if err != nil {
		return nil, err
	}
	n.wire = c.wire
	n.session = c.Session()
	return n, nil
}

func (c *Client) setSession(s Session) {
	c.mu.Lock()
	c.session = s
	c.mu.Unlock()
}

func (c *Client) accessToken() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.session.AccessToken
}

// SignUpRequest is the body of POST /auth/signup. A new Workspace name
// creates it with the caller as owner; an existing one needs InviteCode.
type SignUpRequest struct {
	Email      string `json:"email"`
	Password   string `json:"password"`
	Fullname   string `json:"fullname"`
	Workspace  string `json:"workspace"`
	InviteCode string `json:"invite_code,omitempty"`
}

// SignUp creates an account and signs in as it.
func (c *Client) SignUp(ctx context.Context, r SignUpRequest) (Session, error) {
	return c.authenticate(ctx, "/auth/signup", r)
}

// SignIn signs in with an e-mail and password.
func (c *Client) SignIn(ctx context.Context, email, password string) (Session, error) {
	return c.authenticate(ctx, "/auth/signin", map[string]string{"email": email, "password": password})
}

// Refresh rotates the session's refresh token for a new pair.
func (c *Client) Refresh(ctx context.Context) (Session, error) {
	rt := c.Session().RefreshToken
	if rt == "" {
		return Session{}, errors.New("client: no refresh token: sign in first")
	}
	return c.authenticate(ctx, "/auth/refresh", map[string]string{"refresh_token": rt})
}

func (c *Client) authenticate(ctx context.Context, path string, body any) (Session, error) {
	var s Session
	if _, err := c.do(ctx, http.MethodPost, path, nil, body, &s); err != nil {
		return Session{}, err
	}
	c.setSession(s)
	return s, nil
}

// Logout revokes the session (its WebSockets close with 4001).
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodPost, "/auth/logout", nil, map[string]string{"refresh_token": c.Session().RefreshToken}, nil)
	return err
}

// Me is the caller.
func (c *Client) Me(ctx context.Context) (User, error) {
	var u User
	_, err := c.do(ctx, http.MethodGet, "/users/me", nil, nil, &u)
	return u, err
}

// InviteOptions are the optional limits of an invite: MaxUses 1..10000
// (0: the server's default, 1), ExpiresInHours 1..720 (0: 168).
type InviteOptions struct {
	MaxUses        int `json:"max_uses,omitempty"`
	ExpiresInHours int `json:"expires_in_hours,omitempty"`
}

// CreateInvite creates an invite code to the caller's workspace (owner or
// admin).
func (c *Client) CreateInvite(ctx context.Context, o InviteOptions) (Invite, error) {
	var inv Invite
	_, err := c.do(ctx, http.MethodPost, "/workspace/invites", nil, o, &inv)
	return inv, err
}

// CreateChat creates a chat; for a direct chat that exists already it
// returns that one.
func (c *Client) CreateChat(ctx context.Context, n NewChat) (Chat, error) {
	if n.MemberIDs == nil {
		n.MemberIDs = []int64{}
	}
	var ch Chat
	_, err := c.do(ctx, http.MethodPost, "/chats", nil, n, &ch)
	return ch, err
}

// ListChats lists the caller's chats, most recent activity first.
func (c *Client) ListChats(ctx context.Context) ([]ChatSummary, error) {
	var out api.Chats
	_, err := c.do(ctx, http.MethodGet, "/chats", nil, nil, &out)
	return out.Chats, err
}

// GetChat is one chat as the caller sees it.
func (c *Client) GetChat(ctx context.Context, chatID int64) (ChatSummary, error) {
	var s ChatSummary
	_, err := c.do(ctx, http.MethodGet, chatPath(chatID, ""), nil, nil, &s)
	return s, err
}

// AddMembers adds users of the workspace to a chat (owner or admin) and
// returns its members.
func (c *Client) AddMembers(ctx context.Context, chatID int64, userIDs ...int64) ([]Member, error) {
	var out api.Members
	_, err := c.do(ctx, http.MethodPost, chatPath(chatID, "/members"), nil, map[string][]int64{"user_ids": userIDs}, &out)
	return out.Members, err
}

// Send sends a message. replay is true when the idempotency key was used
// before and the answer is the original message.
func (c *Client) Send(ctx context.Context, chatID int64, m NewMessage) (msg Message, replay bool, err error) {
	h, err := c.do(ctx, http.MethodPost, chatPath(chatID, "/messages"), nil, m, &msg)
	if err != nil {
		return Message{}, false, err
	}
	return msg, h.Get("Idempotent-Replay") == "true", nil
}

// ListMessages reads a page of a chat's history.
func (c *Client) ListMessages(ctx context.Context, chatID int64, p Page) (Messages, error) {
	q := url.Values{}
	switch {
	case p.Forward:
		q.Set("after_seq", strconv.FormatInt(p.Seq, 10))
	case p.Seq > 0:
		q.Set("before_seq", strconv.FormatInt(p.Seq, 10))
	}
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	var out Messages
	_, err := c.do(ctx, http.MethodGet, chatPath(chatID, "/messages"), q, nil, &out)
	return out, err
}

// Search searches the messages of the caller's chats.
func (c *Client) Search(ctx context.Context, s SearchQuery) (SearchResults, error) {
	q := url.Values{"q": {s.Q}}
	if s.ChatID > 0 {
		q.Set("chat_id", strconv.FormatInt(s.ChatID, 10))
	}
	if s.Limit > 0 {
		q.Set("limit", strconv.Itoa(s.Limit))
	}
	if s.Offset > 0 {
		q.Set("offset", strconv.Itoa(s.Offset))
	}
	var out SearchResults
	_, err := c.do(ctx, http.MethodGet, "/search/messages", q, nil, &out)
	return out, err
}

// MarkDelivered moves the caller's delivered pointer in a chat forward to
// seq (lower values are ignored).
func (c *Client) MarkDelivered(ctx context.Context, chatID, seq int64) (Member, error) {
	return c.pointer(ctx, chatID, "/delivered", seq)
}

// MarkRead moves the caller's read pointer (and delivered with it).
func (c *Client) MarkRead(ctx context.Context, chatID, seq int64) (Member, error) {
	return c.pointer(ctx, chatID, "/read", seq)
}

func (c *Client) pointer(ctx context.Context, chatID int64, what string, seq int64) (Member, error) {
	var m Member
	_, err := c.do(ctx, http.MethodPost, chatPath(chatID, what), nil, map[string]int64{"seq": seq}, &m)
	return m, err
}

// SetTyping says the caller started or stopped typing in a chat.
func (c *Client) SetTyping(ctx context.Context, chatID int64, isTyping bool) error {
	_, err := c.do(ctx, http.MethodPost, chatPath(chatID, "/typing"), nil, map[string]bool{"is_typing": isTyping}, nil)
	return err
}

// Presence returns the presence of users.
func (c *Client) Presence(ctx context.Context, userIDs ...int64) ([]Presence, error) {
	ids := make([]string, len(userIDs))
	for i, id := range userIDs {
		ids[i] = strconv.FormatInt(id, 10)
	}
	var out api.PresenceList
	_, err := c.do(ctx, http.MethodGet, "/presence", url.Values{"user_ids": {strings.Join(ids, ",")}}, nil, &out)
	return out.Presence, err
}

func chatPath(chatID int64, rest string) string {
	return "/chats/" + strconv.FormatInt(chatID, 10) + rest
}

// do calls the API: path is under /api/v1, body (if not nil) is sent as
// JSON and a 2xx answer is decoded into out (if not nil). Any other
// status is an *Error.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any) (http.Header, error) {
	u := c.base + apiPrefix + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("client: encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if tok := c.accessToken(); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.Header, decodeError(resp.StatusCode, resp.Header, raw)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.Header, fmt.Errorf("client: %s %s: decode answer: %w", method, path, err)
		}
	}
	return resp.Header, nil
}

package memory

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/identity"
	"github.com/fechatter/fechatter/ports"
)

var _ ports.Transactor = (*Store)(nil)

// Store holds every table of the application behind one mutex. Get the
// port implementations from its methods (Workspaces, Chats, ...); Store
// itself is the Transactor that spans them all.
type Store struct {
	mu     sync.Mutex
	limits chat.Limits
	notify chan struct{}

	ids struct{ workspace, user, token, chat, message, outbox int64 }

	workspaces  map[int64]*identity.Workspace
	wsByName    map[string]int64
	users       map[int64]*identity.User
	userByEmail map[string]int64
	wsUsers     map[int64][]int64 // ascending ids
	invites     map[string]*identity.Invite
	tokens      map[int64]*ports.RefreshToken
	tokenByHash map[string]int64
	families    map[string][]int64
	chats       map[int64]*chatRow
	directs     map[directKey]int64
	userChats   map[int64]map[int64]struct{}
	messages    map[int64]*messageRow
	msgKeys     map[senderKey]int64
	outbox      []ports.OutboxEntry // ascending positions
	files       *FileRepo           // set by NewFileRepo; nil: sends take no files
	profiles    *ProfileRepo        // set by NewProfileRepo: avatars are no orphans
}

// Option configures a Store.
type Option func(*Store)

// WithChatLimits sets the member limits of the chats the store loads
// (chat.DefaultLimits otherwise).
func WithChatLimits(l chat.Limits) Option { return func(s *Store) { s.limits = l } }

// NewStore returns an empty store.
func NewStore(opts ...Option) *Store {
	s := &Store{
		limits:      chat.DefaultLimits,
		notify:      make(chan struct{}, 1),
		workspaces:  make(map[int64]*identity.Workspace),
		wsByName:    make(map[string]int64),
		users:       make(map[int64]*identity.User),
		userByEmail: make(map[string]int64),
		wsUsers:     make(map[int64][]int64),
		invites:     make(map[string]*identity.Invite),
		tokens:      make(map[int64]*ports.RefreshToken),
		tokenByHash: make(map[string]int64),
		families:    make(map[string][]int64),
		chats:       make(map[int64]*chatRow),
		directs:     make(map[directKey]int64),
		userChats:   make(map[int64]map[int64]struct{}),
		messages:    make(map[int64]*messageRow),
		msgKeys:     make(map[senderKey]int64),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Port implementations over this store.
func (s *Store) Workspaces() *WorkspaceRepo          { return &WorkspaceRepo{s} }
func (s *Store) Users() *UserRepo                    { return &UserRepo{s} }
func (s *Store) Invites() *InviteRepo                { return &InviteRepo{s} }
func (s *Store) RefreshTokens() *RefreshTokenRepo    { return &RefreshTokenRepo{s} }
func (s *Store) Chats() *ChatRepo                    { return &ChatRepo{s} }
func (s *Store) Messages() *MessageRepo              { return &MessageRepo{s} }
func (s *Store) Outbox() *Outbox                     { return &Outbox{s} }
func (s *Store) ChatReadModel() *ChatReadModel       { return &ChatReadModel{s} }
func (s *Store) MessageReadModel() *MessageReadModel { return &MessageReadModel{s} }
func (s *Store) Threads() *ThreadRepo                { return &ThreadRepo{s} }

// tx is one transaction: the writes to undo on rollback, newest last.
type tx struct {
	undo   []func()
	events bool        // the transaction added outbox events
	done   atomic.Bool // a ctx that outlives its transaction locks again
}

// onRollback records how to undo a write. Outside a transaction (t nil)
// writes are final.
func (t *tx) onRollback(f func()) {
	if t != nil {
		t.undo = append(t.undo, f)
	}
}

func (t *tx) rollback() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		t.undo[i]()
	}
	t.undo = nil
}

// txKey marks a ctx as inside a transaction of one store.
type txKey struct{ s *Store }

func (s *Store) txOf(ctx context.Context) *tx {
	if t, ok := ctx.Value(txKey{s}).(*tx); ok && !t.done.Load() {
		return t
	}
	return nil
}

// InTx runs fn holding the store's lock; repository calls with fn's ctx
// run under it without locking again. An error from fn (or a panic) undoes
// every write fn made. A nested call joins the outer transaction.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if s.txOf(ctx) != nil {
		return fn(ctx)
	}
	if err := ctx.Err(); err != nil {
		return canceled(err)
	}
	s.mu.Lock()
	t := &tx{}
	committed := false
	defer func() {
		if !committed {
			t.rollback()
		}
		t.done.Store(true)
		s.mu.Unlock()
		if committed && t.events {
			s.signal()
		}
	}()
	if err := fn(context.WithValue(ctx, txKey{s}, t)); err != nil {
		return err
	}
	committed = true
	return nil
}

// enter takes the lock unless ctx is inside a transaction of s, whose tx
// it returns; leave(t) releases what enter took.
func (s *Store) enter(ctx context.Context) (*tx, error) {
	if err := ctx.Err(); err != nil {
		return nil, canceled(err)
	}
	if t := s.txOf(ctx); t != nil {
		return t, nil
	}
	s.mu.Lock()
	return nil, nil
}

func (s *Store) leave(t *tx) {
	if t == nil {
		s.mu.Unlock()
	}
}

func (s *Store) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func canceled(err error) error { return errs.Wrap(errs.Unavailable, err, "request canceled") }

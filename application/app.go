// Package application wires the command and query handlers into App, the
// one thing inbound adapters (HTTP, WebSocket, NATS consumers) call.
package application

import (
	"time"

	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/ports"
)

// App is the application: its commands and its queries.
type App struct {
	Commands Commands
	Queries  Queries
}

// Commands are the write side.
type Commands struct {
	SignUp         command.SignUpHandler
	SignIn         command.SignInHandler
	RefreshSession command.RefreshSessionHandler
	Logout         command.LogoutHandler
	Sessions       command.SessionsHandler // password change, logout everywhere
	CreateInvite   command.CreateInviteHandler
	CreateChat     command.CreateChatHandler
	UpdateChat     command.UpdateChatHandler
	DeleteChat     command.DeleteChatHandler
	AddMembers     command.AddMembersHandler
	RemoveMember   command.RemoveMemberHandler
	ChangeRole     command.ChangeRoleHandler
	JoinChannel    command.JoinChannelHandler
	SendMessage    SendMessageHandler
	EditMessage    command.EditMessageHandler
	DeleteMessage  command.DeleteMessageHandler
	MarkDelivered  command.MarkDeliveredHandler
	MarkRead       command.MarkReadHandler
	React          command.ReactHandler
	UpdateProfile  command.UpdateProfileHandler
	UploadFile     command.UploadFileHandler
	CleanFiles     command.FileCleaner

	// Presence and typing, on this instance's LocalPresence.
	ConnectPresence    command.ConnectPresenceHandler
	DisconnectPresence command.DisconnectPresenceHandler
	TouchPresence      command.TouchPresenceHandler
	SetTyping          command.SetTypingHandler
}

// Queries are the read side.
type Queries struct {
	Me             query.Me
	Directory      query.Directory
	GetWorkspace   query.GetWorkspace
	ListChats      query.ListChats
	ChatPositions  query.ChatPositions
	GetChat        query.GetChat
	ListMembers    query.ListMembers
	BrowseChannels query.BrowseChannels
	ListMessages   query.ListMessages
	GetMessage     query.GetMessage
	SearchMessages query.SearchMessages
	GetReceipts    query.GetReceipts
	GetFile        query.GetFile
	ListReplies    query.ListReplies
	ListMentions   query.ListMentions
	OpenFile       query.OpenFile

	GetPresence query.GetPresence
}

// Ports are the implementations the application runs on.
type Ports struct {
	Tx            ports.Transactor
	Workspaces    ports.WorkspaceRepository
	Users         ports.UserRepository
	Invites       ports.InviteRepository
	RefreshTokens ports.RefreshTokenRepository
	Chats         ports.ChatRepository
	Messages      ports.MessageRepository
	Sender        ports.MessageSender // the write of a send (group commit in Postgres)
	Outbox        ports.Outbox
	ChatReads     query.ChatReadModel
	MessageReads  query.MessageReadModel
	SearchIndex   ports.SearchIndex
	MemberChats   query.MemberChats
	MessageLookup query.MessageLookup
	Receipts      ports.ReceiptRepository
	ReceiptReads  query.ReceiptReadModel

	Clock   ports.Clock
	Hasher  ports.PasswordHasher
	Tokens  ports.TokenIssuer
	Secrets ports.SecretGenerator

	// Failure-only limits (shared across instances in production).
	SignInByEmail   ports.FailureLimiter
	SignInByAddress ports.FailureLimiter
	InviteFailures  ports.FailureLimiter
	PasswordChecks  ports.FailureLimiter
	SignUpByAddress ports.RateLimiter
	SendLimiter     ports.RateLimiter

	// Presence is this instance's presence and typing state, PresenceView
	// the merged presence of every instance, LastSeen the stored activity.
	Presence     *command.LocalPresence
	PresenceView query.PresenceView
	LastSeen     ports.LastSeenRepository

	// Files and reactions (issue 14).
	Reactions     ports.ReactionRepository
	Threads       ports.ThreadRepository
	Profiles      ports.ProfileRepository
	ThreadReads   query.ThreadReadModel
	Files         ports.FileRepository
	FileStore     ports.FileStore
	FileInspector ports.FileInspector
	FileLinks     query.FileLinks
}

// Options are the application's tunables.
type Options struct {
	Limits     chat.Limits
	RefreshTTL time.Duration
	Files      command.FileLimits
}

// New builds the App. It panics if a port is missing: that is a wiring bug.
func New(p Ports, o Options) App {
	if o.Limits == (chat.Limits{}) {
		o.Limits = chat.DefaultLimits
	}
	if o.RefreshTTL == 0 {
		o.RefreshTTL = 30 * 24 * time.Hour
	}
	avatars := query.NewAvatars(p.Profiles, p.FileLinks)
	sessions := command.NewSessionIssuer(p.Tokens, p.RefreshTokens, p.Workspaces, p.Secrets, p.Clock, o.RefreshTTL)
	return App{
		Commands: Commands{
			SignUp:         command.NewSignUpHandler(p.Tx, p.Workspaces, p.Users, p.Invites, p.Hasher, sessions, p.SignUpByAddress, p.InviteFailures),
			SignIn:         command.NewSignInHandler(p.Users, p.Hasher, p.SignInByEmail, p.SignInByAddress, sessions),
			RefreshSession: command.NewRefreshSessionHandler(p.Tx, p.Users, p.RefreshTokens, p.Outbox, sessions),
			Logout:         command.NewLogoutHandler(p.Tx, p.RefreshTokens, p.Outbox, p.Clock),
			Sessions:       command.NewSessionsHandler(p.Tx, p.Users, p.RefreshTokens, p.Hasher, p.Outbox, p.Clock, p.PasswordChecks),
			CreateInvite:   command.NewCreateInviteHandler(p.Users, p.Invites, p.Secrets, p.Clock),
			CreateChat:     command.NewCreateChatHandler(p.Tx, p.Chats, p.Users, p.Outbox, p.Clock, o.Limits),
			UpdateChat:     command.NewUpdateChatHandler(p.Tx, p.Chats, p.Outbox, p.Clock),
			DeleteChat:     command.NewDeleteChatHandler(p.Tx, p.Chats, p.Outbox, p.Clock),
			AddMembers:     command.NewAddMembersHandler(p.Tx, p.Chats, p.Users, p.Outbox, p.Clock),
			RemoveMember:   command.NewRemoveMemberHandler(p.Tx, p.Chats, p.Outbox, p.Clock),
			ChangeRole:     command.NewChangeRoleHandler(p.Tx, p.Chats, p.Outbox, p.Clock),
			JoinChannel:    command.NewJoinChannelHandler(p.Tx, p.Chats, p.Outbox, p.Clock),
			SendMessage:    command.StopTypingOnSend(command.NewSendMessageHandler(p.Sender, p.Messages, p.Clock, p.SendLimiter).WithPreviewers(p.Chats).WithFiles(p.Files, p.FileLinks), p.Presence),
			EditMessage:    command.NewEditMessageHandler(p.Tx, p.Chats, p.Messages, p.Outbox, p.Clock).WithReads(p.MessageReads, p.FileLinks),
			DeleteMessage: command.NewDeleteMessageHandler(p.Tx, p.Chats, p.Messages, p.Outbox, p.Clock).
				WithAttachments(p.Reactions, p.Files, command.NewFileCleaner(p.Files, p.FileStore, p.Clock)).WithThreads(p.Threads),
			MarkDelivered: command.NewMarkDeliveredHandler(p.Tx, p.Chats, p.Receipts, p.Outbox, p.Clock),
			MarkRead:      command.NewMarkReadHandler(p.Tx, p.Chats, p.Receipts, p.Outbox, p.Clock),
			UpdateProfile: command.NewUpdateProfileHandler(p.Tx, p.Users, p.Profiles, p.Files, p.Outbox, p.Clock, avatars),
			React:         command.NewReactHandler(p.Tx, p.Chats, p.Messages, p.Reactions, p.Outbox, p.Clock),
			CleanFiles:    command.NewFileCleaner(p.Files, p.FileStore, p.Clock),
			UploadFile:    command.NewUploadFileHandler(p.Files, p.FileStore, p.FileInspector, p.Secrets, p.FileLinks, p.Clock, o.Files),

			ConnectPresence:    command.NewConnectPresenceHandler(p.Presence),
			DisconnectPresence: command.NewDisconnectPresenceHandler(p.Presence),
			TouchPresence:      command.NewTouchPresenceHandler(p.Presence),
			SetTyping:          command.NewSetTypingHandler(p.Chats, p.Presence),
		},
		Queries: Queries{
			Me:             query.NewMe(p.Users).WithAvatars(avatars),
			Directory:      query.NewDirectory(p.Users).WithAvatars(avatars),
			GetWorkspace:   query.NewGetWorkspace(p.Workspaces),
			ListChats:      query.NewListChats(p.ChatReads),
			ChatPositions:  query.NewChatPositions(p.ChatReads),
			GetChat:        query.NewGetChat(p.ChatReads),
			ListMembers:    query.NewListMembers(p.ChatReads),
			BrowseChannels: query.NewBrowseChannels(p.ChatReads),
			ListMessages:   query.NewListMessages(p.Chats, p.MessageReads).WithPublicPreview(p.ChatReads).WithFileLinks(p.FileLinks),
			GetMessage:     query.NewGetMessage(p.Chats, p.MessageReads).WithPublicPreview(p.ChatReads).WithFileLinks(p.FileLinks),
			SearchMessages: query.NewSearchMessages(p.SearchIndex, p.MemberChats, p.MessageLookup).WithPublicPreview(p.ChatReads).WithFileLinks(p.FileLinks),
			GetReceipts:    query.NewGetReceipts(p.Chats, p.ReceiptReads),
			GetFile:        query.NewGetFile(p.Files, p.FileLinks),
			ListReplies:    query.NewListReplies(p.Chats, p.MessageReads, p.ThreadReads, p.FileLinks),
			ListMentions:   query.NewListMentions(p.ThreadReads, p.FileLinks),
			OpenFile:       query.NewOpenFile(p.Files, p.FileStore, p.FileLinks),

			GetPresence: query.NewGetPresence(p.Users, p.PresenceView, p.LastSeen),
		},
	}
}

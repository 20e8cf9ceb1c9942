package command

import (
	"context"

	"github.com/fechatter/fechatter/api"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/identity"
	"github.com/fechatter/fechatter/ports"
)

// EventUserUpdated is the type of the user.updated event.
const EventUserUpdated = api.FrameUserUpdated

// UpdateProfile changes the caller's full name and/or avatar.
type UpdateProfile struct {
	Actor    Actor
	Fullname *string
	// AvatarFileID names an image the caller uploaded; 0 removes the
	// avatar; nil leaves it.
	AvatarFileID *int64
}

// UpdateProfileHandler handles UpdateProfile.
type UpdateProfileHandler struct {
	tx       ports.Transactor
	users    ports.UserRepository
	profiles ports.ProfileRepository
	files    ports.FileRepository
	outbox   ports.Outbox
	clock    ports.Clock
	avatars  query.Avatars
}

// NewUpdateProfileHandler builds the handler.
func NewUpdateProfileHandler(tx ports.Transactor, users ports.UserRepository, profiles ports.ProfileRepository, files ports.FileRepository, outbox ports.Outbox, clock ports.Clock, avatars query.Avatars) UpdateProfileHandler {
	mustHave(map[string]any{"tx": tx, "users": users, "profiles": profiles, "files": files, "outbox": outbox, "clock": clock})
	return UpdateProfileHandler{tx: tx, users: users, profiles: profiles, files: files, outbox: outbox, clock: clock, avatars: avatars}
}

// Handle applies the change and tells the members of every chat the user
// is in (user.updated). A new full name also asks the search indexer to
// index again, chat by chat, the messages that mention the user
// (message.reindex), so they are found by the new name.
func (h UpdateProfileHandler) Handle(ctx context.Context, cmd UpdateProfile) (query.User, error) {
	var name string
	if cmd.Fullname != nil {
		n, err := identity.ValidateFullname(*cmd.Fullname)
		if err != nil {
			return query.User{}, err
		}
		name = n
	}
	if cmd.AvatarFileID != nil && *cmd.AvatarFileID < 0 {
		return query.User{}, errs.Invalidf("avatar_file_id must be a file id, or 0 to remove the avatar")
	}
	var out query.User
	err := h.tx.InTx(ctx, func(ctx context.Context) error {
		u, err := h.users.ByID(ctx, cmd.Actor.UserID)
		if err != nil {
			return err
		}
		if cmd.Fullname == nil {
			name = u.Fullname
		}
		current, err := h.profiles.Avatars(ctx, []int64{u.ID})
		if err != nil {
			return err
		}
		avatar := current[u.ID]
		if cmd.AvatarFileID != nil {
			avatar = *cmd.AvatarFileID
			if avatar != 0 {
				f, err := h.files.ByID(ctx, avatar)
				if errs.Is(err, errs.NotFound) {
					return errs.NotFoundf("file %d not found", avatar)
				}
				if err != nil {
					return err
				}
				if err := f.UsableAsAvatar(u.ID); err != nil {
					return err
				}
			}
		}
		if err := h.profiles.SetProfile(ctx, u.ID, name, avatar); err != nil {
			return err
		}
		renamed := u.Fullname != name
		u.Fullname = name
		out = h.avatars.Show(query.UserOf(u), avatar)
		chats, err := h.profiles.ChatsOf(ctx, u.ID)
		if err != nil {
			return err
		}
		ev := eventRecorder{clock: h.clock, ws: cmd.Actor.WorkspaceID}
		for _, c := range chats {
			ev.chat(EventUserUpdated, c, out)
			if renamed {
				// Search finds messages by the names of those they mention.
				ev.chat(ports.EventMessagesReindex, c, ports.MessagesReindexData{ChatID: c, MentionedUserID: u.ID})
			}
		}
		return ev.save(ctx, h.outbox)
	})
	return out, err
}

package query

import (
	"context"

	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/errs"
)

// The public channel preview rule (as in Slack): any member of the
// workspace may read a public channel's history, one message, and search
// within it (with its chat_id) before joining. Everything else (sending,
// editing, reactions, receipts, typing, the member list of other chat types)
// still needs membership, and a previewer is not a member.

// WithPublicPreview lets workspace members read public channels' history.
func (h ListMessages) WithPublicPreview(chats ChatReadModel) ListMessages {
	h.preview = chats
	return h
}

// WithPublicPreview lets workspace members read public channels' messages.
func (h GetMessage) WithPublicPreview(chats ChatReadModel) GetMessage {
	h.preview = chats
	return h
}

// WithPublicPreview lets workspace members search a public channel they
// have not joined when they name it with chat_id.
func (h SearchMessages) WithPublicPreview(chats ChatReadModel) SearchMessages {
	h.preview = chats
	return h
}

// checkReader is checkMember plus the preview rule when chats is set.
func checkReader(ctx context.Context, members MembershipChecker, chats ChatReadModel, v Viewer, chatID int64) error {
	err := checkMember(ctx, members, v, chatID)
	if !errs.Is(err, errs.NotFound) || chats == nil {
		return err
	}
	if ok, perr := previewable(ctx, chats, v, chatID); perr != nil {
		return perr
	} else if ok {
		return nil
	}
	return err
}

// previewable reports whether chatID is a public channel of the viewer's
// workspace.
func previewable(ctx context.Context, chats ChatReadModel, v Viewer, chatID int64) (bool, error) {
	if chats == nil || chatID <= 0 {
		return false, nil
	}
	s, err := chats.ChatSummary(ctx, v.WorkspaceID, chatID, v.UserID)
	if errs.Is(err, errs.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return chat.Type(s.Type) == chat.PublicChannel && s.WorkspaceID == v.WorkspaceID, nil
}

package command

import (
	"github.com/fechatter/fechatter/api"
	"github.com/fechatter/fechatter/domain/message"
)

// EventThreadUpdated is the type of the thread.updated event.
const EventThreadUpdated = api.FrameThreadUpdated

// ThreadUpdatedEvent is the data of thread.updated.
type ThreadUpdatedEvent = api.ThreadUpdate

func threadEvent(chatID int64, t message.ThreadState) ThreadUpdatedEvent {
	ev := ThreadUpdatedEvent{ChatID: chatID, RootID: t.RootID, RootSeq: t.RootSeq, ReplyCount: t.ReplyCount}
	if !t.LastReplyAt.IsZero() {
		at := t.LastReplyAt.UTC()
		ev.LastReplyAt = &at
	}
	return ev
}

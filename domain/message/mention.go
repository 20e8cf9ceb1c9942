package message

import (
	"slices"
	"strconv"
	"strings"

	"github.com/fechatter/fechatter/domain/errs"
)

// MentionAll is the token that mentions every member of the chat.
const MentionAll = "<!all>"

// Mentions are the users a message mentions and whether it mentions all.
type Mentions struct {
	UserIDs []int64 // each once, in order of first appearance
	All     bool
}

// ParseMentions finds <@123> (user 123) and <!all> in content. Tokens that
// are not well formed (<@>, <@0>, <@12a>, an id beyond int64) are text.
func ParseMentions(content string) Mentions {
	var out Mentions
	rest := content
	for {
		i := strings.IndexByte(rest, '<')
		if i < 0 {
			return out
		}
		rest = rest[i:]
		if strings.HasPrefix(rest, MentionAll) {
			out.All = true
			rest = rest[len(MentionAll):]
			continue
		}
		if strings.HasPrefix(rest, "<@") {
			end := strings.IndexByte(rest, '>')
			if end > 2 {
				digits := rest[2:end]
				if id, err := strconv.ParseInt(digits, 10, 64); err == nil && id > 0 && digits[0] != '+' && digits[0] != '0' {
					if !slices.Contains(out.UserIDs, id) {
						out.UserIDs = append(out.UserIDs, id)
					}
					rest = rest[end+1:]
					continue
				}
			}
		}
		rest = rest[1:]
	}
}

// OnlyMembers keeps the mentioned users who are members of the chat, in
// order: mentioning anyone else is text, not a mention.
func (m Mentions) OnlyMembers(isMember func(userID int64) bool) Mentions {
	out := Mentions{All: m.All}
	for _, id := range m.UserIDs {
		if isMember(id) {
			out.UserIDs = append(out.UserIDs, id)
		}
	}
	return out
}

// Includes reports whether user is mentioned: by id, or by <!all>.
func (m Mentions) Includes(userID int64) bool {
	return m.All || slices.Contains(m.UserIDs, userID)
}

// ThreadRootFor returns the thread root of a reply to parent: the parent's
// own root when it is a reply itself, else the parent. The parent must be
// a message of chatID (invalid otherwise, as if it did not exist).
func ThreadRootFor(chatID int64, parent *Message) (int64, error) {
	if parent == nil || parent.chatID != chatID {
		return 0, errs.Invalidf("reply_to_id must name a message of chat %d", chatID)
	}
	if parent.threadRootID != 0 {
		return parent.threadRootID, nil
	}
	return parent.id, nil
}

// ThreadRootID is the root of the thread this message replies in, 0 when
// it is not a reply.
func (m *Message) ThreadRootID() int64 { return m.threadRootID }

// SetThreadRoot records the thread root of a reply (ThreadRootFor), or the
// root stored with the message.
func (m *Message) SetThreadRoot(rootID int64) { m.threadRootID = rootID }

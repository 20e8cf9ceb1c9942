package message_test

import (
	"slices"
	"testing"
	"time"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/message"
)

func TestParseMentions(t *testing.T) {
	tests := []struct {
		content string
		ids     []int64
		all     bool
	}{
		{"hello", nil, false},
		{"hi <@12>", []int64{12}, false},
		{"<@12> and <@7> and <@12> again", []int64{12, 7}, false},
		{"<!all> standup", nil, true},
		{"<@3><!all><@4>", []int64{3, 4}, true},
		{"<@> <@0> <@-1> <@+5> <@007> <@12a> <@ 12>", nil, false},
		{"<@99999999999999999999>", nil, false},
		{"<@9223372036854775807>", []int64{9223372036854775807}, false},
		{"<<@5>>", []int64{5}, false},
		{"<!ALL> <!everyone> <all>", nil, false},
		{"email me at <a@b.c>", nil, false},
		{"unterminated <@12", nil, false},
		{"`<@8>` in code still mentions", []int64{8}, false},
	}
	for _, tt := range tests {
		t.Run(tt.content, func(t *testing.T) {
			got := message.ParseMentions(tt.content)
			if !slices.Equal(got.UserIDs, tt.ids) || got.All != tt.all {
				t.Errorf("ParseMentions(%q) = %v %v, want %v %v", tt.content, got.UserIDs, got.All, tt.ids, tt.all)
			}
		})
	}
}

func TestMentionsOnlyMembers(t *testing.T) {
	m := message.ParseMentions("<@1> <@2> <@3> <!all>")
	got := m.OnlyMembers(func(id int64) bool { return id != 2 })
	if !slices.Equal(got.UserIDs, []int64{1, 3}) || !got.All {
		t.Fatalf("got %v %v", got.UserIDs, got.All)
	}
	if !got.Includes(3) || got.Includes(99) == false {
		t.Errorf("<!all> includes everyone")
	}
	none := message.ParseMentions("<@1>").OnlyMembers(func(int64) bool { return false })
	if none.Includes(1) || len(none.UserIDs) != 0 {
		t.Errorf("a non-member is not mentioned")
	}
}

func TestThreadRootFor(t *testing.T) {
	var zero time.Time
	root := message.UnmarshalFromDatabase(100, chatID, 1, sender, "root", 0, "", t0, zero, zero)
	reply := message.UnmarshalFromDatabase(101, chatID, 2, otherUser, "reply", 100, "", t1, zero, zero)
	reply.SetThreadRoot(100)
	other := message.UnmarshalFromDatabase(200, chatID+1, 1, sender, "elsewhere", 0, "", t0, zero, zero)
	tests := []struct {
		name   string
		parent *message.Message
		want   int64
		ok     bool
	}{
		{"reply to a root", root, 100, true},
		{"reply to a reply has the same root", reply, 100, true},
		{"parent in another chat", other, 0, false},
		{"no parent", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := message.ThreadRootFor(chatID, tt.parent)
			if tt.ok && (err != nil || got != tt.want) {
				t.Fatalf("got %d %v, want %d", got, err, tt.want)
			}
			if !tt.ok && !errs.Is(err, errs.Invalid) {
				t.Fatalf("err = %v, want invalid", err)
			}
		})
	}
}

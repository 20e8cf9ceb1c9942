package ports

import "context"

// ProfileRepository keeps what users say of themselves beyond sign-up.
type ProfileRepository interface {
	// SetProfile writes a user's full name and avatar (0: none).
	SetProfile(ctx context.Context, userID int64, fullname string, avatarFileID int64) error
	// Avatars returns the avatar file of each of users that has one.
	Avatars(ctx context.Context, userIDs []int64) (map[int64]int64, error)
	// ChatsOf lists the chats a user is a member of.
	ChatsOf(ctx context.Context, userID int64) ([]int64, error)
}

package query

import (
	"context"

	"github.com/fechatter/fechatter/ports"
)

// Avatars shows users with their avatar links.
type Avatars struct {
	profiles ports.ProfileRepository
	links    FileLinks
}

// NewAvatars builds the helper; with nil profiles users show no avatar.
func NewAvatars(profiles ports.ProfileRepository, links FileLinks) Avatars {
	return Avatars{profiles: profiles, links: links}
}

// Show gives u the signed thumbnail link of avatar file id (0: none).
func (a Avatars) Show(u User, fileID int64) User {
	u.AvatarURL = nil
	if fileID > 0 {
		link := a.links.URL(LinkThumbnail, fileID)
		u.AvatarURL = &link
	}
	return u
}

// Fill sets the avatar links of users in one look-up.
func (a Avatars) Fill(ctx context.Context, users []User) error {
	if a.profiles == nil || len(users) == 0 {
		return nil
	}
	ids := make([]int64, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	av, err := a.profiles.Avatars(ctx, ids)
	if err != nil {
		return err
	}
	for i := range users {
		users[i] = a.Show(users[i], av[users[i].ID])
	}
	return nil
}

package command

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/google/uuid"

	"github.com/fechatter/fechatter/api"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/identity"
	"github.com/fechatter/fechatter/ports"
)

// AuthResult is what signup, signin and refresh answer.
type AuthResult = api.AuthResult

// SessionIssuer mints access and refresh tokens for a user.
type SessionIssuer struct {
	tokens     ports.TokenIssuer
	refresh    ports.RefreshTokenRepository
	workspaces ports.WorkspaceRepository
	secrets    ports.SecretGenerator
	clock      ports.Clock
	refreshTTL time.Duration
}

// HashRefreshToken is how refresh tokens are stored: only their SHA-256.
// They are random 256-bit values, so a fast hash is enough.
func HashRefreshToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// issue starts or continues the refresh-token family.
func (s SessionIssuer) issue(ctx context.Context, u identity.User, familyID string) (AuthResult, error) {
	now := s.clock.Now()
	if familyID == "" {
		familyID = uuid.NewString()
	}
	secret := s.secrets.Secret(32)
	rt := &ports.RefreshToken{UserID: u.ID, FamilyID: familyID, Hash: HashRefreshToken(secret),
		ExpiresAt: now.Add(s.refreshTTL), CreatedAt: now}
	if err := s.refresh.Create(ctx, rt); err != nil {
		return AuthResult{}, err
	}
	access, err := s.tokens.Issue(ports.AccessClaims{UserID: u.ID, WorkspaceID: u.WorkspaceID,
		SessionID: familyID, ExpiresAt: now.Add(s.tokens.TTL())})
	if err != nil {
		return AuthResult{}, err
	}
	ws, err := s.workspaces.ByID(ctx, u.WorkspaceID)
	if err != nil {
		return AuthResult{}, err
	}
	return AuthResult{User: query.UserOf(u), Workspace: query.WorkspaceOf(ws), AccessToken: access,
		RefreshToken: secret, ExpiresIn: int(s.tokens.TTL() / time.Second)}, nil
}

// NewSessionIssuer builds what signup, signin and refresh share.
func NewSessionIssuer(tokens ports.TokenIssuer, refresh ports.RefreshTokenRepository, workspaces ports.WorkspaceRepository,
	secrets ports.SecretGenerator, clock ports.Clock, refreshTTL time.Duration) SessionIssuer {
	mustHave(map[string]any{"tokens": tokens, "refresh": refresh, "workspaces": workspaces, "secrets": secrets, "clock": clock})
	return SessionIssuer{tokens: tokens, refresh: refresh, workspaces: workspaces, secrets: secrets, clock: clock, refreshTTL: refreshTTL}
}

package security

import (
	"errors"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

// JWTIssuer issues HS256-signed access tokens.
type JWTIssuer struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
}

var _ ports.TokenIssuer = (*JWTIssuer)(nil)

// NewJWTIssuer needs a secret of at least 32 bytes.
func NewJWTIssuer(secret []byte, ttl time.Duration, clock ports.Clock) (*JWTIssuer, error) {
	if len(secret) < 32 {
		return nil, errors.New("jwt secret must be at least 32 bytes")
	}
	if ttl <= 0 {
		return nil, errors.New("access token ttl must be positive")
	}
	return &JWTIssuer{secret: secret, ttl: ttl, now: clock.Now}, nil
}

type accessClaims struct {
	WorkspaceID int64  `json:"wid"`
	SessionID   string `json:"sid"`
	jwt.RegisteredClaims
}

const issuer = "fechatter"

// TTL is the lifetime of access tokens.
func (j *JWTIssuer) TTL() time.Duration { return j.ttl }

// Issue signs the claims.
func (j *JWTIssuer) Issue(c ports.AccessClaims) (string, error) {
	now := j.now()
	claims := accessClaims{WorkspaceID: c.WorkspaceID, SessionID: c.SessionID,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   strconv.FormatInt(c.UserID, 10),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(c.ExpiresAt),
		}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(j.secret)
}

// Verify checks the signature, the algorithm and expiry.
func (j *JWTIssuer) Verify(token string) (ports.AccessClaims, error) {
	var claims accessClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return j.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(j.now))
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return ports.AccessClaims{}, errs.Unauthenticatedf("access token expired; refresh it")
		}
		return ports.AccessClaims{}, errs.Unauthenticatedf("access token is invalid")
	}
	uid, err := strconv.ParseInt(claims.Subject, 10, 64)
	if err != nil || uid <= 0 || claims.WorkspaceID <= 0 {
		return ports.AccessClaims{}, errs.Unauthenticatedf("access token is invalid")
	}
	return ports.AccessClaims{UserID: uid, WorkspaceID: claims.WorkspaceID, SessionID: claims.SessionID,
		ExpiresAt: claims.ExpiresAt.Time}, nil
}

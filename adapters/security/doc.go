// Package security implements the password hasher (argon2id) and the access
// token issuer (HS256 JWTs) ports.
package security

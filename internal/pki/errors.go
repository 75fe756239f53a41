package pki

import "errors"

// Sentinel errors. Callers distinguish them with errors.Is.
var (
	// ErrBadEntity means a string is not an entity name (TYPE.ID).
	ErrBadEntity = errors.New("pki: bad entity name")
	// ErrExists means Save found a CA already in the directory.
	ErrExists = errors.New("pki: CA already exists")
	// ErrMissing means a key or certificate file does not exist.
	ErrMissing = errors.New("pki: file missing")
	// ErrBadFile means a key or certificate file cannot be used: it cannot
	// be read, holds no PEM block of the right kind, or its certificate
	// and key (or certificate and CA) do not belong together.
	ErrBadFile = errors.New("pki: bad key file")
	// ErrInvalid means an argument is unusable: a non-positive validity, a
	// bad host name, a CA that has expired, a certificate for another
	// entity.
	ErrInvalid = errors.New("pki: invalid argument")
	// ErrUnverified means a connection has no verified peer certificate.
	ErrUnverified = errors.New("pki: peer not verified")
	// ErrExpired means a certificate is outside its validity period
	// (expired, or not valid yet).
	ErrExpired = errors.New("pki: certificate expired")
)

// hint is what to do about a missing or bad key file.
const hint = "run `loligo mon --bootstrap` or copy the keys from the bootstrap mon"

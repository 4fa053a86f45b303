package api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
)

// Role is what a token may do. Write includes read.
type Role int

const (
	// Public routes need no token (none of the API's; the probes and
	// /metrics are on their own listener).
	Public Role = iota
	// Read may list and get.
	Read
	// Write may also create, change and delete.
	Write
)

func (r Role) String() string {
	switch r {
	case Read:
		return "read"
	case Write:
		return "write"
	}
	return "public"
}

// Token is one accepted bearer token, known only by its SHA-256 hash: the
// file or Secret the server reads never holds a usable token.
type Token struct {
	// Name says whose token it is: logged, and recorded as the publisher
	// of journey versions.
	Name string
	Role Role
	Hash [sha256.Size]byte
}

// Tokens is the set of accepted tokens.
type Tokens []Token

// HashToken returns the hex SHA-256 of a token, as a tokens file holds it.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// ParseTokens reads a tokens file: one token a line as
// "NAME ROLE SHA256-HEX", ROLE read or write; blank lines and lines
// starting with # are ignored.
func ParseTokens(r io.Reader) (Tokens, error) {
	var out Tokens
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("tokens line %d: want NAME ROLE SHA256-HEX, got %d fields", n, len(f))
		}
		var t Token
		t.Name = f[0]
		switch f[1] {
		case "read":
			t.Role = Read
		case "write":
			t.Role = Write
		default:
			return nil, fmt.Errorf("tokens line %d: role %q: want read or write", n, f[1])
		}
		h, err := hex.DecodeString(f[2])
		if err != nil || len(h) != sha256.Size {
			return nil, fmt.Errorf("tokens line %d: %q is not a hex SHA-256 (64 hex digits; hash a token with sha256sum)", n, f[2])
		}
		copy(t.Hash[:], h)
		for _, o := range out {
			if o.Hash == t.Hash {
				return nil, fmt.Errorf("tokens line %d: the same token as %q", n, o.Name)
			}
		}
		out = append(out, t)
	}
	return out, sc.Err()
}

// LoadTokens reads a tokens file (a mounted Secret).
func LoadTokens(path string) (Tokens, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := ParseTokens(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// match returns the token whose hash is the presented token's. It
// compares with every token in constant time and does not stop at a
// match, so response time says nothing about which hash bytes matched.
func (ts Tokens) match(presented string) (Token, bool) {
	h := sha256.Sum256([]byte(presented))
	found := -1
	for i := range ts {
		if subtle.ConstantTimeCompare(h[:], ts[i].Hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Token{}, false
	}
	return ts[found], true
}

// authenticate checks the request's bearer token against role; on
// failure it returns the 401 or 403 to send.
func (ts Tokens) authenticate(r *http.Request, role Role) (Token, *Error) {
	if role == Public {
		return Token{}, nil
	}
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if h == "" {
		return Token{}, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "missing bearer token (Authorization: Bearer TOKEN)"}
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return Token{}, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "Authorization header is not a bearer token"}
	}
	t, ok := ts.match(strings.TrimSpace(tok))
	if !ok {
		return Token{}, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "unknown bearer token"}
	}
	if t.Role < role {
		return t, &Error{Status: http.StatusForbidden, Code: "forbidden", Message: fmt.Sprintf("token %q has the %s role; this route needs %s", t.Name, t.Role, role)}
	}
	return t, nil
}

// WatchTokens re-reads the tokens file at path every interval until ctx
// ends and gives the server what it holds when that changes, so that a
// rotated Secret (which Kubernetes updates in the mounted volume) takes
// effect without a restart. A file that does not parse is logged and the
// tokens in force are kept: a bad edit never locks everyone out, nor
// lets anyone in.
func (s *Server) WatchTokens(ctx context.Context, path string, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var reported []byte // the invalid file last logged, not to log it every tick
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b, err := os.ReadFile(path)
		if err != nil {
			s.opts.Logger.Error("api tokens file unreadable; keeping the tokens in force", "path", path, "err", err)
			continue
		}
		tokens, err := ParseTokens(bytes.NewReader(b))
		if err != nil {
			if !bytes.Equal(b, reported) {
				s.opts.Logger.Error("api tokens file invalid; keeping the tokens in force", "path", path, "err", err)
				reported = b
			}
			continue
		}
		reported = nil
		if slices.Equal(tokens, *s.tokens.Load()) {
			continue
		}
		s.SetTokens(tokens)
		s.opts.Logger.Info("api tokens reloaded", "path", path, "tokens", len(tokens))
	}
}

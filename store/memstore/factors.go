package memstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gin-authkit/authkit/store"
)

// factorTable holds second factors, recovery codes and challenges, under
// a mutex of its own. Its zero value is empty and ready to use.
type factorTable struct {
	mu         sync.Mutex
	byUser     map[string][]store.Factor
	owners     map[factorKey]string
	recovery   map[string]map[store.Digest]bool
	challenges map[store.Digest]challenge
}

type factorKey struct {
	kind store.FactorKind
	id   string
}

type challenge struct {
	value []byte
	exp   time.Time
}

var (
	_ store.FactorStore       = (*Store)(nil)
	_ store.RecoveryCodeStore = (*Store)(nil)
	_ store.ChallengeStore    = (*Store)(nil)
)

// begin checks the context and the username and locks the table. A
// username that fails validation reports ok false: it has no factors.
func (s *Store) begin(ctx context.Context, op, username string) (t *factorTable, ok bool, err error) {
	if err := ctxErr(ctx, op); err != nil {
		return nil, false, err
	}
	if store.ValidateUsername(username) != nil {
		return nil, false, nil
	}
	t = &s.factors
	t.mu.Lock()
	return t, true, nil
}

// AddFactor implements [store.FactorStore].
func (s *Store) AddFactor(ctx context.Context, username string, f store.Factor) error {
	if err := store.ValidateUsername(username); err != nil {
		return fmt.Errorf("memstore: add factor: %w", err)
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("memstore: add factor: %w", err)
	}
	t, _, err := s.begin(ctx, "add factor", username)
	if err != nil {
		return err
	}
	defer t.mu.Unlock()
	k := factorKey{f.Kind, f.ID}
	if f.Kind != store.TOTP {
		if owner, ok := t.owners[k]; ok && owner != username {
			return fmt.Errorf("memstore: add factor: %w", store.ErrExists)
		}
	}
	mine := t.byUser[username]
	i := slices.IndexFunc(mine, func(g store.Factor) bool { return g.Kind == f.Kind && g.ID == f.ID })
	switch {
	case i >= 0 && mine[i].Confirmed:
		return fmt.Errorf("memstore: add factor: %w", store.ErrExists)
	case i >= 0:
		mine = slices.Delete(mine, i, i+1)
	case len(mine) >= store.MaxFactors:
		return fmt.Errorf("memstore: add factor: %w: more than %d factors", store.ErrInvalid, store.MaxFactors)
	}
	f.Data = bytes.Clone(f.Data)
	if t.byUser == nil {
		t.byUser = make(map[string][]store.Factor)
		t.owners = make(map[factorKey]string)
	}
	t.byUser[username] = append(mine, f)
	if f.Kind != store.TOTP {
		t.owners[k] = username
	}
	return nil
}

// Factors implements [store.FactorStore].
func (s *Store) Factors(ctx context.Context, username string) ([]store.Factor, error) {
	t, ok, err := s.begin(ctx, "factors", username)
	if !ok {
		return nil, err
	}
	defer t.mu.Unlock()
	out := make([]store.Factor, 0, len(t.byUser[username]))
	for _, f := range t.byUser[username] {
		f.Data = bytes.Clone(f.Data)
		out = append(out, f)
	}
	store.SortFactors(out)
	return out, nil
}

// FactorOwner implements [store.FactorStore].
func (s *Store) FactorOwner(ctx context.Context, kind store.FactorKind, id string) (string, error) {
	if err := ctxErr(ctx, "factor owner"); err != nil {
		return "", err
	}
	t := &s.factors
	t.mu.Lock()
	defer t.mu.Unlock()
	if owner, ok := t.owners[factorKey{kind, id}]; ok && kind != store.TOTP {
		return owner, nil
	}
	return "", notFound("factor owner")
}

// UseFactor implements [store.FactorStore].
func (s *Store) UseFactor(ctx context.Context, username string, kind store.FactorKind, id string, counter uint64, at time.Time) (store.Factor, error) {
	t, ok, err := s.begin(ctx, "use factor", username)
	if !ok {
		if err == nil {
			err = notFound("use factor")
		}
		return store.Factor{}, err
	}
	defer t.mu.Unlock()
	mine := t.byUser[username]
	i := slices.IndexFunc(mine, func(g store.Factor) bool { return g.Kind == kind && g.ID == id })
	if i < 0 {
		return store.Factor{}, notFound("use factor")
	}
	f := &mine[i]
	if !store.Accepts(f.Counter, counter) {
		return store.Factor{}, fmt.Errorf("memstore: use factor: %w", store.ErrReused)
	}
	f.Counter, f.LastUsed, f.Confirmed = counter, at, true
	out := *f
	out.Data = bytes.Clone(f.Data)
	return out, nil
}

// RemoveFactor implements [store.FactorStore].
func (s *Store) RemoveFactor(ctx context.Context, username string, kind store.FactorKind, id string) error {
	t, ok, err := s.begin(ctx, "remove factor", username)
	if !ok {
		if err == nil {
			err = notFound("remove factor")
		}
		return err
	}
	defer t.mu.Unlock()
	mine := t.byUser[username]
	i := slices.IndexFunc(mine, func(g store.Factor) bool { return g.Kind == kind && g.ID == id })
	if i < 0 {
		return notFound("remove factor")
	}
	t.byUser[username] = slices.Delete(mine, i, i+1)
	if kind != store.TOTP {
		delete(t.owners, factorKey{kind, id})
	}
	return nil
}

// SetRecoveryCodes implements [store.RecoveryCodeStore].
func (s *Store) SetRecoveryCodes(ctx context.Context, username string, codes []store.Digest) error {
	if err := store.ValidateUsername(username); err != nil {
		return fmt.Errorf("memstore: set recovery codes: %w", err)
	}
	if err := store.ValidateRecoveryCodes(codes); err != nil {
		return fmt.Errorf("memstore: set recovery codes: %w", err)
	}
	t, _, err := s.begin(ctx, "set recovery codes", username)
	if err != nil {
		return err
	}
	defer t.mu.Unlock()
	if len(codes) == 0 {
		delete(t.recovery, username)
		return nil
	}
	set := make(map[store.Digest]bool, len(codes))
	for _, c := range codes {
		set[c] = true
	}
	if t.recovery == nil {
		t.recovery = make(map[string]map[store.Digest]bool)
	}
	t.recovery[username] = set
	return nil
}

// UseRecoveryCode implements [store.RecoveryCodeStore].
func (s *Store) UseRecoveryCode(ctx context.Context, username string, code store.Digest) (int, error) {
	t, ok, err := s.begin(ctx, "use recovery code", username)
	if !ok {
		if err == nil {
			err = notFound("use recovery code")
		}
		return 0, err
	}
	defer t.mu.Unlock()
	set := t.recovery[username]
	if !set[code] {
		return len(set), notFound("use recovery code")
	}
	delete(set, code)
	if len(set) == 0 {
		delete(t.recovery, username)
	}
	return len(set), nil
}

// RecoveryCodes implements [store.RecoveryCodeStore].
func (s *Store) RecoveryCodes(ctx context.Context, username string) (int, error) {
	t, ok, err := s.begin(ctx, "recovery codes", username)
	if !ok {
		return 0, err
	}
	defer t.mu.Unlock()
	return len(t.recovery[username]), nil
}

// PutChallenge implements [store.ChallengeStore].
func (s *Store) PutChallenge(ctx context.Context, id store.Digest, value []byte, expiresAt time.Time) error {
	if err := ctxErr(ctx, "put challenge"); err != nil {
		return err
	}
	now := s.now()
	if err := store.ValidateChallenge(value, expiresAt, now); err != nil {
		return fmt.Errorf("memstore: put challenge: %w", err)
	}
	t := &s.factors
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.challenges[id]; ok && now.Before(c.exp) {
		return fmt.Errorf("memstore: put challenge: %w", store.ErrExists)
	}
	if t.challenges == nil {
		t.challenges = make(map[store.Digest]challenge)
	}
	// Sweep a few expired challenges on every put, so that abandoned
	// ceremonies cannot grow the map without bound.
	n := 0
	for k, c := range t.challenges {
		if n++; n > sweepBatch {
			break
		}
		if !now.Before(c.exp) {
			delete(t.challenges, k)
		}
	}
	t.challenges[id] = challenge{bytes.Clone(value), expiresAt}
	return nil
}

// Challenge implements [store.ChallengeStore].
func (s *Store) Challenge(ctx context.Context, id store.Digest) ([]byte, error) {
	return s.challenge(ctx, "challenge", id, false)
}

// TakeChallenge implements [store.ChallengeStore].
func (s *Store) TakeChallenge(ctx context.Context, id store.Digest) ([]byte, error) {
	return s.challenge(ctx, "take challenge", id, true)
}

func (s *Store) challenge(ctx context.Context, op string, id store.Digest, take bool) ([]byte, error) {
	if err := ctxErr(ctx, op); err != nil {
		return nil, err
	}
	t := &s.factors
	t.mu.Lock()
	defer t.mu.Unlock()
	c, ok := t.challenges[id]
	if !ok || !s.now().Before(c.exp) {
		delete(t.challenges, id)
		return nil, notFound(op)
	}
	if take {
		delete(t.challenges, id)
	}
	return bytes.Clone(c.value), nil
}

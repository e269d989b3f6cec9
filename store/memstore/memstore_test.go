package memstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/memstore"
	"github.com/gin-authkit/authkit/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		return memstore.New(memstore.Options{Now: now})
	})
}

func TestContractExternalUsers(t *testing.T) {
	storetest.RunExternalUsers(t, func(t *testing.T, now func() time.Time) store.SessionBackend {
		return memstore.New(memstore.Options{Now: now, ExternalUsers: true})
	})
}

// fakeNow is a clock the test moves by hand.
type fakeNow struct{ t time.Time }

func (f *fakeNow) Now() time.Time { return f.t }

func TestSweepRemovesExpiredSessions(t *testing.T) {
	ctx := context.Background()
	clk := &fakeNow{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := memstore.New(memstore.Options{Now: clk.Now})
	for _, name := range []string{"alice", "bob"} {
		if err := s.CreateUser(ctx, store.User{Username: name, PasswordHash: []byte("h")}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	create := func(username string, idle time.Duration) {
		t.Helper()
		n++
		u, err := s.User(ctx, username)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.CreateSession(ctx, store.SessionSpec{
			ID:          store.HashSecret(fmt.Appendf(nil, "session %d", n)),
			Username:    username,
			Refresh:     store.HashSecret(fmt.Appendf(nil, "refresh %d", n)),
			IdleTimeout: idle,
			ExpiresAt:   clk.Now().Add(time.Hour),
			Generation:  u.Generation,
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	const dead = 200
	for range dead {
		create("alice", time.Minute)
	}
	// Nobody reads alice's sessions again: only the sweep can find them.
	clk.t = clk.t.Add(2 * time.Minute)
	const fresh = 20
	for range fresh {
		create("bob", time.Hour)
	}
	if got := s.NumSessions(); got != fresh {
		t.Errorf("after %d creates the store holds %d sessions, want only the %d live ones", fresh, got, fresh)
	}
	if list, err := s.Sessions(ctx, "bob"); err != nil || len(list) != fresh {
		t.Errorf("Sessions(bob) = %d sessions, %v; want %d", len(list), err, fresh)
	}
}

func BenchmarkSession(b *testing.B) {
	storetest.BenchmarkSession(b, memstore.New(memstore.Options{}))
}

func TestContractFactors(t *testing.T) {
	storetest.RunFactors(t, func(t *testing.T, now func() time.Time) store.FactorBackend {
		return memstore.New(memstore.Options{Now: now})
	})
}

func TestContractChallenges(t *testing.T) {
	storetest.RunChallenges(t, func(t *testing.T, now func() time.Time) store.ChallengeStore {
		return memstore.New(memstore.Options{Now: now})
	})
}

func TestContractAPIKeys(t *testing.T) {
	storetest.RunAPIKeys(t, func(t *testing.T, now func() time.Time) storetest.APIKeyBackend {
		return memstore.New(memstore.Options{Now: now})
	})
}

func TestContractAPIKeysExternalUsers(t *testing.T) {
	storetest.RunExternalAPIKeys(t, func(t *testing.T, now func() time.Time) store.APIKeyStore {
		return memstore.New(memstore.Options{Now: now, ExternalUsers: true})
	})
}

func TestContractClients(t *testing.T) {
	storetest.RunClients(t, func(t *testing.T, now func() time.Time) store.ClientStore {
		return memstore.New(memstore.Options{Now: now})
	})
}

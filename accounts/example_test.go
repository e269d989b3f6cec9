package accounts_test

import (
	"context"
	"fmt"

	"golang.org/x/crypto/bcrypt"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/store/memstore"
)

// ExampleNew manages users without any HTTP machinery, as a CLI
// does: names are canonical, passwords checked against the policy, and a
// password change ends every session and every login in flight.
func ExampleNew() {
	st := memstore.New(memstore.Options{})
	m, err := accounts.New(accounts.Config{
		Users:  st,
		Hasher: accounts.Bcrypt{Cost: bcrypt.MinCost}, AllowTestCosts: true, // keep the default (12) outside examples
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	fmt.Println(m.CreateUser(ctx, "Alice", "short", nil))
	fmt.Println(m.CreateUser(ctx, "Alice", "correct horse battery", []string{"admin"}))
	u, err := m.Verify(ctx, "ALICE", "correct horse battery")
	fmt.Println(u.Username, u.Roles, err)
	_, err = m.Verify(ctx, "alice", "wrong")
	fmt.Println(err)
	fmt.Println(m.SetPassword(ctx, "alice", "another good password"))
	// Output:
	// accounts: password is too short: 5 characters, at least 8 required
	// <nil>
	// alice [admin] <nil>
	// accounts: bad credentials
	// <nil>
}

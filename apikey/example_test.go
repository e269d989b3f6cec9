package apikey_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gin-authkit/authkit/apikey"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/memstore"
)

// Example creates a key for a service account, checks it as the
// middleware does, and rotates it.
func Example() {
	ctx := context.Background()
	st := memstore.New(memstore.Options{})
	// A service account: a user without a password, who cannot log in.
	_ = st.CreateUser(ctx, store.User{Username: "billing-job", Roles: []string{"invoices:write", "reports"}})
	keys, _ := apikey.New(apikey.Config{Store: st, Users: st})

	raw, key, err := keys.Create(ctx, "billing-job", apikey.Spec{Name: "nightly", Roles: []string{"invoices:write"}, TTL: 90 * 24 * time.Hour})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.HasPrefix(raw, apikey.Prefix), key.Name) // show raw once; only its digest is stored

	p, err := keys.Verify(ctx, raw) // what ginauth does with "Authorization: Bearer ak_…"
	fmt.Println(p.Owner, p.Roles, err)

	_, _, err = keys.Rotate(ctx, "billing-job", key.ID, time.Hour) // the old key works for another hour
	fmt.Println(err)
	// Output:
	// true nightly
	// billing-job [invoices:write] <nil>
	// <nil>
}

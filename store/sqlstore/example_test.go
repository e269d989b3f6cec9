package sqlstore_test

import (
	"context"
	"database/sql"
	"log"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/store/redisstore"
	"github.com/gin-authkit/authkit/store/sqlstore"
	"github.com/gin-authkit/authkit/tokens"
)

// Users in PostgreSQL, sessions in Redis: the users table is migrated,
// read through a cache that LISTEN/NOTIFY keeps current, and given to
// ginauth apart from the session store. examples/pgusers is this as a
// whole program.
func Example() {
	ctx := context.Background()
	db, err := sql.Open("pgx", "postgres://app@127.0.0.1:5432/app")
	if err != nil {
		log.Fatal(err)
	}
	if err := sqlstore.Migrate(ctx, db); err != nil {
		log.Fatal(err)
	}
	src, err := sqlstore.New(db, sqlstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	users, err := sqlstore.NewCache(src, sqlstore.CacheOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close()

	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	sessions, err := redisstore.New(rdb, redisstore.Options{ExternalUsers: true})
	if err != nil {
		log.Fatal(err)
	}
	key, err := tokens.NewHMACKey("k1", []byte("a secret of at least thirty-two bytes"))
	if err != nil {
		log.Fatal(err)
	}
	opts := []tokens.Option{tokens.WithIssuer("app"), tokens.WithAudience("app")}
	iss, _ := tokens.NewIssuer(key, opts...)
	ver, _ := tokens.NewVerifier([]*tokens.Key{key}, opts...)

	// Accounts write to PostgreSQL; Sessions lets a password change or a
	// disable made through them free the Redis sessions at once.
	m, err := accounts.New(accounts.Config{Users: users, Sessions: sessions})
	if err != nil {
		log.Fatal(err)
	}
	auth, err := ginauth.New(ginauth.Config{Store: sessions, Accounts: m, Issuer: iss, Verifier: ver})
	if err != nil {
		log.Fatal(err)
	}
	// Accounts write to PostgreSQL; a change made there by hand, such as
	// UPDATE authkit_users SET disabled = true, ends the user's sessions
	// too.
	if err := auth.Accounts().CreateUser(ctx, "alice", "correct horse battery", []string{"admin"}); err != nil {
		log.Fatal(err)
	}
}

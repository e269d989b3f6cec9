package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// Users is how many users every target knows: user00 … user15, each with
// the roles user and admin.
const Users = 16

// BcryptCost is the cost of every target's password hashes. It is the
// lowest bcrypt allows, so that the login benchmarks measure the
// frameworks rather than bcrypt (at cost 12 one hash takes 250 ms).
const BcryptCost = bcrypt.MinCost

// UserRoles are the roles of every benchmark user.
var UserRoles = []string{"user", "admin"}

// UserName is the name of user i.
func UserName(i int) string { return fmt.Sprintf("user%02d", i%Users) }

// Password is the password of the user called name.
func Password(name string) string { return "bench-password-" + name }

// Env is what the targets share: a Redis, a key prefix of their own and a
// signing secret. The peers other than authkit keep their users as hashes
// under the prefix; authkit keeps its own through its store.
type Env struct {
	// Redis is the client every target built on go-redis uses.
	Redis *redis.Client
	// Prefix starts every key a target writes; Close deletes them.
	Prefix string
	// Secret signs tokens and cookies (32 random bytes).
	Secret []byte
	// Hook, when set, is added to every go-redis client a target opens
	// for itself (the authkit-cached store's), as it was to Redis.
	Hook redis.Hook
}

// NewEnv creates the peers' users under a fresh random prefix on rdb,
// whose options must set ContextTimeoutEnabled (authkit's store requires
// it).
func NewEnv(ctx context.Context, rdb *redis.Client) (*Env, error) {
	e := &Env{Redis: rdb, Prefix: "authkit-bench:" + randomHex(6) + ":", Secret: make([]byte, 32)}
	rand.Read(e.Secret) // never fails: since Go 1.24 it crashes the program instead
	hashes := make([][]byte, Users)
	for i := range Users {
		h, err := bcrypt.GenerateFromPassword([]byte(Password(UserName(i))), BcryptCost)
		if err != nil {
			return nil, err
		}
		hashes[i] = h
	}
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range Users {
			p.HSet(ctx, e.peerUserKey(UserName(i)), "hash", hashes[i], "roles", strings.Join(UserRoles, ","))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bench: creating users: %w", err)
	}
	return e, nil
}

// Addr is the host:port of the Redis, for clients that dial on their own.
func (e *Env) Addr() string { return e.Redis.Options().Addr }

// Close deletes every key under the prefix, with SCAN and DEL.
func (e *Env) Close(ctx context.Context) error {
	iter := e.Redis.Scan(ctx, 0, e.Prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("bench: cleaning up %s: %w", e.Prefix, err)
	}
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		if err := e.Redis.Del(ctx, keys[:n]...).Err(); err != nil {
			return fmt.Errorf("bench: cleaning up %s: %w", e.Prefix, err)
		}
		keys = keys[n:]
	}
	return nil
}

func (e *Env) peerUserKey(name string) string { return e.Prefix + "peer:user:" + name }

// errBadLogin is a wrong username or password at a peer's login.
var errBadLogin = errors.New("bench: invalid username or password")

// checkPassword is the login of the peers other than authkit: one HGETALL
// of the user hash and a bcrypt comparison. It returns the user's roles.
func (e *Env) checkPassword(ctx context.Context, name, password string) ([]string, error) {
	m, err := e.Redis.HGetAll(ctx, e.peerUserKey(name)).Result()
	if err != nil {
		return nil, err
	}
	if len(m) == 0 || bcrypt.CompareHashAndPassword([]byte(m["hash"]), []byte(password)) != nil {
		return nil, errBadLogin
	}
	return strings.Split(m["roles"], ","), nil
}

// loginBody is the JSON body every target's login takes.
type loginBody struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// LoginJSON is the body of a login of user name.
func LoginJSON(name string) string {
	return `{"username":` + strconv.Quote(name) + `,"password":` + strconv.Quote(Password(name)) + `}`
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails: since Go 1.24 it crashes the program instead
	return hex.EncodeToString(b)
}

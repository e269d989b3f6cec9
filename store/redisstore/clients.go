package redisstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/store"
)

// OAuth clients are one hash, P + "clients", one field per client ID:
// a single key, so on Cluster it lives in one slot and every call is one
// command on it. AddClient is one HSETNX, so of concurrent adds of one
// ID exactly one wins.

var _ store.ClientStore = (*Store)(nil)

// clientsKey names the hash of all OAuth clients.
func (s *Store) clientsKey() string { return s.prefix + "clients" }

// A client's record is
//
//	<created> <roles><secret>
//
// with the creation time in Unix milliseconds, the roles joined with
// commas (see encodeRoles; a role holds no space) and a space, then the
// secret's 32-byte digest as it is. The ID is the field. A client with
// two roles takes about 60 bytes.

// encodeClient returns c's record.
func encodeClient(c store.OAuthClient) string {
	return strconv.FormatInt(c.CreatedAt.UnixMilli(), 10) + " " + encodeRoles(c.Roles) + " " + string(c.Secret[:])
}

// errClientRecord reports a record the store cannot read.
var errClientRecord = errors.New("unreadable client record")

// decodeClient parses the record v of client id.
func decodeClient(id, v string) (store.OAuthClient, error) {
	parts := strings.SplitN(v, " ", 3)
	if len(parts) != 3 || len(parts[2]) != len(store.Digest{}) {
		return store.OAuthClient{}, errClientRecord
	}
	created, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return store.OAuthClient{}, errClientRecord
	}
	roles, err := decodeRoles(parts[1])
	if err != nil {
		return store.OAuthClient{}, errClientRecord
	}
	c := store.OAuthClient{ID: id, Roles: roles, CreatedAt: time.UnixMilli(created)}
	copy(c.Secret[:], parts[2])
	return c, nil
}

// AddClient implements [store.ClientStore] with one HSETNX. The creation
// time is kept in whole milliseconds, rounded down.
func (s *Store) AddClient(ctx context.Context, c store.OAuthClient) error {
	const op = "add client"
	if err := c.Validate(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	ok, err := s.client.HSetNX(ctx, s.clientsKey(), c.ID, encodeClient(c)).Result()
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if !ok {
		return fmt.Errorf("redisstore: %s: %w", op, store.ErrExists)
	}
	return nil
}

// Client implements [store.ClientStore] with one HGET. A record the
// store cannot read is [store.ErrNotFound]: the client does not work
// (and [Store.Clients] fails, for the operator to see).
func (s *Store) Client(ctx context.Context, id string) (store.OAuthClient, error) {
	const op = "client"
	v, err := s.client.HGet(ctx, s.clientsKey(), id).Result()
	if errors.Is(err, redis.Nil) {
		return store.OAuthClient{}, notFound(op)
	}
	if err != nil {
		return store.OAuthClient{}, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	c, err := decodeClient(id, v)
	if err != nil {
		return store.OAuthClient{}, fmt.Errorf("redisstore: %s %q: %w: %w", op, id, err, store.ErrNotFound)
	}
	return c, nil
}

// Clients implements [store.ClientStore] with one HGETALL. A record it
// cannot read fails the call, as an infrastructure error.
func (s *Store) Clients(ctx context.Context) ([]store.OAuthClient, error) {
	const op = "clients"
	all, err := s.client.HGetAll(ctx, s.clientsKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	out := make([]store.OAuthClient, 0, len(all))
	for id, v := range all {
		c, err := decodeClient(id, v)
		if err != nil {
			return nil, fmt.Errorf("redisstore: %s: client %q: %w", op, id, err)
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b store.OAuthClient) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// RemoveClient implements [store.ClientStore] with one HDEL.
func (s *Store) RemoveClient(ctx context.Context, id string) error {
	const op = "remove client"
	n, err := s.client.HDel(ctx, s.clientsKey(), id).Result()
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if n == 0 {
		return notFound(op)
	}
	return nil
}

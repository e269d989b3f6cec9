package sqlstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/internal/testpg"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/sqlstore"
)

// TestCacheFrozenLink puts the cache's pool behind a proxy and freezes
// it: no byte passes, no socket closes, as on a network path that drops
// packets without a reset. A user disabled meanwhile (through a
// connection of its own) must not stay enabled in the cache: the missed
// ping turns the cache off, and every read goes to the database, which
// here cannot answer (an error, so a 503, never the stale user). Once the
// link thaws the cache reads the disabled user and listens again.
func TestCacheFrozenLink(t *testing.T) {
	direct, _ := newStore(t, nil)
	ctx := t.Context()
	// Created before the cache listens, so that no notification of hers
	// can arrive after she is cached.
	if err := direct.CreateUser(ctx, store.User{Username: "alice", PasswordHash: []byte("h")}); err != nil {
		t.Fatal(err)
	}
	base, _ := testpg.URL()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	px := newFreezer(t, u.Host)
	var schema string
	if err := sqlstore.DB(direct).QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	u.Host = px.addr()
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	proxied, err := sqlstore.New(db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	c := cacheOn(t, proxied, slogTo(&logs))
	if u, err := c.User(ctx, "alice"); err != nil || u.Disabled {
		t.Fatalf("User(alice) = %+v, %v; want her enabled", u, err)
	}

	px.freeze()
	sqlExec(t, direct, `UPDATE authkit_users SET disabled = true WHERE username = 'alice'`)
	waitFor(t, "the cache to stop answering the enabled user", func() bool {
		rctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		u, err := c.User(rctx, "alice")
		return err != nil || u.Disabled
	})
	// A read through the frozen link can time out before the heartbeat
	// has noticed: wait for the heartbeat itself, not for a read.
	waitFor(t, "the cache to stop listening over the frozen link", func() bool { return !sqlstore.Listening(c) })

	px.thaw()
	waitFor(t, "the cache to read the disabled user", func() bool {
		u, err := c.User(ctx, "alice")
		return err == nil && u.Disabled
	})
	waitFor(t, "the cache to listen again", func() bool { return sqlstore.Listening(c) })
	if !bytes.Contains(logs.Bytes(), []byte("ping")) {
		t.Errorf("log = %q, want the missed ping reported", logs.Bytes())
	}
}

// TestCacheNotifiedBetweenPings: the wait for a notification that times
// out to ping, and the ping, leave the listening connection working, so
// a change made by hand after pings still reaches the cache.
func TestCacheNotifiedBetweenPings(t *testing.T) {
	c, s := newCache(t, nil)
	ctx := t.Context()
	if err := s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: []byte("h")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a ping on the listening connection", func() bool {
		var n int
		err := sqlstore.DB(s).QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE query = $1 AND datname = current_database()`, sqlstore.PingQuery).Scan(&n)
		return err == nil && n > 0
	})
	if u, err := c.User(ctx, "alice"); err != nil || u.Disabled {
		t.Fatalf("User(alice) = %+v, %v; want her enabled", u, err)
	}
	sqlExec(t, s, `UPDATE authkit_users SET disabled = true WHERE username = 'alice'`)
	waitFor(t, "the cache to see the UPDATE", func() bool {
		u, err := c.User(ctx, "alice")
		return err == nil && u.Disabled
	})
}

func TestCacheOptionsPingInterval(t *testing.T) {
	s, _ := newStore(t, nil)
	if _, err := sqlstore.NewCache(s, sqlstore.CacheOptions{PingInterval: -time.Second}); err == nil {
		t.Error("NewCache with a negative PingInterval: no error")
	}
}

// freezer is a TCP proxy that can freeze: it then forwards nothing in
// either direction but keeps every socket open.
type freezer struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu     sync.Mutex
	thawed chan struct{} // closed while not frozen
	conns  []net.Conn
	closed bool
}

// newFreezer starts a proxy to target, stopped when t ends.
func newFreezer(t *testing.T, target string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, target: target, thawed: make(chan struct{})}
	close(f.thawed)
	f.wg.Go(f.accept)
	t.Cleanup(f.close)
	return f
}

func (f *freezer) addr() string { return f.ln.Addr().String() }

func (f *freezer) freeze() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.thawed = make(chan struct{})
}

func (f *freezer) thaw() {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.thawed:
	default:
		close(f.thawed)
	}
}

// gate returns a channel closed once the proxy is not frozen.
func (f *freezer) gate() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.thawed
}

func (f *freezer) accept() {
	for {
		client, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.wg.Go(func() { f.serve(client) })
	}
}

func (f *freezer) serve(client net.Conn) {
	server, err := net.Dial("tcp", f.target)
	if err != nil {
		client.Close()
		return
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	f.conns = append(f.conns, client, server)
	f.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() { f.pipe(server, client) })
	wg.Go(func() { f.pipe(client, server) })
	wg.Wait()
}

// pipe copies src to dst, holding what it read while frozen.
func (f *freezer) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			<-f.gate()
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (f *freezer) close() {
	f.thaw()
	f.ln.Close()
	f.mu.Lock()
	f.closed = true
	for _, c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// syncBuffer is a bytes.Buffer that a logger may write while a test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.b.Bytes())
}

func slogTo(w *syncBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

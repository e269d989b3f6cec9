package redisproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a redis-server process, by default without persistence: its
// data lives in memory only, so a restart starts empty. Args such as
// "--appendonly", "yes" turn persistence on, in its directory, and a
// restart then loads what was written.
type Server struct {
	// Addr is the server's host:port on 127.0.0.1.
	Addr string
	// Args are added to redis-server's command line (cluster options, say).
	Args []string
	// Config, when set, is a configuration file passed to redis-server
	// before the other arguments; a Sentinel (Args "--sentinel") needs
	// one it can rewrite.
	Config string

	dir    string
	ownDir bool // dir was created by Start and is removed by Close
	cmd    *exec.Cmd
	exited chan struct{}
}

// Start starts a redis-server on a free loopback port, with dir for its
// log (a new temporary directory when dir is empty, removed by Close), and
// waits until it answers.
func Start(dir string) (*Server, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("redisproc: %w (install redis-server)", err)
	}
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	return StartOn(addr, dir)
}

// StartOn is Start on addr, with the extra redis-server arguments args.
func StartOn(addr, dir string, args ...string) (*Server, error) {
	s := New(addr, dir, args...)
	if s.dir == "" {
		return nil, errors.New("redisproc: cannot create a temporary directory")
	}
	if err := s.Start(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// New returns a stopped Server for addr with its files in dir (a new
// temporary directory, removed by Close, when dir is empty); Start starts
// it.
func New(addr, dir string, args ...string) *Server {
	s := &Server{Addr: addr, Args: args, dir: dir}
	if dir == "" {
		if d, err := os.MkdirTemp("", "redisproc-"); err == nil {
			s.dir, s.ownDir = d, true
		}
	}
	return s
}

// Start (re)starts the server on its address and waits until it answers,
// at most 10 s.
func (s *Server) Start() error {
	if s.cmd != nil {
		return errors.New("redisproc: already running")
	}
	_, port, _ := net.SplitHostPort(s.Addr)
	log, err := os.OpenFile(s.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("redisproc: %w", err)
	}
	defer log.Close()
	var args []string
	if s.Config != "" {
		args = append(args, s.Config)
	}
	args = append(args, "--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", "--dir", s.dir)
	args = append(args, s.Args...)
	cmd := exec.Command("redis-server", args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redisproc: start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	if err := s.waitReady(10 * time.Second); err != nil {
		s.Stop()
		return fmt.Errorf("redisproc: redis-server on %s: %w\n%s", s.Addr, err, tail(s.LogPath(), 10))
	}
	return nil
}

// waitReady polls INFO until the process this Server started answers: a
// port found free can be taken by another process in between.
func (s *Server) waitReady(limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: s.Addr, ContextTimeoutEnabled: true,
		MaxRetries: -1, DialTimeout: 200 * time.Millisecond, PoolSize: 1})
	defer c.Close()
	want := "process_id:" + strconv.Itoa(s.cmd.Process.Pid) + "\r\n"
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 500*time.Millisecond)
		info, err := c.Info(attempt, "server").Result()
		cancelAttempt()
		if err == nil {
			if !strings.Contains(info, want) {
				return errors.New("another process answers on its port")
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not answering after %v: %w", limit, err)
		case <-s.exited:
			return errors.New("exited before answering")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop kills the server (SIGKILL, as a crash would) and waits for it to
// exit. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Shutdown stops the server gracefully (SIGTERM, on which redis-server
// writes and fsyncs what its persistence keeps, then exits) and waits for
// it to exit, at most limit; past that it kills it and reports an error.
// Shutting down a stopped server does nothing.
func (s *Server) Shutdown(limit time.Duration) error {
	if s.cmd == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		s.cmd = nil
		return nil
	case <-time.After(limit):
		s.Stop()
		return fmt.Errorf("redisproc: redis-server on %s ignored SIGTERM for %v and was killed", s.Addr, limit)
	}
}

// Close stops the server and removes the directory Start created.
func (s *Server) Close() {
	s.Stop()
	if s.ownDir {
		_ = os.RemoveAll(s.dir)
	}
}

// Pid is the process id of the running server, 0 when stopped.
func (s *Server) Pid() int {
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// LogPath is the server's log file.
func (s *Server) LogPath() string { return filepath.Join(s.dir, "redis.log") }

// Client returns a client for the server with the options authkit needs
// (ContextTimeoutEnabled).
func (s *Server) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr, ContextTimeoutEnabled: true})
}

// FreeAddr returns a loopback address whose port was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("redisproc: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// tail returns the last n lines of the file at path, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

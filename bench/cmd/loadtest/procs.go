package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// demoBinary returns the demo binary to run: bin when set, else one built
// into dir (within 5 minutes).
func demoBinary(ctx context.Context, bin, dir string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	bctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	return buildDemo(bctx, dir)
}

// buildDemo builds the demo of the authkit module this module replaces
// (../), into dir, with the library's own go.mod.
func buildDemo(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/gin-authkit/authkit").Output()
	if err != nil {
		return "", fmt.Errorf("finding the authkit module: %w", err)
	}
	root := strings.TrimSpace(string(out))
	bin := filepath.Join(dir, "demo")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./demo")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./demo in %s: %w\n%s", root, err, out)
	}
	return bin, nil
}

// demo is the demo server process, and how to run its CLI.
type demo struct {
	bin  string
	env  []string
	addr string
	log  string

	cmd    *exec.Cmd
	exited chan struct{}
}

// newDemo prepares the demo bin on addr, with the Redis of redisURL read
// in redisMode (AUTHKIT_REDIS_MODE) and the secret; bcrypt cost sets
// AUTHKIT_BCRYPT_COST, and 0 leaves it unset so that the demo uses its
// default (demoDefaultCost).
func newDemo(bin, dir, redisMode, redisURL, addr, secret string, cost int) *demo {
	env := []string{
		"AUTHKIT_REDIS_MODE=" + redisMode,
		"REDIS_URL=" + redisURL,
		"AUTHKIT_SECRET=" + secret,
		"AUTHKIT_ADDR=" + addr,
		"AUTHKIT_LOG_FORMAT=json",
	}
	if cost != 0 {
		env = append(env, "AUTHKIT_BCRYPT_COST="+strconv.Itoa(cost))
	}
	return &demo{bin: bin, addr: addr, log: filepath.Join(dir, "demo.log"), env: env}
}

// start starts the server and waits until it answers /healthz with 200.
func (d *demo) start(ctx context.Context) error {
	logf, err := os.OpenFile(d.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(d.bin, "serve")
	cmd.Env, cmd.Stdout, cmd.Stderr = d.env, logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the demo: %w", err)
	}
	d.cmd, d.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(d.exited) }()

	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-d.exited:
			return errors.New("the demo exited at start")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := client.Get("http://" + d.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return errors.New("the demo did not answer /healthz with 200 within 15 s")
}

// alive reports whether the server process is still running.
func (d *demo) alive() bool {
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// stop ends the server gracefully (SIGTERM), or kills it after 12 s.
func (d *demo) stop() error {
	if d.cmd == nil {
		return nil
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(12 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
		return errors.New("the demo did not stop within 12 s of SIGTERM")
	}
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		return fmt.Errorf("the demo exited with status %d", code)
	}
	return nil
}

// threads reads the server's thread count from /proc (0 when unknown).
func (d *demo) threads() int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(d.cmd.Process.Pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// user is a demo account the tool creates.
type user struct {
	name, password string
	admin          bool
}

func (u user) roles() string {
	if u.admin {
		return "admin,user"
	}
	return "user"
}

// createUsers adds users with the demo's CLI, four at a time, each bounded
// by 30 s. An existing user (exit status 4) is fine.
func (d *demo) createUsers(ctx context.Context, users []user) error {
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 4)
		mu   sync.Mutex
		errs []error
	)
	for _, u := range users {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(cctx, d.bin, "useradd", "--username", u.name, "--roles", u.roles(), "--password-stdin")
			cmd.Env, cmd.Stdin = d.env, strings.NewReader(u.password+"\n")
			out, err := cmd.CombinedOutput()
			if ee, ok := errors.AsType[*exec.ExitError](err); ok && ee.ExitCode() == 4 {
				err = nil
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("demo useradd %s: %w: %s", u.name, err, strings.TrimSpace(string(out))))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

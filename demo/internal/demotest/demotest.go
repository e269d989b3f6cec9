package demotest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ImportPath is the demo's package, which Build compiles. The integration
// module lists it as a tool in its go.mod, so that go mod tidy keeps the
// checksums its build needs.
const ImportPath = "github.com/gin-authkit/authkit/demo"

// Build compiles the demo into a temporary directory of t and returns the
// binary's path.
func Build(t testing.TB) string {
	t.Helper()
	goBin, err := exec.LookPath("go") // go test puts GOROOT/bin first on PATH
	if err != nil {
		t.Fatalf("go command not found: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "demo")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goBin, "build", "-o", bin, ImportPath).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", ImportPath, err, out)
	}
	return bin
}

// Buffer is a bytes.Buffer safe for one writer goroutine and concurrent
// readers, with a bounded wait for its content.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// WaitMatch polls until re matches the content, for at most timeout, and
// returns the submatches.
func (b *Buffer) WaitMatch(t testing.TB, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := re.FindStringSubmatch(b.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no match for %s within %v in:\n%s", re, timeout, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ListeningRE matches the line serve prints on standard output once it
// listens; the submatch is the base URL.
var ListeningRE = regexp.MustCompile(`listening on (http://[^/\s]+)/`)

var seedRE = regexp.MustCompile(`(?m)^\s+(alice|bob)\s+password (\S+)\s`)

// SeededPasswords reads the passwords that memory mode prints on standard
// output.
func SeededPasswords(t testing.TB, stdout string) map[string]string {
	t.Helper()
	pw := map[string]string{}
	for _, m := range seedRE.FindAllStringSubmatch(stdout, -1) {
		pw[m[1]] = m[2]
	}
	if len(pw) != 2 {
		t.Fatalf("seeded passwords not found in stdout:\n%s", stdout)
	}
	return pw
}

// Environ turns env into a process environment.
func Environ(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// Process is the demo binary running as a separate process.
type Process struct {
	// URL is the base URL the demo printed, e.g. http://127.0.0.1:41234.
	URL    string
	Stdout *Buffer
	Stderr *Buffer
	cmd    *exec.Cmd
	done   chan error
	exited bool
}

// Start runs "demo serve" with exactly env (nothing is inherited), on a
// loopback port picked by the kernel unless env sets AUTHKIT_ADDR, and
// waits until it listens. It is stopped, and must stop gracefully, at
// cleanup.
func Start(t testing.TB, bin string, env map[string]string) *Process {
	t.Helper()
	e := map[string]string{"AUTHKIT_ADDR": "127.0.0.1:0"}
	for k, v := range env {
		e[k] = v
	}
	p := &Process{cmd: exec.Command(bin, "serve"), Stdout: &Buffer{}, Stderr: &Buffer{}, done: make(chan error, 1)}
	p.cmd.Env = Environ(e)
	p.cmd.Stdout, p.cmd.Stderr = p.Stdout, p.Stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.Stop(t) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := ListeningRE.FindStringSubmatch(p.Stdout.String()); m != nil {
			p.URL = m[1]
			return p
		}
		select {
		case err := <-p.done:
			p.exited = true
			t.Fatalf("demo exited before listening: %v\nstderr:\n%s", err, p.Stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo did not listen within 30s; stderr:\n%s", p.Stderr.String())
		}
	}
}

// SeededPasswords reads the passwords that the process printed in memory
// mode.
func (p *Process) SeededPasswords(t testing.TB) map[string]string {
	t.Helper()
	return SeededPasswords(t, p.Stdout.String())
}

// Stop sends SIGTERM and checks for a graceful exit with status 0.
func (p *Process) Stop(t testing.TB) {
	t.Helper()
	p.StopWith(t, syscall.SIGTERM)
}

// StopWith sends sig and checks for a graceful exit with status 0.
func (p *Process) StopWith(t testing.TB, sig os.Signal) {
	t.Helper()
	if p.exited {
		return
	}
	p.exited = true
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Errorf("%v: %v", sig, err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("demo exited with %v after %v; stderr:\n%s", err, sig, p.Stderr.String())
		}
		if logs := p.Stderr.String(); !strings.Contains(logs, "msg=stopped") && !strings.Contains(logs, `"msg":"stopped"`) {
			t.Errorf("no graceful stop in the log:\n%s", logs)
		}
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("demo did not stop within 15s of %v", sig)
	}
}

// Run runs the binary once with args, exactly env and stdin, and returns
// its output and exit code.
func Run(t testing.TB, bin string, env map[string]string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = Environ(env)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return out.String(), errOut.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("demo %v: %v", args, err)
	}
	return out.String(), errOut.String(), 0
}

package integration

// These tests check the container setup without a Docker engine, so they
// run everywhere: docker-compose.yml is loaded with the compose-spec parser
// (the one docker compose itself uses), the healthchecks it declares are
// run against a real demo and a real Redis, demo/Dockerfile is read for
// its stages and user, and the Dockerfile's `go build` line is run as
// written to prove the binary it makes is static. TestComposeEndToEnd
// (compose_run_test.go) runs the stack itself on a Docker engine; CI
// installs one and builds the base images locally (docs/TESTING.md).

import (
	"bufio"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
	goredis "github.com/redis/go-redis/v9"
	"go.yaml.in/yaml/v4"

	"github.com/gin-authkit/authkit/demo/internal/demotest"
	"github.com/gin-authkit/authkit/internal/testredis"
)

const (
	composeFile    = "docker-compose.yml" // relative to the repository root
	dockerfilePath = "demo/Dockerfile"    // relative to the repository root
	demoBinaryPath = "/usr/local/bin/demo"
	demoImportPath = "github.com/gin-authkit/authkit/demo"
)

// repoRoot is the root of the repository and of the library's module: go
// test runs in demo/integration.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root %s: %v", root, err)
	}
	return root
}

// loadCompose parses docker-compose.yml as docker compose would, with env
// as the whole environment: nothing is read from the process environment or
// a .env file.
func loadCompose(t *testing.T, env map[string]string) (*types.Project, error) {
	t.Helper()
	root := repoRoot(t)
	details := types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, composeFile)}},
		Environment: env,
	}
	return loader.LoadWithContext(t.Context(), details, func(o *loader.Options) {
		o.SetProjectName("authkit", true)
	})
}

func TestComposeFile(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	p, err := loadCompose(t, map[string]string{"AUTHKIT_SECRET": secret})
	if err != nil {
		t.Fatalf("load %s: %v", composeFile, err)
	}
	if got, want := p.ServiceNames(), []string{"demo", "redis"}; !slices.Equal(sorted(got), want) {
		t.Fatalf("services = %v, want %v", got, want)
	}

	t.Run("redis", func(t *testing.T) {
		redis := p.Services["redis"]
		// The official image: no registry, no owner, a pinned tag.
		name, tag, ok := strings.Cut(redis.Image, ":")
		if name != "redis" || !ok || tag == "" || tag == "latest" {
			t.Errorf("image = %q, want the official redis:<tag> with a pinned tag", redis.Image)
		}
		// The settings store/redisstore/doc.go recommends.
		for _, want := range [][]string{
			{"--appendonly", "yes"},
			{"--appendfsync", "everysec"},
			{"--maxmemory-policy", "noeviction"},
		} {
			if !containsSeq(redis.Command, want...) {
				t.Errorf("command = %q, want %q", redis.Command, want)
			}
		}
		if i := slices.Index(redis.Command, "--maxmemory"); i < 0 || i+1 == len(redis.Command) {
			t.Errorf("command = %q, want a --maxmemory", redis.Command)
		}
		var data *types.ServiceVolumeConfig
		for i, v := range redis.Volumes {
			if v.Target == "/data" {
				data = &redis.Volumes[i]
			}
		}
		switch {
		case data == nil:
			t.Errorf("no volume mounted at /data: %+v", redis.Volumes)
		case data.Type != types.VolumeTypeVolume:
			t.Errorf("/data is a %s mount, want a named volume", data.Type)
		default:
			if _, ok := p.Volumes[data.Source]; !ok {
				t.Errorf("volume %q is not declared under the top-level volumes: %v", data.Source, p.VolumeNames())
			}
		}
		// What the command does with an error reply is checked by
		// TestComposeRedisHealthcheck.
		hc := checkHealthcheck(t, redis)
		if _, err := redisCLIArgs(hc.Test, "6379"); err != nil {
			t.Error(err)
		}
		if len(redis.Ports) != 0 {
			t.Errorf("redis publishes %+v; it has no password and must stay on the project network", redis.Ports)
		}
	})

	t.Run("demo", func(t *testing.T) {
		demo := p.Services["demo"]
		if demo.Build == nil {
			t.Fatal("demo has no build section")
		}
		if demo.Build.Context != repoRoot(t) {
			t.Errorf("build context = %q, want the repository root", demo.Build.Context)
		}
		if demo.Build.Dockerfile != dockerfilePath {
			t.Errorf("build dockerfile = %q, want %q", demo.Build.Dockerfile, dockerfilePath)
		}
		dep, ok := demo.DependsOn["redis"]
		if !ok || dep.Condition != types.ServiceConditionHealthy {
			t.Errorf("depends_on = %+v, want redis: condition: %s", demo.DependsOn, types.ServiceConditionHealthy)
		}
		// The demo listens on loopback unless told otherwise; in the
		// container it must listen on every interface for the published
		// port to reach it.
		for _, tc := range []struct {
			name, want string
		}{
			{name: "REDIS_URL", want: "redis://redis:6379/0"},
			{name: "AUTHKIT_SECRET", want: secret},
			{name: "AUTHKIT_ADDR", want: ":8080"},
		} {
			got := demo.Environment[tc.name]
			if got == nil || *got != tc.want {
				t.Errorf("environment %s = %v, want %q", tc.name, deref(got), tc.want)
			}
		}
		// The README promises loopback only: every published port binds
		// 127.0.0.1, never all interfaces.
		if len(demo.Ports) != 1 {
			t.Errorf("ports = %+v, want exactly one", demo.Ports)
		}
		for _, port := range demo.Ports {
			if port.Target != 8080 || port.Published != "8080" || port.HostIP != "127.0.0.1" {
				t.Errorf("port %+v, want container port 8080 published on 127.0.0.1:8080 only", port)
			}
		}
		if demo.User != "" && isRoot(demo.User) {
			t.Errorf("user = %q overrides the Dockerfile's non-root user with root", demo.User)
		}
		// The image has no shell: the check is the demo's own subcommand,
		// in exec form. TestComposeDemoHealthcheck runs it.
		hc := checkHealthcheck(t, demo)
		if want := []string{"CMD", demoBinaryPath, "healthcheck"}; !slices.Equal(hc.Test, want) {
			t.Errorf("healthcheck test = %q, want %q", hc.Test, want)
		}
	})
}

// AUTHKIT_PORT moves the published port (TestComposeEndToEnd uses a free
// one) and nothing else: still loopback, still the container's 8080.
func TestComposePortVariable(t *testing.T) {
	p, err := loadCompose(t, map[string]string{"AUTHKIT_SECRET": strings.Repeat("ab", 32), "AUTHKIT_PORT": "18080"})
	if err != nil {
		t.Fatal(err)
	}
	ports := p.Services["demo"].Ports
	if len(ports) != 1 || ports[0].Target != 8080 || ports[0].Published != "18080" || ports[0].HostIP != "127.0.0.1" {
		t.Errorf("ports = %+v, want container port 8080 published on 127.0.0.1:18080 only", ports)
	}
}

// checkHealthcheck returns the service's healthcheck, which must be on and
// bounded: interval, timeout and retries set, and a timeout of at least
// 3s, longer than the demo's own healthcheck timeout of 2s.
func checkHealthcheck(t *testing.T, s types.ServiceConfig) *types.HealthCheckConfig {
	t.Helper()
	hc := s.HealthCheck
	if hc == nil || hc.Disable || len(hc.Test) < 2 {
		t.Fatalf("%s: no healthcheck: %+v", s.Name, hc)
	}
	if hc.Interval == nil || hc.Timeout == nil || hc.Retries == nil {
		t.Errorf("%s: healthcheck without interval, timeout or retries: %+v", s.Name, hc)
	} else if time.Duration(*hc.Timeout) < 3*time.Second {
		t.Errorf("%s: healthcheck timeout %v, want at least 3s", s.Name, time.Duration(*hc.Timeout))
	}
	return hc
}

// Debian's docker-compose 1.29 (python) validates the file against an
// older schema that knows no top-level name: and refuses the whole file
// for it. Only the keys it knows may appear.
func TestComposeTopLevelKeys(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot(t), composeFile))
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]any
	if err := yaml.Unmarshal(src, &top); err != nil {
		t.Fatal(err)
	}
	known := []string{"version", "services", "networks", "volumes", "secrets", "configs"}
	for key := range top {
		if !slices.Contains(known, key) && !strings.HasPrefix(key, "x-") {
			t.Errorf("top-level %q: docker-compose 1.29 refuses it (it knows %s and x- extensions)", key, strings.Join(known, ", "))
		}
	}
	if _, ok := top["name"]; ok {
		t.Error("top-level name: set the project name with -p or COMPOSE_PROJECT_NAME instead")
	}
}

// When docker-compose 1.29 is installed (Debian: apt-get install
// docker-compose), it must accept the file; it needs no engine for
// config.
func TestComposeV1Accepts(t *testing.T) {
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Skip("docker-compose (v1) is not installed; TestComposeTopLevelKeys covers what it refuses")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-f", filepath.Join(repoRoot(t), composeFile), "config", "-q")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AUTHKIT_SECRET=" + strings.Repeat("ab", 32)}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, out)
	}
}

// The demo's healthcheck, run as compose runs it (the binary at its path
// in the image replaced by a fresh build, AUTHKIT_ADDR as the service sets
// it, on another port): healthy while the demo serves, unhealthy once it
// has stopped.
func TestComposeDemoHealthcheck(t *testing.T) {
	p, err := loadCompose(t, map[string]string{"AUTHKIT_SECRET": strings.Repeat("ab", 32)})
	if err != nil {
		t.Fatal(err)
	}
	demo := p.Services["demo"]
	test := demo.HealthCheck.Test
	if len(test) < 2 || test[0] != "CMD" || test[1] != demoBinaryPath {
		t.Fatalf("healthcheck test = %q, want [CMD %s ...]", test, demoBinaryPath)
	}
	addr := demo.Environment["AUTHKIT_ADDR"]
	if addr == nil {
		t.Fatal("the demo service sets no AUTHKIT_ADDR")
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		t.Fatal(err)
	}

	bin := demotest.Build(t)
	srv := demotest.Start(t, bin, map[string]string{"AUTHKIT_BCRYPT_COST": "4"})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	env := map[string]string{"AUTHKIT_ADDR": net.JoinHostPort(host, port)}

	stdout, stderr, code := demotest.Run(t, bin, env, "", test[2:]...)
	if code != 0 || !strings.Contains(stdout, "200 OK") {
		t.Fatalf("healthcheck against a serving demo: exit %d\n%s%s", code, stdout, stderr)
	}
	srv.Stop(t)
	stdout, stderr, code = demotest.Run(t, bin, env, "", test[2:]...)
	if code != 1 || !strings.Contains(stderr, "connection refused") {
		t.Fatalf("healthcheck against a stopped demo: exit %d, want 1\n%s%s", code, stdout, stderr)
	}
}

// The Redis healthcheck must fail on an error reply, not only when Redis
// is unreachable: redis-cli exits 0 after printing an error reply (such as
// LOADING while Redis reads its append-only file at start, or NOAUTH),
// unless -e asks it not to. It runs against a private redis-server with
// the command of the compose file, pointed at the server's port.
func TestComposeRedisHealthcheck(t *testing.T) {
	p, err := loadCompose(t, map[string]string{"AUTHKIT_SECRET": strings.Repeat("ab", 32)})
	if err != nil {
		t.Fatal(err)
	}
	test := p.Services["redis"].HealthCheck.Test
	if _, err := exec.LookPath("redis-cli"); err != nil && os.Getenv("CI") == "" {
		t.Skipf("SKIPPED: redis-cli is not installed: %v", err)
	}
	srv := testredis.StartServer(t)
	_, port, _ := net.SplitHostPort(srv.Addr)
	args, err := redisCLIArgs(test, port)
	if err != nil {
		t.Fatal(err)
	}
	check := func() (string, int) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		return string(out), 0
	}
	if out, code := check(); code != 0 {
		t.Fatalf("healthy Redis: %q exits %d: %s", args, code, out)
	}
	// Every command now gets the error reply NOAUTH.
	admin := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	defer admin.Close()
	if err := admin.ConfigSet(t.Context(), "requirepass", "not-the-healthchecks").Err(); err != nil {
		t.Fatal(err)
	}
	if out, code := check(); code == 0 {
		t.Fatalf("Redis answering errors: %q exits 0: %s", args, out)
	}
	plain := exec.Command("redis-cli", "-p", port, "ping")
	out, err := plain.CombinedOutput()
	t.Logf("for comparison, redis-cli ping without -e on an error reply: %q, exit error %v", out, err)
	srv.Stop()
	if out, code := check(); code == 0 {
		t.Fatalf("stopped Redis: %q exits 0: %s", args, out)
	}
}

// redisCLIArgs returns the argv of a redis healthcheck, pointed at port:
// exec form ["CMD", "redis-cli", ...] with -e, or a shell command that
// pipes redis-cli ping into grep PONG.
func redisCLIArgs(test []string, port string) ([]string, error) {
	switch {
	case len(test) >= 3 && test[0] == "CMD" && test[1] == "redis-cli":
		if !slices.Contains(test[2:], "-e") || test[len(test)-1] != "ping" {
			return nil, fmt.Errorf("healthcheck %q: want redis-cli -e ping: without -e redis-cli exits 0 on an error reply", test)
		}
		return append([]string{"redis-cli", "-p", port}, test[2:]...), nil
	case len(test) == 2 && test[0] == "CMD-SHELL" && strings.HasPrefix(test[1], "redis-cli ") && strings.Contains(test[1], "| grep -q PONG"):
		return []string{"sh", "-c", strings.Replace(test[1], "redis-cli", "redis-cli -p "+port, 1)}, nil
	}
	return nil, fmt.Errorf("healthcheck %q: want [CMD redis-cli -e ping] (or a shell pipe into grep -q PONG)", test)
}

// Compose must refuse to start the demo without a signing secret, and say
// why, rather than hand it an empty one.
func TestComposeRequiresSecret(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
	}{
		{name: "unset", env: map[string]string{}},
		{name: "empty", env: map[string]string{"AUTHKIT_SECRET": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadCompose(t, tc.env)
			var missing *template.MissingRequiredError
			if !errors.As(err, &missing) {
				t.Fatalf("load without AUTHKIT_SECRET: err = %v, want a %T", err, missing)
			}
			if missing.Variable != "AUTHKIT_SECRET" || !strings.Contains(missing.Reason, "32") {
				t.Errorf("error = %v, want AUTHKIT_SECRET named with a hint about its length", err)
			}
		})
	}
}

// The README keeps the secret in .env beside docker-compose.yml, which
// docker compose reads for every command: up, exec, logs and down all load
// the file and so all need AUTHKIT_SECRET.
func TestComposeDotEnv(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(repoRoot(t), composeFile))
	if err != nil {
		t.Fatal(err)
	}
	const secret = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	for name, data := range map[string]string{
		composeFile: string(src),
		".env":      "AUTHKIT_SECRET=" + secret + "\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// As docker compose does, less cli.WithOsEnv: the test's own environment
	// must not leak in.
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, composeFile)},
		cli.WithWorkingDirectory(dir), cli.WithEnvFiles(), cli.WithDotEnv)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(t.Context())
	if err != nil {
		t.Fatalf("load with .env: %v", err)
	}
	if got := p.Services["demo"].Environment["AUTHKIT_SECRET"]; got == nil || *got != secret {
		t.Errorf("AUTHKIT_SECRET = %v, want the value from .env", deref(got))
	}
}

func TestComposeDockerfile(t *testing.T) {
	df := readDockerfile(t)
	stages := df.stages()
	if len(stages) < 2 {
		t.Fatalf("%s has %d stage(s), want a multi-stage build", dockerfilePath, len(stages))
	}
	builder, final := stages[0], stages[len(stages)-1]

	// The builder's Go is the go.mod's: golang:1.26-... for `go 1.26.x`.
	goVersion := goModVersion(t)
	minor := strings.Join(strings.SplitN(goVersion, ".", 3)[:2], ".")
	if !strings.HasPrefix(builder.image, "golang:"+minor+"-") && builder.image != "golang:"+minor {
		t.Errorf("builder image = %q, want golang:%s-... for go %s in go.mod", builder.image, minor, goVersion)
	}
	if strings.HasPrefix(final.image, "golang:") {
		t.Errorf("final image = %q, want a small base without the toolchain", final.image)
	}
	if _, err := buildCommand(builder); err != nil {
		t.Error(err)
	}

	copied := false
	for _, ins := range final.body {
		if ins.cmd == "COPY" && strings.HasPrefix(ins.args, "--from=") && strings.HasSuffix(ins.args, " "+demoBinaryPath) {
			copied = true
		}
	}
	if !copied {
		t.Errorf("final stage does not COPY --from the builder to %s (docker compose exec demo demo ... needs it there)", demoBinaryPath)
	}
	for _, tc := range []struct {
		cmd   string
		check func(string) bool
		want  string
	}{
		{cmd: "USER", check: func(s string) bool { return !isRoot(s) }, want: "a non-root user"},
		{cmd: "EXPOSE", check: func(s string) bool { return slices.Contains(strings.Fields(s), "8080") }, want: "8080"},
		// The demo listens on loopback by default, which a container's
		// published port cannot reach.
		{cmd: "ENV", check: func(s string) bool { return slices.Contains(strings.Fields(s), "AUTHKIT_ADDR=:8080") }, want: "AUTHKIT_ADDR=:8080"},
		{cmd: "ENTRYPOINT", check: func(s string) bool { return strings.Contains(s, demoBinaryPath) }, want: demoBinaryPath},
	} {
		got, ok := final.last(tc.cmd)
		if !ok || !tc.check(got) {
			t.Errorf("final stage %s = %q, want %s", tc.cmd, got, tc.want)
		}
	}
}

// TestComposeBuildStatic runs the Dockerfile's build command, as written, and
// checks that the binary needs no libc, so it runs on a static base image.
func TestComposeBuildStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the demo binary")
	}
	stages := readDockerfile(t).stages()
	bc, err := buildCommand(stages[0])
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "demo")
	args := slices.Clone(bc.args)
	args[bc.output] = out

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = repoRoot(t)
	// The golang image sets no GOFLAGS and builds for linux; the variables
	// the Dockerfile sets come last so they win.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return name == "GOFLAGS" || name == "GOOS" || name == "GOARCH" || name == "CGO_ENABLED"
	})
	cmd.Env = append(cmd.Env, "GOOS=linux", "GOARCH="+runtime.GOARCH)
	cmd.Env = append(cmd.Env, bc.env...)
	t.Logf("%s", strings.Join(append(slices.Clone(bc.env), cmd.Args...), " "))
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, output)
	}

	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
			t.Errorf("binary has a %v program header: it is dynamically linked", prog.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) != 0 {
		t.Errorf("imported libraries = %v (%v), want none", libs, err)
	}

	info, err := buildinfo.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Path != demoImportPath {
		t.Errorf("built %s, want %s", info.Path, demoImportPath)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	// Go records -ldflags only without -trimpath; the sections show its effect.
	for k, v := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true"} {
		if settings[k] != v {
			t.Errorf("build setting %s = %q, want %q", k, settings[k], v)
		}
	}
	for _, a := range args {
		ldflags, ok := strings.CutPrefix(a, "-ldflags=")
		if !ok {
			continue
		}
		for _, tc := range []struct {
			flag, section string
		}{
			{flag: "-s", section: ".symtab"},
			{flag: "-w", section: ".debug_info"},
		} {
			if slices.Contains(strings.Fields(ldflags), tc.flag) && f.Section(tc.section) != nil {
				t.Errorf("binary has %s although the build passed %s", tc.section, tc.flag)
			}
		}
	}
}

// The build line reader refuses what it could not run exactly as the
// image's shell would, so the CI build cannot silently differ.
func TestComposeBuildCommand(t *testing.T) {
	for _, tc := range []struct {
		name    string
		run     string
		wantEnv []string
		wantErr bool
	}{
		{name: "quoted ldflags", run: `CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/demo ./demo`, wantEnv: []string{"CGO_ENABLED=0"}},
		{name: "single quotes", run: `CGO_ENABLED=0 GOAMD64=v1 go build -trimpath -ldflags='-s -w' -o /out/demo ./demo`, wantEnv: []string{"CGO_ENABLED=0", "GOAMD64=v1"}},
		{name: "cgo left on", run: `go build -trimpath -o /out/demo ./demo`, wantErr: true},
		{name: "no trimpath", run: `CGO_ENABLED=0 go build -o /out/demo ./demo`, wantErr: true},
		{name: "other output", run: `CGO_ENABLED=0 go build -trimpath -o /demo ./demo`, wantErr: true},
		{name: "other package", run: `CGO_ENABLED=0 go build -trimpath -o /out/demo ./cmd/demo`, wantErr: true},
		{name: "second command", run: `CGO_ENABLED=0 go build -trimpath -o /out/demo ./demo && strip /out/demo`, wantErr: true},
		{name: "expansion", run: `CGO_ENABLED=0 GOARCH=$TARGETARCH go build -trimpath -o /out/demo ./demo`, wantErr: true},
		{name: "expansion in quotes", run: `CGO_ENABLED=0 go build -trimpath -ldflags="-X main.v=$V" -o /out/demo ./demo`, wantErr: true},
		{name: "unterminated quote", run: `CGO_ENABLED=0 go build -trimpath -ldflags="-s -o /out/demo ./demo`, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bc, err := buildCommand(stage{body: []instruction{{line: 1, cmd: "RUN", args: tc.run}}})
			if tc.wantErr {
				if err == nil {
					t.Fatalf("accepted %q as %+v", tc.run, bc)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(bc.env, tc.wantEnv) || bc.args[0] != "build" || bc.args[bc.output] != "/out/demo" {
				t.Errorf("got %+v", bc)
			}
			if !slices.Contains(bc.args, "-ldflags=-s -w") {
				t.Errorf("args = %q, want the quoted ldflags as one word without quotes", bc.args)
			}
		})
	}
}

// instruction is one Dockerfile instruction with its continuation lines
// joined.
type instruction struct {
	line int    // where it starts, 1-based
	cmd  string // upper case: FROM, RUN, ...
	args string
}

type dockerfile []instruction

type stage struct {
	image string // the FROM image
	body  []instruction
}

// readDockerfile reads demo/Dockerfile, which uses the default escape
// character (a parser directive changing it would break this reader).
func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(t), dockerfilePath))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		df    dockerfile
		cur   strings.Builder
		start int
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue // comments may also sit between continuation lines
		}
		if cur.Len() == 0 {
			start = n
		}
		body, more := strings.CutSuffix(line, `\`)
		cur.WriteString(body)
		if more {
			cur.WriteString(" ")
			continue
		}
		cmd, args, _ := strings.Cut(cur.String(), " ")
		df = append(df, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur.Len() != 0 {
		t.Fatalf("%s ends inside a continued line", dockerfilePath)
	}
	return df
}

func (df dockerfile) stages() []stage {
	var stages []stage
	for _, ins := range df {
		if ins.cmd == "FROM" {
			fields := strings.Fields(ins.args)
			for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
				fields = fields[1:] // --platform=...
			}
			image := ""
			if len(fields) > 0 {
				image = fields[0]
			}
			stages = append(stages, stage{image: image})
			continue
		}
		if len(stages) > 0 {
			stages[len(stages)-1].body = append(stages[len(stages)-1].body, ins)
		}
	}
	return stages
}

// last returns the arguments of the stage's last cmd instruction, the one
// that takes effect.
func (s stage) last(cmd string) (string, bool) {
	for i := len(s.body) - 1; i >= 0; i-- {
		if s.body[i].cmd == cmd {
			return s.body[i].args, true
		}
	}
	return "", false
}

// goBuild is the Dockerfile's build command: env as NAME=value, args for
// the go command starting with "build", args[output] the -o path.
type goBuild struct {
	env    []string
	args   []string
	output int
}

var envAssignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// buildCommand finds the stage's single RUN line that runs `go build` and
// splits it. It accepts only what it can run here exactly as the shell in
// the image would: NAME=value words, then `go build`, its flags, -o and the
// ./demo package; no expansions, no second command.
func buildCommand(s stage) (goBuild, error) {
	var runs []instruction
	for _, ins := range s.body {
		if ins.cmd == "RUN" && strings.Contains(ins.args, "go build") {
			runs = append(runs, ins)
		}
	}
	if len(runs) != 1 {
		return goBuild{}, fmt.Errorf("%s: want exactly one RUN with go build in the builder stage, found %d", dockerfilePath, len(runs))
	}
	run := runs[0]
	words, err := shellWords(run.args)
	if err != nil {
		return goBuild{}, fmt.Errorf("%s:%d: %v", dockerfilePath, run.line, err)
	}
	var bc goBuild
	for len(words) > 0 && envAssignment.MatchString(words[0]) {
		bc.env = append(bc.env, words[0])
		words = words[1:]
	}
	if len(words) < 2 || words[0] != "go" || words[1] != "build" {
		return goBuild{}, fmt.Errorf("%s:%d: want [NAME=value ...] go build ..., got %q", dockerfilePath, run.line, run.args)
	}
	bc.args = words[1:]
	bc.output = -1
	for i, a := range bc.args {
		if a == "-o" && i+1 < len(bc.args) {
			bc.output = i + 1
		}
	}
	switch {
	case !slices.Contains(bc.env, "CGO_ENABLED=0"):
		return goBuild{}, fmt.Errorf("%s:%d: the build must set CGO_ENABLED=0 for a static binary", dockerfilePath, run.line)
	case bc.output < 0 || bc.args[bc.output] != "/out/demo":
		return goBuild{}, fmt.Errorf("%s:%d: want -o /out/demo (the path the final stage copies)", dockerfilePath, run.line)
	case bc.args[len(bc.args)-1] != "./demo":
		return goBuild{}, fmt.Errorf("%s:%d: want the ./demo package last", dockerfilePath, run.line)
	case !slices.Contains(bc.args, "-trimpath"):
		return goBuild{}, fmt.Errorf("%s:%d: want -trimpath (no build paths in the binary)", dockerfilePath, run.line)
	}
	return bc, nil
}

// shellWords splits one simple shell command into words, honouring single
// and double quotes. It rejects anything a shell would expand or treat as a
// second command, so the words are exactly what the shell would run.
func shellWords(s string) ([]string, error) {
	var (
		words  []string
		cur    strings.Builder
		inWord bool
		quote  rune
	)
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
				continue
			}
			if quote == '"' && strings.ContainsRune("$`\\", r) {
				return nil, fmt.Errorf("%q in %q: only literal words are supported", r, s)
			}
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case strings.ContainsRune("$`\\;&|<>(){}*?[]~#", r):
			return nil, fmt.Errorf("%q in %q: only one command of literal words is supported", r, s)
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// goModVersion returns the go directive of go.mod, e.g. "1.26.8".
func goModVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "go "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("go.mod has no go directive")
	return ""
}

// isRoot reports whether a Dockerfile or compose user (name, uid, or
// user:group) is root or unset.
func isRoot(user string) bool {
	u, _, _ := strings.Cut(strings.TrimSpace(user), ":")
	return u == "" || u == "root" || strings.TrimLeft(u, "0") == ""
}

// containsSeq reports whether want appears in s as consecutive elements.
func containsSeq(s []string, want ...string) bool {
	for i := 0; i+len(want) <= len(s); i++ {
		if slices.Equal(s[i:i+len(want)], want) {
			return true
		}
	}
	return false
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

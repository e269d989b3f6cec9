package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// healthcheckTimeout bounds the whole check: connect, request and answer.
// It stays below the timeout of the compose healthcheck (3s), so that the
// check ends with its own reason rather than being killed.
const healthcheckTimeout = 2 * time.Second

// cmdHealthcheck asks the demo serving on AUTHKIT_ADDR whether it is
// healthy: GET /healthz, success only on 200. It is the container's
// healthcheck: the distroless image has no shell and no curl.
//
// Docker reserves exit code 2 for healthchecks, so every failure exits 1,
// a bad AUTHKIT_ADDR or a stray argument included.
func cmdHealthcheck(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("healthcheck", stderr)
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errors.New(err.Error()) // drop the usage kind: exit 1
	}
	url, err := healthURL(orDefault(getenv(envAddr), defaultAddr))
	if err != nil {
		return fmt.Errorf("healthcheck: %s: %v", envAddr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %v", err)
	}
	client := &http.Client{
		// No proxy from the environment: the check is for this host.
		Transport: &http.Transport{DisableKeepAlives: true},
		// A redirect is not health.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	res, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("healthcheck: GET %s: no answer within %v", url, healthcheckTimeout)
		}
		return fmt.Errorf("healthcheck: %v", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 4096))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s: %s", url, res.Status)
	}
	fmt.Fprintf(stdout, "healthy: GET %s: %s\n", url, res.Status)
	return nil
}

// healthURL returns the /healthz URL of a demo listening on addr: on
// addr's host, or on 127.0.0.1 when addr names every interface (":8080",
// "0.0.0.0:8080", "[::]:8080").
func healthURL(addr string) (string, error) {
	host, port, err := splitAddr(addr)
	if err != nil {
		return "", err
	}
	if port == 0 {
		return "", fmt.Errorf("%q has port 0, which picks a free port at start: the healthcheck cannot know which", addr)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/healthz", nil
}

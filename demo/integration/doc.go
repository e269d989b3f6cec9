// Package integration holds the demo's tests that need dependencies the
// library must not pass on to its users: the browser test (chromedp,
// driving headless chromium) and the container tests (compose-go, the
// parser of docker compose). It is a module of its own, replacing
// github.com/gin-authkit/authkit with this repository, and has no code
// besides its tests, which build the demo and run it as a process (see
// demo/internal/demotest).
//
//	cd demo/integration && go test ./...
package integration

package ginauth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/ginauth"
)

// auditLog collects every audit event of the package's tests, through the
// harness, and every secret those tests sent or received, so that
// TestMain can check that no event carries one.
type auditLog struct {
	mu      sync.Mutex
	events  []audit.Event
	text    bytes.Buffer // the same events through the default slog hook
	secrets map[string]bool
}

var audited = &auditLog{secrets: map[string]bool{testSecret: true, alicePW: true, bobPW: true}}

func (l *auditLog) record(ctx context.Context, e audit.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	audit.Log(slog.New(slog.NewTextHandler(&l.text, nil)))(ctx, e)
}

// secretsOf remembers the credentials in a request and its response.
func (l *auditLog) secretsOf(req *http.Request, body string, r resp) {
	var found []string
	for _, k := range []string{"access_token", "refresh_token", "csrf_token", "device_token"} {
		found = append(found, r.str(k))
	}
	for _, c := range r.Result().Cookies() {
		found = append(found, c.Value)
	}
	for _, c := range req.Cookies() {
		found = append(found, c.Value)
	}
	found = append(found, req.Header.Get(ginauth.DeviceHeader), r.Header().Get(ginauth.DeviceHeader))
	if v := req.Header.Get("Authorization"); v != "" {
		_, param, _ := strings.Cut(v, " ")
		found = append(found, param)
		if raw, err := base64.StdEncoding.DecodeString(param); err == nil {
			if _, pw, ok := strings.Cut(string(raw), ":"); ok {
				found = append(found, pw)
			}
		}
	}
	if i := strings.Index(body, `"password":"`); i >= 0 {
		pw := body[i+len(`"password":"`):]
		if j := strings.IndexByte(pw, '"'); j >= 0 {
			found = append(found, pw[:j])
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range found {
		// Short strings would match by chance; every real secret of the
		// suite is at least 8 bytes.
		if len(s) >= 8 {
			l.secrets[s] = true
		}
	}
}

// leaks reports every secret found in an event; n is the number of events.
func (l *auditLog) leaks() (n int, leaks []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var all strings.Builder
	for _, e := range l.events {
		fmt.Fprintf(&all, "%+v\n", e)
	}
	all.Write(l.text.Bytes())
	text := all.String()
	for s := range l.secrets {
		if strings.Contains(text, s) {
			leaks = append(leaks, fmt.Sprintf("%.12s…", s))
		}
	}
	return len(l.events), leaks
}

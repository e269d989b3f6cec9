package main

import (
	"bytes"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/ginauth"
)

//go:embed page.html
var pageHTML string

var pageTemplate = template.Must(template.New("page").Parse(pageHTML))

// pageRoute is one row of the page's route table.
type pageRoute struct{ Method, Path, Who string }

type pageData struct {
	Realm, Mode, Nonce, Origin string
	Routes                     []pageRoute
}

// describeRoutes lists the engine's routes for the page, with the rules
// the router recorded.
func describeRoutes(rt *ginauth.Router) []pageRoute {
	routes := rt.Routes()
	out := make([]pageRoute, 0, len(routes))
	for _, r := range routes {
		out = append(out, pageRoute{Method: r.Method, Path: r.Path, Who: who(r)})
	}
	return out
}

func who(r ginauth.Route) string {
	var s string
	switch {
	case !r.Annotated || r.Problem != "":
		return "misconfigured"
	case r.Public:
		return "anyone"
	case len(r.AllOf) > 0:
		clauses := make([]string, len(r.AllOf))
		for i, c := range r.AllOf {
			clauses[i] = "role " + strings.Join(c, " or ")
		}
		s = strings.Join(clauses, ", and ")
	default:
		s = "authenticated"
	}
	switch {
	case r.MFA && r.MFAMaxAge > 0:
		s += ", with a second factor used within " + maxAge(r.MFAMaxAge)
	case r.MFA:
		s += ", with a second factor"
	}
	return s
}

// maxAge renders a step-up's maximum age for people: "5 minutes".
func maxAge(d time.Duration) string {
	if d%time.Minute == 0 {
		if m := int(d / time.Minute); m != 1 {
			return strconv.Itoa(m) + " minutes"
		}
		return "1 minute"
	}
	return d.String()
}

// page serves the browser page, for GET and HEAD. Its inline script and
// style run under a per-response nonce, and the Content-Security-Policy
// allows nothing else: no other script, no frames, requests to this origin
// only.
func (a *app) page(c *gin.Context) {
	nonce := make([]byte, 16)
	rand.Read(nonce) // never fails: since Go 1.24 it crashes the program instead
	// URL-safe base64 is valid CSP nonce syntax and needs no HTML escaping.
	n := base64.RawURLEncoding.EncodeToString(nonce)
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	var buf bytes.Buffer
	err := pageTemplate.Execute(&buf, pageData{
		Realm: a.auth.Config().Realm, Mode: a.mode, Nonce: n,
		Origin: scheme + "://" + c.Request.Host, Routes: a.routes,
	})
	if err != nil {
		a.logger.Error("rendering the page", "err", err)
		internalError(c)
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+n+"'; style-src 'nonce-"+n+
		"'; connect-src 'self'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Cache-Control", "no-store")
	// Stated, so that GET and HEAD carry the same headers: without it a
	// page this size goes out chunked, and HEAD with no length at all.
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	c.Data(http.StatusOK, "text/html; charset=utf-8", buf.Bytes())
}

package ginauth

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"unsafe"

	"github.com/gin-gonic/gin"
)

// Requirement is what the annotations on a route demand.
type Requirement struct {
	// Public marks a route as deliberately open ([Public], login, refresh).
	Public bool
	// Authenticated routes need a principal.
	Authenticated bool
	// AnyOf lists role clauses, all of which must hold; a clause holds when
	// the principal has at least one of its roles. RequireRoles("a","b")
	// adds the clause [a b]; RequireAllRoles("a","b") adds [a] and [b].
	AnyOf [][]string
	// Endpoint marks handlers that answer the request themselves (login,
	// refresh, logout, health), as opposed to middleware annotations, which
	// must come before the handler they protect.
	Endpoint bool
}

// Route is one route of an engine with the requirement its annotations
// add up to.
type Route struct {
	Method string
	Path   string
	Requirement
	// Annotated is false when no authkit annotation is on the route: it is
	// open, but nobody said it should be.
	Annotated bool
	// Problem describes a contradictory or empty annotation (Public next to
	// Required, a role list with no roles); empty when all is well.
	Problem string
}

// String renders the route for reviews and docs, e.g.
// "GET /api/reports  roles: admin|analyst".
func (r Route) String() string {
	var who string
	switch {
	case !r.Annotated:
		who = "UNANNOTATED"
	case r.Problem != "":
		who = "MISCONFIGURED: " + r.Problem
	case r.Public:
		who = "public"
	case len(r.AnyOf) > 0:
		clauses := make([]string, len(r.AnyOf))
		for i, c := range r.AnyOf {
			clauses[i] = strings.Join(c, "|")
		}
		who = "roles: " + strings.Join(clauses, " & ")
	default:
		who = "authenticated"
	}
	return fmt.Sprintf("%s %s  %s", r.Method, r.Path, who)
}

// annotate wraps h so that [Routes] can recognise it and ask for req.
// Every annotation is a closure of this one function literal, so its code
// pointer identifies annotations; noinline keeps it from being copied into
// callers, which would give some annotations other code pointers.
//
//go:noinline
func annotate(req Requirement, h gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request == probeRequest {
			c.Set(probeKey, req)
			return
		}
		h(c)
	}
}

// probeRequest marks the context Routes passes to an annotation to read
// its requirement instead of running it. Only this package can produce
// it, so a real request never takes that branch.
var probeRequest = &http.Request{}

const probeKey = "github.com/gin-authkit/authkit/ginauth.probe"

// annotationCode is the code pointer shared by all annotation closures.
var annotationCode = reflect.ValueOf(annotate(Requirement{}, nil)).Pointer()

// requirementOf returns the requirement of h when h is an annotation.
func requirementOf(h gin.HandlerFunc) (Requirement, bool) {
	if h == nil || reflect.ValueOf(h).Pointer() != annotationCode {
		return Requirement{}, false
	}
	c := &gin.Context{Request: probeRequest}
	h(c)
	v, ok := c.Get(probeKey)
	req, _ := v.(Requirement)
	return req, ok
}

// ErrRoutesUnreadable reports that the engine's routes could not be
// inspected (an unsupported Gin version).
var ErrRoutesUnreadable = errors.New("ginauth: cannot read gin routes")

// Routes lists every route of e with the requirement its authkit
// annotations add up to, sorted by path then method. Gin does not expose
// a route's middleware chain, so Routes reads it from the router with
// reflection; it fails with [ErrRoutesUnreadable] rather than guess when
// the router's layout is not the one it knows.
func Routes(e *gin.Engine) ([]Route, error) {
	trees := reflect.ValueOf(e).Elem().FieldByName("trees")
	if !trees.IsValid() || trees.Kind() != reflect.Slice {
		return nil, fmt.Errorf("%w: no trees field", ErrRoutesUnreadable)
	}
	var out []Route
	for i := 0; i < trees.Len(); i++ {
		t := trees.Index(i)
		method, root := t.FieldByName("method"), t.FieldByName("root")
		if method.Kind() != reflect.String || root.Kind() != reflect.Pointer {
			return nil, fmt.Errorf("%w: unexpected method tree", ErrRoutesUnreadable)
		}
		if err := walk(root, method.String(), &out); err != nil {
			return nil, err
		}
	}
	if len(out) != len(e.Routes()) {
		return nil, fmt.Errorf("%w: found %d routes, gin reports %d", ErrRoutesUnreadable, len(out), len(e.Routes()))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out, nil
}

func walk(n reflect.Value, method string, out *[]Route) error {
	if n.IsNil() {
		return nil
	}
	n = n.Elem()
	handlers, path, children := n.FieldByName("handlers"), n.FieldByName("fullPath"), n.FieldByName("children")
	if handlers.Kind() != reflect.Slice || path.Kind() != reflect.String || children.Kind() != reflect.Slice {
		return fmt.Errorf("%w: unexpected node", ErrRoutesUnreadable)
	}
	if handlers.Len() > 0 {
		r := Route{Method: method, Path: path.String()}
		last := handlers.Len() - 1
		for i := 0; i <= last; i++ {
			// The field is unexported, so reflect will not hand out the
			// func; read it from its own address with its own type.
			h := *(*gin.HandlerFunc)(unsafe.Pointer(handlers.Index(i).UnsafeAddr()))
			if req, ok := requirementOf(h); ok {
				r.merge(req)
				if i == last && !req.Endpoint {
					r.Problem = "annotation placed after the handler, which runs unprotected"
				}
			}
		}
		*out = append(*out, r)
	}
	for i := 0; i < children.Len(); i++ {
		if err := walk(children.Index(i), method, out); err != nil {
			return err
		}
	}
	return nil
}

func (r *Route) merge(q Requirement) {
	r.Annotated = true
	r.Public = r.Public || q.Public
	r.Authenticated = r.Authenticated || q.Authenticated
	r.Endpoint = r.Endpoint || q.Endpoint
	for _, c := range q.AnyOf {
		if len(c) == 0 {
			r.Problem = "role annotation without roles (denies everyone)"
		}
		if !slices.ContainsFunc(r.AnyOf, func(have []string) bool { return slices.Equal(have, c) }) {
			r.AnyOf = append(r.AnyOf, c)
		}
	}
	if r.Public && r.Authenticated {
		r.Problem = "marked both public and authenticated"
	}
}

// CheckRoutes returns an error naming every route of e that carries no
// authkit annotation or a contradictory one. Call it at start-up or in a
// test (see package ginauthtest) so that no route is open by accident.
func CheckRoutes(e *gin.Engine) error {
	routes, err := Routes(e)
	if err != nil {
		return err
	}
	var bad []string
	for _, r := range routes {
		if !r.Annotated || r.Problem != "" {
			bad = append(bad, r.String())
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w:\n  %s", ErrUnannotatedRoute, strings.Join(bad, "\n  "))
	}
	return nil
}

// ErrUnannotatedRoute reports routes without an authkit annotation.
var ErrUnannotatedRoute = errors.New("ginauth: routes without a valid authkit annotation")

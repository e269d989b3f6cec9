package ginauth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/gin-gonic/gin"
)

// Requirement is what the annotations on a route demand.
type Requirement struct {
	// Public marks a route as deliberately open ([Public], login, refresh).
	Public bool
	// Authenticated routes need a principal.
	Authenticated bool
	// AllOf lists role clauses, all of which must hold; a clause holds when
	// the principal has at least one of its roles. RequireRoles("a","b")
	// adds the clause [a b]; RequireAllRoles("a","b") adds [a] and [b].
	AllOf [][]string
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
	case len(r.AllOf) > 0:
		clauses := make([]string, len(r.AllOf))
		for i, c := range r.AllOf {
			clauses[i] = strings.Join(c, "|")
		}
		who = "roles: " + strings.Join(clauses, " & ")
	default:
		who = "authenticated"
	}
	return fmt.Sprintf("%s %s  %s", r.Method, r.Path, who)
}

// annotations records the requirement of every annotation when it is
// made, keyed by the identity of its handler func, so that [Routes] can
// read a route's requirements while the handler runs at no extra cost:
// an annotation is the plain handler, with no wrapper and no check per
// request. Annotations are made while routes are set up, so the table
// holds one entry per annotation in the program.
//
// Each entry holds its handler: a closure's address is its key, and a
// closure that the garbage collector freed would leave its address to
// the next closure allocated there, which would then read as annotated
// (TestRoutes caught an Authenticate closure listed as public that way).
// Holding the handler keeps every key's closure alive, so no address is
// ever reused while its entry exists; the price is that annotations are
// never freed, which is what a program that sets up its routes once
// expects anyway.
var annotations sync.Map // funcKey → annotation

// annotation is one entry of annotations.
type annotation struct {
	req Requirement
	h   gin.HandlerFunc // pins the closure whose address is the key
}

// annotate records req as the requirement of h and returns h itself.
func annotate(req Requirement, h gin.HandlerFunc) gin.HandlerFunc {
	annotations.Store(funcKey(h), annotation{req: req, h: h})
	return h
}

// funcKey identifies a func value: the address of its closure, unique for
// every closure made at run time (a func literal without captured
// variables has one shared address, which suits Public: its requirement
// is always the same).
func funcKey(h gin.HandlerFunc) uintptr { return *(*uintptr)(unsafe.Pointer(&h)) }

// requirementOf returns the requirement of h when h is an annotation.
func requirementOf(h gin.HandlerFunc) (Requirement, bool) {
	if h == nil {
		return Requirement{}, false
	}
	v, ok := annotations.Load(funcKey(h))
	a, _ := v.(annotation)
	return a.req, ok
}

// ErrRoutesUnreadable reports that the engine's routes could not be
// inspected (an unsupported Gin version).
var ErrRoutesUnreadable = errors.New("ginauth: cannot read gin routes")

func (r *Route) merge(q Requirement) {
	r.Annotated = true
	r.Public = r.Public || q.Public
	r.Authenticated = r.Authenticated || q.Authenticated
	r.Endpoint = r.Endpoint || q.Endpoint
	for _, c := range q.AllOf {
		if len(c) == 0 {
			r.Problem = "role annotation without roles (denies everyone)"
		}
		if !slices.ContainsFunc(r.AllOf, func(have []string) bool { return slices.Equal(have, c) }) {
			r.AllOf = append(r.AllOf, c)
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

package ginauth

import (
	"errors"
	"fmt"
	"net/http"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// Rule says who may call a route: [Open], [SignedIn], [AnyRole] or
// [AllRoles], and with [Rule.WithMFA] whether a second factor is needed.
// A [Router] takes it with the route, enforces it and lists it. The zero
// Rule is a mistake: a route registered with it denies everyone and is
// reported by [Router.Check].
type Rule struct {
	set  bool // false for the zero Rule
	open bool
	// allOf lists role clauses, all of which must hold; a clause holds
	// when the principal has at least one of its roles.
	allOf   [][]string
	stepUp  stepUp
	problem string
}

// Open is the rule of a route open to anyone, on purpose: login, health,
// a public page. Routes behind [Auth.Authenticate] can still tell who is
// signed in.
func Open() Rule { return Rule{set: true, open: true} }

// SignedIn is the rule of a route for any authenticated caller.
func SignedIn() Rule { return Rule{set: true} }

// AnyRole is the rule of a route for callers with at least one of roles.
// With no roles it denies everyone (fail closed) and the route is
// reported as misconfigured; so is an empty role name, which no
// principal has.
func AnyRole(roles ...string) Rule {
	r := Rule{set: true, allOf: [][]string{slices.Clone(roles)}}
	switch {
	case len(roles) == 0:
		r.problem = "role rule without roles (denies everyone)"
	case slices.Contains(roles, ""):
		r.problem = "empty role name (no principal has it)"
	}
	return r
}

// AllRoles is the rule of a route for callers with every one of roles.
// With no roles it denies everyone, as [AnyRole] does.
func AllRoles(roles ...string) Rule {
	if len(roles) == 0 {
		return AnyRole()
	}
	r := Rule{set: true}
	for _, role := range roles {
		r.allOf = append(r.allOf, []string{role})
	}
	if slices.Contains(roles, "") {
		r.problem = "empty role name (no principal has it)"
	}
	return r
}

// WithMFA returns r requiring, in addition, that the caller used a
// second factor ("mfa" in the access token's amr, RFC 8176) and, when
// maxAge is not zero, authenticated at most maxAge ago (the token's
// auth_time). A caller who does not gets 401 step_up_required with an RFC
// 9470 challenge: Bearer error="insufficient_user_authentication",
// acr_values and, with a maximum age, max_age in seconds. Roles are
// checked after it: a caller who meets it but lacks a role gets 403, and
// one who meets neither gets the 401, also when a group declares one and
// its route the other.
//
//	rt.GET("/account/email", ginauth.SignedIn().WithMFA(0), h)
//	rt.DELETE("/users/:name", ginauth.AnyRole("admin").WithMFA(5*time.Minute), h)
//
// Callers over HTTP Basic or the session cookie authenticated with a
// password only (amr ["pwd"]) and never meet it. A negative maxAge
// (nobody meets it) and WithMFA on [Open] (the route is then not open,
// and needs the second factor) are mistakes that [Router.Check] reports.
func (r Rule) WithMFA(maxAge time.Duration) Rule {
	r.allOf = cloneClauses(r.allOf)
	r.stepUp = r.stepUp.and(stepUp{mfa: true, maxAge: maxAge})
	if maxAge < 0 {
		r.problem = joinProblems(r.problem, "negative step-up max age (nobody meets it)")
	}
	if r.open {
		r.open = false
		r.problem = joinProblems(r.problem, "step-up on an open rule (it is not open)")
	}
	return r
}

// valid returns r, or for the zero Rule a rule that denies everyone.
func (r Rule) valid() Rule {
	if r.set {
		return r
	}
	return Rule{set: true, allOf: [][]string{{}}, problem: "no rule (the zero Rule denies everyone)"}
}

// within returns the rule a route with rule r has inside a group with
// rule g: the group's enforcement runs first, so role clauses add up, and
// an open route inside a group that requires sign-in is not open.
func (r Rule) within(g Rule) Rule {
	switch {
	case g.open:
		return r
	case r.open:
		g.problem = joinProblems(g.problem, "open route inside a group that requires sign-in (it is not open)")
		return g
	}
	out := Rule{set: true, allOf: slices.Clone(g.allOf), stepUp: g.stepUp.and(r.stepUp), problem: g.problem}
	for _, c := range r.allOf {
		if !slices.ContainsFunc(out.allOf, func(have []string) bool { return slices.Equal(have, c) }) {
			out.allOf = append(out.allOf, c)
		}
	}
	out.problem = joinProblems(out.problem, r.problem)
	return out
}

// joinProblems adds problem q to p, once.
func joinProblems(p, q string) string {
	switch {
	case q == "" || strings.Contains(p, q):
		return p
	case p == "":
		return q
	}
	return p + "; " + q
}

// Route is one route of an engine with the rule it was registered with.
type Route struct {
	Method string
	Path   string
	// Annotated is false for a route registered directly on the engine,
	// not through the [Router]: gin serves it with no rule at all.
	Annotated bool
	// Public is set for an [Open] route; other annotated routes need an
	// authenticated caller.
	Public bool
	// AllOf lists the role clauses of [AnyRole] and [AllRoles], all of
	// which must hold; a clause holds when the principal has at least one
	// of its roles. AnyRole("a","b") is the clause [a b]; AllRoles("a","b")
	// is [a] and [b].
	AllOf [][]string
	// MFA is set for a rule with [Rule.WithMFA]: the caller must have used
	// a second factor, within MFAMaxAge when that is not zero.
	MFA       bool
	MFAMaxAge time.Duration
	// Problem describes a rule that cannot mean what it says (an empty
	// role list, an open route inside a group that requires sign-in);
	// empty when all is well.
	Problem string
}

// String renders the route for reviews and docs, e.g.
// "GET /api/reports  roles: admin|analyst" or
// "DELETE /api/users/:name  roles: admin, mfa within 5m0s".
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
	switch {
	case r.Annotated && r.Problem == "" && r.MFA && r.MFAMaxAge != 0:
		who += ", mfa within " + r.MFAMaxAge.String()
	case r.Annotated && r.Problem == "" && r.MFA:
		who += ", mfa"
	}
	return fmt.Sprintf("%s %s  %s", r.Method, r.Path, who)
}

// ErrUnannotatedRoute reports routes registered without a rule, or with
// one that cannot mean what it says.
var ErrUnannotatedRoute = errors.New("ginauth: routes without a valid authkit rule")

// Router registers routes on a gin engine together with their [Rule]:
// it puts the rule's enforcement in front of the handlers and records
// the route, so that [Router.Routes] can list what every route requires
// and [Router.Check] can catch a route registered directly on the
// engine. Make one with [Auth.Router] for each engine, while setting up
// routes; its groups share its table. Register routes from one goroutine,
// as gin requires, and call Routes and Check before the engine serves or
// from its handlers: gin rewrites its trees during the first request.
type Router struct {
	auth   *Auth
	engine *gin.Engine
	group  *gin.RouterGroup
	rule   Rule
	table  *routeTable
}

// routeTable is what a root Router and its groups have registered.
type routeTable struct {
	mu     sync.Mutex
	routes map[routeKey]Route
}

type routeKey struct{ method, path string }

// stepUpOf returns the step-up requirement of the route that c matched,
// for a role check that fails (see [Auth.require]); zero when the route
// is not in the table.
func (t *routeTable) stepUpOf(c *gin.Context) stepUp {
	method, full := c.Request.Method, c.FullPath()
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.routes[routeKey{method, full}]
	if !ok {
		for k, kr := range t.routes {
			if k.method == method && unescapeColons(k.path) == full {
				r = kr
				break
			}
		}
	}
	return stepUp{mfa: r.MFA, maxAge: r.MFAMaxAge}
}

// Router returns the root router of e: its routes are e's own, open
// unless their rule says otherwise. Call it once per engine; a second
// root router would keep a table of its own and report the first one's
// routes as unannotated.
func (a *Auth) Router(e *gin.Engine) *Router {
	return &Router{auth: a, engine: e, group: &e.RouterGroup, rule: Open(),
		table: &routeTable{routes: map[routeKey]Route{}}}
}

// Group returns a router for the routes under relativePath, which all
// need rule (on top of this router's own) before mw and their handlers
// run. Routes of the group combine their rules with it: role clauses add
// up, and an [Open] route inside a group that requires sign-in is
// reported at registration (and stays behind the group's rule).
func (rt *Router) Group(relativePath string, rule Rule, mw ...gin.HandlerFunc) *Router {
	eff := rule.valid().within(rt.rule)
	if eff.problem != "" && eff.problem != rt.rule.problem {
		rt.warn("group", "", joinPaths(rt.group.BasePath(), relativePath), eff.problem)
	}
	g := rt.group.Group(relativePath, append(rt.enforce(eff), mw...)...)
	return &Router{auth: rt.auth, engine: rt.engine, group: g, rule: eff, table: rt.table}
}

// Handle registers handlers for method and relativePath behind rule, as
// gin's Handle does, and records the route.
func (rt *Router) Handle(method, relativePath string, rule Rule, handlers ...gin.HandlerFunc) {
	eff := rule.valid().within(rt.rule)
	full := joinPaths(rt.group.BasePath(), relativePath)
	if eff.problem != "" && eff.problem != rt.rule.problem {
		rt.warn("route", method, full, eff.problem)
	}
	rt.group.Handle(method, relativePath, append(rt.enforce(eff), handlers...)...)
	rt.table.mu.Lock()
	defer rt.table.mu.Unlock()
	rt.table.routes[routeKey{method, full}] = Route{Method: method, Path: full, Annotated: true,
		Public: eff.open, AllOf: eff.allOf, MFA: eff.stepUp.mfa, MFAMaxAge: eff.stepUp.maxAge, Problem: eff.problem}
}

// GET registers a GET route; see [Router.Handle].
func (rt *Router) GET(relativePath string, rule Rule, handlers ...gin.HandlerFunc) {
	rt.Handle(http.MethodGet, relativePath, rule, handlers...)
}

// POST registers a POST route; see [Router.Handle].
func (rt *Router) POST(relativePath string, rule Rule, handlers ...gin.HandlerFunc) {
	rt.Handle(http.MethodPost, relativePath, rule, handlers...)
}

// PUT registers a PUT route; see [Router.Handle].
func (rt *Router) PUT(relativePath string, rule Rule, handlers ...gin.HandlerFunc) {
	rt.Handle(http.MethodPut, relativePath, rule, handlers...)
}

// PATCH registers a PATCH route; see [Router.Handle].
func (rt *Router) PATCH(relativePath string, rule Rule, handlers ...gin.HandlerFunc) {
	rt.Handle(http.MethodPatch, relativePath, rule, handlers...)
}

// DELETE registers a DELETE route; see [Router.Handle].
func (rt *Router) DELETE(relativePath string, rule Rule, handlers ...gin.HandlerFunc) {
	rt.Handle(http.MethodDelete, relativePath, rule, handlers...)
}

// HEAD registers a HEAD route; see [Router.Handle].
func (rt *Router) HEAD(relativePath string, rule Rule, handlers ...gin.HandlerFunc) {
	rt.Handle(http.MethodHead, relativePath, rule, handlers...)
}

// OPTIONS registers an OPTIONS route; see [Router.Handle].
func (rt *Router) OPTIONS(relativePath string, rule Rule, handlers ...gin.HandlerFunc) {
	rt.Handle(http.MethodOptions, relativePath, rule, handlers...)
}

// enforce returns the middleware that adds eff to what this router's
// rule already enforces: nothing for an open route or one that adds
// nothing, [Auth.Required] for sign-in, a check of the step-up
// requirement and role clauses that are new.
func (rt *Router) enforce(eff Rule) []gin.HandlerFunc {
	if eff.open {
		return nil
	}
	added := Rule{set: true}
	for _, c := range eff.allOf {
		if !slices.ContainsFunc(rt.rule.allOf, func(have []string) bool { return slices.Equal(have, c) }) {
			added.allOf = append(added.allOf, c)
		}
	}
	if eff.stepUp.adds(rt.rule.stepUp) {
		added.stepUp = eff.stepUp
	}
	switch {
	case len(added.allOf) > 0 || added.stepUp.mfa:
		return []gin.HandlerFunc{rt.auth.require(added, rt.table.stepUpOf)}
	case rt.rule.open:
		return []gin.HandlerFunc{rt.auth.Required()}
	}
	return nil
}

// warn logs a rule that cannot mean what it says, when it is registered.
func (rt *Router) warn(kind, method, fullPath, problem string) {
	rt.auth.cfg.Logger.Warn("ginauth: misconfigured "+kind, "method", method, "path", fullPath, "problem", problem)
}

// Routes lists every route of the engine, sorted by path then method:
// those registered through this router (or its root and groups) with
// their rule, and those registered directly on the engine as
// unannotated.
func (rt *Router) Routes() []Route {
	rt.table.mu.Lock()
	out := make([]Route, 0, len(rt.table.routes))
	// Each recorded route stands for one route of the engine; any other
	// engine route with the same method and path was registered directly.
	// gin turns an escaped colon into a plain one in its trees on the
	// first request, so paths are compared in that form.
	recorded := make(map[routeKey]int, len(rt.table.routes))
	for k, r := range rt.table.routes {
		r.AllOf = cloneClauses(r.AllOf)
		out = append(out, r)
		recorded[routeKey{k.method, unescapeColons(k.path)}]++
	}
	rt.table.mu.Unlock()
	for _, ri := range rt.engine.Routes() {
		k := routeKey{ri.Method, unescapeColons(ri.Path)}
		if recorded[k] > 0 {
			recorded[k]--
			continue
		}
		out = append(out, Route{Method: ri.Method, Path: ri.Path})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}

// Check returns an error wrapping [ErrUnannotatedRoute] that names every
// route of the engine registered without the router or with a rule that
// cannot mean what it says. Call it at start-up or in a test (see
// package ginauthtest) so that no route is open by accident.
func (rt *Router) Check() error {
	var bad []string
	for _, r := range rt.Routes() {
		if !r.Annotated || r.Problem != "" {
			bad = append(bad, r.String())
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w:\n  %s", ErrUnannotatedRoute, strings.Join(bad, "\n  "))
	}
	return nil
}

func cloneClauses(cs [][]string) [][]string {
	if cs == nil {
		return nil
	}
	out := make([][]string, len(cs))
	for i, c := range cs {
		out[i] = slices.Clone(c)
	}
	return out
}

// joinPaths joins a group's base path and a route's relative path as gin
// does, keeping a trailing slash, so that the table's paths are those of
// Engine.Routes.
func joinPaths(base, relative string) string {
	if relative == "" {
		return base
	}
	p := path.Join(base, relative)
	if strings.HasSuffix(relative, "/") && !strings.HasSuffix(p, "/") {
		return p + "/"
	}
	return p
}

// unescapeColons writes a path's escaped colons as gin's trees hold them
// once the engine has served.
func unescapeColons(path string) string { return strings.ReplaceAll(path, `\:`, ":") }

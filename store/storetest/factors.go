package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/store"
)

// RunFactors runs the contract of a [store.FactorBackend]: second
// factors (adding, replacing a pending enrolment, the passkey owner
// index, the cap, the counter rule of UseFactor under concurrency,
// removal) and single-use recovery codes. Each subtest gets a fresh
// store from newStore; now is the clock it must use.
func RunFactors(t *testing.T, newStore func(t *testing.T, now func() time.Time) store.FactorBackend) {
	t.Helper()
	runCases(t, factorCases, func(t *testing.T, clk *clock) *fenv {
		return &fenv{s: notNil(t, newStore(t, clk.Now)), clock: clk, ctx: t.Context()}
	})
}

// fenv is what a factor case works with.
type fenv struct {
	s     store.FactorBackend
	clock *clock
	ctx   context.Context
}

var factorCases = []caseOf[fenv]{
	{"AddListOrder", testFactorAddListOrder},
	{"PendingReplacedConfirmedExists", testFactorPendingReplaced},
	{"PasskeyHeldByAnotherUser", testFactorPasskeyOtherUser},
	{"MaxFactors", testFactorMax},
	{"MaxFactorsConcurrent", testFactorMaxConcurrent},
	{"Invalid", testFactorInvalid},
	{"UseCounterRule", testFactorUseCounterRule},
	{"UseUnknown", testFactorUseUnknown},
	{"UseConcurrentSameCounter", testFactorUseConcurrent},
	{"RemoveAndOwner", testFactorRemoveOwner},
	{"DataIsCopied", testFactorCopies},
	{"RecoveryCodes", testRecoveryCodes},
	{"RecoveryCodeConcurrentUse", testRecoveryConcurrent},
	{"RecoveryCodesInvalid", testRecoveryInvalid},
	{"ContextDone", testFactorContextDone},
}

// totp returns a pending TOTP factor created now, holding data.
func (e *fenv) totp(data string) store.Factor {
	return store.Factor{Kind: store.TOTP, ID: string(store.TOTP), Name: "Phone", Data: []byte(data), CreatedAt: e.clock.Now()}
}

// passkey returns a pending passkey with the given credential id,
// created now.
func (e *fenv) passkey(id string) store.Factor {
	return store.Factor{Kind: store.Passkey, ID: id, Name: "Key " + id, Data: []byte("credential " + id), CreatedAt: e.clock.Now()}
}

// add adds f for username, failing the test on error.
func (e *fenv) add(t *testing.T, username string, f store.Factor) {
	t.Helper()
	must(t, fmt.Sprintf("AddFactor(%s, %s %s)", username, f.Kind, f.ID), e.s.AddFactor(e.ctx, username, f))
}

// use records an accepted use of the factor, failing the test on error.
func (e *fenv) use(t *testing.T, username string, kind store.FactorKind, id string, counter uint64) store.Factor {
	t.Helper()
	f, err := e.s.UseFactor(e.ctx, username, kind, id, counter, e.clock.Now())
	must(t, fmt.Sprintf("UseFactor(%s, %s %s, %d)", username, kind, id, counter), err)
	return f
}

// wantFactors fails the test unless username's factors read back as want,
// in that order.
func (e *fenv) wantFactors(t *testing.T, what, username string, want ...store.Factor) {
	t.Helper()
	got, err := e.s.Factors(e.ctx, username)
	if err != nil {
		t.Errorf("%s: Factors(%s) = %v", what, username, err)
		return
	}
	if len(got) != len(want) {
		t.Errorf("%s: Factors(%s) = %d factors %v, want %d", what, username, len(got), factorIDs(got), len(want))
		return
	}
	for i := range want {
		checkFactor(t, fmt.Sprintf("%s: Factors(%s)[%d]", what, username, i), got[i], want[i])
	}
}

func factorIDs(fs []store.Factor) []string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, string(f.Kind)+":"+f.ID)
	}
	return ids
}

// checkFactor reports every field of got that differs from want.
func checkFactor(t *testing.T, what string, got, want store.Factor) {
	t.Helper()
	if got.Kind != want.Kind || got.ID != want.ID {
		t.Errorf("%s: factor %s %q, want %s %q", what, got.Kind, got.ID, want.Kind, want.ID)
		return
	}
	if got.Name != want.Name {
		t.Errorf("%s: Name = %q, want %q", what, got.Name, want.Name)
	}
	if !bytes.Equal(got.Data, want.Data) {
		t.Errorf("%s: Data = %q, want %q", what, got.Data, want.Data)
	}
	if got.Confirmed != want.Confirmed {
		t.Errorf("%s: Confirmed = %v, want %v", what, got.Confirmed, want.Confirmed)
	}
	if got.Counter != want.Counter {
		t.Errorf("%s: Counter = %d, want %d", what, got.Counter, want.Counter)
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("%s: CreatedAt = %v, want %v", what, got.CreatedAt, want.CreatedAt)
	}
	if !got.LastUsed.Equal(want.LastUsed) {
		t.Errorf("%s: LastUsed = %v, want %v", what, got.LastUsed, want.LastUsed)
	}
}

// used returns f as UseFactor leaves it after an accepted use at at.
func used(f store.Factor, counter uint64, at time.Time) store.Factor {
	f.Counter, f.LastUsed, f.Confirmed = counter, at, true
	return f
}

func testFactorAddListOrder(t *testing.T, e *fenv) {
	e.wantFactors(t, "before any", "alice")
	first := e.totp("sealed secret")
	e.add(t, "alice", first)
	// Same creation time as the TOTP factor: kind breaks the tie
	// ("passkey" before "totp"), then the ID.
	pb, pa := e.passkey("cred-b"), e.passkey("cred-a")
	e.add(t, "alice", pb)
	e.add(t, "alice", pa)
	e.clock.Advance(time.Second)
	later := e.passkey("cred-0")
	e.add(t, "alice", later)
	e.wantFactors(t, "after adding", "alice", pa, pb, first, later)

	// Factors belong to their user, and the user need not exist.
	e.wantFactors(t, "another user", "bob")
	bobs := e.totp("bob's secret")
	e.add(t, "bob", bobs)
	e.wantFactors(t, "bob's", "bob", bobs)
	e.wantFactors(t, "alice's after bob's", "alice", pa, pb, first, later)
	// A name that fails ValidateUsername has none.
	e.wantFactors(t, "invalid name", "{alice}")
}

func testFactorPendingReplaced(t *testing.T, e *fenv) {
	for _, kind := range []store.FactorKind{store.TOTP, store.Passkey} {
		t.Run(string(kind), func(t *testing.T) {
			f := e.totp("first try")
			if kind == store.Passkey {
				f = e.passkey("cred")
			}
			e.add(t, "alice", f)
			// An enrolment started again replaces the pending factor.
			e.clock.Advance(time.Minute)
			again := f
			again.Name, again.Data, again.CreatedAt = "Again", []byte("second try"), e.clock.Now()
			e.add(t, "alice", again)
			e.wantFactors(t, "pending replaced", "alice", again)

			at := e.clock.Now()
			e.use(t, "alice", kind, f.ID, 1)
			confirmed := used(again, 1, at)
			e.wantFactors(t, "confirmed", "alice", confirmed)
			// A confirmed one is not replaced.
			third := again
			third.Data = []byte("third try")
			err := e.s.AddFactor(e.ctx, "alice", third)
			wantErr(t, "AddFactor over a confirmed factor", err, store.ErrExists)
			e.wantFactors(t, "after ErrExists", "alice", confirmed)
			must(t, "RemoveFactor", e.s.RemoveFactor(e.ctx, "alice", kind, f.ID))
		})
	}
}

func testFactorPasskeyOtherUser(t *testing.T, e *fenv) {
	pending := e.passkey("pending")
	e.add(t, "alice", pending)
	confirmed := e.passkey("confirmed")
	e.add(t, "alice", confirmed)
	at := e.clock.Now()
	e.use(t, "alice", store.Passkey, confirmed.ID, 3)
	for _, f := range []store.Factor{pending, confirmed} {
		err := e.s.AddFactor(e.ctx, "bob", f)
		wantErr(t, "bob adds alice's passkey "+f.ID, err, store.ErrExists)
	}
	e.wantFactors(t, "bob's", "bob")
	e.wantFactors(t, "alice's", "alice", used(confirmed, 3, at), pending)
	for _, f := range []store.Factor{pending, confirmed} {
		owner, err := e.s.FactorOwner(e.ctx, store.Passkey, f.ID)
		if err != nil || owner != "alice" {
			t.Errorf("FactorOwner(%s) = %q, %v; want alice", f.ID, owner, err)
		}
	}
	// TOTP IDs are not unique: every user may have one.
	e.add(t, "alice", e.totp("alice's"))
	e.add(t, "bob", e.totp("bob's"))
}

func testFactorMax(t *testing.T, e *fenv) {
	var all []store.Factor
	for i := range store.MaxFactors {
		f := e.passkey(fmt.Sprintf("cred-%02d", i))
		e.add(t, "alice", f)
		all = append(all, f)
	}
	err := e.s.AddFactor(e.ctx, "alice", e.totp("one too many"))
	wantErr(t, "AddFactor beyond MaxFactors", err, store.ErrInvalid)
	// Replacing a pending factor adds none.
	again := all[3]
	again.Data = []byte("again")
	e.add(t, "alice", again)
	all[3] = again
	e.wantFactors(t, "at the cap", "alice", all...)
	// The cap is per user.
	e.add(t, "bob", e.totp("bob's"))
	// Removing one makes room.
	must(t, "RemoveFactor", e.s.RemoveFactor(e.ctx, "alice", store.Passkey, all[0].ID))
	e.add(t, "alice", e.totp("now it fits"))
}

// testFactorMaxConcurrent checks that concurrent adds never take a
// user past the cap.
func testFactorMaxConcurrent(t *testing.T, e *fenv) {
	const n = 2 * store.MaxFactors
	var added, full atomic.Int32
	concurrently(n, func(i int) {
		err := e.s.AddFactor(e.ctx, "alice", e.passkey(fmt.Sprint("cred-", i)))
		switch {
		case err == nil:
			added.Add(1)
		case errors.Is(err, store.ErrInvalid):
			full.Add(1)
		default:
			t.Errorf("AddFactor: %v", err)
		}
	})
	if added.Load() != store.MaxFactors || full.Load() != n-store.MaxFactors {
		t.Errorf("%d concurrent adds: %d added and %d refused, want %d and %d", n, added.Load(), full.Load(), store.MaxFactors, n-store.MaxFactors)
	}
	got, err := e.s.Factors(e.ctx, "alice")
	if err != nil || len(got) != store.MaxFactors {
		t.Errorf("Factors = %d factors, %v; want %d", len(got), err, store.MaxFactors)
	}
}

func testFactorInvalid(t *testing.T, e *fenv) {
	good := e.passkey("cred")
	change := func(f func(*store.Factor)) store.Factor {
		g := good
		f(&g)
		return g
	}
	for _, c := range []struct {
		name     string
		username string
		f        store.Factor
	}{
		{"BadUsername", "{alice}", good},
		{"EmptyUsername", "", good},
		{"UnknownKind", "alice", change(func(f *store.Factor) { f.Kind = "sms" })},
		{"TOTPWithOtherID", "alice", change(func(f *store.Factor) { f.Kind = store.TOTP })},
		{"EmptyID", "alice", change(func(f *store.Factor) { f.ID = "" })},
		{"LongID", "alice", change(func(f *store.Factor) { f.ID = strings.Repeat("x", store.MaxFactorIDLen+1) })},
		{"IDWithSpace", "alice", change(func(f *store.Factor) { f.ID = "a b" })},
		{"LongName", "alice", change(func(f *store.Factor) { f.Name = strings.Repeat("n", store.MaxFactorNameLen+1) })},
		{"NameWithNewline", "alice", change(func(f *store.Factor) { f.Name = "a\nb" })},
		{"NoData", "alice", change(func(f *store.Factor) { f.Data = nil })},
		{"LongData", "alice", change(func(f *store.Factor) { f.Data = make([]byte, store.MaxFactorData+1) })},
		{"NoCreationTime", "alice", change(func(f *store.Factor) { f.CreatedAt = time.Time{} })},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, "AddFactor", e.s.AddFactor(e.ctx, c.username, c.f), store.ErrInvalid)
		})
	}
	e.wantFactors(t, "after invalid calls", "alice")
	_, err := e.s.FactorOwner(e.ctx, store.Passkey, good.ID)
	wantErr(t, "FactorOwner after invalid calls", err, store.ErrNotFound)
	// The limits themselves are accepted.
	edge := change(func(f *store.Factor) {
		f.ID = strings.Repeat("~", store.MaxFactorIDLen)
		f.Name = strings.Repeat("é", store.MaxFactorNameLen/2)
		f.Data = bytes.Repeat([]byte{0, 0xff}, store.MaxFactorData/2)
	})
	e.add(t, "alice", edge)
	e.wantFactors(t, "at the limits", "alice", edge)
}

// testFactorUseCounterRule checks UseFactor against [store.Accepts] on
// its boundaries: a use is accepted, and changes the factor, exactly
// when the rule says so.
func testFactorUseCounterRule(t *testing.T, e *fenv) {
	for _, c := range []struct {
		name            string
		stored, counter uint64
	}{
		{"Greater", 5, 6},
		{"MuchGreater", 5, 1 << 40},
		{"Equal", 5, 5},
		{"Lower", 5, 4},
		{"BothZero", 0, 0},
		{"ZeroAfterCount", 1, 0},
		{"FromZero", 0, 1},
		{"Largest", math.MaxUint64 - 1, math.MaxUint64},
		{"LargestAgain", math.MaxUint64, math.MaxUint64},
		{"BelowLargest", math.MaxUint64, math.MaxUint64 - 1},
		{"AboveInt64", math.MaxInt64, math.MaxInt64 + 1},
		{"AboveFloatPrecision", 1<<53 + 1, 1<<53 + 2},
		{"EqualBeyondFloatPrecision", 1<<53 + 1, 1<<53 + 1},
		{"LowerBeyondFloatPrecision", 1<<53 + 1, 1 << 53},
	} {
		t.Run(c.name, func(t *testing.T) {
			user := "u" + strings.ToLower(c.name)
			f := e.passkey("cred-" + c.name)
			e.add(t, user, f)
			before := f
			if c.stored != 0 || c.counter == 0 {
				// Confirm it at the stored counter first (0 → 0 is
				// accepted, so a stored 0 is reached that way too).
				e.clock.Advance(time.Second)
				before = used(f, c.stored, e.clock.Now())
				checkFactor(t, "setting up", e.use(t, user, f.Kind, f.ID, c.stored), before)
			}
			e.clock.Advance(time.Second)
			at := e.clock.Now()
			got, err := e.s.UseFactor(e.ctx, user, f.Kind, f.ID, c.counter, at)
			if store.Accepts(c.stored, c.counter) {
				must(t, "UseFactor", err)
				after := used(f, c.counter, at)
				checkFactor(t, "UseFactor's result", got, after)
				e.wantFactors(t, "after an accepted use", user, after)
			} else {
				wantErr(t, "UseFactor", err, store.ErrReused)
				e.wantFactors(t, "after a refused use", user, before)
			}
		})
	}

	// A pending TOTP factor is confirmed by its first use.
	f := e.totp("secret")
	e.add(t, "alice", f)
	e.wantFactors(t, "pending", "alice", f)
	at := e.clock.Now()
	step := uint64(at.Unix() / 30)
	checkFactor(t, "UseFactor", e.use(t, "alice", store.TOTP, f.ID, step), used(f, step, at))
	_, err := e.s.UseFactor(e.ctx, "alice", store.TOTP, f.ID, step, at)
	wantErr(t, "a replayed step", err, store.ErrReused)
	e.wantFactors(t, "confirmed", "alice", used(f, step, at))
}

func testFactorUseUnknown(t *testing.T, e *fenv) {
	e.add(t, "alice", e.passkey("cred"))
	now := e.clock.Now()
	for _, c := range []struct {
		name, username string
		kind           store.FactorKind
		id             string
	}{
		{"UnknownID", "alice", store.Passkey, "other"},
		{"OtherKind", "alice", store.TOTP, "totp"},
		{"OtherUser", "bob", store.Passkey, "cred"},
		{"InvalidUsername", "{alice}", store.Passkey, "cred"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.s.UseFactor(e.ctx, c.username, c.kind, c.id, 1, now)
			wantErr(t, "UseFactor", err, store.ErrNotFound)
		})
	}
}

// testFactorUseConcurrent checks that of concurrent uses presenting the
// same counter exactly one is accepted: a TOTP code replayed while the
// first use is in flight is still refused.
func testFactorUseConcurrent(t *testing.T, e *fenv) {
	const n = 16
	for round := range 5 {
		f := e.passkey(fmt.Sprint("cred-", round))
		e.add(t, "alice", f)
		counter := uint64(round)*1000 + 7
		var won, reused atomic.Int32
		concurrently(n, func(int) {
			_, err := e.s.UseFactor(e.ctx, "alice", f.Kind, f.ID, counter, e.clock.Now())
			switch {
			case err == nil:
				won.Add(1)
			case errors.Is(err, store.ErrReused):
				reused.Add(1)
			default:
				t.Errorf("UseFactor: %v", err)
			}
		})
		if won.Load() != 1 || reused.Load() != n-1 {
			t.Fatalf("round %d: %d uses accepted and %d refused as reused, want 1 and %d", round, won.Load(), reused.Load(), n-1)
		}
	}
}

func testFactorRemoveOwner(t *testing.T, e *fenv) {
	key := e.passkey("cred")
	e.add(t, "alice", key)
	totp := e.totp("secret")
	e.add(t, "alice", totp)
	owner, err := e.s.FactorOwner(e.ctx, store.Passkey, key.ID)
	if err != nil || owner != "alice" {
		t.Errorf("FactorOwner = %q, %v; want alice", owner, err)
	}
	// TOTP factors have no owner lookup.
	_, err = e.s.FactorOwner(e.ctx, store.TOTP, string(store.TOTP))
	wantErr(t, "FactorOwner(totp)", err, store.ErrNotFound)
	_, err = e.s.FactorOwner(e.ctx, store.Passkey, "unknown")
	wantErr(t, "FactorOwner(unknown)", err, store.ErrNotFound)

	wantErr(t, "RemoveFactor of another user", e.s.RemoveFactor(e.ctx, "bob", store.Passkey, key.ID), store.ErrNotFound)
	wantErr(t, "RemoveFactor invalid name", e.s.RemoveFactor(e.ctx, "{alice}", store.Passkey, key.ID), store.ErrNotFound)
	must(t, "RemoveFactor", e.s.RemoveFactor(e.ctx, "alice", store.Passkey, key.ID))
	wantErr(t, "RemoveFactor again", e.s.RemoveFactor(e.ctx, "alice", store.Passkey, key.ID), store.ErrNotFound)
	_, err = e.s.FactorOwner(e.ctx, store.Passkey, key.ID)
	wantErr(t, "FactorOwner after removal", err, store.ErrNotFound)
	_, err = e.s.UseFactor(e.ctx, "alice", store.Passkey, key.ID, 1, e.clock.Now())
	wantErr(t, "UseFactor after removal", err, store.ErrNotFound)
	e.wantFactors(t, "after removal", "alice", totp)

	// The credential is free again.
	e.add(t, "bob", key)
	owner, err = e.s.FactorOwner(e.ctx, store.Passkey, key.ID)
	if err != nil || owner != "bob" {
		t.Errorf("FactorOwner after bob added it = %q, %v; want bob", owner, err)
	}
	must(t, "RemoveFactor(totp)", e.s.RemoveFactor(e.ctx, "alice", store.TOTP, totp.ID))
	e.wantFactors(t, "after removing all", "alice")
}

// testFactorCopies checks that neither the caller's slice nor one the
// store returned aliases what the store keeps.
func testFactorCopies(t *testing.T, e *fenv) {
	f := e.passkey("cred")
	want := f
	want.Data = bytes.Clone(f.Data)
	e.add(t, "alice", f)
	f.Data[0] ^= 0xff
	e.wantFactors(t, "after changing the added data", "alice", want)
	got, err := e.s.Factors(e.ctx, "alice")
	must(t, "Factors", err)
	got[0].Data[0] ^= 0xff
	e.wantFactors(t, "after changing the listed data", "alice", want)
	at := e.clock.Now()
	u := e.use(t, "alice", want.Kind, want.ID, 1)
	u.Data[0] ^= 0xff
	e.wantFactors(t, "after changing UseFactor's data", "alice", used(want, 1, at))
}

// codes returns n fresh recovery-code digests.
func codes(n int) []store.Digest {
	c := make([]store.Digest, n)
	for i := range c {
		c[i] = newDigest()
	}
	return c
}

// wantCodes fails the test unless username has n recovery codes left.
func (e *fenv) wantCodes(t *testing.T, what, username string, n int) {
	t.Helper()
	got, err := e.s.RecoveryCodes(e.ctx, username)
	if err != nil || got != n {
		t.Errorf("%s: RecoveryCodes(%s) = %d, %v; want %d", what, username, got, err, n)
	}
}

// useCode uses code and checks how many are left.
func (e *fenv) useCode(t *testing.T, username string, code store.Digest, left int) {
	t.Helper()
	got, err := e.s.UseRecoveryCode(e.ctx, username, code)
	if err != nil || got != left {
		t.Errorf("UseRecoveryCode(%s) = %d, %v; want %d left", username, got, err, left)
	}
}

func testRecoveryCodes(t *testing.T, e *fenv) {
	e.wantCodes(t, "before any", "alice", 0)
	first := codes(10)
	must(t, "SetRecoveryCodes", e.s.SetRecoveryCodes(e.ctx, "alice", first))
	e.wantCodes(t, "after set", "alice", 10)
	e.useCode(t, "alice", first[4], 9)
	// Each code works once.
	_, err := e.s.UseRecoveryCode(e.ctx, "alice", first[4])
	wantErr(t, "UseRecoveryCode again", err, store.ErrNotFound)
	_, err = e.s.UseRecoveryCode(e.ctx, "alice", newDigest())
	wantErr(t, "UseRecoveryCode unknown", err, store.ErrNotFound)
	// Codes belong to their user.
	_, err = e.s.UseRecoveryCode(e.ctx, "bob", first[0])
	wantErr(t, "UseRecoveryCode of another user", err, store.ErrNotFound)
	_, err = e.s.UseRecoveryCode(e.ctx, "{alice}", first[0])
	wantErr(t, "UseRecoveryCode invalid name", err, store.ErrNotFound)
	e.wantCodes(t, "another user", "bob", 0)
	e.wantCodes(t, "invalid name", "{alice}", 0)
	e.wantCodes(t, "after the refused uses", "alice", 9)

	// A new set replaces the old one entirely.
	second := codes(3)
	must(t, "SetRecoveryCodes again", e.s.SetRecoveryCodes(e.ctx, "alice", second))
	e.wantCodes(t, "after replacing", "alice", 3)
	_, err = e.s.UseRecoveryCode(e.ctx, "alice", first[0])
	wantErr(t, "UseRecoveryCode of a replaced set", err, store.ErrNotFound)
	e.useCode(t, "alice", second[0], 2)
	e.useCode(t, "alice", second[2], 1)
	e.useCode(t, "alice", second[1], 0)
	e.wantCodes(t, "all used", "alice", 0)

	full := codes(store.MaxRecoveryCodes)
	must(t, "SetRecoveryCodes(max)", e.s.SetRecoveryCodes(e.ctx, "alice", full))
	must(t, "SetRecoveryCodes(bob)", e.s.SetRecoveryCodes(e.ctx, "bob", codes(2)))
	must(t, "SetRecoveryCodes(empty)", e.s.SetRecoveryCodes(e.ctx, "alice", nil))
	e.wantCodes(t, "after removing them", "alice", 0)
	_, err = e.s.UseRecoveryCode(e.ctx, "alice", full[0])
	wantErr(t, "UseRecoveryCode after removal", err, store.ErrNotFound)
	e.wantCodes(t, "bob's", "bob", 2)
}

func testRecoveryConcurrent(t *testing.T, e *fenv) {
	const n = 16
	set := codes(store.MaxRecoveryCodes)
	must(t, "SetRecoveryCodes", e.s.SetRecoveryCodes(e.ctx, "alice", set))
	for round, code := range set[:5] {
		var won, lost atomic.Int32
		concurrently(n, func(int) {
			left, err := e.s.UseRecoveryCode(e.ctx, "alice", code)
			switch {
			case err == nil:
				won.Add(1)
				if want := len(set) - round - 1; left != want {
					t.Errorf("UseRecoveryCode left = %d, want %d", left, want)
				}
			case errors.Is(err, store.ErrNotFound):
				lost.Add(1)
			default:
				t.Errorf("UseRecoveryCode: %v", err)
			}
		})
		if won.Load() != 1 || lost.Load() != n-1 {
			t.Fatalf("round %d: %d uses accepted and %d refused, want 1 and %d", round, won.Load(), lost.Load(), n-1)
		}
	}
	e.wantCodes(t, "after the races", "alice", len(set)-5)
}

func testRecoveryInvalid(t *testing.T, e *fenv) {
	kept := codes(4)
	must(t, "SetRecoveryCodes", e.s.SetRecoveryCodes(e.ctx, "alice", kept))
	dup := codes(3)
	dup[2] = dup[0]
	for _, c := range []struct {
		name     string
		username string
		codes    []store.Digest
	}{
		{"TooMany", "alice", codes(store.MaxRecoveryCodes + 1)},
		{"Duplicate", "alice", dup},
		{"ZeroDigest", "alice", []store.Digest{newDigest(), {}}},
		{"BadUsername", "{alice}", codes(2)},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, "SetRecoveryCodes", e.s.SetRecoveryCodes(e.ctx, c.username, c.codes), store.ErrInvalid)
		})
	}
	e.wantCodes(t, "after invalid sets", "alice", len(kept))
	e.useCode(t, "alice", kept[0], len(kept)-1)
}

// testFactorContextDone checks that a call whose context is over fails
// with an infrastructure error and changes nothing.
func testFactorContextDone(t *testing.T, e *fenv) {
	key := e.passkey("cred")
	e.add(t, "alice", key)
	set := codes(3)
	must(t, "SetRecoveryCodes", e.s.SetRecoveryCodes(e.ctx, "alice", set))
	for _, c := range doneContexts(t, e.ctx) {
		t.Run(c.name, func(t *testing.T) {
			ctx, now := c.ctx, e.clock.Now()
			calls := []struct {
				name string
				call func() error
			}{
				{"AddFactor", func() error { return e.s.AddFactor(ctx, "alice", e.totp("x")) }},
				{"Factors", func() error { _, err := e.s.Factors(ctx, "alice"); return err }},
				{"FactorOwner", func() error { _, err := e.s.FactorOwner(ctx, store.Passkey, key.ID); return err }},
				{"FactorOwnerUnknown", func() error { _, err := e.s.FactorOwner(ctx, store.Passkey, "unknown"); return err }},
				{"UseFactor", func() error { _, err := e.s.UseFactor(ctx, "alice", key.Kind, key.ID, 9, now); return err }},
				{"UseFactorUnknown", func() error { _, err := e.s.UseFactor(ctx, "alice", key.Kind, "unknown", 9, now); return err }},
				{"RemoveFactor", func() error { return e.s.RemoveFactor(ctx, "alice", key.Kind, key.ID) }},
				{"SetRecoveryCodes", func() error { return e.s.SetRecoveryCodes(ctx, "alice", nil) }},
				{"UseRecoveryCode", func() error { _, err := e.s.UseRecoveryCode(ctx, "alice", set[0]); return err }},
				{"UseRecoveryCodeUnknown", func() error { _, err := e.s.UseRecoveryCode(ctx, "alice", newDigest()); return err }},
				{"RecoveryCodes", func() error { _, err := e.s.RecoveryCodes(ctx, "alice"); return err }},
			}
			for _, c := range calls {
				wantInfraErr(t, c.name, c.call())
			}
		})
	}
	e.wantFactors(t, "after the failed calls", "alice", key)
	e.wantCodes(t, "after the failed calls", "alice", len(set))
}

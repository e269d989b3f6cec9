package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/store"
)

// deviceCases check the [store.DeviceStore] part of the contract.
var deviceCases = []testCase{
	{"AddAndRead", testDeviceAddRead},
	{"Expiry", testDeviceExpiry},
	{"Cap", testDeviceCap},
	{"Revoke", testDeviceRevoke},
	{"Invalid", testDeviceInvalid},
}

// device adds a device of username created now and living for life,
// with a cap of max, failing the test on error.
func (e *env) device(t *testing.T, username string, life time.Duration, max int) store.Device {
	t.Helper()
	now := e.clock.Now()
	d := store.Device{ID: newDigest(), CreatedAt: now, ExpiresAt: now.Add(life)}
	must(t, "AddDevice", e.s.AddDevice(e.ctx, username, d, max))
	return d
}

// wantDevice checks that d reads back as it was added.
func (e *env) wantDevice(t *testing.T, what, username string, d store.Device) {
	t.Helper()
	got, err := e.s.Device(e.ctx, username, d.ID)
	if err != nil {
		t.Errorf("%s: Device = %v, want it live", what, err)
		return
	}
	if got.ID != d.ID || !got.CreatedAt.Equal(d.CreatedAt) || !got.ExpiresAt.Equal(d.ExpiresAt) {
		t.Errorf("%s: Device = %+v, want %+v", what, got, d)
	}
}

// wantNoDevice checks that id is not a live device of username.
func (e *env) wantNoDevice(t *testing.T, what, username string, id store.Digest) {
	t.Helper()
	_, err := e.s.Device(e.ctx, username, id)
	wantErr(t, what+": Device", err, store.ErrNotFound)
}

func testDeviceAddRead(t *testing.T, e *env) {
	d := e.device(t, "alice", life, 5)
	e.wantDevice(t, "after AddDevice", "alice", d)
	// Devices belong to their user only, and the user need not exist.
	e.wantNoDevice(t, "another user", "bob", d.ID)
	e.wantNoDevice(t, "unknown id", "alice", newDigest())
	e.wantNoDevice(t, "invalid name", "{alice}", d.ID)
	other := e.device(t, "bob", life, 5)
	e.wantDevice(t, "bob's", "bob", other)
	e.wantDevice(t, "alice's after bob's", "alice", d)
}

func testDeviceExpiry(t *testing.T, e *env) {
	d := e.device(t, "alice", time.Hour, 5)
	long := e.device(t, "alice", 2*time.Hour, 5)
	e.clock.Advance(time.Hour - time.Millisecond)
	e.wantDevice(t, "just before its expiry", "alice", d)
	e.clock.Advance(time.Millisecond)
	e.wantNoDevice(t, "at its expiry", "alice", d.ID)
	e.wantDevice(t, "the longer-lived one", "alice", long)
}

// testDeviceCap checks that the oldest devices beyond the cap go, in the
// same step as the new one arrives, and expired ones do not count.
func testDeviceCap(t *testing.T, e *env) {
	var ds []store.Device
	for range 3 {
		ds = append(ds, e.device(t, "alice", life, 3))
		e.clock.Advance(time.Second)
	}
	newest := e.device(t, "alice", life, 3)
	e.wantNoDevice(t, "the oldest beyond the cap", "alice", ds[0].ID)
	for _, d := range append(ds[1:], newest) {
		e.wantDevice(t, "within the cap", "alice", d)
	}
	// A smaller cap drops the oldest down to it.
	last := e.device(t, "alice", life, 1)
	for _, d := range append(ds[1:], newest) {
		e.wantNoDevice(t, "beyond a cap of one", "alice", d.ID)
	}
	e.wantDevice(t, "the only one", "alice", last)

	// Expired devices make no room for themselves at the cost of live ones.
	short := e.device(t, "bob", time.Minute, 2)
	keep := e.device(t, "bob", life, 2)
	e.clock.Advance(time.Minute)
	e.device(t, "bob", life, 2)
	e.wantDevice(t, "live one, after an expired one made room", "bob", keep)
	e.wantNoDevice(t, "expired", "bob", short.ID)
}

func testDeviceRevoke(t *testing.T, e *env) {
	a := e.device(t, "alice", life, 5)
	b := e.device(t, "alice", life, 5)
	c := e.device(t, "bob", life, 5)
	must(t, "RevokeDevice", e.s.RevokeDevice(e.ctx, "alice", a.ID))
	must(t, "RevokeDevice absent", e.s.RevokeDevice(e.ctx, "alice", a.ID))
	must(t, "RevokeDevice invalid name", e.s.RevokeDevice(e.ctx, "{x", a.ID))
	e.wantNoDevice(t, "revoked", "alice", a.ID)
	e.wantDevice(t, "not revoked", "alice", b)
	must(t, "RevokeDevices", e.s.RevokeDevices(e.ctx, "alice"))
	must(t, "RevokeDevices again", e.s.RevokeDevices(e.ctx, "alice"))
	must(t, "RevokeDevices invalid name", e.s.RevokeDevices(e.ctx, "{x"))
	e.wantNoDevice(t, "after RevokeDevices", "alice", b.ID)
	e.wantDevice(t, "another user's", "bob", c)
}

func testDeviceInvalid(t *testing.T, e *env) {
	now := e.clock.Now()
	good := store.Device{ID: newDigest(), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	for _, c := range []struct {
		name     string
		username string
		d        store.Device
		max      int
	}{
		{"ZeroID", "alice", store.Device{CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, 5},
		{"ExpiresAtCreation", "alice", store.Device{ID: newDigest(), CreatedAt: now, ExpiresAt: now}, 5},
		{"ZeroCap", "alice", good, 0},
		{"BadName", "{alice}", good, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := e.s.AddDevice(e.ctx, c.username, c.d, c.max)
			if !errors.Is(err, store.ErrInvalid) {
				t.Errorf("AddDevice = %v, want ErrInvalid", err)
			}
		})
	}
	e.wantNoDevice(t, "after invalid calls", "alice", good.ID)
}

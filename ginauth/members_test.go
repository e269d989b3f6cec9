package ginauth

import (
	"encoding/json"
	"testing"
)

// FuzzPlainMember holds plainMember, decodeMembers' shortcut, to the walk
// it skips and to encoding/json: a body it takes passes walkMembers and
// decodes to exactly one member, the known name it returns, whose value
// is the string it returns, as sent. The seeds include bodies on both sides of the shortcut.
func FuzzPlainMember(f *testing.F) {
	known := []string{"refresh_token", "grant_type"}
	for _, tc := range []struct {
		body  string
		plain bool
	}{
		{`{"refresh_token":"rt2.dXNlcjAw.42PxW1UD8A.1.V9KEA65ppk1k-w16bAaM.fTucY_ztxKH8XN~"}`, true},
		{`{"refresh_token":""}`, true},
		{`{"grant_type":"refresh_token"}`, true},
		{`{"Refresh_Token":"x"}`, false},
		{`{"refresh_token":"a","refresh_token":"b"}`, false},
		{`{"refresh_token":"a","Refresh_Token":"b"}`, false},
		{`{"refresh_token":"a\"}`, false},
		{`{"refresh_token":"a\u0022"}`, false},
		{`{"refresh\u005ftoken":"a"}`, false},
		{`{ "refresh_token":"a"}`, false},
		{`{"refresh_token":"a"} `, false},
		{`{"refresh_token":"a"}{}`, false},
		{`{"refresh_token":"a b"}`, false},
		{`{"refresh_token":"a","x":"}`, false},
		{`{"x":"a","refresh_token":"b"}`, false},
		{`{"refresh_token":1}`, false},
	} {
		if _, _, got := plainMember([]byte(tc.body), known); got != tc.plain {
			f.Errorf("plainMember(%s) = %v, want %v", tc.body, got, tc.plain)
		}
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		name, value, ok := plainMember(body, known)
		if !ok {
			return
		}
		if err := walkMembers(body, known); err != nil {
			t.Fatalf("plainMember took %q, which walkMembers refuses: %v", body, err)
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil || len(m) != 1 {
			t.Fatalf("plainMember took %q, which decodes to %v, %v", body, m, err)
		}
		if s, ok := m[name].(string); !ok || s != string(value) {
			t.Fatalf("plainMember took %q as member %q of value %q; encoding/json decodes %v", body, name, value, m)
		}
	})
}

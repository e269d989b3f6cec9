package plainjson

import (
	"encoding/json"
	"testing"
)

// FuzzIs holds Is and AppendStrings to encoding/json: a string Is takes
// is written as json.Marshal writes it, and so is a list of them.
func FuzzIs(f *testing.F) {
	for _, tc := range []struct {
		s     string
		plain bool
	}{
		{"", true}, {"eyJh.b-c_d~", true}, {" !#$%'()*+,-./:;=?@[]^_`{|}~", true},
		{`"`, false}, {`\`, false}, {"<", false}, {">", false}, {"&", false},
		{"\x00", false}, {"\x1f", false}, {"\x7f", false}, {"é", false}, {"\u2028", false}, {"\xff", false},
	} {
		if got := Is(tc.s); got != tc.plain {
			f.Errorf("Is(%q) = %v, want %v", tc.s, got, tc.plain)
		}
		f.Add(tc.s, "x")
	}
	f.Fuzz(func(t *testing.T, s, s2 string) {
		list := []string{s, s2}
		if !All(list) {
			if Is(s) && Is(s2) {
				t.Fatalf("All(%q) false, Is true for each", list)
			}
			return
		}
		want, err := json.Marshal(list)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendStrings([]byte("x"), list); string(got) != "x"+string(want) {
			t.Fatalf("AppendStrings(%q) = %s, want %s", list, got[1:], want)
		}
	})
}

package textcheck_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fechatter/fechatter/adapters/textcheck"
	"github.com/fechatter/fechatter/domain/errs"
)

func TestJSON(t *testing.T) {
	cases := []struct {
		doc   string
		field string // "" when the document is fine
	}{
		{`{"content":"hello"}`, ""},
		{`{"content":"caf\u00e9 \ud83d\ude00 \"q\" \\u0000"}`, ""},
		{`{"content":"a\u0000b"}`, "content"},
		{`{"name":"ok","description":"x\u0000"}`, "description"},
		{`{"content":"\ud800"}`, "content"},
		{`{"content":"\udc00x"}`, "content"},
		{`{"content":"\ud83dx\ude00"}`, "content"},
		{`{"content":"\ud83d\ud83d"}`, "content"},
		{`{"user_ids":[1],"tags":["a","\u0000"]}`, "tags"},
		{`{"a":{"b":"\u0000"}}`, "b"},
		{`{"a\u0000":"x"}`, "field name"},
	}
	for _, c := range cases {
		err := textcheck.JSON([]byte(c.doc))
		if c.field == "" {
			if err != nil {
				t.Errorf("%s: unexpected %v", c.doc, err)
			}
			continue
		}
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: want Invalid naming %q, got %v", c.doc, c.field, err)
		}
	}
}

func TestString(t *testing.T) {
	if err := textcheck.String("q", "héllo"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"a\x00", "\xed\xa0\x80", "\xff"} {
		if err := textcheck.String("q", bad); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), `"q"`) {
			t.Errorf("%q: got %v", bad, err)
		}
	}
}

// FuzzJSON: the check never panics, and whatever it accepts of a valid
// document decodes to strings without NUL or replacement of surrogates.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{"content":"a\u0000b"}`, `{"content":"\ud800"}`, `{"x":"\ud83d\ude00"}`,
		`{"a":["\u0000",1,{"b":"\udfff"}]}`, `{"a":"\\u0000"}`, `"\`, `{"a":"\u00`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		err := textcheck.JSON(doc)
		if err != nil || !utf8.Valid(doc) {
			return
		}
		var v any
		if json.Unmarshal(doc, &v) != nil {
			return
		}
		var walk func(any)
		walk = func(v any) {
			switch x := v.(type) {
			case string:
				if strings.ContainsRune(x, 0) {
					t.Fatalf("accepted a NUL in %q", doc)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			case map[string]any:
				for k, e := range x {
					walk(k)
					walk(e)
				}
			}
		}
		walk(v)
	})
}

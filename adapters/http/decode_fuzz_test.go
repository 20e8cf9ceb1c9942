package http

import (
	"reflect"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/fechatter/fechatter/application"
	"github.com/fechatter/fechatter/domain/errs"
)

// FuzzDecodeBody runs every route's JSON body decoder (the body types of
// the route table) on arbitrary bytes: it never panics, refuses with
// Invalid only, and whatever it accepts holds no NUL in any string.
func FuzzDecodeBody(f *testing.F) {
	for _, seed := range []string{
		`{"email":"a@b.c","password":"password123","fullname":"A","workspace":"W"}`,
		`{"fullname":"a\u0000b"}`, `{"content":"\ud800"}`, `{"content":"\udc00\ud800"}`,
		`{"name":"x","member_ids":[1,2]}`, `{"user_ids":[1,"\u0000"]}`, `{"seq":1}`, `{"is_typing":true}`,
		`{"content":"ok \ud83d\ude00","idempotency_key":"k"}`, `{"old_password":"\u0000","new_password":"x"}`,
		`{"role":"admin"}`, `{"max_uses":3}`, `{"a":{"b":["\u0000"]}}`, `[]`, `{`, `"\u0000"`, "{\"x\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	s := &Server{app: application.App{}, log: zap.NewNop()}
	var bodies []reflect.Type
	for _, r := range s.routeTable() {
		if r.body != nil {
			bodies = append(bodies, reflect.TypeOf(r.body))
		}
	}
	if len(bodies) < 10 {
		f.Fatalf("only %d body types in the route table", len(bodies))
	}
	app := fiber.New()
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, typ := range bodies {
			rc := &fasthttp.RequestCtx{}
			rc.Request.SetBody(body)
			c := app.AcquireCtx(rc)
			v := reflect.New(typ)
			err := decodeBody(c, v.Interface())
			app.ReleaseCtx(c)
			if err != nil {
				if !errs.Is(err, errs.Invalid) {
					t.Fatalf("%s: %q: error of kind %v: %v", typ, body, errs.KindOf(err), err)
				}
				continue
			}
			checkNoNUL(t, typ.String(), v.Elem())
		}
	})
}

func checkNoNUL(t *testing.T, where string, v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if strings.ContainsRune(v.String(), 0) {
			t.Fatalf("%s: accepted a NUL", where)
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			checkNoNUL(t, where, v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				checkNoNUL(t, where+"."+v.Type().Field(i).Name, v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			checkNoNUL(t, where, v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			checkNoNUL(t, where, k)
			checkNoNUL(t, where, v.MapIndex(k))
		}
	}
}

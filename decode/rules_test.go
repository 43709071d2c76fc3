package decode

import (
	"testing"

	"github.com/gcupsert/gcupsert/change"
)

// The rules every format shares: what a value and a key must be. Each
// case gives the plain and the Debezium form of one message.
func TestOneRuleForEveryFormat(t *testing.T) {
	plain, _ := New(FormatPlain, Mapping{})
	dbz, _ := New(FormatDebezium, Mapping{})
	const up, after = `{"op":"upsert","data":{"n":1}}`, `{"op":"u","after":{"n":1}}`
	cases := []struct {
		name         string
		key          []byte
		plainV, dbzV []byte
		code         string // "" = accepted
	}{
		{"empty value is not a tombstone", []byte("k"), []byte{}, []byte{}, "empty.value"},
		{"null value is a tombstone", []byte("k"), nil, nil, ""},
		{"key not UTF-8", []byte{'k', 0xff}, []byte(up), []byte(after), "invalid.key"},
		{"tombstone key not UTF-8", []byte{'k', 0xfe}, nil, nil, "invalid.key"},
		{"value not UTF-8", []byte("k"), []byte("{\"op\":\"upsert\",\"data\":{\"n\":\"a\xffb\"}}"),
			[]byte("{\"op\":\"u\",\"after\":{\"n\":\"a\xffb\"}}"), "invalid.utf8"},
		{"lone surrogate escape", []byte("k"), []byte(`{"op":"upsert","data":{"n":"a\udc00b"}}`),
			[]byte(`{"op":"u","after":{"n":"a\udc00b"}}`), "invalid.utf8"},
		{"high surrogate alone", []byte("k"), []byte(`{"op":"upsert","data":{"n":"\ud83d!"}}`),
			[]byte(`{"op":"u","after":{"n":"\ud83d!"}}`), "invalid.utf8"},
		{"blank key", []byte("   "), []byte(up), []byte(after), "blank.key"},
		{"blank tombstone key", []byte(" \t"), nil, nil, "blank.key"},
	}
	for _, tc := range cases {
		for _, d := range []struct {
			dec   *Decoder
			value []byte
		}{{plain, tc.plainV}, {dbz, tc.dbzV}} {
			rec, rerr := d.dec.Decode(tc.key, d.value)
			switch {
			case tc.code == "" && rerr != nil:
				t.Errorf("%s (%s): rejected %v", tc.name, d.dec.format, rerr)
			case tc.code != "" && (rerr == nil || rerr.Code != tc.code || rerr.Class != change.ClassDecode):
				t.Errorf("%s (%s): got %+v, %v; want code %s", tc.name, d.dec.format, rec, rerr, tc.code)
			}
		}
	}
}

func TestSurrogatePairsAndEscapedBackslashesAreFine(t *testing.T) {
	for _, v := range []string{
		`{"op":"upsert","data":{"n":"\ud83d\ude00"}}`, // a pair: 😀
		`{"op":"upsert","data":{"n":"\\ud800"}}`,      // a backslash, then text
		`{"op":"upsert","data":{"n":"é ü 日本"}}`,
	} {
		if _, rerr := Envelope([]byte("k"), []byte(v)); rerr != nil {
			t.Errorf("%s: %v", v, rerr)
		}
	}
}

// Debezium numeric keys have one canonical text: {"id":1} and {"id":1.0}
// name one record.
func TestNumericKeysAreCanonical(t *testing.T) {
	dbz, _ := New(FormatDebezium, Mapping{})
	value := []byte(`{"op":"c","after":{"n":1}}`)
	keys := map[string]string{`{"id":1}`: "1", `{"id":1.0}`: "1", `{"id":1e0}`: "1", `1.50`: "1.5", `{"id":"1.0"}`: "1.0"}
	for k, want := range keys {
		rec, rerr := dbz.Decode([]byte(k), value)
		if rerr != nil || rec.Key != want {
			t.Errorf("key %s: %q, %v; want %q", k, rec.Key, rerr, want)
		}
	}
	byField, _ := New(FormatDebezium, Mapping{Key: "id"})
	rec, rerr := byField.Decode(nil, []byte(`{"op":"c","after":{"id":2.0,"n":1}}`))
	if rerr != nil || rec.Key != "2" {
		t.Errorf("key field 2.0: %q, %v; want 2", rec.Key, rerr)
	}
	if _, rerr := dbz.Decode([]byte(`{"id":1e400000000}`), value); rerr == nil || rerr.Code != "invalid.key" {
		t.Errorf("a key of 1e400000000: %v, want invalid.key", rerr)
	}
}

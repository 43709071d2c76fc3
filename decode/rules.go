package decode

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/gcupsert/gcupsert/change"
)

// checkValue is the rule for a message value, whatever the format: a null
// value (nil) is a tombstone and is not checked here; an empty one is no
// event (empty.value); text that is not valid UTF-8, or whose JSON strings
// hold an unpaired surrogate escape, would be converted by decoding and is
// refused (invalid.utf8): nothing is replaced silently.
func checkValue(value []byte) *change.RecordError {
	if len(value) == 0 {
		return decodeErr("empty.value", "the value is empty (not null); only a null value is a tombstone")
	}
	if !utf8.Valid(value) {
		return decodeErr("invalid.utf8", "the value is not valid UTF-8; it cannot be read without changing it")
	}
	if loneSurrogate(value) {
		return decodeErr("invalid.utf8", `a JSON string holds an unpaired surrogate escape (\uD800-\uDFFF); it cannot be read without changing it`)
	}
	return nil
}

// loneSurrogate reports whether a JSON string in b holds a \uD800-\uDFFF
// escape that is not a high surrogate followed by a low one.
func loneSurrogate(b []byte) bool {
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !inString {
			inString = c == '"'
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if i+1 < len(b) && b[i+1] == 'u' {
				r, ok := hex4(b, i+2)
				switch {
				case !ok:
				case r >= 0xD800 && r <= 0xDBFF:
					lo, ok := rune(0), false
					if i+7 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
						lo, ok = hex4(b, i+8)
					}
					if !ok || lo < 0xDC00 || lo > 0xDFFF {
						return true
					}
					i += 6
				case r >= 0xDC00 && r <= 0xDFFF:
					return true
				}
			}
			i++ // skip the escaped character
		}
	}
	return false
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// checkKey applies change.CheckKey to a decoded key; what names where the
// key came from.
func checkKey(k, what string) (string, *change.RecordError) {
	if err := change.CheckKey(k); err != nil {
		code := "missing.key"
		switch err.Code {
		case "key.invalid":
			code = "invalid.key"
		case "key.blank":
			code = "blank.key"
		}
		return "", decodeErr(code, fmt.Sprintf("%s: %s", what, err.Message))
	}
	return k, nil
}

// scalarKey is the key a JSON scalar names: a string as it is, a number in
// its one canonical text (1 and 1.0 are one key), a boolean as its text.
func scalarKey(v any, what string) (string, *change.RecordError) {
	switch t := v.(type) {
	case string:
		return checkKey(t, what)
	case json.Number:
		c, ok := change.CanonicalNumber(string(t))
		if !ok {
			return "", decodeErr("invalid.key", what+" is a number beyond any key's range")
		}
		return c, nil
	case bool:
		return fmt.Sprint(t), nil
	case nil:
		return "", decodeErr("missing.key", what+" is null")
	}
	return "", decodeErr("invalid.key", what+" is not a string or number")
}

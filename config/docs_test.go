package config

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// docs/config.md lists every key with its environment variable and default,
// and nothing else.
func TestConfigDocMatchesTheCode(t *testing.T) {
	raw, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `([^`]+)` \\| (.+?) \\| (.+?) \\| .+\\|$")
	documented := map[string][2]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		documented[m[1]] = [2]string{unquote(m[2]), unquote(m[3])}
	}
	for _, k := range Keys() {
		d, ok := documented[k.Name]
		if !ok {
			t.Errorf("key %s is not documented in docs/config.md", k.Name)
			continue
		}
		if d[0] != k.Env {
			t.Errorf("key %s: documented environment %q, code reads %q", k.Name, d[0], k.Env)
		}
		if d[1] != k.Default {
			t.Errorf("key %s: documented default %q, code has %q", k.Name, d[1], k.Default)
		}
		delete(documented, k.Name)
	}
	for name := range documented {
		t.Errorf("docs/config.md documents %s, which the code does not read", name)
	}
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if s == "—" {
		return ""
	}
	return strings.Trim(s, "`")
}

package change

import "testing"

func TestCanonicalNumber(t *testing.T) {
	for in, want := range map[string]string{
		"1": "1", "1.0": "1", "1e0": "1", "10E-1": "1", "-0": "0", "1.50": "1.5", "0.125": "0.125",
		"12345678901234567890": "12345678901234567890", "1e3": "1000", "2.5e-3": "0.0025",
	} {
		if got, ok := CanonicalNumber(in); !ok || got != want {
			t.Errorf("CanonicalNumber(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "abc", "1e401", "1e100000000", "1e-5000"} {
		if got, ok := CanonicalNumber(in); ok {
			t.Errorf("CanonicalNumber(%q) = %q, want refused", in, got)
		}
	}
}

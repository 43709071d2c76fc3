package mirror

import (
	"strings"
	"testing"
)

func TestTableName(t *testing.T) {
	for _, tc := range []struct{ target, schema, want string }{
		{"customobjects", "customerAccounts", "customobjects_customeraccounts"},
		{"datatables", "Store Hours (EU)", "datatables_store_hours__eu_"},
		{"datatables", "Ünïcode", "datatables__n_code"},
	} {
		if got := TableName(tc.target, tc.schema); got != tc.want {
			t.Errorf("TableName(%q, %q) = %q, want %q", tc.target, tc.schema, got, tc.want)
		}
	}
	// Long names are cut to 50 bytes, and two that share their first 50
	// still differ.
	a := TableName("datatables", strings.Repeat("x", 60)+"a")
	b := TableName("datatables", strings.Repeat("x", 60)+"b")
	if len(a) != 50 || len(b) != 50 || a == b || !strings.HasPrefix(a, "datatables_xxx") {
		t.Errorf("long names %q and %q", a, b)
	}
}

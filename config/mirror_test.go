package config

import (
	"strings"
	"testing"
)

// mirrorErr loads good with the environment and returns ValidateMirror's
// error text ("" when it passes).
func mirrorErr(t *testing.T, body string, env ...string) string {
	t.Helper()
	c, err := LoadUnchecked(write(t, body), env)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ValidateMirror(); err != nil {
		return err.Error()
	}
	return ""
}

// The mirror needs no Genesys secret, and refuses settings that cannot
// work, naming the key.
func TestValidateMirror(t *testing.T) {
	if msg := mirrorErr(t, good); msg != "" {
		t.Fatalf("the defaults are refused: %s", msg)
	}
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"GCUPSERT_MIRROR_DATABASE=mysql://h/db"}, "mirror.database: must be sqlite:PATH or postgres://"},
		{[]string{"GCUPSERT_MIRROR_DATABASE=sqlite:"}, "mirror.database: sqlite: needs a file path"},
		{[]string{"GCUPSERT_MIRROR_DATABASE=postgres://u:pw@h/db"}, "mirror.database: holds a password"},
		{[]string{"GCUPSERT_MIRROR_DATABASE=postgres:///db"}, "mirror.database: is not a PostgreSQL URL"},
		{[]string{"GCUPSERT_MIRROR_DATABASE=postgres://h/db", "GCUPSERT_MIRROR_DATABASE_PASSWORD=pw"}, "mirror.database: names no user"},
		{[]string{"GCUPSERT_MIRROR_DATABASE_PASSWORD=pw"}, "mirror.database_password: applies to a PostgreSQL database only"},
		{[]string{"GCUPSERT_MIRROR_GROUP_ID=gcupsert"}, "mirror.group_id: \"gcupsert\" is the worker's group"},
		{[]string{"GCUPSERT_MIRROR_DELETES=drop"}, `mirror.deletes: "drop" is not remove or mark`},
		{[]string{"GCUPSERT_MIRROR_MAX_EVENTS=0"}, "mirror.max_events: 0 is below 1"},
		{[]string{"GCUPSERT_MIRROR_METRICS_ADDRESS=9465"}, `mirror.metrics_address: "9465" is not [host]:port`},
	} {
		if msg := mirrorErr(t, good, tc.env...); !strings.Contains(msg, tc.want) {
			t.Errorf("%v: error %q, want %q", tc.env, msg, tc.want)
		}
	}
}

// The password is set into the URL used to connect, never into the one
// that is logged.
func TestMirrorDatabaseURL(t *testing.T) {
	c, err := LoadUnchecked(write(t, good), []string{"GCUPSERT_MIRROR_DATABASE=postgres://app@db:5432/crm?sslmode=require", "GCUPSERT_MIRROR_DATABASE_PASSWORD=p@ss/word"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ValidateMirror(); err != nil {
		t.Fatal(err)
	}
	got := c.MirrorDatabaseURL()
	if want := "postgres://app:p%40ss%2Fword@db:5432/crm?sslmode=require"; got != want {
		t.Errorf("URL %q, want %q", got, want)
	}
	if r := RedactURL(got); strings.Contains(r, "word") || !strings.Contains(r, "app:") {
		t.Errorf("redacted %q", r)
	}
}

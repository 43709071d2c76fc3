package pgtest

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

func open(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("ping %s: %v", url, err)
	}
	return db
}

func TestStart(t *testing.T) {
	t.Parallel()
	url := Start(t)
	db := open(t, url)
	var n int
	if err := db.QueryRow("SELECT 1 + 1").Scan(&n); err != nil || n != 2 {
		t.Fatalf("SELECT 1 + 1 = %d, %v", n, err)
	}
	if os.Getenv(URLEnv) != "" {
		return
	}
	if want := "postgres://gcupsert@127.0.0.1:"; !strings.HasPrefix(url, want) || !strings.HasSuffix(url, "/gcupsert?sslmode=disable") {
		t.Errorf("url = %q, want %s<port>/gcupsert?sslmode=disable", url, want)
	}
	var user, database string
	if err := db.QueryRow("SELECT current_user, current_database()").Scan(&user, &database); err != nil {
		t.Fatal(err)
	}
	if user != "gcupsert" || database != "gcupsert" {
		t.Errorf("connected as %s to %s, want gcupsert to gcupsert", user, database)
	}
}

// A table written before a stop is there after the next start of the same
// dir, at the same URL.
func TestStopStartKeepsTheData(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "pg")
	url := StartDir(t, dir)
	db := open(t, url)
	if _, err := db.Exec(`CREATE TABLE records (id text PRIMARY KEY, data jsonb NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO records (id, data) VALUES ($1, $2)`, "k1", `{"n": 1}`); err != nil {
		t.Fatal(err)
	}
	var data string
	if err := db.QueryRow(`SELECT data::text FROM records WHERE id = $1`, "k1").Scan(&data); err != nil || data != `{"n": 1}` {
		t.Fatalf("read %q, %v", data, err)
	}
	db.Close()

	Stop(t, dir)
	if out, err := run(stopTimeout, "status", dir); err == nil {
		t.Fatalf("status after stop succeeded: %s", out)
	}

	url2 := StartDir(t, dir)
	if url2 != url {
		t.Errorf("url after restart = %s, want %s", url2, url)
	}
	if out, err := run(stopTimeout, "status", dir); err != nil || !strings.HasPrefix(out, "running "+url) {
		t.Errorf("status = %q, %v; want running %s", out, err, url)
	}
	db = open(t, url2)
	if err := db.QueryRow(`SELECT data::text FROM records WHERE id = $1`, "k1").Scan(&data); err != nil || data != `{"n": 1}` {
		t.Fatalf("after the restart: read %q, %v", data, err)
	}
}

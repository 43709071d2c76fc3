package core_test

import (
	"testing"

	"github.com/gcupsert/gcupsert/emulator/core"
	"github.com/gcupsert/gcupsert/emulator/customobjects"
	"github.com/gcupsert/gcupsert/emulator/internal/emutest"
)

// The tests of the core send their API requests to the customobjects
// family, the simplest one.
const testSchema = emutest.Schema

var batch, rec = emutest.Batch, emutest.Record

// env is a core server with the customobjects family.
type env struct {
	*emutest.Env
	co *customobjects.Family
}

func newEnv(t *testing.T, mutate func(*core.Config)) *env {
	t.Helper()
	e, co := emutest.NewFamily(t, mutate, func(s *core.Server) (*customobjects.Family, error) {
		return customobjects.New(s, customobjects.Config{Schemas: map[string][]byte{testSchema: []byte(emutest.AccountsSchema)}})
	})
	return &env{Env: e, co: co}
}

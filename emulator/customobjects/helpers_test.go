package customobjects

import (
	"testing"

	"github.com/gcupsert/gcupsert/emulator/core"
	"github.com/gcupsert/gcupsert/emulator/internal/emutest"
)

const testSchema = emutest.Schema

var batch, rec = emutest.Batch, emutest.Record

// env is a core server with the family, which knows testSchema.
type env struct {
	*emutest.Env
	f *Family
}

// newEnv returns an env; mutate, when not nil, changes the configurations
// of the core and of the family first.
func newEnv(t *testing.T, mutate func(*core.Config, *Config)) *env {
	t.Helper()
	cfg := Config{Schemas: map[string][]byte{testSchema: []byte(emutest.AccountsSchema)}}
	e, f := emutest.NewFamily(t, func(cc *core.Config) {
		if mutate != nil {
			mutate(cc, &cfg)
		}
	}, func(s *core.Server) (*Family, error) { return New(s, cfg) })
	return &env{Env: e, f: f}
}

package version

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/gcupsert/gcupsert", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "1a2b3c4d5e6f"},
			{Key: "vcs.time", Value: "2026-01-01T12:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	in := FromBuildInfo(bi)
	if got, want := in.String(), "v1.4.0 (revision 1a2b3c4d5e6f, modified, 2026-01-01T12:00:00Z) go1.26.8"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := in.UserAgent(); got != "gcupsert/v1.4.0" {
		t.Errorf("UserAgent() = %q", got)
	}
	devel := FromBuildInfo(&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}})
	if devel.String() != "devel go1.26.8" || devel.UserAgent() != "gcupsert/devel" {
		t.Errorf("devel build: %q, %q", devel.String(), devel.UserAgent())
	}
}

func TestGetNamesTheToolchain(t *testing.T) {
	in := Get()
	if in.Version == "" || !strings.HasSuffix(in.String(), " "+runtime.Version()) {
		t.Errorf("Get() = %+v, String %q", in, in.String())
	}
}

// Package version reports the build of the running gcupsert binary, from
// the module and version control information the Go toolchain records in
// it (runtime/debug.ReadBuildInfo).
package version

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Info describes a build.
type Info struct {
	// Version is the module version ("v1.4.0", or a pseudo-version such
	// as "v0.0.0-20260101120000-abcdef123456+dirty"); "devel" when the
	// build records none.
	Version string
	// Revision, Time and Modified come from the version control system
	// when the build was made in a checkout: the commit, its time
	// (RFC 3339) and whether the tree had uncommitted changes.
	Revision string
	Time     string
	Modified bool
	// GoVersion is the toolchain that built the binary.
	GoVersion string
}

// Get returns the running binary's build information.
func Get() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "devel", GoVersion: "unknown"}
	}
	return FromBuildInfo(bi)
}

// FromBuildInfo extracts the Info of bi.
func FromBuildInfo(bi *debug.BuildInfo) Info {
	in := Info{Version: bi.Main.Version, GoVersion: bi.GoVersion}
	if in.Version == "" || in.Version == "(devel)" {
		in.Version = "devel"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// String is the one-line description `gcupsert version` prints, e.g.
// "v1.4.0 (revision 1a2b3c4d5e6f, 2026-01-01T12:00:00Z) go1.26.8".
func (in Info) String() string {
	var vcs []string
	if in.Revision != "" {
		rev := "revision " + in.Revision
		if in.Modified {
			rev += ", modified"
		}
		vcs = append(vcs, rev)
	}
	if in.Time != "" {
		vcs = append(vcs, in.Time)
	}
	s := in.Version
	if len(vcs) > 0 {
		s += " (" + strings.Join(vcs, ", ") + ")"
	}
	return fmt.Sprintf("%s %s", s, in.GoVersion)
}

// UserAgent is the User-Agent of gcupsert's HTTP requests:
// "gcupsert/<version>".
func (in Info) UserAgent() string {
	return "gcupsert/" + in.Version
}

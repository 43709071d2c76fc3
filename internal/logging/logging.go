// Package logging builds the program's slog logger: tint's coloured lines on
// a terminal, JSON elsewhere (production). In both, durations are written
// as Go duration strings ("1.5s"), never as nanoseconds, and errors under
// the one key "error".
package logging

import (
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/lmittmann/tint"
	"golang.org/x/term"
)

// Format names a log format.
type Format string

const (
	FormatAuto Format = "auto" // text on a terminal, JSON otherwise
	FormatJSON Format = "json"
	FormatText Format = "text"
)

// New returns a logger writing to w at level ("debug", "info", "warn",
// "error"; unknown: info) in format.
func New(w io.Writer, level string, format Format) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		lvl = slog.LevelInfo
	}
	if format == FormatAuto || format == "" {
		format = FormatJSON
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = FormatText
		}
	}
	if format == FormatText {
		return slog.New(tint.NewHandler(w, &tint.Options{Level: lvl, TimeFormat: time.TimeOnly, ReplaceAttr: replace}))
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl, ReplaceAttr: replace}))
}

// replace writes durations as strings and an error value under "error".
func replace(_ []string, a slog.Attr) slog.Attr {
	switch v := a.Value.Any().(type) {
	case time.Duration:
		return slog.String(a.Key, v.String())
	case error:
		if a.Key == "err" {
			a.Key = "error"
		}
		return slog.String(a.Key, v.Error())
	}
	return a
}

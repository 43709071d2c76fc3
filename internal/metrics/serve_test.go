package metrics

import (
	"io"
	"log/slog"
	"net/http"
	"testing"
)

func TestServeAndStop(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	stop, err := Serve("127.0.0.1:0", h, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if _, err := Serve("127.0.0.1:not-a-port", h, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("a bad address was accepted")
	}
}

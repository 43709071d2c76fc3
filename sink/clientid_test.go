package sink

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// The publisher's connections carry the configured client id, so that
// the brokers' quotas and ACLs for it apply.
func TestPublisherConnectionsCarryTheClientID(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ids := make(chan string, 16)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				ids <- readClientID(conn)
			}()
		}
	}()
	p, err := New(Config{Brokers: []string{ln.Addr().String()}, ClientID: "crm-sync-7", AuditTopic: auditTopic,
		SyncTopic: syncTopic, DeadLetterTopic: dlqTopic, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = p.Publish(ctx, testBatch(0)) // the fake broker answers nothing
	select {
	case id := <-ids:
		if id != "crm-sync-7" {
			t.Errorf("client id %q, want crm-sync-7", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the publisher made no connection")
	}
}

// readClientID reads the first request's header: size, api key, version,
// correlation id, then the client id as an int16-length string.
func readClientID(r io.Reader) string {
	var hdr [14]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	n := int(int16(binary.BigEndian.Uint16(hdr[12:14])))
	if n < 0 {
		return ""
	}
	id := make([]byte, n)
	if _, err := io.ReadFull(r, id); err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return string(id)
}

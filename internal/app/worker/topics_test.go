package worker_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/gcupsert/gcupsert/internal/app/worker"
	"github.com/gcupsert/gcupsert/sink"
)

// A worker whose outbound topics are missing refuses to start, naming the
// topic, instead of writing records to the API and then retrying its
// events forever; with kafka.create_topics it creates them.
func TestMissingOutboundTopics(t *testing.T) {
	s := newStack(t, 1)
	s.cfg.Topics.DeadLetter = "dead-letters-nobody-made"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := worker.NewContext(ctx, s.cfg, worker.Options{})
	if !errors.Is(err, sink.ErrMissingTopic) || !strings.Contains(err.Error(), "dead-letters-nobody-made") {
		t.Fatalf("New = %v, want a missing-topic error naming it", err)
	}
	s.cfg.Kafka.CreateTopics = true
	w, err := worker.NewContext(ctx, s.cfg, worker.Options{})
	if err != nil {
		t.Fatalf("with create_topics: %v", err)
	}
	w.Close()
	c := &kafka.Client{Addr: kafka.TCP(s.cfg.Kafka.Brokers...), Transport: &kafka.Transport{}}
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{"dead-letters-nobody-made"}})
	if err != nil || len(md.Topics) != 1 || md.Topics[0].Error != nil {
		t.Fatalf("topic not created: %+v, %v", md, err)
	}
}

package worker_test

import (
	"context"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/gcupsert/gcupsert/internal/app/demo"
	"github.com/gcupsert/gcupsert/internal/kafkaconn"
)

func produceSecured(sec kafkaconn.Security, brokers []string, topic string, ds demo.Dataset) error {
	tr := sec.Transport("test")
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll, Transport: tr,
		BatchTimeout: 2 * time.Millisecond, MaxAttempts: 2, WriteBackoffMax: 100 * time.Millisecond}
	defer w.Close()
	msgs := make([]kafka.Message, len(ds.Events))
	for i, e := range ds.Events {
		msgs[i] = kafka.Message{Key: e.Key, Value: e.Value}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return w.WriteMessages(ctx, msgs...)
}

package sink

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/segmentio/kafka-go"
)

// DefaultMaxMessageBytes is a topic's max.message.bytes when the broker's
// default applies and cannot be read: Kafka's default.
const DefaultMaxMessageBytes = 1048588

// Limits are the largest records the outbound topics take, in bytes (their
// max.message.bytes); zero fields take DefaultMaxMessageBytes.
type Limits struct {
	Audit, Sync, DeadLetter int
}

func (l *Limits) setDefaults() {
	for _, v := range []*int{&l.Audit, &l.Sync, &l.DeadLetter} {
		if *v == 0 {
			*v = DefaultMaxMessageBytes
		}
	}
}

func (l Limits) min() int { return min(l.Audit, l.Sync, l.DeadLetter) }

// ErrMissingTopic marks an outbound topic the cluster does not have.
var ErrMissingTopic = errors.New("outbound topic does not exist")

// ReadLimits checks that the outbound topics of cfg exist, creating the
// missing ones when create is set (with the cluster's default partitions
// and replication), and reads each one's max.message.bytes, so that every
// event is made to fit it. A missing topic is an error naming it and
// wrapping ErrMissingTopic.
func ReadLimits(ctx context.Context, client *kafka.Client, cfg Config, create bool) (Limits, error) {
	topics := []string{cfg.AuditTopic, cfg.SyncTopic, cfg.DeadLetterTopic}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return Limits{}, fmt.Errorf("reading the outbound topics: %w", err)
	}
	var missing []string
	for _, t := range md.Topics {
		if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
			missing = append(missing, t.Name)
		} else if t.Error != nil {
			return Limits{}, fmt.Errorf("outbound topic %q: %w", t.Name, t.Error)
		}
	}
	if len(missing) > 0 {
		if !create {
			return Limits{}, fmt.Errorf("%w: %q (create it, or set kafka.create_topics)", ErrMissingTopic, missing)
		}
		if err := createTopics(ctx, client, missing); err != nil {
			return Limits{}, err
		}
	}
	res := make([]kafka.DescribeConfigRequestResource, len(topics))
	for i, t := range topics {
		res[i] = kafka.DescribeConfigRequestResource{ResourceType: kafka.ResourceTypeTopic, ResourceName: t, ConfigNames: []string{"max.message.bytes"}}
	}
	dc, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: res})
	if err != nil {
		return Limits{}, fmt.Errorf("reading max.message.bytes of the outbound topics: %w", err)
	}
	bytes := map[string]int{}
	for _, r := range dc.Resources {
		if r.Error != nil {
			return Limits{}, fmt.Errorf("max.message.bytes of topic %q: %w", r.ResourceName, r.Error)
		}
		for _, e := range r.ConfigEntries {
			if e.ConfigName == "max.message.bytes" {
				if n, err := strconv.Atoi(e.ConfigValue); err == nil && n > 0 {
					bytes[r.ResourceName] = n
				}
			}
		}
	}
	l := Limits{Audit: bytes[cfg.AuditTopic], Sync: bytes[cfg.SyncTopic], DeadLetter: bytes[cfg.DeadLetterTopic]}
	l.setDefaults()
	return l, nil
}

func createTopics(ctx context.Context, client *kafka.Client, names []string) error {
	req := &kafka.CreateTopicsRequest{}
	for _, n := range names {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: n, NumPartitions: -1, ReplicationFactor: -1})
	}
	res, err := client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("creating the outbound topics %q: %w", names, err)
	}
	for name, err := range res.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("creating outbound topic %q: %w", name, err)
		}
	}
	return nil
}

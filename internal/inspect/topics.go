package inspect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"
)

// CreateTopics creates each named topic with its partition count and
// replication factor 1 (a topic that exists already is fine), then waits,
// up to a minute, until every partition has a leader.
func CreateTopics(ctx context.Context, brokers []string, partitions map[string]int) error {
	cl := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 20 * time.Second, Transport: &kafka.Transport{}}
	req := &kafka.CreateTopicsRequest{}
	for name, n := range partitions {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: name, NumPartitions: n, ReplicationFactor: 1})
	}
	res, err := cl.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	for name, terr := range res.Errors {
		if terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", name, terr)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		ready, err := topicsReady(ctx, cl, partitions)
		if err == nil && ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topics %v not ready: %w (last error %v)", names(partitions), ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func topicsReady(ctx context.Context, cl *kafka.Client, want map[string]int) (bool, error) {
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: names(want)})
	if err != nil {
		return false, err
	}
	found := 0
	for _, tp := range md.Topics {
		n, ok := want[tp.Name]
		if !ok {
			continue
		}
		if tp.Error != nil || len(tp.Partitions) != n {
			return false, tp.Error
		}
		for _, p := range tp.Partitions {
			if p.Error != nil || p.Leader.Host == "" {
				return false, p.Error
			}
		}
		found++
	}
	return found == len(want), nil
}

func names(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

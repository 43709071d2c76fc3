package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// checkSession refuses a kafka.session_timeout the brokers would refuse.
// Bounds that cannot be read (a broker without DescribeConfigs, or a
// client without the right to it) leave the check to the group join, with
// a warning.
func checkSession(ctx context.Context, admin *kafka.Client, d time.Duration, log *slog.Logger) error {
	b, err := ReadSessionBounds(ctx, admin)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("kafka: reading the brokers' session timeout bounds: %w", err)
		}
		log.Warn("cannot read the brokers' session timeout bounds; kafka.session_timeout is not checked against them",
			"component", "consumer", "error", err.Error())
		return nil
	}
	return b.Check(d)
}

// The broker settings that bound a group member's session timeout.
const (
	minSessionConfig = "group.min.session.timeout.ms"
	maxSessionConfig = "group.max.session.timeout.ms"
)

// SessionBounds are the brokers' bounds on a consumer group member's
// session timeout; a zero bound is one the broker did not report.
type SessionBounds struct {
	Min, Max time.Duration
}

// ReadSessionBounds reads group.min.session.timeout.ms and
// group.max.session.timeout.ms from a broker of the cluster admin talks to.
func ReadSessionBounds(ctx context.Context, admin *kafka.Client) (SessionBounds, error) {
	md, err := admin.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{}})
	if err != nil {
		return SessionBounds{}, err
	}
	if len(md.Brokers) == 0 {
		return SessionBounds{}, errors.New("the cluster lists no broker")
	}
	id := md.Brokers[0].ID
	if md.Controller.Host != "" {
		id = md.Controller.ID
	}
	res, err := admin.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeBroker, ResourceName: strconv.Itoa(id), ConfigNames: []string{minSessionConfig, maxSessionConfig},
	}}})
	if err != nil {
		return SessionBounds{}, err
	}
	var b SessionBounds
	for _, r := range res.Resources {
		if r.Error != nil {
			return SessionBounds{}, fmt.Errorf("broker %d: %w", id, r.Error)
		}
		for _, e := range r.ConfigEntries {
			ms, err := strconv.ParseInt(strings.TrimSpace(e.ConfigValue), 10, 64)
			if err != nil || ms <= 0 {
				continue
			}
			switch e.ConfigName {
			case minSessionConfig:
				b.Min = time.Duration(ms) * time.Millisecond
			case maxSessionConfig:
				b.Max = time.Duration(ms) * time.Millisecond
			}
		}
	}
	return b, nil
}

// Check refuses a session timeout outside the bounds, naming
// kafka.session_timeout: the broker would refuse every join with "Invalid
// Session Timeout", and the consumer would try again forever.
func (b SessionBounds) Check(d time.Duration) error {
	var broken string
	switch {
	case b.Min > 0 && d < b.Min:
		broken = fmt.Sprintf("is below the brokers' %s (%s)", minSessionConfig, short(b.Min))
	case b.Max > 0 && d > b.Max:
		broken = fmt.Sprintf("is above the brokers' %s (%s)", maxSessionConfig, short(b.Max))
	default:
		return nil
	}
	return fmt.Errorf("kafka.session_timeout: %s %s; the brokers accept %s and refuse every join outside that", short(d), broken, b)
}

// String describes the bounds, e.g. "6s to 30m".
func (b SessionBounds) String() string {
	switch {
	case b.Min > 0 && b.Max > 0:
		return short(b.Min) + " to " + short(b.Max)
	case b.Min > 0:
		return "at least " + short(b.Min)
	case b.Max > 0:
		return "at most " + short(b.Max)
	}
	return "any value"
}

// short writes d without zero trailing units: 30m rather than 30m0s.
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

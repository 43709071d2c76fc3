package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// baseline is the sequential design gcupsert replaced: read 100 events,
// ask for a token, build the batch, POST it, commit, then the next 100. A
// 429 waits 1 s, 2 s, 4 s... (no Retry-After), as that design did, but is
// retried until it succeeds so that the run completes.
type baseline struct {
	brokers []string
	group   string
	apiURL  string
	http    *http.Client
	// token is the bearer the batches are sent with. The per-batch token
	// request is made as the original design made it; the emulator counts
	// its budget per token, so sending each batch with a fresh token
	// would side-step the budget, which a real organisation's limits on
	// token creation do not allow: the first token is kept.
	token string

	events, written, tooMany, requests int
	// batches records when each batch was written and how many records.
	batches []timedCount
}

type timedCount struct {
	at time.Time
	n  int
}

type baselineRecord map[string]any

func newBaseline(brokers []string, apiURL, group string) *baseline {
	return &baseline{brokers: brokers, group: group, apiURL: apiURL, http: &http.Client{Timeout: 30 * time.Second}}
}

// run processes until want events are committed or ctx ends.
func (b *baseline) run(ctx context.Context, want int) error {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: b.brokers, GroupID: b.group, Topic: inputTopic,
		MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 100 * time.Millisecond,
		StartOffset: kafka.FirstOffset, CommitInterval: 0,
		SessionTimeout: 6 * time.Second, HeartbeatInterval: time.Second,
	})
	defer r.Close()
	for b.events < want {
		msgs, err := b.fetch(ctx, r, min(100, want-b.events))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := b.tokenCheck(ctx); err != nil {
			return err
		}
		if err := b.send(ctx, msgs); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := r.CommitMessages(ctx, msgs...); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		b.events += len(msgs)
	}
	return nil
}

// fetch reads up to n messages; it returns fewer when none arrives for
// 200 ms after the first.
func (b *baseline) fetch(ctx context.Context, r *kafka.Reader, n int) ([]kafka.Message, error) {
	var out []kafka.Message
	for len(out) < n {
		fctx := ctx
		var cancel context.CancelFunc = func() {}
		if len(out) > 0 {
			fctx, cancel = context.WithTimeout(ctx, 200*time.Millisecond)
		}
		m, err := r.FetchMessage(fctx)
		cancel()
		if err != nil {
			if len(out) > 0 && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				return out, nil
			}
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func (b *baseline) tokenCheck(ctx context.Context) error {
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.apiURL+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.SetBasicAuth(clientID, clientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("baseline: token: status %d", resp.StatusCode)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		return err
	}
	if b.token == "" {
		b.token = tr.AccessToken
	}
	return nil
}

// send builds the batch body from the envelopes and POSTs it until it
// succeeds.
func (b *baseline) send(ctx context.Context, msgs []kafka.Message) error {
	recs := make([]baselineRecord, 0, len(msgs))
	for _, m := range msgs {
		var env struct {
			Key  string         `json:"key"`
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(m.Value, &env); err != nil || env.Data == nil {
			continue // the stream holds only valid upserts
		}
		rec := baselineRecord{"id": string(m.Key), "conflictResolution": "upsert"}
		for k, v := range env.Data {
			rec[k] = v
		}
		recs = append(recs, rec)
	}
	body, err := json.Marshal(map[string]any{"records": recs})
	if err != nil {
		return err
	}
	delay := time.Second
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.apiURL+"/api/v2/customobjects/"+tableName+"/records", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+b.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := b.http.Do(req)
		b.requests++
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			b.written += len(recs)
			b.batches = append(b.batches, timedCount{at: time.Now(), n: len(recs)})
			return nil
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			if resp.StatusCode == http.StatusTooManyRequests {
				b.tooMany++
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(delay):
			}
			delay = min(2*delay, 30*time.Second)
		default:
			return fmt.Errorf("baseline: batch refused with status %d on attempt %d", resp.StatusCode, attempt)
		}
	}
}

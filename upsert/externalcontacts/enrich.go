package externalcontacts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gcupsert/gcupsert/change"
	"github.com/gcupsert/gcupsert/internal/retry"
	"github.com/gcupsert/gcupsert/upsert"
)

// opOverhead bounds the bytes an enrich operation adds around an entity
// and its key (twice: the matching identifier and the external id).
const opOverhead = 320

// bulkResult is one result of a bulk response.
type bulkResult struct {
	ID      string          `json:"id"`
	Success bool            `json:"success"`
	Status  int             `json:"status"`
	Entity  json.RawMessage `json:"entity"`
	Error   *entityError    `json:"error"`
}

// entityError is the error of one failed operation of a bulk request.
type entityError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Status    int    `json:"status"`
	Retryable bool   `json:"retryable"`
	Details   []struct {
		FieldName string `json:"fieldName"`
		Value     string `json:"value"`
		Message   string `json:"message"`
	} `json:"details"`
}

// errRetryable reports operations the API failed as retryable; the client
// retries them under its policy.
type errRetryable struct{ n int }

func (e errRetryable) Error() string {
	return fmt.Sprintf("externalcontacts: %d operations failed and may be retried", e.n)
}

// opSize is the bytes item adds to an enrich request.
func (t *Target) opSize(it change.Item) int { return len(it.Body) + opOverhead + 2*len(it.Record.Key) }

// op encodes the enrich operation of item i: the tracker id is i.
func (t *Target) op(b *upsert.Tracker, i int, orgID string) ([]byte, error) {
	key, err := json.Marshal(b.Items[i].Record.Key)
	if err != nil {
		return nil, err
	}
	src, _ := json.Marshal(t.source.ID)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `{"id":"%d","action":"%s","matchingIdentifiers":[{"type":"ExternalId","value":%s,"externalSource":{"id":%s}}],`,
		i, t.cfg.action(), key, src)
	fmt.Fprintf(&buf, `"fieldRules":{"defaultAction":"%s","defaultArrayAction":"%s"},"%s":`, t.cfg.DefaultAction, t.cfg.ArrayAction, t.cfg.Entity.bodyKey())
	body := b.Items[i].Body
	if orgID != "" {
		org, _ := json.Marshal(map[string]string{"id": orgID})
		buf.WriteString(`{"externalOrganization":`)
		buf.Write(org)
		if len(body) > 2 {
			buf.WriteByte(',')
		}
		buf.Write(body[1:])
	} else {
		buf.Write(body)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// enrich sends the operations of idxs, and again those the API failed as
// retryable (alone), under the client's retry policy.
func (t *Target) enrich(ctx context.Context, b *upsert.Tracker, idxs []int, orgIDs map[int]string) error {
	pending := idxs
	versionRetried := map[int]bool{}
	err := t.c.Retry(ctx, "external contacts enrich", func() error {
		again, err := t.enrichOnce(ctx, b, pending, orgIDs, versionRetried)
		if err != nil {
			return retry.Permanent(err)
		}
		if pending = again; len(pending) > 0 {
			return errRetryable{n: len(pending)}
		}
		return nil
	})
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return err
	}
	return nil
}

// enrichOnce sends one request for idxs (split in halves when the API
// refuses its size) and records the outcomes; it returns the items to send
// again and a fatal error, if any.
func (t *Target) enrichOnce(ctx context.Context, b *upsert.Tracker, idxs []int, orgIDs map[int]string, versionRetried map[int]bool) ([]int, error) {
	var body bytes.Buffer
	body.WriteString(`{"entities":[`)
	for n, i := range idxs {
		op, err := t.op(b, i, orgIDs[i])
		if err != nil {
			b.Reject(i, &change.RecordError{Class: change.ClassValidation, Code: "record.encoding", Message: err.Error()})
			continue
		}
		if n > 0 {
			body.WriteByte(',')
		}
		body.Write(op)
	}
	body.WriteString(`]}`)
	path := apiPath + "/bulk/" + t.cfg.Entity.plural() + "/enrich"
	res, err := t.c.Do(ctx, b.Call(http.MethodPost, path, body.Bytes(), idxs...))
	if err != nil {
		se, rej, fatal := upsert.Sort(ctx, err)
		switch {
		case fatal != nil:
			return nil, fatal
		case se != nil && len(idxs) > 1 && (se.Status == http.StatusRequestEntityTooLarge || se.Status == http.StatusBadRequest):
			h := len(idxs) / 2
			a, err := t.enrichOnce(ctx, b, idxs[:h], orgIDs, versionRetried)
			if err != nil {
				return nil, err
			}
			c, err := t.enrichOnce(ctx, b, idxs[h:], orgIDs, versionRetried)
			return append(a, c...), err
		case se != nil:
			rej = upsert.Rejection(se)
		}
		for _, i := range idxs {
			b.Reject(i, rej)
		}
		return nil, nil
	}
	return t.enrichResults(ctx, b, idxs, res, versionRetried)
}

// enrichResults records the outcome of each operation, matched by its
// tracker id (results come in any order), and returns those to send again.
func (t *Target) enrichResults(ctx context.Context, b *upsert.Tracker, idxs []int, res *upsert.Response, versionRetried map[int]bool) ([]int, error) {
	var br struct {
		Results []bulkResult `json:"results"`
	}
	if err := json.Unmarshal(res.Body, &br); err != nil {
		return nil, fmt.Errorf("externalcontacts: unreadable bulk enrich response: %w", err)
	}
	byID := make(map[int]*bulkResult, len(br.Results))
	for k := range br.Results {
		if i, err := strconv.Atoi(br.Results[k].ID); err == nil {
			byID[i] = &br.Results[k]
		}
	}
	corr := res.Header.Get("ININ-Correlation-Id")
	var again, stale []int
	for _, i := range idxs {
		r := byID[i]
		switch {
		case b.Done(i):
		case r == nil:
			t.log.Warn("a bulk enrich response has no result for an operation; sending it again", "key", b.Items[i].Record.Key)
			again = append(again, i)
		case r.Success:
			st := change.StatusUpdated
			if r.Status == http.StatusCreated {
				st = change.StatusCreated
			}
			b.Succeed(i, st, nil, r.Entity)
		case r.Error != nil && upsert.RetryableEntity(r.Error.Retryable, r.Error.Status):
			again = append(again, i)
		case r.Error != nil && isVersionError(r.Error) && !versionRetried[i]:
			versionRetried[i] = true
			stale = append(stale, i)
		default:
			b.Reject(i, t.entityRejection(r, corr))
		}
	}
	if len(stale) > 0 {
		again = append(again, t.reprepare(ctx, b, stale)...)
	}
	return again, nil
}

// isVersionError reports an operation refused for an old data schema
// version.
func isVersionError(e *entityError) bool {
	return strings.Contains(strings.ToLower(e.Code), "schema.version")
}

// reprepare reads the data schema again and prepares items anew against
// it; it returns those to send again (the others are rejected).
func (t *Target) reprepare(ctx context.Context, b *upsert.Tracker, idxs []int) []int {
	before := t.currentSchema()
	if err := t.refreshSchema(ctx, true); err != nil {
		return nil
	}
	cs := t.currentSchema()
	var out []int
	for _, i := range idxs {
		if cs == nil || cs == before || cs.Version == before.Version {
			b.Reject(i, &change.RecordError{Class: change.ClassValidation, Code: "schema.version.mismatch",
				Message: "the API refused the data schema's version and reading the schema again found no other"})
			continue
		}
		it, rerr := t.prepare(cs, b.Items[i].Record)
		if rerr != nil {
			b.Reject(i, rerr)
			continue
		}
		b.Items[i] = it
		out = append(out, i)
	}
	return out
}

// entityRejection is the rejection of an operation the API failed.
func (t *Target) entityRejection(r *bulkResult, corr string) *change.RecordError {
	e := r.Error
	if e == nil {
		return &change.RecordError{Class: change.ClassAPI, Code: "result.failed", Status: r.Status,
			Message: "the API reported a failure without an error", CorrelationID: corr}
	}
	status := e.Status
	if status == 0 {
		status = r.Status
	}
	rej := &change.RecordError{Class: upsert.StatusClass(status), Code: e.Code, Status: status,
		Message: t.c.Redact(e.Message), CorrelationID: corr}
	if rej.Code == "" {
		rej.Code = "entity.failed"
	}
	if status == http.StatusNotFound && t.cfg.Conflict == change.ConflictUpdateOnly {
		rej.Class = change.ClassConflict
	}
	for _, d := range e.Details {
		msg := d.Message
		if msg == "" {
			msg = e.Message
		}
		rej.Fields = append(rej.Fields, change.FieldError{Field: d.FieldName, Code: e.Code, Message: t.c.Redact(msg)})
		if d.FieldName == "externalOrganization" && t.orgs != nil {
			t.orgs.forgetID(strings.TrimSpace(d.Value))
		}
	}
	return rej
}

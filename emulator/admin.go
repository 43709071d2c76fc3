package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Admin routes.
const (
	adminHealth  = "GET /emulator/health"
	adminFaults  = "/emulator/faults"
	adminStats   = "GET /emulator/stats"
	adminRecords = "GET /emulator/records/{schema}"
	adminSchemas = "PUT /emulator/schemas/{schema}"
	adminReset   = "POST /emulator/reset"

	adminVariants  = "/emulator/datatables/variants"
	adminTables    = "POST /emulator/datatables"
	adminTableRows = "GET /emulator/datatables/{table}/rows"
)

// maxAdminBody bounds admin request bodies.
const maxAdminBody = 1 << 20

func (s *Server) registerAdmin(mux *http.ServeMux) {
	mux.HandleFunc(adminHealth, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET "+adminFaults, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, toFaultsJSON(s.Faults()))
	})
	mux.HandleFunc("POST "+adminFaults, s.adminPatchFaults)
	mux.HandleFunc("DELETE "+adminFaults, func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		writeJSON(w, http.StatusOK, toFaultsJSON(s.Faults()))
	})
	mux.HandleFunc(adminStats, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	mux.HandleFunc(adminRecords, func(w http.ResponseWriter, r *http.Request) {
		recs := s.Records(r.PathValue("schema"))
		if recs == nil {
			eb := statusError(http.StatusNotFound)
			eb.Message = fmt.Sprintf("Schema %s was not found.", r.PathValue("schema"))
			writeError(w, eb)
			return
		}
		writeJSON(w, http.StatusOK, recs)
	})
	mux.HandleFunc(adminSchemas, func(w http.ResponseWriter, r *http.Request) {
		body, tooLarge, err := readBody(r, maxAdminBody)
		switch {
		case tooLarge:
			writeError(w, statusError(http.StatusRequestEntityTooLarge))
			return
		case err != nil:
			writeError(w, badRequest("The request body could not be read."))
			return
		}
		if err := s.AddSchema(r.PathValue("schema"), body); err != nil {
			writeError(w, badRequest(err.Error()))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET "+adminVariants, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Variants())
	})
	mux.HandleFunc("PUT "+adminVariants, s.adminPutVariants)
	mux.HandleFunc(adminTables, func(w http.ResponseWriter, r *http.Request) {
		if err := s.LoadFixtures(http.MaxBytesReader(w, r.Body, maxFixturesBytes)); err != nil {
			writeError(w, badRequest(err.Error()))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc(adminTableRows, func(w http.ResponseWriter, r *http.Request) {
		ref := r.PathValue("table")
		rows := s.Rows(ref)
		if rows == nil {
			if id, ok := s.TableID(ref); ok {
				rows = s.Rows(id)
			}
		}
		if rows == nil {
			writeError(w, tableNotFound(ref))
			return
		}
		writeJSON(w, http.StatusOK, rows)
	})
	mux.HandleFunc(adminReset, func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
}

// duration is a time.Duration read and written as a Go duration string.
type duration time.Duration

func (d duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"250ms\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = duration(v)
	return nil
}

// faultsJSON is Faults as the admin API shows it.
type faultsJSON struct {
	Latency       duration `json:"latency"`
	LatencyMedian duration `json:"latencyMedian"`
	LatencyP99    duration `json:"latencyP99"`
	ErrorRatio    float64  `json:"errorRatio"`
	ErrorStatus   int      `json:"errorStatus"`
	Storm429      bool     `json:"storm429"`
	RetryAfter    duration `json:"retryAfter"`
	Down          bool     `json:"down"`
	OmitEntityIDs bool     `json:"omitEntityIds"`
	FailNext      []int    `json:"failNext"`
}

func toFaultsJSON(f Faults) faultsJSON {
	fn := f.FailNext
	if fn == nil {
		fn = []int{}
	}
	return faultsJSON{
		Latency: duration(f.Latency), LatencyMedian: duration(f.LatencyMedian), LatencyP99: duration(f.LatencyP99),
		ErrorRatio: f.ErrorRatio, ErrorStatus: f.ErrorStatus, Storm429: f.Storm429,
		RetryAfter: duration(f.RetryAfter), Down: f.Down, OmitEntityIDs: f.OmitEntityIDs, FailNext: fn,
	}
}

// faultsPatch is the body of POST /emulator/faults: fields present are set,
// others keep their value. Clear turns everything off first; FailNext
// queues failures after those already queued; RevokeTokens revokes every
// issued token.
type faultsPatch struct {
	Clear         bool      `json:"clear"`
	Latency       *duration `json:"latency"`
	LatencyMedian *duration `json:"latencyMedian"`
	LatencyP99    *duration `json:"latencyP99"`
	ErrorRatio    *float64  `json:"errorRatio"`
	ErrorStatus   *int      `json:"errorStatus"`
	Storm429      *bool     `json:"storm429"`
	RetryAfter    *duration `json:"retryAfter"`
	Down          *bool     `json:"down"`
	OmitEntityIDs *bool     `json:"omitEntityIds"`
	FailNext      *struct {
		Count  int `json:"count"`
		Status int `json:"status"`
	} `json:"failNext"`
	RevokeTokens bool `json:"revokeTokens"`
}

func (p faultsPatch) apply(f *Faults) error {
	if p.Clear {
		*f = Faults{}
	}
	setDur := func(dst *time.Duration, src *duration) {
		if src != nil {
			*dst = time.Duration(*src)
		}
	}
	setDur(&f.Latency, p.Latency)
	setDur(&f.LatencyMedian, p.LatencyMedian)
	setDur(&f.LatencyP99, p.LatencyP99)
	setDur(&f.RetryAfter, p.RetryAfter)
	if p.ErrorRatio != nil {
		f.ErrorRatio = *p.ErrorRatio
	}
	if p.ErrorStatus != nil {
		f.ErrorStatus = *p.ErrorStatus
	}
	if p.Storm429 != nil {
		f.Storm429 = *p.Storm429
	}
	if p.Down != nil {
		f.Down = *p.Down
	}
	if p.OmitEntityIDs != nil {
		f.OmitEntityIDs = *p.OmitEntityIDs
	}
	if fn := p.FailNext; fn != nil {
		if fn.Count < 0 || fn.Count > maxFailNext-len(f.FailNext) {
			return fmt.Errorf("%w: failNext count out of range", ErrInvalidFault)
		}
		if err := validFailStatus(fn.Status); err != nil {
			return err
		}
		for range fn.Count {
			f.FailNext = append(f.FailNext, fn.Status)
		}
	}
	return nil
}

// readAdminJSON decodes an admin request body into v, rejecting unknown
// fields and trailing data; on failure it answers the request and returns
// false.
func readAdminJSON(w http.ResponseWriter, r *http.Request, what string, v any) bool {
	body, tooLarge, err := readBody(r, maxAdminBody)
	switch {
	case tooLarge:
		writeError(w, statusError(http.StatusRequestEntityTooLarge))
		return false
	case err != nil:
		writeError(w, badRequest("The request body could not be read."))
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, badRequest("Invalid "+what+" document: "+err.Error()))
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		writeError(w, badRequest("Invalid "+what+" document: data after the JSON object."))
		return false
	}
	return true
}

func (s *Server) adminPatchFaults(w http.ResponseWriter, r *http.Request) {
	var p faultsPatch
	if !readAdminJSON(w, r, "faults", &p) {
		return
	}
	if err := s.faults.update(p.apply); err != nil {
		writeError(w, badRequest(err.Error()))
		return
	}
	if p.RevokeTokens {
		s.RevokeTokens()
	}
	f := s.Faults()
	s.log.Info("emulator faults set", "faults", fmt.Sprintf("%+v", f))
	writeJSON(w, http.StatusOK, toFaultsJSON(f))
}

// variantsPatch is the body of PUT /emulator/datatables/variants: fields
// present are set, others keep their value.
type variantsPatch struct {
	PostExisting *string `json:"postExisting"`
	PutMissing   *string `json:"putMissing"`
	DeleteStatus *int    `json:"deleteStatus"`
}

func (s *Server) adminPutVariants(w http.ResponseWriter, r *http.Request) {
	var p variantsPatch
	if !readAdminJSON(w, r, "variants", &p) {
		return
	}
	v := s.Variants()
	if p.PostExisting != nil {
		v.PostExisting = *p.PostExisting
	}
	if p.PutMissing != nil {
		v.PutMissing = *p.PutMissing
	}
	if p.DeleteStatus != nil {
		v.DeleteStatus = *p.DeleteStatus
	}
	if err := s.SetVariants(v); err != nil {
		writeError(w, badRequest(err.Error()))
		return
	}
	writeJSON(w, http.StatusOK, s.Variants())
}

package core

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Admin routes of the core; families add theirs.
const (
	adminHealth = "GET /emulator/health"
	adminFaults = "/emulator/faults"
	adminStats  = "GET /emulator/stats"
	adminReset  = "POST /emulator/reset"
)

func (s *Server) registerAdmin(mux *http.ServeMux) {
	mux.HandleFunc(adminHealth, func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET "+adminFaults, func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, toFaultsJSON(s.Faults()))
	})
	mux.HandleFunc("POST "+adminFaults, s.adminPatchFaults)
	mux.HandleFunc("DELETE "+adminFaults, func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		WriteJSON(w, http.StatusOK, toFaultsJSON(s.Faults()))
	})
	mux.HandleFunc(adminStats, func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, s.Stats())
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

func (s *Server) adminPatchFaults(w http.ResponseWriter, r *http.Request) {
	var p faultsPatch
	if !ReadAdminJSON(w, r, "faults", &p) {
		return
	}
	if err := s.faults.update(p.apply); err != nil {
		WriteError(w, BadRequest(err.Error()))
		return
	}
	if p.RevokeTokens {
		s.RevokeTokens()
	}
	f := s.Faults()
	s.log.Info("emulator faults set", "faults", fmt.Sprintf("%+v", f))
	WriteJSON(w, http.StatusOK, toFaultsJSON(f))
}

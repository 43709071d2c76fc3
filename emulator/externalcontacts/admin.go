package externalcontacts

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/gcupsert/gcupsert/emulator/core"
)

// Contacts returns every contact as GET /contacts/{id} shows it, by id,
// decoded as encoding/json decodes into any (numbers are float64).
func (f *Family) Contacts() map[string]map[string]any { return f.snapshot(EntityContacts) }

// Organizations returns every organization as GET /organizations/{id}
// shows it, by id, decoded as Contacts.
func (f *Family) Organizations() map[string]map[string]any { return f.snapshot(EntityOrganizations) }

// FindByExternalID returns the entity of et that holds the external id
// {externalSource.id: sourceID, value}, as Contacts shows it.
func (f *Family) FindByExternalID(et EntityType, sourceID, value string) (map[string]any, bool) {
	f.mu.Lock()
	st := f.storeOf(et)
	e, ok := st.items[st.byExt[extKey(sourceID, strings.TrimSpace(value))]]
	var b []byte
	var err error
	if ok {
		b, err = json.Marshal(f.render(et, e))
	}
	f.mu.Unlock()
	if !ok || err != nil {
		return nil, false
	}
	var out map[string]any
	if json.Unmarshal(b, &out) != nil {
		return nil, false
	}
	return out, true
}

// RetryableShare returns the share of bulk enrich operations that fail
// with a retryable 503.
func (f *Family) RetryableShare() float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.share
}

// SetRetryableShare sets the share (0 to 1) of bulk enrich operations that
// fail with a retryable 503 and change nothing; Reset restores the
// configured share.
func (f *Family) SetRetryableShare(share float64) error {
	if err := checkShare(share); err != nil {
		return err
	}
	f.mu.Lock()
	f.share = share
	f.mu.Unlock()
	f.srv.Log().Info("emulator external contacts retryable share set", "share", share)
	return nil
}

// AdminConfig is the body of GET and PUT /emulator/externalcontacts/config.
// PUT reads only retryableShare; the limits are fixed by Config.
type AdminConfig struct {
	RetryableShare float64 `json:"retryableShare"`
	MaxEnrich      int     `json:"maxEnrich"`
	MaxBulk        int     `json:"maxBulk"`
}

func (f *Family) adminConfig() AdminConfig {
	return AdminConfig{RetryableShare: f.RetryableShare(), MaxEnrich: f.maxEnrich, MaxBulk: f.maxBulk}
}

// registerAdmin adds the admin routes.
func (f *Family) registerAdmin(rt core.Routes) {
	rt.Admin("GET /emulator/externalcontacts/contacts", func(w http.ResponseWriter, r *http.Request) {
		core.WriteJSON(w, http.StatusOK, f.Contacts())
	})
	rt.Admin("GET /emulator/externalcontacts/organizations", func(w http.ResponseWriter, r *http.Request) {
		core.WriteJSON(w, http.StatusOK, f.Organizations())
	})
	rt.Admin("GET /emulator/externalcontacts/sources", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		out := map[string]string{}
		for _, s := range f.sources {
			out[s.name] = s.id
		}
		f.mu.Unlock()
		core.WriteJSON(w, http.StatusOK, out)
	})
	rt.Admin("GET /emulator/externalcontacts/config", func(w http.ResponseWriter, r *http.Request) {
		core.WriteJSON(w, http.StatusOK, f.adminConfig())
	})
	rt.Admin("PUT /emulator/externalcontacts/config", func(w http.ResponseWriter, r *http.Request) {
		var p struct {
			RetryableShare *float64 `json:"retryableShare"`
		}
		if !core.ReadAdminJSON(w, r, "external contacts config", &p) {
			return
		}
		if p.RetryableShare != nil {
			if err := f.SetRetryableShare(*p.RetryableShare); err != nil {
				core.WriteError(w, core.BadRequest(fmt.Sprint(err)))
				return
			}
		}
		core.WriteJSON(w, http.StatusOK, f.adminConfig())
	})
}

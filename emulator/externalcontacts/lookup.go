package externalcontacts

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gcupsert/gcupsert/emulator/core"
)

// Identifier types (Contactidentifier.type). Organizations take only
// ExternalId.
const (
	IdentExternalID = "ExternalId"
	IdentEmail      = "Email"
	IdentPhone      = "Phone"
)

var contactIdentTypes = []string{"SocialLine", "SocialFacebook", "SocialTwitter", "SocialWhatsapp",
	"SocialInstagram", "AppleOpaqueId", IdentEmail, IdentPhone, "Cookie", IdentExternalID}

// ident is a checked identifier: Email values are lower-cased, Phone
// values in E.164.
type ident struct {
	typ, value, sourceID string
}

// checkIdentifier checks an identifier of et; at names it in problems.
func checkIdentifier(et EntityType, d identifierDoc, at string) (ident, []problem) {
	allowed := contactIdentTypes
	if et == EntityOrganizations {
		allowed = []string{IdentExternalID}
	}
	id := ident{typ: str(d.Type), value: strings.TrimSpace(str(d.Value))}
	var ps []problem
	switch {
	case id.typ == "":
		ps = append(ps, problem{field: at + ".type", code: detailRequired, message: "a type is required"})
	case !slices.Contains(allowed, id.typ):
		ps = append(ps, problem{field: at + ".type", code: detailInvalid, value: clip(id.typ),
			message: "must be one of " + strings.Join(allowed, ", ")})
	}
	switch n := len([]rune(id.value)); {
	case n == 0:
		ps = append(ps, problem{field: at + ".value", code: detailRequired, message: "a value is required"})
	case n > maxIDValue:
		ps = append(ps, problem{field: at + ".value", code: detailTooLong, value: clip(id.value),
			message: fmt.Sprintf("at most %d characters", maxIDValue)})
	}
	if len(ps) > 0 {
		return id, ps
	}
	switch id.typ {
	case IdentExternalID:
		if d.ExternalSource != nil {
			id.sourceID = strings.TrimSpace(str(d.ExternalSource.ID))
		}
		if id.sourceID == "" {
			ps = append(ps, problem{field: at + ".externalSource.id", code: detailRequired, message: "an ExternalId needs its external source"})
		}
	case IdentEmail:
		id.value = strings.ToLower(id.value)
	case IdentPhone:
		e, ok := e164(id.value)
		if !ok {
			ps = append(ps, problem{field: at + ".value", code: detailInvalid, value: clip(id.value),
				message: "a phone number needs its country code and a leading '+'"})
		}
		id.value = e
	}
	return id, ps
}

// match returns the entity of et that id identifies, or nil: ExternalId
// matches an entity's externalIds, Email a contact's emails
// (case-insensitive), Phone the E.164 form of a contact's phones; other
// types match nothing (a guess). Of several entities the oldest wins. The
// caller holds f.mu.
func (f *Family) match(et EntityType, id ident) *stored {
	st := f.storeOf(et)
	if id.typ == IdentExternalID {
		return st.items[st.byExt[extKey(id.sourceID, id.value)]]
	}
	if et != EntityContacts || (id.typ != IdentEmail && id.typ != IdentPhone) {
		return nil
	}
	var best *stored
	for _, e := range st.items {
		if (best == nil || e.seq < best.seq) && contactHas(e.fields, id) {
			best = e
		}
	}
	return best
}

// contactHas reports whether a contact's fields hold an Email or Phone
// identifier.
func contactHas(fields map[string]any, id ident) bool {
	if id.typ == IdentEmail {
		for _, k := range []string{"workEmail", "personalEmail", "otherEmail"} {
			if s, ok := fields[k].(string); ok && strings.EqualFold(s, id.value) {
				return true
			}
		}
		return false
	}
	for _, path := range phonePaths(EntityContacts) {
		m := fields
		for _, k := range path {
			m, _ = m[k].(map[string]any)
		}
		if d, ok := m["display"].(string); ok {
			if e, ok := e164(d); ok && e == id.value {
				return true
			}
		}
	}
	return false
}

// handleLookup serves identifier lookup: the entity an identifier names,
// or 404. The expand parameter is accepted and ignored (responses always
// carry the organization in full).
func (f *Family) handleLookup(et EntityType, w http.ResponseWriter, r *http.Request) {
	var d identifierDoc
	if !f.readJSON(w, r, "identifier", &d) {
		return
	}
	id, ps := checkIdentifier(et, d, "identifier")
	if len(ps) > 0 {
		writeFailure(w, invalid("identifier", ps))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.match(et, id)
	if e == nil {
		writeFailure(w, notFound(fmt.Sprintf("No %s has the %s identifier %s.", entityName(et), id.typ, clip(id.value))))
		return
	}
	core.WriteJSON(w, http.StatusOK, f.render(et, e))
}

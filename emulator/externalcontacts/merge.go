package externalcontacts

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Field actions and array actions of Enrichfieldrules.
const (
	ActionAlwaysUseProvided = "AlwaysUseProvided"
	ActionPreferExisting    = "PreferExisting"
	ActionPreferProvided    = "PreferProvided"
	ArrayReplace            = "Replace"
	ArrayExtend             = "Extend"
	ArrayFill               = "Fill"
)

var (
	fieldActions = []string{ActionAlwaysUseProvided, ActionPreferExisting, ActionPreferProvided}
	arrayActions = []string{ArrayReplace, ArrayExtend, ArrayFill}
	// rulePath is the JSONPath subset of a rule's field: dot notation,
	// alphanumerics and underscores only.
	rulePath = regexp.MustCompile(`^\$(\.[A-Za-z0-9_]+)+$`)
)

// rules are the parsed fieldRules of an enrich operation.
type rules struct {
	action, arrayAction string               // the defaults
	byPath              map[string][2]string // "$.a.b" -> {action, arrayAction}
}

// parseRules checks fieldRules and returns them with the defaults filled
// in: PreferProvided and Fill.
func parseRules(fr *fieldRules) (rules, []problem) {
	r := rules{action: ActionPreferProvided, arrayAction: ArrayFill, byPath: map[string][2]string{}}
	if fr == nil {
		return r, nil
	}
	var ps []problem
	pick := func(v *string, allowed []string, field string, dst *string) {
		if v == nil || *v == "" {
			return
		}
		if !slices.Contains(allowed, *v) {
			ps = append(ps, problem{field: field, code: detailInvalid, value: clip(*v), message: "must be one of " + strings.Join(allowed, ", ")})
			return
		}
		*dst = *v
	}
	pick(fr.DefaultAction, fieldActions, "fieldRules.defaultAction", &r.action)
	pick(fr.DefaultArrayAction, arrayActions, "fieldRules.defaultArrayAction", &r.arrayAction)
	if fr.Rules == nil {
		return r, ps
	}
	for i, fl := range *fr.Rules {
		at := fmt.Sprintf("fieldRules.rules[%d]", i)
		path := str(fl.Field)
		if !rulePath.MatchString(path) {
			ps = append(ps, problem{field: at + ".field", code: detailInvalid, value: clip(path),
				message: "must be a path such as $.address.address1 (dot notation, letters, digits and _)"})
			continue
		}
		var pair [2]string
		pick(fl.Action, fieldActions, at+".action", &pair[0])
		pick(fl.ArrayAction, arrayActions, at+".arrayAction", &pair[1])
		r.byPath[path] = pair
	}
	return r, ps
}

// find returns the action (i 0) or array action (i 1) for path: that of
// the rule of path or of its nearest parent, else the default.
func (r rules) find(path string, i int, def string) string {
	for p := path; p != "$"; p = p[:strings.LastIndexByte(p, '.')] {
		if pair, ok := r.byPath[p]; ok && pair[i] != "" {
			return pair[i]
		}
	}
	return def
}

// shape tells merge which fields are objects merged field by field and
// which are arrays, with their size limits (0: none).
type shape struct {
	objects map[string]bool
	arrays  map[string]int
}

var shapes = map[EntityType]shape{
	EntityContacts: {
		objects: set("$.address", "$.workPhone", "$.cellPhone", "$.homePhone", "$.otherPhone", "$.twitterId",
			"$.lineId", "$.whatsAppId", "$.whatsAppId.phoneNumber", "$.facebookId", "$.instagramId", "$.customFields"),
		arrays: map[string]int{"$.externalIds": MaxExternalIDs, "$.appleOpaqueIds": MaxExternalIDs,
			"$.lineId.ids": 1, "$.facebookId.ids": 1, "$.instagramId.ids": 1},
	},
	EntityOrganizations: {
		objects: set("$.address", "$.phoneNumber", "$.faxNumber", "$.twitterId", "$.customFields"),
		arrays:  map[string]int{"$.externalIds": MaxExternalIDs, "$.tags": 0, "$.websites": 0, "$.tickers": 0},
	},
}

func set(ks ...string) map[string]bool {
	m := map[string]bool{}
	for _, k := range ks {
		m[k] = true
	}
	return m
}

// mergeFields merges the provided fields of an enrich operation into the
// existing ones (nil for a new entity) under r; see merge.
func mergeFields(et EntityType, existing, provided map[string]any, r rules) map[string]any {
	m, _ := merge("$", deepCopy(existing), deepCopy(provided), r, shapes[et]).(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m
}

// merge merges the value at path. Objects (the root, and the paths of
// s.objects) are merged key by key. Other values follow the field action:
// PreferProvided takes a provided (non-null) value, else the existing one;
// PreferExisting keeps an existing value, else takes the provided one;
// AlwaysUseProvided takes the provided value, null included. Where the
// action takes a provided array and an existing one is there too, the
// array action combines them.
func merge(path string, existing, provided any, r rules, s shape) any {
	action := r.find(path, 0, r.action)
	if path == "$" || s.objects[path] {
		em, _ := existing.(map[string]any)
		pm, _ := provided.(map[string]any)
		if em == nil && pm == nil {
			return nil
		}
		out := map[string]any{}
		for _, k := range union(em, pm) {
			if v := merge(path+"."+k, em[k], pm[k], r, s); v != nil {
				out[k] = v
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	if limit, isArray := s.arrays[path]; isArray {
		ea, _ := existing.([]any)
		pa, _ := provided.([]any)
		switch {
		case provided == nil && action == ActionAlwaysUseProvided:
			return nil
		case provided == nil:
			return existing
		case existing == nil:
			return provided
		case action == ActionPreferExisting && len(ea) > 0:
			return existing
		}
		return mergeArray(r.find(path, 1, r.arrayAction), ea, pa, limit)
	}
	switch {
	case action == ActionAlwaysUseProvided:
		return provided
	case action == ActionPreferExisting && existing != nil:
		return existing
	case provided != nil:
		return provided
	}
	return existing
}

// mergeArray applies an array action: Replace takes the provided items;
// Extend appends the provided items not already there; Fill does too, up
// to limit (0: no limit).
func mergeArray(action string, existing, provided []any, limit int) []any {
	if action == ArrayReplace {
		return provided
	}
	out := slices.Clone(existing)
	have := map[string]bool{}
	for _, x := range existing {
		have[itemKey(x)] = true
	}
	for _, x := range provided {
		if action == ArrayFill && limit > 0 && len(out) >= limit {
			break
		}
		if k := itemKey(x); !have[k] {
			have[k] = true
			out = append(out, x)
		}
	}
	return out
}

// itemKey identifies an array item: an external id by its source id and
// value, anything else by its JSON.
func itemKey(x any) string {
	if src, val := externalIDParts(x); src != "" {
		return extKey(src, strings.TrimSpace(val))
	}
	b, _ := json.Marshal(x)
	return string(b)
}

// union returns the keys of a and b, sorted.
func union(a, b map[string]any) []string {
	ks := sortedKeys(a)
	for _, k := range sortedKeys(b) {
		if _, ok := a[k]; !ok {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks)
	return ks
}

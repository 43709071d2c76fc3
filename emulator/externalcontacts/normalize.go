package externalcontacts

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Field limits of the models (Go SDK comments).
const (
	maxName        = 1000 // contact names, title, salutation; organization name
	maxEmail       = 256
	maxSystemURL   = 1000
	maxDisplay     = 512 // phone display
	maxIDValue     = 255 // external id, identifier and apple opaque id values
	maxSocial      = 255 // twitter fields
	maxDisplayName = 100 // line display name
)

var (
	emailRE      = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s.]+$`)
	screenNameRE = regexp.MustCompile(`^@?[A-Za-z0-9_]+$`)
)

// checker normalises the fields of a decoded entity in place and collects
// the problems found.
type checker struct{ ps []problem }

func (c *checker) add(field, code, value, msg string) {
	c.ps = append(c.ps, problem{field: field, code: code, value: value, message: msg})
}

// text trims *p (nil when empty) and checks its length.
func (c *checker) text(p **string, field string, max int) {
	if *p == nil {
		return
	}
	s := strings.TrimSpace(**p)
	if s == "" {
		*p = nil
		return
	}
	*p = &s
	if utf8.RuneCountInString(s) > max {
		c.add(field, detailTooLong, clip(s), fmt.Sprintf("at most %d characters", max))
	}
}

// email is text that must look like local@domain.tld.
func (c *checker) email(p **string, field string) {
	c.text(p, field, maxEmail)
	if *p != nil && !emailRE.MatchString(**p) {
		c.add(field, detailEmail, clip(**p), "must be an email address")
	}
}

// url is text that must be an absolute http(s) URL.
func (c *checker) url(p **string, field string, max int) {
	c.text(p, field, max)
	if *p != nil && !isHTTPURL(**p) {
		c.add(field, detailURL, clip(**p), "must be an absolute http or https URL")
	}
}

// phone keeps what a caller may write of a phone number: the system-set
// userInput, e164 and countryCode are dropped (the display is parsed when
// the phone is shown).
func (c *checker) phone(p **phoneNumber, field string) {
	ph := *p
	if ph == nil {
		return
	}
	ph.UserInput, ph.E164, ph.CountryCode = nil, nil, nil
	c.text(&ph.Display, field+".display", maxDisplay)
	c.text(&ph.NormalizationCountryCode, field+".normalizationCountryCode", maxDisplay)
	if *ph == (phoneNumber{}) {
		*p = nil
	}
}

func (c *checker) address(a *address) {
	if a == nil {
		return
	}
	c.text(&a.Address1, "address.address1", 200)
	c.text(&a.Address2, "address.address2", 200)
	c.text(&a.City, "address.city", 100)
	c.text(&a.State, "address.state", 50)
	c.text(&a.PostalCode, "address.postalCode", 25)
	c.text(&a.CountryCode, "address.countryCode", 25)
}

func (c *checker) twitter(t *twitterID) {
	if t == nil {
		return
	}
	c.text(&t.ID, "twitterId.id", maxSocial)
	c.text(&t.Name, "twitterId.name", maxSocial)
	c.text(&t.ScreenName, "twitterId.screenName", maxSocial)
	c.text(&t.ProfileURL, "twitterId.profileUrl", maxSocial)
	if t.ScreenName != nil && !screenNameRE.MatchString(*t.ScreenName) {
		c.add("twitterId.screenName", detailInvalid, clip(*t.ScreenName), "letters, digits and '_', with an optional leading '@'")
	}
}

// count checks that an array holds at most max items.
func (c *checker) count(n int, field string, max int) {
	if n > max {
		c.add(field, detailTooMany, fmt.Sprint(n), fmt.Sprintf("at most %d items", max))
	}
}

// externalIDs checks external ids: at most 10, each with a source id and a
// value of 1 to 255 characters; repeats are dropped. Only the source id is
// kept of externalSource.
func (c *checker) externalIDs(p **[]externalID) {
	if *p == nil {
		return
	}
	var out []externalID
	seen := map[string]bool{}
	for i, x := range **p {
		at := fmt.Sprintf("externalIds[%d]", i)
		src := ""
		if x.ExternalSource != nil {
			src = strings.TrimSpace(str(x.ExternalSource.ID))
		}
		c.text(&x.Value, at+".value", maxIDValue)
		switch {
		case src == "":
			c.add(at+".externalSource.id", detailRequired, "", "an external source id is required")
		case x.Value == nil:
			c.add(at+".value", detailRequired, "", "a value is required")
		case !seen[extKey(src, *x.Value)]:
			seen[extKey(src, *x.Value)] = true
			out = append(out, externalID{ExternalSource: &sourceDoc{ID: ptr(src)}, Value: x.Value})
		}
	}
	c.count(len(out), "externalIds", MaxExternalIDs)
	*p = &out
}

// checkContact normalises and checks the fields of a contact.
func checkContact(d *contactDoc) []problem {
	var c checker
	for _, t := range []struct {
		p    **string
		name string
	}{{&d.FirstName, "firstName"}, {&d.MiddleName, "middleName"}, {&d.LastName, "lastName"},
		{&d.Salutation, "salutation"}, {&d.Title, "title"}} {
		c.text(t.p, t.name, maxName)
	}
	c.email(&d.WorkEmail, "workEmail")
	c.email(&d.PersonalEmail, "personalEmail")
	c.email(&d.OtherEmail, "otherEmail")
	c.phone(&d.WorkPhone, "workPhone")
	c.phone(&d.CellPhone, "cellPhone")
	c.phone(&d.HomePhone, "homePhone")
	c.phone(&d.OtherPhone, "otherPhone")
	c.address(d.Address)
	c.twitter(d.TwitterID)
	c.url(&d.ExternalSystemURL, "externalSystemUrl", maxSystemURL)
	c.externalIDs(&d.ExternalIDs)
	if l := d.LineID; l != nil {
		c.text(&l.DisplayName, "lineId.displayName", maxDisplayName)
		if l.IDs != nil {
			c.count(len(*l.IDs), "lineId.ids", 1)
		}
	}
	if w := d.WhatsAppID; w != nil {
		c.phone(&w.PhoneNumber, "whatsAppId.phoneNumber")
	}
	if fb := d.FacebookID; fb != nil && fb.IDs != nil {
		c.count(len(*fb.IDs), "facebookId.ids", 1)
	}
	if ig := d.InstagramID; ig != nil && ig.IDs != nil {
		c.count(len(*ig.IDs), "instagramId.ids", 1)
	}
	if a := d.AppleOpaqueIDs; a != nil {
		c.count(len(*a), "appleOpaqueIds", MaxExternalIDs)
		for i := range *a {
			c.text(&(*a)[i].Value, fmt.Sprintf("appleOpaqueIds[%d].value", i), maxIDValue)
		}
	}
	return c.ps
}

// checkOrg normalises and checks the fields of an organization; it must
// have a name.
func checkOrg(d *orgDoc) []problem {
	var c checker
	c.text(&d.Name, "name", maxName)
	if d.Name == nil {
		c.add("name", detailRequired, "", "an organization needs a name")
	}
	c.text(&d.CompanyType, "companyType", maxName)
	c.text(&d.Industry, "industry", maxName)
	c.phone(&d.PhoneNumber, "phoneNumber")
	c.phone(&d.FaxNumber, "faxNumber")
	c.address(d.Address)
	c.twitter(d.TwitterID)
	c.url(&d.ExternalSystemURL, "externalSystemUrl", maxSystemURL)
	c.externalIDs(&d.ExternalIDs)
	return c.ps
}

// normalize decodes fields (an entity's JSON object) into its model,
// normalises and checks it, and returns the normalised fields; id and
// division are not fields.
func normalize(et EntityType, fields map[string]any) (map[string]any, []problem) {
	var doc any
	var ps []problem
	if et == EntityContacts {
		var d contactDoc
		if err := fromMap(fields, &d); err != nil {
			return nil, []problem{{field: "contact", code: detailInvalid, message: jsonProblem(err).Error()}}
		}
		ps, doc = checkContact(&d), &d
	} else {
		var d orgDoc
		if err := fromMap(fields, &d); err != nil {
			return nil, []problem{{field: "externalOrganization", code: detailInvalid, message: jsonProblem(err).Error()}}
		}
		ps, doc = checkOrg(&d), &d
	}
	out := prune(toMap(doc))
	delete(out, "id")
	delete(out, "division")
	return out, ps
}

// e164 returns the E.164 form of a phone display: "+" then 8 to 15 digits,
// spaces, dashes, dots and parentheses ignored (a guess at the parser).
func e164(display string) (string, bool) {
	s := strings.TrimSpace(display)
	if !strings.HasPrefix(s, "+") {
		return "", false
	}
	var b strings.Builder
	b.WriteByte('+')
	for _, r := range s[1:] {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", false
		}
	}
	if n := b.Len() - 1; n < 8 || n > 15 {
		return "", false
	}
	return b.String(), true
}

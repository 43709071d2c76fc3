package externalcontacts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// Mirrors of the Genesys Cloud Go SDK models (platformclientv2, release
// 188.0.0) that the family's responses decode into, field by field, with
// the SDK's JSON names and Go types. Written from the SDK's model files,
// not from the emulator: decodeSDK refuses any field the SDK lacks, and
// sdkTime refuses a time the SDK's layout does not parse.

// sdkTimeLayout is the layout of the SDK's UnmarshalJSON for dates.
const sdkTimeLayout = "2006-01-02T15:04:05.999999Z"

// sdkTime is a time field; it must parse with sdkTimeLayout.
type sdkTime struct{ time.Time }

func (s *sdkTime) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	t, err := time.Parse(sdkTimeLayout, v)
	if err != nil {
		return fmt.Errorf("time %q does not parse with the SDK layout: %w", v, err)
	}
	s.Time = t
	return nil
}

// decodeSDK decodes body into T, refusing unknown fields and trailing
// data.
func decodeSDK[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %T: %v\nbody %s", v, err, body)
	}
	if dec.More() {
		t.Fatalf("decode %T: data after the value: %s", v, body)
	}
	return v
}

type sdkWritablestarrabledivision struct {
	ID      *string `json:"id"`
	Name    *string `json:"name"`
	SelfURI *string `json:"selfUri"`
}

type sdkDomainentityref struct {
	ID      *string `json:"id"`
	Name    *string `json:"name"`
	SelfURI *string `json:"selfUri"`
}

type sdkAddressableentityref struct {
	ID      *string `json:"id"`
	SelfURI *string `json:"selfUri"`
}

type sdkPhonenumber struct {
	Display                  *string `json:"display"`
	Extension                *int    `json:"extension"`
	AcceptsSMS               *bool   `json:"acceptsSMS"`
	NormalizationCountryCode *string `json:"normalizationCountryCode"`
	UserInput                *string `json:"userInput"`
	E164                     *string `json:"e164"`
	CountryCode              *string `json:"countryCode"`
}

type sdkContactaddress struct {
	Address1    *string `json:"address1"`
	Address2    *string `json:"address2"`
	City        *string `json:"city"`
	State       *string `json:"state"`
	PostalCode  *string `json:"postalCode"`
	CountryCode *string `json:"countryCode"`
}

type sdkTwitterid struct {
	ID         *string `json:"id"`
	Name       *string `json:"name"`
	ScreenName *string `json:"screenName"`
	Verified   *bool   `json:"verified"`
	ProfileURL *string `json:"profileUrl"`
}

type sdkLineid struct {
	Ids *[]struct {
		UserID *string `json:"userId"`
	} `json:"ids"`
	DisplayName *string `json:"displayName"`
}

type sdkWhatsappid struct {
	PhoneNumber *sdkPhonenumber `json:"phoneNumber"`
	DisplayName *string         `json:"displayName"`
}

type sdkScopedid struct {
	ScopedID *string `json:"scopedId"`
}

type sdkFacebookid struct {
	Ids         *[]sdkScopedid `json:"ids"`
	DisplayName *string        `json:"displayName"`
}

type sdkInstagramid struct {
	Ids         *[]sdkScopedid `json:"ids"`
	DisplayName *string        `json:"displayName"`
	Handle      *string        `json:"handle"`
}

type sdkAppleopaqueid struct {
	Value *string `json:"value"`
}

type sdkLinkconfiguration struct {
	URITemplate *string `json:"uriTemplate"`
}

type sdkExternalsource struct {
	ID                *string               `json:"id"`
	Name              *string               `json:"name"`
	Active            *bool                 `json:"active"`
	LinkConfiguration *sdkLinkconfiguration `json:"linkConfiguration"`
	SelfURI           *string               `json:"selfUri"`
}

type sdkExternalid struct {
	ExternalSource *sdkExternalsource `json:"externalSource"`
	Value          *string            `json:"value"`
}

type sdkContactidentifier struct {
	Division       *sdkWritablestarrabledivision `json:"division"`
	Type           *string                       `json:"type"`
	Value          *string                       `json:"value"`
	DateCreated    *sdkTime                      `json:"dateCreated"`
	ExternalSource *sdkExternalsource            `json:"externalSource"`
}

// sdkExternalorganizationidentifier has the same fields.
type sdkExternalorganizationidentifier = sdkContactidentifier

type sdkExternaldatasource struct {
	Platform *string `json:"platform"`
	URL      *string `json:"url"`
}

type sdkMergeoperation struct {
	SourceContact    *sdkAddressableentityref `json:"sourceContact"`
	TargetContact    *sdkAddressableentityref `json:"targetContact"`
	ResultingContact *sdkAddressableentityref `json:"resultingContact"`
}

type sdkTicker struct {
	Symbol   *string `json:"symbol"`
	Exchange *string `json:"exchange"`
}

type sdkJsonschemadocument struct {
	ID                   *string         `json:"id"`
	Schema               *string         `json:"$schema"`
	Title                *string         `json:"title"`
	Description          *string         `json:"description"`
	Type                 *string         `json:"type"`
	Required             *[]string       `json:"required"`
	Properties           *map[string]any `json:"properties"`
	AdditionalProperties *any            `json:"additionalProperties"`
}

type sdkDataschema struct {
	ID          *string                `json:"id"`
	Name        *string                `json:"name"`
	Version     *int                   `json:"version"`
	AppliesTo   *[]string              `json:"appliesTo"`
	Enabled     *bool                  `json:"enabled"`
	CreatedBy   *sdkDomainentityref    `json:"createdBy"`
	DateCreated *sdkTime               `json:"dateCreated"`
	JSONSchema  *sdkJsonschemadocument `json:"jsonSchema"`
	SelfURI     *string                `json:"selfUri"`
}

type sdkDataschemalisting struct {
	Total    *int             `json:"total"`
	Entities *[]sdkDataschema `json:"entities"`
	SelfURI  *string          `json:"selfUri"`
}

type sdkCursors struct {
	Before *string `json:"before"`
	After  *string `json:"after"`
}

type sdkCursorexternalsourcelisting struct {
	Entities    *[]sdkExternalsource `json:"entities"`
	NextURI     *string              `json:"nextUri"`
	SelfURI     *string              `json:"selfUri"`
	PreviousURI *string              `json:"previousUri"`
	Cursors     *sdkCursors          `json:"cursors"`
}

type sdkExternalorganization struct {
	ID                  *string                              `json:"id"`
	Name                *string                              `json:"name"`
	Division            *sdkWritablestarrabledivision        `json:"division"`
	CompanyType         *string                              `json:"companyType"`
	Industry            *string                              `json:"industry"`
	Address             *sdkContactaddress                   `json:"address"`
	PhoneNumber         *sdkPhonenumber                      `json:"phoneNumber"`
	FaxNumber           *sdkPhonenumber                      `json:"faxNumber"`
	EmployeeCount       *int                                 `json:"employeeCount"`
	Revenue             *int                                 `json:"revenue"`
	Tags                *[]string                            `json:"tags"`
	Websites            *[]string                            `json:"websites"`
	Tickers             *[]sdkTicker                         `json:"tickers"`
	TwitterID           *sdkTwitterid                        `json:"twitterId"`
	ExternalSystemURL   *string                              `json:"externalSystemUrl"`
	ModifyDate          *sdkTime                             `json:"modifyDate"`
	CreateDate          *sdkTime                             `json:"createDate"`
	Trustor             *json.RawMessage                     `json:"trustor"`
	Schema              *sdkDataschema                       `json:"schema"`
	CustomFields        *map[string]any                      `json:"customFields"`
	Identifiers         *[]sdkExternalorganizationidentifier `json:"identifiers"`
	ExternalIds         *[]sdkExternalid                     `json:"externalIds"`
	ExternalDataSources *[]sdkExternaldatasource             `json:"externalDataSources"`
	SelfURI             *string                              `json:"selfUri"`
}

type sdkExternalcontact struct {
	ID                   *string                       `json:"id"`
	Division             *sdkWritablestarrabledivision `json:"division"`
	FirstName            *string                       `json:"firstName"`
	MiddleName           *string                       `json:"middleName"`
	LastName             *string                       `json:"lastName"`
	Salutation           *string                       `json:"salutation"`
	Title                *string                       `json:"title"`
	WorkPhone            *sdkPhonenumber               `json:"workPhone"`
	CellPhone            *sdkPhonenumber               `json:"cellPhone"`
	HomePhone            *sdkPhonenumber               `json:"homePhone"`
	OtherPhone           *sdkPhonenumber               `json:"otherPhone"`
	WorkEmail            *string                       `json:"workEmail"`
	PersonalEmail        *string                       `json:"personalEmail"`
	OtherEmail           *string                       `json:"otherEmail"`
	Address              *sdkContactaddress            `json:"address"`
	TwitterID            *sdkTwitterid                 `json:"twitterId"`
	LineID               *sdkLineid                    `json:"lineId"`
	WhatsAppID           *sdkWhatsappid                `json:"whatsAppId"`
	FacebookID           *sdkFacebookid                `json:"facebookId"`
	InstagramID          *sdkInstagramid               `json:"instagramId"`
	AppleOpaqueIds       *[]sdkAppleopaqueid           `json:"appleOpaqueIds"`
	ExternalIds          *[]sdkExternalid              `json:"externalIds"`
	Identifiers          *[]sdkContactidentifier       `json:"identifiers"`
	ModifyDate           *sdkTime                      `json:"modifyDate"`
	CreateDate           *sdkTime                      `json:"createDate"`
	ExternalOrganization *sdkExternalorganization      `json:"externalOrganization"`
	SurveyOptOut         *bool                         `json:"surveyOptOut"`
	ExternalSystemURL    *string                       `json:"externalSystemUrl"`
	Schema               *sdkDataschema                `json:"schema"`
	CustomFields         *map[string]any               `json:"customFields"`
	ExternalDataSources  *[]sdkExternaldatasource      `json:"externalDataSources"`
	Type                 *string                       `json:"type"`
	CanonicalContact     *sdkAddressableentityref      `json:"canonicalContact"`
	MergeSet             *[]sdkAddressableentityref    `json:"mergeSet"`
	MergedFrom           *[]sdkAddressableentityref    `json:"mergedFrom"`
	MergedTo             *sdkAddressableentityref      `json:"mergedTo"`
	MergeOperation       *sdkMergeoperation            `json:"mergeOperation"`
	SelfURI              *string                       `json:"selfUri"`
}

type sdkEnrichfieldrule struct {
	Field       *string `json:"field"`
	Action      *string `json:"action"`
	ArrayAction *string `json:"arrayAction"`
}

type sdkEnrichfieldrules struct {
	DefaultAction      *string               `json:"defaultAction"`
	Rules              *[]sdkEnrichfieldrule `json:"rules"`
	DefaultArrayAction *string               `json:"defaultArrayAction"`
}

type sdkContactenrichrequest struct {
	ID                  *string                       `json:"id"`
	Division            *sdkWritablestarrabledivision `json:"division"`
	MatchingIdentifiers *[]sdkContactidentifier       `json:"matchingIdentifiers"`
	Action              *string                       `json:"action"`
	Contact             *sdkExternalcontact           `json:"contact"`
	FieldRules          *sdkEnrichfieldrules          `json:"fieldRules"`
	Options             *struct {
		Promote *bool `json:"promote"`
	} `json:"options"`
}

type sdkExternalorganizationenrichrequest struct {
	ID                   *string                              `json:"id"`
	Division             *sdkWritablestarrabledivision        `json:"division"`
	MatchingIdentifiers  *[]sdkExternalorganizationidentifier `json:"matchingIdentifiers"`
	Action               *string                              `json:"action"`
	ExternalOrganization *sdkExternalorganization             `json:"externalOrganization"`
	FieldRules           *sdkEnrichfieldrules                 `json:"fieldRules"`
}

type sdkBulkerrordetail struct {
	FieldName *string `json:"fieldName"`
	Value     *string `json:"value"`
	Message   *string `json:"message"`
}

// sdkBulkentityerror is a Bulkentityerror* whose entity is an E.
type sdkBulkentityerror[E any] struct {
	Code      *string               `json:"code"`
	Message   *string               `json:"message"`
	Status    *int                  `json:"status"`
	Retryable *bool                 `json:"retryable"`
	Details   *[]sdkBulkerrordetail `json:"details"`
	Entity    *E                    `json:"entity"`
}

// sdkEntity is Entity, the entity of Bulkentityerrorentity.
type sdkEntity struct {
	ID *string `json:"id"`
}

// sdkBulkresult is a Bulkresponseresult* with entity type E and error
// entity type X.
type sdkBulkresult[E, X any] struct {
	ID      *string                `json:"id"`
	Success *bool                  `json:"success"`
	Entity  *E                     `json:"entity"`
	Error   *sdkBulkentityerror[X] `json:"error"`
	Status  *int                   `json:"status"`
}

func (r sdkBulkresult[E, X]) result() (string, bool) {
	id := ""
	if r.ID != nil {
		id = *r.ID
	}
	return id, r.Success != nil && *r.Success
}

// sdkBulkresponse is a bulk response wrapper with result type R.
type sdkBulkresponse[R any] struct {
	Results      *[]R   `json:"results"`
	ErrorCount   *int   `json:"errorCount"`
	ErrorIndexes *[]int `json:"errorIndexes"`
}

type (
	sdkBulkContactsEnrichResponse = sdkBulkresponse[sdkBulkresult[sdkExternalcontact, sdkContactenrichrequest]]
	sdkBulkOrgsEnrichResponse     = sdkBulkresponse[sdkBulkresult[sdkExternalorganization, sdkExternalorganizationenrichrequest]]
	sdkBulkFetchContactsResponse  = sdkBulkresponse[sdkBulkresult[sdkExternalcontact, sdkEntity]]
	sdkBulkFetchOrgsResponse      = sdkBulkresponse[sdkBulkresult[sdkExternalorganization, sdkEntity]]
	// Bulkresponseresultvoidentitybulkentityerrorentity: entity is
	// *interface{}, never emitted.
	sdkBulkDeleteResponse = sdkBulkresponse[sdkBulkresult[json.RawMessage, sdkEntity]]
)

// sdkErrorbody is the SDK's Errorbody (errorbody.go), the generic error.
type sdkErrorbody struct {
	Message           *string            `json:"message"`
	Code              *string            `json:"code"`
	Status            *int               `json:"status"`
	EntityID          *string            `json:"entityId"`
	EntityName        *string            `json:"entityName"`
	MessageWithParams *string            `json:"messageWithParams"`
	MessageParams     *map[string]string `json:"messageParams"`
	ContextID         *string            `json:"contextId"`
	Details           *[]struct {
		ErrorCode  *string `json:"errorCode"`
		FieldName  *string `json:"fieldName"`
		EntityID   *string `json:"entityId"`
		EntityName *string `json:"entityName"`
	} `json:"details"`
	Errors *[]sdkErrorbody `json:"errors"`
	Limit  *struct {
		Key       *string `json:"key"`
		Namespace *string `json:"namespace"`
		Value     *int    `json:"value"`
	} `json:"limit"`
}

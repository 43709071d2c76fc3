package externalcontacts

// The request documents of the API, with the JSON field names of the
// Genesys Cloud models (Externalcontact, Externalorganization, ...). A
// request is decoded into these types first: fields of the wrong JSON type
// are refused, unknown fields are dropped. Writable arrays are pointers so
// that an empty array stays apart from an absent one. System-set fields
// (ids, dates, e164, ...) are decoded only to be echoed in bulk errors.

type division struct {
	ID      *string `json:"id,omitempty"`
	Name    *string `json:"name,omitempty"`
	SelfURI *string `json:"selfUri,omitempty"`
}

type address struct {
	Address1    *string `json:"address1,omitempty"`
	Address2    *string `json:"address2,omitempty"`
	City        *string `json:"city,omitempty"`
	State       *string `json:"state,omitempty"`
	PostalCode  *string `json:"postalCode,omitempty"`
	CountryCode *string `json:"countryCode,omitempty"`
}

type phoneNumber struct {
	Display                  *string `json:"display,omitempty"`
	Extension                *int    `json:"extension,omitempty"`
	AcceptsSMS               *bool   `json:"acceptsSMS,omitempty"`
	NormalizationCountryCode *string `json:"normalizationCountryCode,omitempty"`
	UserInput                *string `json:"userInput,omitempty"`
	E164                     *string `json:"e164,omitempty"`
	CountryCode              *string `json:"countryCode,omitempty"`
}

type twitterID struct {
	ID         *string `json:"id,omitempty"`
	Name       *string `json:"name,omitempty"`
	ScreenName *string `json:"screenName,omitempty"`
	Verified   *bool   `json:"verified,omitempty"`
	ProfileURL *string `json:"profileUrl,omitempty"`
}

type lineUserID struct {
	UserID *string `json:"userId,omitempty"`
}

type lineID struct {
	IDs         *[]lineUserID `json:"ids,omitempty"`
	DisplayName *string       `json:"displayName,omitempty"`
}

type whatsAppID struct {
	PhoneNumber *phoneNumber `json:"phoneNumber,omitempty"`
	DisplayName *string      `json:"displayName,omitempty"`
}

type scopedID struct {
	ScopedID *string `json:"scopedId,omitempty"`
}

type facebookID struct {
	IDs         *[]scopedID `json:"ids,omitempty"`
	DisplayName *string     `json:"displayName,omitempty"`
}

type instagramID struct {
	IDs         *[]scopedID `json:"ids,omitempty"`
	DisplayName *string     `json:"displayName,omitempty"`
	Handle      *string     `json:"handle,omitempty"`
}

type appleOpaqueID struct {
	Value *string `json:"value,omitempty"`
}

type ticker struct {
	Symbol   *string `json:"symbol,omitempty"`
	Exchange *string `json:"exchange,omitempty"`
}

type linkConfiguration struct {
	URITemplate *string `json:"uriTemplate,omitempty"`
}

// sourceDoc is an Externalsource: the body of a source POST or PUT, and the
// externalSource of an external id or identifier.
type sourceDoc struct {
	ID                *string            `json:"id,omitempty"`
	Name              *string            `json:"name,omitempty"`
	Active            *bool              `json:"active,omitempty"`
	LinkConfiguration *linkConfiguration `json:"linkConfiguration,omitempty"`
	SelfURI           *string            `json:"selfUri,omitempty"`
}

type externalID struct {
	ExternalSource *sourceDoc `json:"externalSource,omitempty"`
	Value          *string    `json:"value,omitempty"`
}

// schemaRef is the schema an entity names: a Dataschema of which only id
// and version are read.
type schemaRef struct {
	ID      *string `json:"id,omitempty"`
	Version *int    `json:"version,omitempty"`
}

// entityRef is a reference to an entity by id (externalOrganization of a
// contact; Externalcontactsentity of bulk remove and fetch).
type entityRef struct {
	ID *string `json:"id,omitempty"`
}

// contactDoc is an Externalcontact as a request carries it.
type contactDoc struct {
	ID                   *string          `json:"id,omitempty"`
	Division             *division        `json:"division,omitempty"`
	FirstName            *string          `json:"firstName,omitempty"`
	MiddleName           *string          `json:"middleName,omitempty"`
	LastName             *string          `json:"lastName,omitempty"`
	Salutation           *string          `json:"salutation,omitempty"`
	Title                *string          `json:"title,omitempty"`
	WorkPhone            *phoneNumber     `json:"workPhone,omitempty"`
	CellPhone            *phoneNumber     `json:"cellPhone,omitempty"`
	HomePhone            *phoneNumber     `json:"homePhone,omitempty"`
	OtherPhone           *phoneNumber     `json:"otherPhone,omitempty"`
	WorkEmail            *string          `json:"workEmail,omitempty"`
	PersonalEmail        *string          `json:"personalEmail,omitempty"`
	OtherEmail           *string          `json:"otherEmail,omitempty"`
	Address              *address         `json:"address,omitempty"`
	TwitterID            *twitterID       `json:"twitterId,omitempty"`
	LineID               *lineID          `json:"lineId,omitempty"`
	WhatsAppID           *whatsAppID      `json:"whatsAppId,omitempty"`
	FacebookID           *facebookID      `json:"facebookId,omitempty"`
	InstagramID          *instagramID     `json:"instagramId,omitempty"`
	AppleOpaqueIDs       *[]appleOpaqueID `json:"appleOpaqueIds,omitempty"`
	ExternalIDs          *[]externalID    `json:"externalIds,omitempty"`
	ExternalOrganization *entityRef       `json:"externalOrganization,omitempty"`
	SurveyOptOut         *bool            `json:"surveyOptOut,omitempty"`
	ExternalSystemURL    *string          `json:"externalSystemUrl,omitempty"`
	Schema               *schemaRef       `json:"schema,omitempty"`
	CustomFields         map[string]any   `json:"customFields,omitempty"`
}

// orgDoc is an Externalorganization as a request carries it.
type orgDoc struct {
	ID                *string        `json:"id,omitempty"`
	Division          *division      `json:"division,omitempty"`
	Name              *string        `json:"name,omitempty"`
	CompanyType       *string        `json:"companyType,omitempty"`
	Industry          *string        `json:"industry,omitempty"`
	Address           *address       `json:"address,omitempty"`
	PhoneNumber       *phoneNumber   `json:"phoneNumber,omitempty"`
	FaxNumber         *phoneNumber   `json:"faxNumber,omitempty"`
	EmployeeCount     *int           `json:"employeeCount,omitempty"`
	Revenue           *int           `json:"revenue,omitempty"`
	Tags              *[]string      `json:"tags,omitempty"`
	Websites          *[]string      `json:"websites,omitempty"`
	Tickers           *[]ticker      `json:"tickers,omitempty"`
	TwitterID         *twitterID     `json:"twitterId,omitempty"`
	ExternalSystemURL *string        `json:"externalSystemUrl,omitempty"`
	Schema            *schemaRef     `json:"schema,omitempty"`
	CustomFields      map[string]any `json:"customFields,omitempty"`
	ExternalIDs       *[]externalID  `json:"externalIds,omitempty"`
}

// identifierDoc is a Contactidentifier or Externalorganizationidentifier.
type identifierDoc struct {
	Division       *division  `json:"division,omitempty"`
	Type           *string    `json:"type,omitempty"`
	Value          *string    `json:"value,omitempty"`
	ExternalSource *sourceDoc `json:"externalSource,omitempty"`
}

type fieldRule struct {
	Field       *string `json:"field,omitempty"`
	Action      *string `json:"action,omitempty"`
	ArrayAction *string `json:"arrayAction,omitempty"`
}

type fieldRules struct {
	DefaultAction      *string      `json:"defaultAction,omitempty"`
	Rules              *[]fieldRule `json:"rules,omitempty"`
	DefaultArrayAction *string      `json:"defaultArrayAction,omitempty"`
}

type enrichOptions struct {
	Promote *bool `json:"promote,omitempty"`
}

// contactEnrichOp is a Contactenrichrequest.
type contactEnrichOp struct {
	ID                  *string          `json:"id,omitempty"`
	Division            *division        `json:"division,omitempty"`
	MatchingIdentifiers *[]identifierDoc `json:"matchingIdentifiers,omitempty"`
	Action              *string          `json:"action,omitempty"`
	Contact             *contactDoc      `json:"contact,omitempty"`
	FieldRules          *fieldRules      `json:"fieldRules,omitempty"`
	Options             *enrichOptions   `json:"options,omitempty"`
}

// orgEnrichOp is an Externalorganizationenrichrequest.
type orgEnrichOp struct {
	ID                   *string          `json:"id,omitempty"`
	Division             *division        `json:"division,omitempty"`
	MatchingIdentifiers  *[]identifierDoc `json:"matchingIdentifiers,omitempty"`
	Action               *string          `json:"action,omitempty"`
	ExternalOrganization *orgDoc          `json:"externalOrganization,omitempty"`
	FieldRules           *fieldRules      `json:"fieldRules,omitempty"`
}

package emulator

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/gcupsert/gcupsert/emulator/core"
	"github.com/gcupsert/gcupsert/emulator/customobjects"
	"github.com/gcupsert/gcupsert/emulator/datatables"
)

const (
	KindToken                 = core.KindToken
	KindCustomObjectsUpsert   = customobjects.KindUpsert
	KindCustomObjectsDelete   = customobjects.KindDelete
	KindDataTableImportCSV    = datatables.KindImportCSV
	KindDataTableRowCreate    = datatables.KindRowCreate
	KindDataTableRowDelete    = datatables.KindRowDelete
	KindDataTableRowGet       = datatables.KindRowGet
	KindDataTableUpload       = datatables.KindUpload
	CodeDataTablesLimit       = datatables.CodeLimit
	CodeDataTablesNameExists  = datatables.CodeNameExists
	CodeDataTablesNotFound    = datatables.CodeTableNotFound
	CodeDataTablesRowExists   = datatables.CodeRowExists
	CodeDataTablesRowNotFound = datatables.CodeRowNotFound
	CodeDataTablesSyntax      = datatables.CodeSyntax
	CodeKeyTooLong            = datatables.CodeKeyTooLong
	ImportAppend              = datatables.ImportAppend
	ImportReplaceAll          = datatables.ImportReplaceAll
	JobFailed                 = datatables.JobFailed
	JobProcessing             = datatables.JobProcessing
	JobSucceeded              = datatables.JobSucceeded
	JobWaitingForUpload       = datatables.JobWaitingForUpload
	UploadTokenHeader         = datatables.UploadTokenHeader
	draft04                   = "http://json-schema.org/draft-04/schema#"
)

type ErrorDetail = core.ErrorDetail

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("x: %w", err)
	}
	v, err := time.ParseDuration(s)
	*d = duration(v)
	return err
}

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

type tableJSON struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Division    map[string]string `json:"division"`
	Description string            `json:"description,omitempty"`
	Schema      map[string]any    `json:"schema,omitempty"`
	SelfURI     string            `json:"selfUri"`
}

type listing struct {
	Entities    any    `json:"entities"`
	PageSize    int    `json:"pageSize"`
	PageNumber  int    `json:"pageNumber"`
	Total       int    `json:"total"`
	PageCount   int    `json:"pageCount"`
	FirstURI    string `json:"firstUri"`
	SelfURI     string `json:"selfUri"`
	NextURI     string `json:"nextUri,omitempty"`
	PreviousURI string `json:"previousUri,omitempty"`
	LastURI     string `json:"lastUri"`
}

type jobJSON struct {
	ID                  string            `json:"id"`
	Name                string            `json:"name"`
	Status              string            `json:"status"`
	DateCreated         string            `json:"dateCreated"`
	DateCompleted       string            `json:"dateCompleted,omitempty"`
	UploadURI           string            `json:"uploadURI"`
	UploadHeaders       map[string]string `json:"uploadHeaders"`
	ImportMode          string            `json:"importMode"`
	ErrorInformation    *ErrorBody        `json:"errorInformation,omitempty"`
	CountRecordsUpdated int               `json:"countRecordsUpdated"`
	CountRecordsDeleted int               `json:"countRecordsDeleted"`
	CountRecordsFailed  int               `json:"countRecordsFailed"`
	SelfURI             string            `json:"selfUri"`
}

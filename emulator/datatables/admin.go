package datatables

import (
	"net/http"

	"github.com/gcupsert/gcupsert/emulator/core"
)

// Register adds the family's API routes, its admin routes, the upload
// route of import jobs and the code of injected 503s on data-table paths.
func (d *Family) Register(rt core.Routes) {
	rt.API(KindTablesList, d.handleTablesList)
	rt.API(KindTableCreate, d.handleTableCreate)
	rt.API(KindTableGet, d.handleTableGet)
	rt.API(KindTableUpdate, d.handleTableUpdate)
	rt.API(KindTableDelete, d.handleTableDelete)
	rt.API(KindRows, d.handleRowsList)
	rt.API(KindRowCreate, d.handleRowCreate)
	rt.API(KindRowGet, d.handleRowGet)
	rt.API(KindRowUpdate, d.handleRowUpdate)
	rt.API(KindRowDelete, d.handleRowDelete)
	rt.API(KindImportCSV, d.handleImportCreate)
	rt.API(KindImportCreate, d.handleImportCreate)
	rt.API(KindImportJobs, d.handleImportList)
	rt.API(KindImportJob, d.handleImportGet)
	rt.Direct(uploadPrefix, KindUpload, d.handleUpload)
	rt.BusyCode(tablesPath, CodeTooBusy)

	rt.Admin("GET /emulator/datatables/variants", func(w http.ResponseWriter, r *http.Request) {
		core.WriteJSON(w, http.StatusOK, d.Variants())
	})
	rt.Admin("PUT /emulator/datatables/variants", d.adminPutVariants)
	rt.Admin("POST /emulator/datatables", func(w http.ResponseWriter, r *http.Request) {
		if err := d.LoadFixtures(http.MaxBytesReader(w, r.Body, maxFixturesBytes)); err != nil {
			core.WriteError(w, core.BadRequest(err.Error()))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	rt.Admin("GET /emulator/datatables/{table}/rows", d.adminRows)
}

func (d *Family) adminRows(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("table")
	rows := d.Rows(ref)
	if rows == nil {
		if id, ok := d.TableID(ref); ok {
			rows = d.Rows(id)
		}
	}
	if rows == nil {
		core.WriteError(w, tableNotFound(ref))
		return
	}
	core.WriteJSON(w, http.StatusOK, rows)
}

// variantsPatch is the body of PUT /emulator/datatables/variants: fields
// present are set, others keep their value.
type variantsPatch struct {
	PostExisting *string `json:"postExisting"`
	PutMissing   *string `json:"putMissing"`
	DeleteStatus *int    `json:"deleteStatus"`
}

func (d *Family) adminPutVariants(w http.ResponseWriter, r *http.Request) {
	var p variantsPatch
	if !core.ReadAdminJSON(w, r, "variants", &p) {
		return
	}
	v := d.Variants()
	if p.PostExisting != nil {
		v.PostExisting = *p.PostExisting
	}
	if p.PutMissing != nil {
		v.PutMissing = *p.PutMissing
	}
	if p.DeleteStatus != nil {
		v.DeleteStatus = *p.DeleteStatus
	}
	if err := d.SetVariants(v); err != nil {
		core.WriteError(w, core.BadRequest(err.Error()))
		return
	}
	core.WriteJSON(w, http.StatusOK, d.Variants())
}

package datatables

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"

	"github.com/gcupsert/gcupsert/emulator/core"
)

// ErrInvalidFixtures is wrapped by errors of a fixtures document that cannot
// be read.
var ErrInvalidFixtures = errors.New("emulator: invalid fixtures")

// maxFixturesBytes bounds a fixtures document.
const maxFixturesBytes = 64 << 20

// Fixtures is a fixtures document: OAuth clients, and data tables with
// their schemas and rows.
type Fixtures struct {
	Clients map[string]string `json:"clients"`
	Tables  []FixtureTable    `json:"tables"`
}

// FixtureTable is one table of a fixtures document.
type FixtureTable struct {
	Name        string            `json:"name"`
	ID          string            `json:"id"`
	Description string            `json:"description"`
	Schema      json.RawMessage   `json:"schema"`
	Rows        []json.RawMessage `json:"rows"`
}

// yamlToJSON makes a decoded YAML value encodable as JSON.
func yamlToJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = yamlToJSON(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = yamlToJSON(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = yamlToJSON(e)
		}
		return x
	}
	return v
}

// ParseFixtures reads a JSON or YAML fixtures document.
func ParseFixtures(b []byte) (*Fixtures, error) {
	doc := bytes.TrimSpace(b)
	if len(doc) == 0 || doc[0] != '{' {
		var v any
		if err := yaml.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidFixtures, err)
		}
		j, err := json.Marshal(yamlToJSON(v))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidFixtures, err)
		}
		doc = j
	}
	var fx Fixtures
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fx); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidFixtures, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the document", ErrInvalidFixtures)
	}
	return &fx, nil
}

// LoadFixtures adds the OAuth clients (to the server) and the data tables
// of a fixtures document (JSON or YAML; see the package comment). Every
// table is checked first; on error nothing is added. Loaded tables are part
// of the seeded state that Reset restores.
func (d *Family) LoadFixtures(r io.Reader) error {
	b, err := io.ReadAll(io.LimitReader(r, maxFixturesBytes+1))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidFixtures, err)
	}
	if len(b) > maxFixturesBytes {
		return fmt.Errorf("%w: over %d bytes", ErrInvalidFixtures, maxFixturesBytes)
	}
	fx, err := ParseFixtures(b)
	if err != nil {
		return err
	}
	return d.AddFixtures(fx)
}

// AddFixtures adds the OAuth clients (to the server) and the data tables
// of a parsed fixtures document, as LoadFixtures does.
func (d *Family) AddFixtures(fx *Fixtures) error {
	if err := core.CheckClients(fx.Clients); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidFixtures, err)
	}
	seeds := make([]seedTable, 0, len(fx.Tables))
	for i, ft := range fx.Tables {
		label := fmt.Sprintf("table %d (%s)", i, ft.Name)
		if len(ft.Schema) == 0 {
			return fmt.Errorf("%w: %s has no schema", ErrInvalidTable, label)
		}
		sc, eb := parseSchema(ft.Schema, d.lim.maxFields)
		if eb != nil {
			return fmt.Errorf("%w: %s: %s", ErrInvalidTable, label, eb.Message)
		}
		rows := make(map[string]map[string]any, len(ft.Rows))
		for n, raw := range ft.Rows {
			v, err := decodeJSONValue(raw)
			obj, ok := v.(map[string]any)
			if err != nil || !ok {
				return fmt.Errorf("%w: %s: row %d is not a JSON object", ErrInvalidTable, label, n)
			}
			row, eb := sc.checkRow(obj, d.lim.maxKey, ft.Name)
			if eb != nil {
				return fmt.Errorf("%w: %s: row %d: %s", ErrInvalidTable, label, n, eb.Message)
			}
			key := row[keyField].(string)
			if _, dup := rows[key]; dup {
				return fmt.Errorf("%w: %s: key %q appears twice", ErrInvalidTable, label, key)
			}
			rows[key] = row
		}
		seeds = append(seeds, seedTable{id: ft.ID, name: ft.Name, description: ft.Description, schema: sc, rows: rows})
	}
	d.mu.Lock()
	nSeed := len(d.seed)
	var added []string
	for _, st := range seeds {
		if err := d.addSeed(st); err != nil {
			for _, id := range added {
				delete(d.tables, id)
			}
			d.seed = d.seed[:nSeed]
			d.mu.Unlock()
			return err
		}
		added = append(added, d.seed[len(d.seed)-1].id)
	}
	d.mu.Unlock()
	_ = d.srv.AddClients(fx.Clients) // checked above
	d.srv.Log().Info("emulator fixtures loaded", "tables", len(seeds), "clients", len(fx.Clients))
	return nil
}

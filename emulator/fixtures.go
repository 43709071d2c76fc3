package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// ErrInvalidFixtures is wrapped by errors of a fixtures document that cannot
// be read.
var ErrInvalidFixtures = errors.New("emulator: invalid fixtures")

// maxFixturesBytes bounds a fixtures document.
const maxFixturesBytes = 64 << 20

// fixtures is the fixtures document.
type fixtures struct {
	Clients map[string]string `json:"clients"`
	Tables  []fixtureTable    `json:"tables"`
}

type fixtureTable struct {
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

// parseFixtures reads a JSON or YAML fixtures document.
func parseFixtures(b []byte) (*fixtures, error) {
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
	var fx fixtures
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

// LoadFixtures adds the OAuth clients and data tables of a fixtures
// document (JSON or YAML; see the package comment). Every table is checked
// first; on error nothing is added. Loaded tables are part of the seeded
// state that Reset restores.
func (s *Server) LoadFixtures(r io.Reader) error {
	b, err := io.ReadAll(io.LimitReader(r, maxFixturesBytes+1))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidFixtures, err)
	}
	if len(b) > maxFixturesBytes {
		return fmt.Errorf("%w: over %d bytes", ErrInvalidFixtures, maxFixturesBytes)
	}
	fx, err := parseFixtures(b)
	if err != nil {
		return err
	}
	return s.loadFixtures(fx)
}

func (s *Server) loadFixtures(fx *fixtures) error {
	for id, secret := range fx.Clients {
		if err := checkClient(id, secret); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidFixtures, err)
		}
	}
	d := s.tables
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
	s.clientsMu.Lock()
	for id, secret := range fx.Clients {
		s.clients[id] = secret
	}
	s.clientsMu.Unlock()
	s.log.Info("emulator fixtures loaded", "tables", len(seeds), "clients", len(fx.Clients))
	return nil
}

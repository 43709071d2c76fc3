package sqldb

import (
	"fmt"
	"strings"

	"github.com/gcupsert/gcupsert/mirror"
)

// The mirror's own columns of every table, before the typed ones.
const (
	colKey       = "_key"
	colRecord    = "_record"
	colOmitted   = "_record_omitted"
	colDeleted   = "_deleted"
	colOperation = "_operation"
	colTopic     = "_source_topic"
	colPartition = "_source_partition"
	colOffset    = "_source_offset"
	colEventID   = "_event_id"
	colEventTime = "_event_time"
	colApplied   = "_applied_at"
)

// Store tables.
const (
	offsetsTable = "gcupsert_mirror_offsets"
	errorsTable  = "gcupsert_mirror_errors"
	eventsTable  = "gcupsert_mirror_events"
)

func tombstones(table string) string { return table + "__tombstones" }

// tableDDL creates a mirrored table and its tombstones.
func (d dialect) tableDDL(t mirror.Table) []string {
	cols := []string{
		quote(colKey) + " " + d.text + " PRIMARY KEY",
		quote(colRecord) + " " + d.json,
		quote(colOmitted) + " " + d.boolean + " NOT NULL DEFAULT " + d.falseLit,
		quote(colDeleted) + " " + d.boolean + " NOT NULL DEFAULT " + d.falseLit,
		quote(colOperation) + " " + d.text + " NOT NULL",
		quote(colTopic) + " " + d.text + " NOT NULL",
		quote(colPartition) + " " + d.integer + " NOT NULL",
		quote(colOffset) + " " + d.bigint + " NOT NULL",
		quote(colEventID) + " " + d.text + " NOT NULL",
		quote(colEventTime) + " " + d.timestamp,
		quote(colApplied) + " " + d.timestamp,
	}
	for _, c := range t.Columns {
		cols = append(cols, quote(c.Name)+" "+d.typed[c.Type])
	}
	return []string{
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n  %s\n)", quote(t.Name), strings.Join(cols, ",\n  ")),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n  %s\n)", quote(tombstones(t.Name)), strings.Join([]string{
			quote(colKey) + " " + d.text + " PRIMARY KEY",
			quote(colTopic) + " " + d.text + " NOT NULL",
			quote(colPartition) + " " + d.integer + " NOT NULL",
			quote(colOffset) + " " + d.bigint + " NOT NULL",
			quote(colEventID) + " " + d.text + " NOT NULL",
			quote(colEventTime) + " " + d.timestamp,
		}, ",\n  ")),
	}
}

// storeDDL creates the store's own tables.
func (d dialect) storeDDL() []string {
	return []string{
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (
  group_id %s NOT NULL,
  topic %s NOT NULL,
  partition_id %s NOT NULL,
  next_offset %s NOT NULL,
  updated_at %s,
  PRIMARY KEY (group_id, topic, partition_id)
)`, offsetsTable, d.text, d.text, d.integer, d.bigint, d.timestamp),
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (
  event_id %s PRIMARY KEY,
  source_topic %s,
  source_partition %s,
  source_offset %s,
  message_key %s,
  message_value %s,
  value_null %s NOT NULL DEFAULT %s,
  class %s,
  code %s,
  status %s,
  message %s,
  fields %s,
  correlation_id %s,
  event_time %s
)`, errorsTable, d.text, d.text, d.integer, d.bigint, d.blob, d.blob, d.boolean, d.falseLit, d.text, d.text, d.integer,
			d.text, d.json, d.text, d.timestamp),
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (
  event_id %s PRIMARY KEY,
  table_name %s NOT NULL,
  applied_at %s
)`, eventsTable, d.text, d.text, d.timestamp),
	}
}

// DDL is the schema of tables and of the store's own tables, as a script.
func DDL(dialectName string, tables []mirror.Table) (string, error) {
	d, err := dialectOf(dialectName)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, s := range d.storeDDL() {
		b.WriteString(s + ";\n\n")
	}
	for _, t := range tables {
		for _, s := range d.tableDDL(t) {
			b.WriteString(s + ";\n\n")
		}
	}
	return b.String(), nil
}

func dialectOf(name string) (dialect, error) {
	switch name {
	case "postgres", "postgresql":
		return postgres, nil
	case "sqlite":
		return sqliteDialect, nil
	}
	return dialect{}, fmt.Errorf("unknown database %q (want postgres or sqlite)", name)
}

package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/segmentio/kafka-go"
	"golang.org/x/term"

	"github.com/gcupsert/gcupsert/config"
)

// row is one record read from the input file, with its line number.
type row struct {
	line   int
	fields map[string]any
}

// rowReader streams rows from a CSV or JSONL file.
type rowReader interface {
	next() (row, error) // io.EOF at the end
}

type csvRows struct {
	r      *csv.Reader
	header []string
	types  map[string]string // field -> JSON Schema type, for coercion
}

func (c *csvRows) next() (row, error) {
	rec, err := c.r.Read()
	if err != nil {
		return row{}, err
	}
	line, _ := c.r.FieldPos(0)
	fields := make(map[string]any, len(rec))
	for i, v := range rec {
		name := c.header[i]
		if v == "" {
			continue // an empty cell is an absent field
		}
		fields[name] = coerce(v, c.types[name])
	}
	return row{line: line, fields: fields}, nil
}

// coerce turns a CSV cell into the JSON type the schema asks for, when it
// reads as one; otherwise the string is kept and validation will say why.
func coerce(v, typ string) any {
	switch typ {
	case "integer":
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	case "number":
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return json.Number(strconv.FormatFloat(f, 'f', -1, 64))
		}
	case "boolean":
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
	}
	return v
}

type jsonlRows struct {
	s    *bufio.Scanner
	line int
}

func (j *jsonlRows) next() (row, error) {
	for j.s.Scan() {
		j.line++
		b := bytes.TrimSpace(j.s.Bytes())
		if len(b) == 0 {
			continue
		}
		var fields map[string]any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&fields); err != nil || fields == nil {
			return row{line: j.line}, fmt.Errorf("line %d: not a JSON object", j.line)
		}
		return row{line: j.line, fields: fields}, nil
	}
	if err := j.s.Err(); err != nil {
		return row{}, err
	}
	return row{}, io.EOF
}

// countingReader counts the bytes read, for progress.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func openRows(r io.Reader, format string, types map[string]string) (rowReader, error) {
	switch format {
	case "csv":
		cr := csv.NewReader(r)
		cr.ReuseRecord = false
		header, err := cr.Read()
		if err != nil {
			return nil, fmt.Errorf("reading the CSV header: %w", err)
		}
		seen := map[string]bool{}
		for i, h := range header {
			h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
			if h == "" || seen[h] {
				return nil, fmt.Errorf("CSV header column %d is empty or repeated", i+1)
			}
			seen[h] = true
			header[i] = h
		}
		return &csvRows{r: cr, header: header, types: types}, nil
	case "jsonl":
		s := bufio.NewScanner(r)
		s.Buffer(make([]byte, 64<<10), 16<<20)
		return &jsonlRows{s: s}, nil
	}
	return nil, fmt.Errorf("unknown format %q (want csv or jsonl)", format)
}

func cmdProduce(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("produce", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("file", "", "CSV (with a header row) or JSONL file to load")
	topic := fs.String("topic", "", "input topic")
	keyField := fs.String("key-field", "key", "field holding the record key")
	format := fs.String("format", "", "csv or jsonl (default: from the file name)")
	validate := fs.Bool("validate", false, "check every row against the target schema and produce nothing")
	cfgPath := fs.String("config", os.Getenv("GCUPSERT_CONFIG"), "configuration file: brokers, security and the topic's schema")
	brokers := fs.String("brokers", "", "comma-separated brokers (overrides the configuration)")
	schemaFile := fs.String("schema", "", "JSON Schema of the records (default: the route's schema_file)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" || *topic == "" {
		return usageError{errors.New("--file and --topic are required")}
	}
	if *format == "" {
		switch strings.ToLower(filepath.Ext(*file)) {
		case ".csv":
			*format = "csv"
		case ".jsonl", ".ndjson", ".json":
			*format = "jsonl"
		default:
			return usageError{fmt.Errorf("cannot tell the format of %s: give --format csv or jsonl", *file)}
		}
	}
	kcfg := config.Default().Kafka
	if *cfgPath != "" {
		raw, err := os.ReadFile(*cfgPath)
		if err != nil {
			return err
		}
		full := config.Default()
		if err := config.Parse(raw, &full); err != nil {
			return fmt.Errorf("%s: %w", *cfgPath, err)
		}
		kcfg = full.Kafka
		for _, r := range full.Routes {
			if r.Topic == *topic && *schemaFile == "" {
				*schemaFile = r.SchemaFile
			}
		}
		if cfg, err := config.Load(*cfgPath, os.Environ()); err == nil {
			kcfg = cfg.Kafka // with secrets and environment overrides
		}
	}
	if *brokers != "" {
		kcfg.Brokers = splitList(*brokers)
	}
	var schema *jsonschema.Schema
	types := map[string]string{}
	if *schemaFile != "" {
		var err error
		if schema, types, err = loadSchema(*schemaFile); err != nil {
			return err
		}
	} else if *validate {
		return usageError{errors.New("--validate needs a schema: --schema FILE, or --config with a route for the topic")}
	}

	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer f.Close()
	st, _ := f.Stat()
	counter := &countingReader{r: bufio.NewReaderSize(f, 1<<20)}
	rows, err := openRows(counter, *format, types)
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	prog := newProgress(stderr, st.Size(), counter)
	ctx, stop := signalContext(newLogger(stderr, "warn", "auto"))
	defer stop()

	if *validate {
		bad, n := 0, 0
		for {
			r, err := rows.next()
			if errors.Is(err, io.EOF) {
				break
			}
			n++
			if err == nil {
				err = checkRow(schema, r, *keyField)
			}
			if err != nil {
				bad++
				fmt.Fprintf(stdout, "%s:%d: %v\n", *file, lineOf(r, err), err)
				var pe *csv.ParseError
				if errors.As(err, &pe) && !errors.Is(err, csv.ErrFieldCount) {
					break // the rest of the file cannot be read reliably
				}
			}
			prog.tick(n)
		}
		prog.done(n)
		if bad > 0 {
			return fmt.Errorf("%d of %d rows are invalid; nothing was produced", bad, n)
		}
		fmt.Fprintf(stdout, "%d rows valid\n", n)
		return nil
	}

	sec, err := kcfg.Security()
	if err != nil {
		return err
	}
	tr := sec.Transport("gcupsert-produce")
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(kcfg.Brokers...), Topic: *topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		BatchSize: 1000, BatchTimeout: 5 * time.Millisecond, Transport: tr}
	defer w.Close()
	batch := make([]kafka.Message, 0, 1000)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := w.WriteMessages(ctx, batch...); err != nil {
			return fmt.Errorf("producing to %s: %w", *topic, err)
		}
		batch = batch[:0]
		return nil
	}
	n := 0
	for {
		r, err := rows.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s:%d: %w (rows before it were produced; run with --validate first)", *file, lineOf(r, err), err)
		}
		key, err := rowKey(r, *keyField)
		if err != nil {
			return fmt.Errorf("%s:%d: %w (rows before it were produced; run with --validate first)", *file, r.line, err)
		}
		v, err := json.Marshal(map[string]any{"op": "upsert", "key": key, "data": r.fields, "ts": time.Now().UTC().Format(time.RFC3339)})
		if err != nil {
			return fmt.Errorf("%s:%d: %w", *file, r.line, err)
		}
		batch = append(batch, kafka.Message{Key: []byte(key), Value: v})
		n++
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return err
			}
		}
		prog.tick(n)
	}
	if err := flush(); err != nil {
		return err
	}
	prog.done(n)
	fmt.Fprintf(stdout, "produced %d records to %s\n", n, *topic)
	return nil
}

func lineOf(r row, err error) int {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Line
	}
	return r.line
}

func rowKey(r row, field string) (string, error) {
	v, ok := r.fields[field]
	if !ok {
		return "", fmt.Errorf("no %q field (the key; see --key-field)", field)
	}
	switch t := v.(type) {
	case string:
		if t != "" {
			return t, nil
		}
	case json.Number:
		return t.String(), nil
	case int64:
		return strconv.FormatInt(t, 10), nil
	}
	return "", fmt.Errorf("key field %q is empty or not a string or number", field)
}

func checkRow(schema *jsonschema.Schema, r row, keyField string) error {
	if _, err := rowKey(r, keyField); err != nil {
		return err
	}
	data := r.fields
	// The key travels as the Kafka key; validate it as data only when the
	// schema knows it.
	if err := schema.Validate(toJSONValue(data)); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			lines := strings.Split(strings.TrimSpace(ve.Error()), "\n")
			if len(lines) > 1 {
				lines = lines[1:] // the first line names the schema only
			}
			for i, l := range lines {
				lines[i] = strings.TrimPrefix(strings.TrimSpace(l), "- ")
			}
			return errors.New(strings.Join(lines, "; "))
		}
		return err
	}
	return nil
}

// toJSONValue converts values to what the validator expects (json.Number
// for numbers).
func toJSONValue(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch t := v.(type) {
		case int64:
			out[k] = json.Number(strconv.FormatInt(t, 10))
		default:
			out[k] = v
		}
	}
	return out
}

// loadSchema compiles a JSON Schema file (draft-04 unless it says
// otherwise) and lists its top-level property types.
func loadSchema(path string) (*jsonschema.Schema, map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	if err := c.AddResource("file:///schema.json", doc); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	s, err := c.Compile("file:///schema.json")
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	types := map[string]string{}
	var plain struct {
		Properties map[string]struct {
			Type any `json:"type"`
		} `json:"properties"`
	}
	if json.Unmarshal(raw, &plain) == nil {
		for name, p := range plain.Properties {
			if t, ok := p.Type.(string); ok {
				types[name] = t
			}
		}
	}
	return s, types, nil
}

// progress prints a bar on a terminal and plain lines otherwise.
type progress struct {
	w        io.Writer
	tty      bool
	total    int64
	read     *countingReader
	start    time.Time
	last     time.Time
	interval time.Duration
}

func newProgress(w io.Writer, total int64, read *countingReader) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	iv := 5 * time.Second
	if tty {
		iv = 200 * time.Millisecond
	}
	now := time.Now()
	return &progress{w: w, tty: tty, total: total, read: read, start: now, last: now, interval: iv}
}

func (p *progress) tick(n int) {
	if now := time.Now(); now.Sub(p.last) >= p.interval {
		p.last = now
		p.print(n, false)
	}
}

func (p *progress) done(n int) { p.print(n, true) }

func (p *progress) print(n int, final bool) {
	el := time.Since(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(n) / el
	}
	frac := 0.0
	if p.total > 0 {
		frac = float64(p.read.n) / float64(p.total)
	}
	if final {
		frac = 1
	}
	eta := "?"
	if frac > 0 && !final {
		eta = (time.Duration(el*(1-frac)/frac) * time.Second).Round(time.Second).String()
	}
	if p.tty {
		const width = 30
		bar := strings.Repeat("█", int(frac*width)) + strings.Repeat("░", width-int(frac*width))
		fmt.Fprintf(p.w, "\r%s %3.0f%%  %d records  %.0f/s  ETA %s   ", bar, frac*100, n, rate, eta)
		if final {
			fmt.Fprintln(p.w)
		}
		return
	}
	fmt.Fprintf(p.w, "progress: %d records, %.0f%% of the file, %.0f records/s, ETA %s\n", n, frac*100, rate, eta)
}

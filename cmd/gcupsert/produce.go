package main

import (
	"bufio"
	"bytes"
	"context"
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

// produceFlags is the produce command's command line.
type produceFlags struct {
	file, topic, keyField, format string
	validate                      bool
	cfgPath, brokers, schemaFile  string
}

// parseProduceFlags reads the command line; the format, when not given, is
// told from the file name.
func parseProduceFlags(args []string, stderr io.Writer) (*produceFlags, error) {
	f := &produceFlags{}
	fs := flag.NewFlagSet("produce", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.file, "file", "", "CSV (with a header row) or JSONL file to load")
	fs.StringVar(&f.topic, "topic", "", "input topic")
	fs.StringVar(&f.keyField, "key-field", "key", "field holding the record key")
	fs.StringVar(&f.format, "format", "", "csv or jsonl (default: from the file name)")
	fs.BoolVar(&f.validate, "validate", false, "check every row against the target schema and produce nothing")
	fs.StringVar(&f.cfgPath, "config", os.Getenv("GCUPSERT_CONFIG"), "configuration file: brokers, security and the topic's schema")
	fs.StringVar(&f.brokers, "brokers", "", "comma-separated brokers (overrides the configuration)")
	fs.StringVar(&f.schemaFile, "schema", "", "JSON Schema of the records (default: the route's schema_file)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if f.file == "" || f.topic == "" {
		return nil, usageError{errors.New("--file and --topic are required")}
	}
	if f.format == "" {
		switch strings.ToLower(filepath.Ext(f.file)) {
		case ".csv":
			f.format = "csv"
		case ".jsonl", ".ndjson", ".json":
			f.format = "jsonl"
		default:
			return nil, usageError{fmt.Errorf("cannot tell the format of %s: give --format csv or jsonl", f.file)}
		}
	}
	return f, nil
}

// kafkaConfig is the Kafka configuration to produce with: the defaults, or
// the configuration file's, with --brokers over them. The file's route for
// the topic also gives the schema file when --schema does not.
func (f *produceFlags) kafkaConfig() (config.Kafka, error) {
	kcfg := config.Default().Kafka
	if f.cfgPath != "" {
		raw, err := os.ReadFile(f.cfgPath)
		if err != nil {
			return kcfg, err
		}
		full := config.Default()
		if err := config.Parse(raw, &full); err != nil {
			return kcfg, fmt.Errorf("%s: %w", f.cfgPath, err)
		}
		kcfg = full.Kafka
		for _, r := range full.Routes {
			if r.Topic == f.topic && f.schemaFile == "" {
				f.schemaFile = r.SchemaFile
			}
		}
		if cfg, err := config.Load(f.cfgPath, os.Environ()); err == nil {
			kcfg = cfg.Kafka // with secrets and environment overrides
		}
	}
	if f.brokers != "" {
		kcfg.Brokers = splitList(f.brokers)
	}
	return kcfg, nil
}

// schema loads the records' schema and its property types, if there is a
// schema file; --validate needs one.
func (f *produceFlags) schema() (*jsonschema.Schema, map[string]string, error) {
	if f.schemaFile != "" {
		return loadSchema(f.schemaFile)
	}
	if f.validate {
		return nil, nil, usageError{errors.New("--validate needs a schema: --schema FILE, or --config with a route for the topic")}
	}
	return nil, map[string]string{}, nil
}

// inputFile is the open input: its rows, and the progress through them.
type inputFile struct {
	path string
	f    *os.File
	rows rowReader
	prog *progress
}

// openInput opens the file at path as rows of format, CSV cells coerced to
// types, with progress on stderr.
func openInput(path, format string, types map[string]string, stderr io.Writer) (*inputFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, _ := f.Stat()
	counter := &countingReader{r: bufio.NewReaderSize(f, 1<<20)}
	rows, err := openRows(counter, format, types)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &inputFile{path: path, f: f, rows: rows, prog: newProgress(stderr, st.Size(), counter)}, nil
}

func (in *inputFile) Close() error { return in.f.Close() }

// validate checks every row against schema and prints each invalid one;
// it stops early only when the file cannot be read further.
func (in *inputFile) validate(stdout io.Writer, schema *jsonschema.Schema, keyField string) error {
	bad, n := 0, 0
	for {
		r, err := in.rows.next()
		if errors.Is(err, io.EOF) {
			break
		}
		n++
		if err == nil {
			err = checkRow(schema, r, keyField)
		}
		if err != nil {
			bad++
			fmt.Fprintf(stdout, "%s:%d: %v\n", in.path, lineOf(r, err), err)
			var pe *csv.ParseError
			if errors.As(err, &pe) && !errors.Is(err, csv.ErrFieldCount) {
				break // the rest of the file cannot be read reliably
			}
		}
		in.prog.tick(n)
	}
	in.prog.done(n)
	if bad > 0 {
		return fmt.Errorf("%d of %d rows are invalid; nothing was produced", bad, n)
	}
	fmt.Fprintf(stdout, "%d rows valid\n", n)
	return nil
}

// produce sends every row to p as an upsert event keyed by keyField and
// returns how many it sent; it stops at the first row it cannot send.
func (in *inputFile) produce(ctx context.Context, p *producer, keyField string) (int, error) {
	n := 0
	for {
		r, err := in.rows.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, fmt.Errorf("%s:%d: %w (rows before it were produced; run with --validate first)", in.path, lineOf(r, err), err)
		}
		key, err := rowKey(r, keyField)
		if err != nil {
			return n, fmt.Errorf("%s:%d: %w (rows before it were produced; run with --validate first)", in.path, r.line, err)
		}
		v, err := json.Marshal(map[string]any{"op": "upsert", "key": key, "data": r.fields, "ts": time.Now().UTC().Format(time.RFC3339)})
		if err != nil {
			return n, fmt.Errorf("%s:%d: %w", in.path, r.line, err)
		}
		if err := p.add(ctx, kafka.Message{Key: []byte(key), Value: v}); err != nil {
			return n, err
		}
		n++
		in.prog.tick(n)
	}
	if err := p.flush(ctx); err != nil {
		return n, err
	}
	in.prog.done(n)
	return n, nil
}

// producer writes messages to a topic in batches of 1,000.
type producer struct {
	topic string
	tr    *kafka.Transport
	w     *kafka.Writer
	batch []kafka.Message
}

func newProducer(kcfg config.Kafka, topic string) (*producer, error) {
	sec, err := kcfg.Security()
	if err != nil {
		return nil, err
	}
	tr := sec.Transport("gcupsert-produce")
	w := &kafka.Writer{Addr: kafka.TCP(kcfg.Brokers...), Topic: topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		BatchSize: 1000, BatchTimeout: 5 * time.Millisecond, Transport: tr}
	return &producer{topic: topic, tr: tr, w: w, batch: make([]kafka.Message, 0, 1000)}, nil
}

// add queues m and writes the batch once it is full.
func (p *producer) add(ctx context.Context, m kafka.Message) error {
	p.batch = append(p.batch, m)
	if len(p.batch) == cap(p.batch) {
		return p.flush(ctx)
	}
	return nil
}

// flush writes the queued messages.
func (p *producer) flush(ctx context.Context) error {
	if len(p.batch) == 0 {
		return nil
	}
	if err := p.w.WriteMessages(ctx, p.batch...); err != nil {
		return fmt.Errorf("producing to %s: %w", p.topic, err)
	}
	p.batch = p.batch[:0]
	return nil
}

func (p *producer) Close() {
	p.w.Close()
	p.tr.CloseIdleConnections()
}

func cmdProduce(args []string, stdout, stderr io.Writer) error {
	f, err := parseProduceFlags(args, stderr)
	if err != nil {
		return err
	}
	kcfg, err := f.kafkaConfig()
	if err != nil {
		return err
	}
	schema, types, err := f.schema()
	if err != nil {
		return err
	}
	in, err := openInput(f.file, f.format, types, stderr)
	if err != nil {
		return err
	}
	defer in.Close()
	ctx, stop := signalContext(newLogger(stderr, "warn", "auto"))
	defer stop()
	if f.validate {
		return in.validate(stdout, schema, f.keyField)
	}
	p, err := newProducer(kcfg, f.topic)
	if err != nil {
		return err
	}
	defer p.Close()
	n, err := in.produce(ctx, p, f.keyField)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "produced %d records to %s\n", n, f.topic)
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

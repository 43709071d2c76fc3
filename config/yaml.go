package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Parse decodes one YAML document into cfg. A second document, an unknown
// key, a key set twice and a value of the wrong type are errors, each
// naming the key and its line, e.g.
// `batch.max_records: line 8: "abc" is not an integer`.
func Parse(raw []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return yamlErr(err)
	}
	if err := refuseMoreDocuments(dec); err != nil {
		return err
	}
	var p problems
	checkNode(&p, &doc, reflect.TypeOf(cfg).Elem(), "")
	if len(p) > 0 {
		return errors.Join(p...)
	}
	if err := doc.Decode(cfg); err != nil {
		return yamlErr(err)
	}
	return nil
}

func yamlErr(err error) error {
	return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
}

// refuseMoreDocuments reads what follows the first document: empty
// documents (a trailing "---") are accepted, another one is an error.
func refuseMoreDocuments(dec *yaml.Decoder) error {
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return fmt.Errorf("after the first YAML document: %w", yamlErr(err))
		}
		if len(next.Content) == 0 || (next.Content[0].Kind == yaml.ScalarNode && next.Content[0].ShortTag() == "!!null") {
			continue
		}
		return fmt.Errorf("line %d: a second YAML document; the file must hold exactly one", next.Content[0].Line)
	}
}

var durationType = reflect.TypeOf(Duration(0))

// checkNode checks that n can be decoded into a value of type t, the value
// of key ("" for the whole file), and adds a problem naming the key for
// each part that cannot.
func checkNode(p *problems, n *yaml.Node, t reflect.Type, key string) {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return
	}
	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode {
			p.add(key, "line %d: is not a duration (use a form such as 200ms, 30s or 2m)", n.Line)
		} else if _, err := time.ParseDuration(n.Value); err != nil {
			p.add(key, "line %d: %q is not a duration (use a form such as 200ms, 30s or 2m)", n.Line, n.Value)
		}
	case t.Kind() == reflect.Struct:
		checkMapping(p, n, t, key)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			p.add(key, "line %d: is not a list", n.Line)
			return
		}
		for i, c := range n.Content {
			checkNode(p, c, t.Elem(), fmt.Sprintf("%s[%d]", key, i))
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			p.add(key, "line %d: is not a map of names to values", n.Line)
			return
		}
		eachPair(p, n, key, func(k, v *yaml.Node) { checkNode(p, v, t.Elem(), key+"."+k.Value) })
	case t.Kind() == reflect.Interface:
	default:
		checkScalar(p, n, t, key)
	}
}

// checkMapping checks the keys of a section against the fields of t.
func checkMapping(p *problems, n *yaml.Node, t reflect.Type, key string) {
	if n.Kind != yaml.MappingNode {
		if key == "" {
			p.add("the file", "line %d: is not a mapping of keys to values", n.Line)
		} else {
			p.add(key, "line %d: is a section: it takes keys, not a value", n.Line)
		}
		return
	}
	eachPair(p, n, key, func(k, v *yaml.Node) {
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			checkMerge(p, v, t, key)
			return
		}
		name := joinKey(key, k.Value)
		f, ok := fieldByTag(t, k.Value)
		if !ok {
			p.add(name, "line %d: %s", k.Line, unknownKey(t, k.Value, name))
			return
		}
		checkNode(p, v, f.Type, name)
	})
}

// checkMerge checks the value of a merge key ("<<: *anchor").
func checkMerge(p *problems, v *yaml.Node, t reflect.Type, key string) {
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	if v.Kind == yaml.SequenceNode {
		for _, c := range v.Content {
			checkNode(p, c, t, key)
		}
		return
	}
	checkNode(p, v, t, key)
}

// eachPair calls fn for each key and value of a mapping node; a key set
// twice is a problem and is not passed on again.
func eachPair(p *problems, n *yaml.Node, key string, fn func(k, v *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value != "<<" {
			if first, dup := seen[k.Value]; dup {
				p.add(joinKey(key, k.Value), "line %d: is set twice (first on line %d)", k.Line, first)
				continue
			}
			seen[k.Value] = k.Line
		}
		fn(k, v)
	}
}

func checkScalar(p *problems, n *yaml.Node, t reflect.Type, key string) {
	what := map[reflect.Kind]string{reflect.Int: "an integer", reflect.Int64: "an integer", reflect.Float64: "a number",
		reflect.Bool: "true or false", reflect.String: "text"}[t.Kind()]
	if what == "" {
		what = "a " + t.String()
	}
	if n.Kind != yaml.ScalarNode {
		p.add(key, "line %d: is not %s", n.Line, what)
		return
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		hint := ""
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			hint = " (it is quoted, which makes it text)"
		}
		p.add(key, "line %d: %q is not %s%s", n.Line, n.Value, what, hint)
	}
}

func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// fieldByTag finds the field of struct type t whose YAML name is name.
func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag := strings.Split(f.Tag.Get("yaml"), ",")[0]; tag != "" && tag != "-" && tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// unknownKey says why name, the YAML key full, is not a key of t: a secret
// held in the file, or a name the configuration does not have.
func unknownKey(t reflect.Type, name, full string) string {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Type == reflect.TypeOf(Secret("")) && toSnake(f.Name) == name {
			env := "GCUPSERT_" + strings.ToUpper(strings.ReplaceAll(full, ".", "_"))
			return fmt.Sprintf("a secret is never read from the file: set %s or %s_file", env, full)
		}
	}
	return "is not a configuration key (docs/config.md lists them)"
}

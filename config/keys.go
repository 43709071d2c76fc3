package config

import (
	"fmt"
	"reflect"
	"strings"
)

// Key describes one configuration key.
type Key struct {
	Name    string // YAML path, e.g. "kafka.brokers" or "routes[].topic"
	Env     string // environment variable, "" when the key is read from the file only
	Default string // default value as written in YAML, "" when none
}

// Keys lists every configuration key with its environment variable and
// default, in declaration order.
func Keys() []Key {
	var out []Key
	def := Default()
	var visit func(v reflect.Value, t reflect.Type, env, key string, inList bool)
	visit = func(v reflect.Value, t reflect.Type, env, key string, inList bool) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "-" {
				if f.Type == reflect.TypeOf(Secret("")) {
					name := strings.TrimPrefix(key+"."+toSnake(f.Name), ".")
					out = append(out, Key{Name: name, Env: env + "_" + strings.ToUpper(toSnake(f.Name))})
				}
				continue
			}
			if tag == "" {
				continue
			}
			name := tag
			if key != "" {
				name = key + "." + tag
			}
			e := env + "_" + strings.ToUpper(tag)
			if inList {
				e = ""
			}
			var fv reflect.Value
			if v.IsValid() {
				fv = v.Field(i)
			}
			switch {
			case f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(Duration(0)):
				visit(fv, f.Type, e, name, inList)
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
				visit(reflect.Value{}, f.Type.Elem(), "", name+"[]", true)
			default:
				out = append(out, Key{Name: name, Env: e, Default: defaultString(fv)})
			}
		}
	}
	visit(reflect.ValueOf(def), reflect.TypeOf(def), "GCUPSERT", "", false)
	for i := range out {
		if out[i].Name == "worker_id" {
			out[i].Default = "the host name"
		}
	}
	return out
}

func defaultString(v reflect.Value) string {
	if !v.IsValid() {
		return ""
	}
	switch v.Kind() {
	case reflect.Bool:
		return fmt.Sprint(v.Bool())
	case reflect.Int, reflect.Int64, reflect.Float64:
		if _, isDur := v.Interface().(Duration); !isDur {
			return fmt.Sprint(v.Interface())
		}
	}
	if v.IsZero() {
		return ""
	}
	switch x := v.Interface().(type) {
	case Duration:
		s := x.String()
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		return s
	case []string:
		return "[" + strings.Join(x, ", ") + "]"
	}
	return fmt.Sprint(v.Interface())
}

func toSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToLower(b.String())
}

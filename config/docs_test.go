package config

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the generated key table in docs/CONFIG.md")

const (
	docsPath    = "../docs/CONFIG.md"
	tableStart  = "<!-- keys:start (generated from config/config.go by `go test ./config -run TestDocs -update`) -->"
	tableEnd    = "<!-- keys:end -->"
	sourceFile  = "config.go"
	listElemTag = "[]"
)

// TestDocsListEveryKey fails when a config key is missing from
// docs/CONFIG.md (issue 7 acceptance), and when the generated table no
// longer matches the field comments in config.go.
func TestDocsListEveryKey(t *testing.T) {
	raw, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatalf("read docs: %v", err)
	}
	doc := string(raw)

	table := keyTable(t)
	before, rest, ok1 := strings.Cut(doc, tableStart)
	_, after, ok2 := strings.Cut(rest, tableEnd)
	if !ok1 || !ok2 {
		t.Fatalf("docs/CONFIG.md lacks the markers %q … %q", tableStart, tableEnd)
	}
	want := before + tableStart + "\n" + table + tableEnd + after
	if want != doc {
		if !*update {
			t.Errorf("the key table in docs/CONFIG.md is stale; run: go test ./config -run TestDocs -update")
		} else if err := os.WriteFile(docsPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		doc = want
	}

	for _, k := range Keys() {
		if !strings.Contains(doc, "`"+k.Path+"`") {
			t.Errorf("docs/CONFIG.md does not mention key `%s`", k.Path)
		}
		if env := k.EnvName(); env != "" && !strings.Contains(doc, "`"+env+"`") {
			t.Errorf("docs/CONFIG.md does not mention env %s (key %s)", env, k.Path)
		}
	}
}

// fieldDocs maps "TypeName.FieldName" to the field's doc comment, read
// from config.go.
func fieldDocs(t *testing.T) map[string]string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, sourceFile, nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	docs := make(map[string]string)
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return false
		}
		for _, fld := range st.Fields.List {
			text := strings.Join(strings.Fields(fld.Doc.Text()), " ")
			if len(fld.Names) == 0 {
				docs[ts.Name.Name+"."+fmt.Sprint(fld.Type)] = text
			}
			for _, name := range fld.Names {
				docs[ts.Name.Name+"."+name.Name] = text
			}
		}
		return false
	})
	return docs
}

// keyTable renders every key as a Markdown table row: key, default, env,
// meaning (the field's doc comment).
func keyTable(t *testing.T) string {
	docs := fieldDocs(t)
	var b strings.Builder
	b.WriteString("| key | default | env | meaning |\n| --- | --- | --- | --- |\n")
	var walk func(rt reflect.Type, v reflect.Value, prefix string, inList bool)
	walk = func(rt reflect.Type, v reflect.Value, prefix string, inList bool) {
		for i := range rt.NumField() {
			f := rt.Field(i)
			fv := v.Field(i)
			name, squash := tagName(f)
			if squash {
				walk(f.Type, fv, prefix, inList)
				continue
			}
			path := join(prefix, name)
			text := docs[rt.Name()+"."+f.Name]
			if text == "" {
				t.Errorf("field %s.%s (key %s) has no doc comment", rt.Name(), f.Name, path)
			}
			env := "—"
			if !inList && f.Type.Kind() != reflect.Struct {
				env = "`" + EnvName(path) + "`"
			}
			def := "—"
			if f.Type.Kind() != reflect.Struct && !(f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct) {
				def = "`" + showValue(fv) + "`"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", path, def, env, strings.ReplaceAll(text, "|", "\\|"))
			switch {
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, fv, path, inList)
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
				elem := reflect.New(f.Type.Elem()).Elem()
				switch f.Type.Elem() {
				case reflect.TypeFor[SMSC]():
					elem.Set(reflect.ValueOf(SMSCDefaults()))
				case reflect.TypeFor[Webhook]():
					elem.Set(reflect.ValueOf(WebhookDefaults()))
				}
				walk(f.Type.Elem(), elem, path+listElemTag, true)
			}
		}
	}
	walk(reflect.TypeFor[Config](), reflect.ValueOf(Default()), "", false)
	return b.String()
}

func showValue(v reflect.Value) string {
	switch {
	case v.Type() == reflect.TypeFor[time.Duration]():
		d := v.Interface().(time.Duration)
		if d == 0 {
			return "0s"
		}
		return shortDuration(d)
	case v.Kind() == reflect.Pointer:
		if v.IsNil() {
			return "auto"
		}
		return showValue(v.Elem())
	case v.Kind() == reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = showValue(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case v.Kind() == reflect.String:
		if v.String() == "" {
			return `""`
		}
		return v.String()
	}
	return fmt.Sprint(v.Interface())
}

// shortDuration prints 5m rather than 5m0s, as a user would write it.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

package config

import (
	"reflect"
	"strings"
	"sync"
	"time"
)

// Key describes one config key.
type Key struct {
	// Path is the dotted key path; list elements are written "[]", e.g.
	// "smscs[].tps".
	Path string
	// Type is the Go type of the field.
	Type   reflect.Type
	inList bool
}

type keyInfo = Key

func (k Key) isList() bool {
	return k.Type.Kind() == reflect.Slice && k.Type.Elem().Kind() == reflect.Struct
}

// isMapping reports a key that holds a mapping of other keys (e.g. "http").
func (k Key) isMapping() bool {
	return k.Type.Kind() == reflect.Struct
}

// InList reports whether the key lives inside a list element (e.g.
// "smscs[].tps"): such keys come only from the file or a JSON list in env.
func (k Key) InList() bool { return k.inList }

// EnvName is the key's environment variable, or "" for keys inside list
// elements (set the whole list as JSON instead) and for mappings such as
// "http" (set their keys one by one).
func (k Key) EnvName() string {
	if k.inList || k.isMapping() {
		return ""
	}
	return EnvName(k.Path)
}

// Keys lists every config key, leaves and intermediate mappings and lists,
// in struct order. The docs test uses it to check docs/CONFIG.md.
func Keys() []Key {
	return append([]Key(nil), keyList()...)
}

var keysOnce = sync.OnceValues(func() ([]Key, map[string]Key) {
	var list []Key
	walkKeys(reflect.TypeFor[Config](), "", false, &list)
	idx := make(map[string]Key, len(list))
	for _, k := range list {
		idx[k.Path] = k
	}
	return list, idx
})

func keyList() []Key { l, _ := keysOnce(); return l }

func keyIndex() map[string]Key { _, i := keysOnce(); return i }

var durationType = reflect.TypeFor[time.Duration]()

func walkKeys(t reflect.Type, prefix string, inList bool, out *[]Key) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, squash := tagName(f)
		if squash {
			walkKeys(f.Type, prefix, inList, out)
			continue
		}
		path := join(prefix, name)
		*out = append(*out, Key{Path: path, Type: f.Type, inList: inList})
		ft := f.Type
		switch {
		case ft.Kind() == reflect.Struct && ft != durationType:
			walkKeys(ft, path, inList, out)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			walkKeys(ft.Elem(), path+"[]", true, out)
		}
	}
}

// structFields maps the lower-cased keys of t to their fields, following
// squashed (inline) embedded structs.
func structFields(t reflect.Type) map[string]reflect.StructField {
	m := make(map[string]reflect.StructField)
	for i := range t.NumField() {
		f := t.Field(i)
		name, squash := tagName(f)
		if squash {
			for k, v := range structFields(f.Type) {
				m[k] = v
			}
			continue
		}
		m[strings.ToLower(name)] = f
	}
	return m
}

func tagName(f reflect.StructField) (name string, squash bool) {
	tag := f.Tag.Get("mapstructure")
	name, opts, _ := strings.Cut(tag, ",")
	if strings.Contains(opts, "squash") {
		return "", true
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name, false
}

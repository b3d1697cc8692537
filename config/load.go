package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// EnvPrefix prefixes every environment variable smsgw reads.
const EnvPrefix = "SMSGW"

// FlagKeyAnnotation is the pflag annotation that binds a flag to a config
// key; see BindFlag.
const FlagKeyAnnotation = "smsgw_config_key"

// BindFlag makes Load take the config key (e.g. "simulator.listen") from the
// flag named flag when it is set on the command line. A flag whose name,
// with "-" read as "_", is itself a key path (e.g. --data-dir) is bound
// without this.
func BindFlag(fs *pflag.FlagSet, flag, key string) error {
	if _, ok := keyIndex()[key]; !ok {
		return fmt.Errorf("config: bind flag --%s: %w: %q", flag, ErrUnknownKey, key)
	}
	if err := fs.SetAnnotation(flag, FlagKeyAnnotation, []string{key}); err != nil {
		return fmt.Errorf("config: bind flag --%s: %w", flag, err)
	}
	return nil
}

// Load reads the configuration: Default(), then the YAML file at path
// (optional: "" reads none; a path that does not exist is an error), then
// SMSGW_* environment variables, then the flags in flags that are set and
// bound to keys (see BindFlag; flags may be nil). Unknown keys are errors.
// The result is validated; an invalid config returns *Problems listing
// every problem. Demo mode is not applied: see ApplyDemo.
func Load(path string, flags *pflag.FlagSet) (Config, error) {
	var data []byte
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		data = b
	}
	cfg, err := load(data, os.LookupEnv, flags)
	if err != nil {
		if path != "" {
			var ps *Problems
			if !errors.As(err, &ps) {
				return Config{}, fmt.Errorf("config: %s: %w", path, err)
			}
		}
		return cfg, err
	}
	return cfg, nil
}

// load is Load without the file system, so tests and the fuzzer can feed it
// bytes and an environment.
func load(data []byte, lookupEnv func(string) (string, bool), flags *pflag.FlagSet) (Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	if len(bytes.TrimSpace(data)) > 0 {
		if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
			return Config{}, fmt.Errorf("%w: %w", ErrSyntax, err)
		}
	}
	// Env: bind every known key explicitly so variables count even when
	// the file does not mention the key (AutomaticEnv alone only answers
	// for keys viper already knows). Looking them up ourselves keeps
	// tests free of os.Setenv.
	for _, k := range keyList() {
		if k.inList || k.isMapping() {
			continue
		}
		if val, ok := lookupEnv(EnvName(k.Path)); ok {
			v.Set(k.Path, envValue(k, val))
		}
	}
	if flags != nil {
		idx := keyIndex()
		flags.VisitAll(func(f *pflag.Flag) {
			key := strings.ReplaceAll(f.Name, "-", "_")
			if a := f.Annotations[FlagKeyAnnotation]; len(a) == 1 {
				key = a[0]
			}
			k, ok := idx[key]
			if !ok || !f.Changed || k.inList || k.isMapping() {
				return
			}
			if sv, ok := f.Value.(pflag.SliceValue); ok {
				v.Set(key, sv.GetSlice())
				return
			}
			v.Set(key, f.Value.String())
		})
	}

	// List-of-struct keys given as JSON strings (from env or flags).
	var ps Problems
	settings := v.AllSettings()
	for _, k := range keyList() {
		if k.isList() && !k.inList {
			if s, ok := settings[k.Path].(string); ok {
				var parsed []any
				if err := json.Unmarshal([]byte(s), &parsed); err != nil {
					ps.add(k.Path, "must be a JSON array of objects (from %s): %v", EnvName(k.Path), err)
					delete(settings, k.Path)
					continue
				}
				settings[k.Path] = parsed
			}
		}
	}

	cfg := Default()
	checkKeys(settings, reflect.TypeFor[Config](), "", &ps)
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:           &cfg,
		WeaklyTypedInput: true,
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			elementDefaultsHook,
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		),
	})
	if err != nil {
		return Config{}, fmt.Errorf("config: decoder: %w", err)
	}
	if err := dec.Decode(settings); err != nil {
		decodeProblems(err, &ps)
	}
	sortProblems(ps)
	// Validate too, so one run lists every problem; a key the decoder
	// already refused (or anything under it) is not reported again.
	refused := make([]string, 0, len(ps))
	for _, p := range ps {
		refused = append(refused, p.Path)
	}
	var vps Problems
	cfg.validate(&vps)
	for _, p := range vps {
		if !under(p.Path, refused) {
			ps = append(ps, p)
		}
	}
	if len(ps) > 0 {
		return cfg, &ps
	}
	return cfg, nil
}

// envValue turns an env string into what the key's type decodes from:
// lists of scalars are comma-separated; list-of-struct keys stay a string
// for the JSON step.
func envValue(k keyInfo, val string) any {
	if k.Type.Kind() == reflect.Slice && k.Type.Elem().Kind() != reflect.Struct {
		val = strings.TrimSpace(val)
		if val == "" {
			return []string{}
		}
		parts := strings.Split(val, ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts
	}
	return val
}

// EnvName is the environment variable for a key path:
// "http.max_body_bytes" → "SMSGW_HTTP_MAX_BODY_BYTES".
func EnvName(path string) string {
	r := strings.NewReplacer(".", "_", "-", "_")
	return EnvPrefix + "_" + strings.ToUpper(r.Replace(path))
}

// elementDefaultsHook starts every list element of a struct type that has
// defaults (smscs[i], webhooks[i]) from those defaults, so an omitted key in the file
// gets its documented default rather than Go's zero value.
func elementDefaultsHook(from, to reflect.Value) (any, error) {
	if !to.CanSet() || !to.IsZero() || from.Kind() != reflect.Map {
		return from.Interface(), nil
	}
	switch to.Type() {
	case reflect.TypeFor[SMSC]():
		to.Set(reflect.ValueOf(SMSCDefaults()))
	case reflect.TypeFor[Webhook]():
		to.Set(reflect.ValueOf(WebhookDefaults()))
	}
	return from.Interface(), nil
}

// checkKeys reports every key in raw that t has no field for, with its
// path. It follows maps into structs and lists into their struct elements.
func checkKeys(raw any, t reflect.Type, path string, ps *Problems) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			return // a type mismatch; the decoder reports it
		}
		fields := structFields(t)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f, ok := fields[strings.ToLower(k)]
			if !ok {
				ps.add(join(path, k), "unknown key")
				continue
			}
			checkKeys(m[k], f.Type, join(path, k), ps)
		}
	case reflect.Slice:
		list, ok := raw.([]any)
		if !ok {
			return
		}
		for i, e := range list {
			checkKeys(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), ps)
		}
	}
}

// decodeProblems turns the decoder's joined errors into problems.
// mapstructure's own unknown-key check is off (checkKeys does it with
// full paths), so these are type errors.
func decodeProblems(err error, ps *Problems) {
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var de *mapstructure.DecodeError
		if errors.As(err, &de) {
			inner := de.Unwrap()
			if _, ok := inner.(interface{ Unwrap() []error }); ok {
				walk(inner)
				return
			}
			var deeper *mapstructure.DecodeError
			if errors.As(inner, &deeper) {
				walk(inner)
				return
			}
			ps.add(de.Name(), "%s", typeMessage(inner))
			return
		}
		ps.add("", "%v", err)
	}
	walk(err)
}

// typeMessage makes a decoder error read as a config problem.
func typeMessage(err error) string {
	var pe *mapstructure.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("cannot read %v as %s", pe.Value, typeName(pe.Expected.Type()))
	}
	var ue *mapstructure.UnconvertibleTypeError
	if errors.As(err, &ue) {
		return fmt.Sprintf("expected %s, got %T", typeName(ue.Expected.Type()), ue.Value)
	}
	return err.Error()
}

func typeName(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[[]string]():
		return "a list of strings"
	case t.Kind() == reflect.Int64 && t.Name() == "Duration":
		return "a duration (e.g. 30s, 5m, 24h)"
	case t.Kind() == reflect.Slice:
		return "a list"
	case t.Kind() == reflect.Struct || t.Kind() == reflect.Map:
		return "a mapping"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "an integer"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number"
	case t.Kind() == reflect.Pointer:
		return typeName(t.Elem())
	}
	return t.String()
}

// under reports whether path is one of roots or lies inside one of them.
func under(path string, roots []string) bool {
	for _, r := range roots {
		if path == r || strings.HasPrefix(path, r+".") || strings.HasPrefix(path, r+"[") {
			return true
		}
	}
	return false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sortProblems(ps Problems) {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Path < ps[j].Path })
}

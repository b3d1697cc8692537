package loadtest

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/smsgw/smsgw/client"
)

func TestReadItemsCSV(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Item // Err compared by LineError line and message substring
		errLine []int  // lines expected to carry an error, in order
		errSub  []string
		fatal   string // substring of the whole-file error
	}{
		{
			name: "all columns and metadata",
			in: "to,text,from,encoding,validity,route,callback_url,metadata.a,metadata.b\n" +
				"+447700900123,hello,ACME,gsm7,90m,sim,https://x.example/h,1,\n",
			want: []Item{{Line: 2, Req: client.SubmitRequest{To: "+447700900123", Text: "hello", From: "ACME", Encoding: "gsm7",
				Validity: "90m", Route: "sim", CallbackURL: "https://x.example/h", Metadata: map[string]string{"a": "1"}}}},
		},
		{
			name: "BOM, quoted comma and newline, blank line skipped",
			in:   "\ufeffto,text\n+447700900123,\"a, b\nc\"\n\n+447700900124,x\n",
			want: []Item{
				{Line: 2, Req: client.SubmitRequest{To: "+447700900123", Text: "a, b\nc"}},
				{Line: 5, Req: client.SubmitRequest{To: "+447700900124", Text: "x"}},
			},
		},
		{
			name:    "wrong field counts reported with line numbers",
			in:      "to,text\n+447700900123,ok\n+447700900124\n+447700900125,a,b\n+447700900126,fine\n",
			errLine: []int{3, 4},
			errSub:  []string{"has 1 fields, the header has 2", "has 3 fields"},
		},
		{
			name:    "bare quote",
			in:      "to,text\n+447700900123,a\"b\n+447700900124,ok\n",
			errLine: []int{2},
			errSub:  []string{"bare"},
		},
		{name: "unknown column", in: "to,text,colour\n", fatal: `unknown column "colour"`},
		{name: "missing text column", in: "to\n+447700900123\n", fatal: "needs the columns to and text"},
		{name: "duplicate column", in: "to,text,to\n", fatal: "appears twice"},
		{name: "empty metadata key", in: "to,text,metadata.\n", fatal: "needs a key"},
		{name: "empty file", in: "", fatal: "empty file"},
		{name: "header only", in: "to,text\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := ReadItems(strings.NewReader(tt.in), CSV)
			checkItems(t, items, err, tt.want, tt.errLine, tt.errSub, tt.fatal)
		})
	}
}

func TestReadItemsJSONL(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Item
		errLine []int
		errSub  []string
		fatal   string
	}{
		{
			name: "bodies with blank lines",
			in: `{"to":"+447700900123","text":"hi","metadata":{"k":"v"},"validity":"1h"}` + "\n\n" +
				`  {"to":"+447700900124","text":"yo","route":"sim"}  ` + "\n",
			want: []Item{
				{Line: 1, Req: client.SubmitRequest{To: "+447700900123", Text: "hi", Metadata: map[string]string{"k": "v"}, Validity: "1h"}},
				{Line: 3, Req: client.SubmitRequest{To: "+447700900124", Text: "yo", Route: "sim"}},
			},
		},
		{
			name: "bad lines keep their numbers",
			in: `{"to":"+447700900123","text":"ok"}` + "\n" +
				`{"to":"+447700900123","txt":"typo"}` + "\n" +
				`{"to": 447700900123,"text":"num"}` + "\n" +
				`{"to":"+1", "text":` + "\n" +
				`{"to":"+1","text":"a"} {"x":1}` + "\n" +
				`[1,2]` + "\n" +
				`{"to":"+447700900124","text":"ok","metadata":{"n":1}}` + "\n",
			errLine: []int{2, 3, 4, 5, 6, 7},
			errSub:  []string{`unknown field "txt"`, `field "to"`, "unexpected EOF", "trailing data", "want client.SubmitRequest", `field "metadata`},
		},
		{name: "line too long", in: `{"to":"` + strings.Repeat("1", MaxLineBytes) + `"}`, fatal: "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := ReadItems(strings.NewReader(tt.in), JSONL)
			checkItems(t, items, err, tt.want, tt.errLine, tt.errSub, tt.fatal)
		})
	}
}

func checkItems(t *testing.T, items []Item, err error, want []Item, errLine []int, errSub []string, fatal string) {
	t.Helper()
	if fatal != "" {
		if err == nil || !strings.Contains(err.Error(), fatal) {
			t.Fatalf("err %v, want it to contain %q", err, fatal)
		}
		return
	}
	if err != nil {
		t.Fatalf("ReadItems: %v", err)
	}
	var good []Item
	var bad []*LineError
	for _, it := range items {
		if it.Err != nil {
			var le *LineError
			if !errors.As(it.Err, &le) || le.Line != it.Line {
				t.Fatalf("item error %v is not a *LineError for line %d", it.Err, it.Line)
			}
			bad = append(bad, le)
			continue
		}
		good = append(good, it)
	}
	if len(bad) != len(errLine) {
		t.Fatalf("line errors %v, want lines %v", bad, errLine)
	}
	for i, le := range bad {
		if le.Line != errLine[i] || !strings.Contains(le.Error(), errSub[i]) {
			t.Errorf("line error %d: %q, want line %d containing %q", i, le.Error(), errLine[i], errSub[i])
		}
	}
	if want != nil && !reflect.DeepEqual(good, want) {
		t.Fatalf("items\n got %+v\nwant %+v", good, want)
	}
}

func TestFormat(t *testing.T) {
	for path, want := range map[string]Format{"a.csv": CSV, "B.CSV": CSV, "x.jsonl": JSONL, "x.ndjson": JSONL, "x.json": JSONL, "x.txt": "", "noext": ""} {
		got, err := FormatFor(path)
		if got != want || (want == "") != errors.Is(err, ErrFormat) {
			t.Errorf("FormatFor(%q) = %q, %v; want %q", path, got, err, want)
		}
	}
	if _, err := ParseFormat("xml"); !errors.Is(err, ErrFormat) {
		t.Errorf("ParseFormat(xml): %v", err)
	}
	if _, err := ReadItems(strings.NewReader(""), "xml"); !errors.Is(err, ErrFormat) {
		t.Errorf("ReadItems(xml): %v", err)
	}
}

// FuzzReadItems: no input crashes either parser, and every bad line
// carries its line number.
func FuzzReadItems(f *testing.F) {
	f.Add("to,text\n+447700900123,hi\n", true)
	f.Add(`{"to":"+447700900123","text":"hi"}`+"\n{bad\n", false)
	f.Fuzz(func(t *testing.T, in string, csv bool) {
		fm := JSONL
		if csv {
			fm = CSV
		}
		items, _ := ReadItems(strings.NewReader(in), fm)
		for _, it := range items {
			if it.Line <= 0 {
				t.Fatalf("item without a line number: %+v", it)
			}
		}
	})
}

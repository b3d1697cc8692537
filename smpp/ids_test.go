package smpp

import (
	"fmt"
	"slices"
	"testing"
)

func TestIDKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"4F2A1B", "4f2a1b"},
		{"0004f2a1b", "4f2a1b"},
		{"  0005186075\x00", "5186075"},
		{"0000", "0"},
		{"", ""},
		{"b7a1c9e0-0000-4d5e-9f00-1234567890ab", "b7a1c9e0-0000-4d5e-9f00-1234567890ab"},
	}
	if got := IDKey("004F2A1B", IDDec); got != "5188123" {
		t.Errorf("IDKey hex under dec = %q", got)
	}
	if got := IDKey("0012", IDDec); got != "12" {
		t.Errorf("IDKey dec under dec = %q", got)
	}
	for _, tt := range tests {
		for _, f := range []IDFormat{IDAuto, IDHex, ""} {
			if got := IDKey(tt.in, f); got != tt.want {
				t.Errorf("IDKey(%q, %q) = %q, want %q", tt.in, f, got, tt.want)
			}
		}
	}
}

func TestReceiptIDKeys(t *testing.T) {
	tests := []struct {
		id   string
		f    IDFormat
		want []string
	}{
		{"4F2A1B", IDHex, []string{"4f2a1b"}},
		{"004f2a1b", IDHex, []string{"4f2a1b"}},
		{"0005186075", IDDec, []string{"5186075"}},
		{"4F2A1B", IDDec, []string{"5188123"}}, // hex letters cannot be decimal
		{"0005188123", IDAuto, []string{"5188123", "4f2a1b", "85492003"}},
		{"4F2A1B", IDAuto, []string{"4f2a1b", "5188123"}},
		{"abc-123", IDAuto, []string{"abc-123"}},
		{"0", IDAuto, []string{"0"}},
		{"9", IDAuto, []string{"9"}},
		{"10", IDAuto, []string{"10", "a", "16"}},
		{"", IDAuto, nil},
		{"  ", IDHex, nil},
		{"ffffffffffffffffffff", IDAuto, []string{"ffffffffffffffffffff", "1208925819614629174706175"}},
		{"123456789012345678901234567890", IDAuto, []string{"123456789012345678901234567890", "18ee90ff6c373e0ee4e3f0ad2",
			"94522879687365475552814062743484560"}},
	}
	for _, tt := range tests {
		if got := ReceiptIDKeys(tt.id, tt.f); !slices.Equal(got, tt.want) {
			t.Errorf("ReceiptIDKeys(%q, %q) = %q, want %q", tt.id, tt.f, got, tt.want)
		}
	}
}

// The point of the keys: a receipt finds its submit_sm_resp id whichever
// base each of them is printed in, as the simulator's SwapIDFormat does.
func TestReceiptIDKeysFindSubmit(t *testing.T) {
	tests := []struct {
		submit, receipt string
		f               IDFormat
		found           bool
	}{
		{"4F2A1B", "4f2a1b", IDHex, true},
		{"4F2A1B", "004F2A1B", IDAuto, true},
		{"4F2A1B", "0005188123", IDAuto, true}, // hex submit, decimal receipt
		{"12345", "3039", IDAuto, true},        // decimal submit, hex receipt of digits only
		{"12345", "303a", IDAuto, false},
		{"12345", "0000012345", IDDec, true},
		{"4F2A1B", "5188123", IDDec, true}, // hex submit, decimal receipt
		{"4F2A1B", "4f2a1b", IDDec, true},  // hex letters converted on both sides
		{"12345", "3039", IDDec, false},    // digits are read as decimal
		{"12345", "3039", IDHex, false},    // hex: no conversion
		{"msg-1", "MSG-1", IDAuto, true},
	}
	for _, tt := range tests {
		key := IDKey(tt.submit, tt.f)
		if got := slices.Contains(ReceiptIDKeys(tt.receipt, tt.f), key); got != tt.found {
			t.Errorf("submit %q receipt %q %s: found %v, want %v", tt.submit, tt.receipt, tt.f, got, tt.found)
		}
	}
}

func ExampleReceiptIDKeys() {
	// submit_sm_resp said "4F2A1B"; the receipt prints the same number in decimal.
	filed := IDKey("4F2A1B", IDAuto)
	for _, k := range ReceiptIDKeys("0005188123", IDAuto) {
		fmt.Println(k, k == filed)
	}
	// Output:
	// 5188123 false
	// 4f2a1b true
	// 85492003 false
}

package smpp

import "errors"

// Codec errors. Callers branch on them with errors.Is; the returned errors
// wrap them with the offending detail (character, offset, data_coding).
var (
	// ErrNotGSM means the text has a character outside the GSM 03.38
	// default alphabet and its extension table while EncodingGSM7 was asked.
	ErrNotGSM = errors.New("smpp: text is not representable in GSM 03.38")
	// ErrEmptyText means a message without text was given to Encode or CountParts.
	ErrEmptyText = errors.New("smpp: empty text")
	// ErrInvalidUTF8 means the text given to Encode or CountParts is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("smpp: text is not valid UTF-8")
	// ErrTooManyParts means the text needs more than 255 parts, the limit of
	// the concatenation header.
	ErrTooManyParts = errors.New("smpp: text needs more than 255 parts")
	// ErrUnknownEncoding means an Encoding or ConcatMode value outside the
	// defined constants.
	ErrUnknownEncoding = errors.New("smpp: unknown encoding")
	// ErrBinary means DecodeText was given binary data (data_coding 2 or 4,
	// or an 8-bit GSM data coding scheme): it has no text form.
	ErrBinary = errors.New("smpp: binary data has no text form")
	// ErrUnsupportedDataCoding means a data_coding this codec cannot decode.
	ErrUnsupportedDataCoding = errors.New("smpp: unsupported data_coding")
	// ErrBadText means encoded text that is malformed for its data_coding
	// (a GSM septet above 0x7F, an odd number of UCS-2 octets).
	ErrBadText = errors.New("smpp: malformed encoded text")
	// ErrNotReceipt means a text that is not an SMPP delivery receipt, or a
	// deliver_sm flagged as a receipt from which no receipt can be read.
	ErrNotReceipt = errors.New("smpp: not a delivery receipt")
	// ErrBadPDU means a PDU that ParseDeliverSM cannot read: not a
	// deliver_sm/data_sm, or a malformed user data header or concatenation info.
	ErrBadPDU = errors.New("smpp: malformed deliver_sm")
)

package smpp

import "github.com/fiorix/go-smpp/smpp/pdu"

// SMPP 3.4 command_status values the session and its callers use by name
// (section 5.1.3). fiorix's pdu package only has them as a string table.
const (
	StatusOK           pdu.Status = 0x00000000 // ESME_ROK
	StatusInvMsgLen    pdu.Status = 0x00000001 // ESME_RINVMSGLEN
	StatusInvCmdLen    pdu.Status = 0x00000002 // ESME_RINVCMDLEN
	StatusInvCmdID     pdu.Status = 0x00000003 // ESME_RINVCMDID
	StatusInvBndSts    pdu.Status = 0x00000004 // ESME_RINVBNDSTS
	StatusAlyBnd       pdu.Status = 0x00000005 // ESME_RALYBND
	StatusSysErr       pdu.Status = 0x00000008 // ESME_RSYSERR
	StatusInvSrcAdr    pdu.Status = 0x0000000A // ESME_RINVSRCADR
	StatusInvDstAdr    pdu.Status = 0x0000000B // ESME_RINVDSTADR
	StatusBindFail     pdu.Status = 0x0000000D // ESME_RBINDFAIL
	StatusInvPaswd     pdu.Status = 0x0000000E // ESME_RINVPASWD
	StatusInvSysID     pdu.Status = 0x0000000F // ESME_RINVSYSID
	StatusMsgQFul      pdu.Status = 0x00000014 // ESME_RMSGQFUL
	StatusSubmitFail   pdu.Status = 0x00000045 // ESME_RSUBMITFAIL
	StatusThrottled    pdu.Status = 0x00000058 // ESME_RTHROTTLED
	StatusInvExpiry    pdu.Status = 0x00000062 // ESME_RINVEXPIRY
	StatusRxTAppn      pdu.Status = 0x00000064 // ESME_RX_T_APPN: temporary error in the receiver, the SMSC retries
	StatusRxPAppn      pdu.Status = 0x00000065 // ESME_RX_P_APPN: permanent error in the receiver
	StatusRxRAppn      pdu.Status = 0x00000066 // ESME_RX_R_APPN: receiver rejects the message
	StatusDeliveryFail pdu.Status = 0x000000FE // ESME_RDELIVERYFAILURE
	StatusUnknownErr   pdu.Status = 0x000000FF // ESME_RUNKNOWNERR
)

// StatusTemporary is the retry policy for a submit's command_status: true
// when sending the same message again later (or on another route) may
// succeed, false when the SMSC will refuse it again (bad address, bad data,
// bad parameters). It is a pure function so every status has a test row.
//
// Temporary: throttling and a full queue (the bind is also slowed down),
// system errors, "submit failed", the receiver's temporary error, bind
// state errors (the bind is being re-established), delivery failure and
// unknown errors (carriers use them for transient faults). Everything else,
// including vendor-specific codes 0x400–0x4FF, is permanent unless the
// SMSC's Config.ErrorMap says otherwise.
func StatusTemporary(st pdu.Status) bool {
	switch st {
	case StatusThrottled, StatusMsgQFul, StatusSysErr, StatusSubmitFail,
		StatusRxTAppn, StatusInvBndSts, StatusBindFail, StatusDeliveryFail,
		StatusUnknownErr:
		return true
	}
	return false
}

// statusSlowsBind reports whether a status asks the ESME to send slower.
func statusSlowsBind(st pdu.Status) bool {
	return st == StatusThrottled || st == StatusMsgQFul
}

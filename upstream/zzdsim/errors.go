package zzdsim

// gatewayErr is a failure of the API gateway itself (before the API):
// answered HTTP 200 without content, as a superset of the shapes clients
// parse. Only SignatureDoesNotMatch (OPF-B001-05-16-0009) is a captured
// code; the others are the simulator's choice, named in the style of
// Alibaba's gateways.
type gatewayErr struct{ code, message string }

var (
	gwMissingParameter = &gatewayErr{"OPF-B001-05-16-0001", "MissingParameter"}            // apiKey or an X-Hmac-Auth-* header missing
	gwBadVersion       = &gatewayErr{"OPF-B001-05-16-0002", "InvalidSignatureVersion"}     // X-Hmac-Auth-Version is not 1.0
	gwUnknownKey       = &gatewayErr{"OPF-B001-05-16-0003", "InvalidAccessKeyId.NotFound"} // unknown apiKey
	gwBadMethod        = &gatewayErr{"OPF-B001-05-16-0004", "UnsupportedHTTPMethod"}       // e.g. GET on a POST API
	gwBadTimestamp     = &gatewayErr{"OPF-B001-05-16-0006", "InvalidTimeStamp.Format"}     // not 2006-01-02T15:04:05.000+08:00
	gwClockSkew        = &gatewayErr{"OPF-B001-05-16-0007", "InvalidTimeStamp.Expired"}    // outside ClockWindow
	gwNonceUsed        = &gatewayErr{"OPF-B001-05-16-0008", "SignatureNonceUsed"}          // replayed nonce
	gwSignature        = &gatewayErr{"OPF-B001-05-16-0009", "SignatureDoesNotMatch"}       // captured from the real gateway
)

// Business errors: content.success false, outer success true.
const (
	bizCodeInvalid  = "240111" // captured
	bizTokenInvalid = "240133" // captured
	bizTokenWrong   = "250027" // seen in public integrations: "accessToken not correct"
	bizParamError   = "400"    // simulator choice: a required parameter missing or malformed
	bizNoOrgAccess  = "300037" // seen in public integrations: a scan pair on /mozi/…
)

var bizMessages = map[string]string{
	bizCodeInvalid:  "code失效或不存在",
	bizTokenInvalid: "应用accessToken失效或不存在",
	bizTokenWrong:   "accessToken not correct",
	bizNoOrgAccess:  "没有组织的操作权限",
}

// Package zhezhengding logs people in through Zhezhengding (浙政钉) and
// 专有钉钉 (dg-work): a QR scan on the login host, full page or embedded
// (embedMode, see upstream.Embedder), or the in-app 免登 code from
// dd.getAuthCode inside the 浙政钉 app. It speaks the open platform's signed
// gateway (HMAC-SHA256 headers on every call, see Sign) and its two-layer
// response envelope, as described in docs/upstreams.md §1 (Zhezhengding).
//
// A login turns the scan code into the person with
// /rpc/oauth2/getuserinfo_bycode.json (or /rpc/oauth2/dingtalk_app_user.json
// for an in-app auth_code), using the app access token from /gettoken.json,
// which is cached, refreshed early and once for all callers, and refreshed
// again when the gateway says it is unknown (240133). Optionally the
// person's organisations are looked up (Config.Enrich) and become `groups`.
//
// The Identity's ExternalID is the accountId (decimal string); its
// Attributes are every field of the user record as the gateway names them
// (accountId, account, lastName, nickNameCn, employeeCode, tenantId,
// realmId, tenantName, realmName, avatar, openid…), numbers as decimal
// strings, plus "groups" ([]string) when enrichment found any.
//
// Zhezhengding never reports an e-mail address, so DefaultClaims has no
// `email`: a deployment that needs one maps a synthetic address in its
// config, for example
//
//	claims:
//	  email: "{{.account}}@example.gov.cn"
package zhezhengding

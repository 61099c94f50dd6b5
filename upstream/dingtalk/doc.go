// Package dingtalk logs people in through DingTalk (钉钉): the QR page of
// DingTalk's OAuth2 login, the person's own token to read who they are,
// and — when the upstream is restricted to an organisation (CorpID) — the
// app's token to check their membership and read their org profile. The
// wire formats are described in docs/upstreams.md §2 (DingTalk).
//
// # Flow
//
//  1. LoginURL sends the browser to {login}/oauth2/auth; DingTalk sends it
//     back with authCode (some clients read code: both are accepted).
//  2. Exchange posts the code to {api}/v1.0/oauth2/userAccessToken and
//     reads {api}/v1.0/contact/users/me with the person's token (the app
//     needs the permission Contact.User.Read).
//  3. With a CorpID: {oapi}/topapi/user/getbyunionid says whether the
//     person is a member (errcode 60121: not a member → refused; an
//     external contact is refused unless AdmitExternalContacts), then
//     {oapi}/topapi/v2/user/get reads the profile (active false →
//     refused) and {oapi}/topapi/v2/department/get names the departments
//     (cached 10 minutes). The app token of these calls is cached, renewed
//     before it expires by one fetch for all concurrent logins, and
//     renewed at once when DingTalk refuses it.
//
// In-app login (免登), with a CorpID: inside the DingTalk app dingoidc's
// page loads the JSAPI (JSAPIURL), whose dd.getAuthCode({corpId}) gives a
// code that comes back as auth_code; Exchange posts it to
// {oapi}/topapi/v2/user/getuserinfo with the app token (errcode 40078: the
// code is unknown, expired or used) and goes on with the person's unionid
// as in step 3. Such an identity has AMR ["app"] and no users/me
// attributes (nick, avatarUrl, openId, personal_email…).
//
// # Attributes
//
// The Identity's ExternalID is the unionId (stable across the apps of one
// developer). Its Attributes, omitted when empty:
//
//	from users/me      nick, avatarUrl, mobile, stateCode, openId, unionId,
//	                   personal_email (users/me's "email": set by the person,
//	                   unverified)
//	with a CorpID      corp_id, userid, contact_type ("member" or
//	                   "external"); for members also name, avatar, org_email,
//	                   work_email (the directory's "email", set by an admin),
//	                   job_number, title, admin (bool), roles ([]string),
//	                   groups ([]string: department names), dept_ids
//	                   ([]string); mobile when users/me had none
//	without a CorpID   corp_id: the organisation picked on the login page,
//	                   if any
//	always             username: the org userid when it is ASCII-safe
//	                   ([a-z0-9._-] after lowercasing), else the
//	                   UsernameTemplate's result when that is ASCII-safe
//
// See DefaultClaims for the claims made of them.
//
// # Errors
//
// Exchange's errors wrap one of upstream's kinds with the operator's
// detail: ErrDenied (cancelled, no code), ErrCodeInvalid (code expired or
// used), ErrNotAllowed (not a member, external contact, disabled),
// ErrUnavailable (outage, timeout, bad app credentials, a missing app
// permission — named — or an unexpected answer). DingTalk's answers are
// typed as *APIError (api.dingtalk.com) and *OAPIError
// (oapi.dingtalk.com). No error or log line holds a secret, token, code
// or raw answer.
package dingtalk

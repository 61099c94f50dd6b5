// Package docs embeds the integration guides (docs/integrations/*.md), from
// which the admin API derives each app's copy-paste settings
// (GET /admin/api/v1/clients/{id}/setup, idp/adminapi_setup.go).
package docs

import "embed"

// Integrations holds integrations/<app>.md.
//
//go:embed integrations/*.md
var Integrations embed.FS

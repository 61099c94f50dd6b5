// Package deploy holds the files that run dingoidc in containers next to
// docker-compose.yml and the Dockerfile at the top of the repository: an
// example configuration, and the tests that keep the three consistent with
// each other. It has no Go code of its own.
package deploy

// Package deploy holds what runs dingoidc outside a checkout, and the tests
// that keep it consistent with the binary and with each other:
//
//   - config.example.yaml, with docker-compose.yml and the Dockerfile at the
//     top of the repository (profiles postgres and demo);
//   - systemd/dingoidc.service, the hardened unit;
//   - packaging/, the nfpm config, package scripts and the
//     /etc/dingoidc/config.yaml that scripts/release puts into .deb and .rpm;
//   - kubernetes/, a kustomize base.
//
// It has no Go code of its own.
package deploy

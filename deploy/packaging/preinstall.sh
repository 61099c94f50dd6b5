#!/bin/sh
# Before the files are unpacked (deb preinst, rpm %pre): the dingoidc system
# user and group, so that /etc/dingoidc/config.yaml can belong to them.
set -e
if ! getent group dingoidc >/dev/null; then
  groupadd --system dingoidc
fi
if ! getent passwd dingoidc >/dev/null; then
  nologin=/usr/sbin/nologin
  [ -x "$nologin" ] || nologin=/sbin/nologin
  useradd --system --gid dingoidc --home-dir /var/lib/dingoidc --no-create-home \
    --shell "$nologin" --comment "dingoidc OpenID provider" dingoidc
fi
exit 0

#!/bin/sh
# After the files are unpacked (deb postinst, rpm %post).
#   deb: $1 = configure, $2 = the version upgraded from (empty on a first install)
#   rpm: $1 = 1 on a first install, 2 or more on an upgrade
set -e
upgrade=false
case "$1" in
  configure) [ -n "${2:-}" ] && upgrade=true ;;
  [2-9]*) upgrade=true ;;
esac

install -d -o dingoidc -g dingoidc -m 0750 /var/lib/dingoidc

# The master key encrypts the signing keys: made once, never replaced.
if [ ! -e /etc/dingoidc/master-key ]; then
  (umask 0027 && head -c 32 /dev/urandom | base64 >/etc/dingoidc/master-key)
  chgrp dingoidc /etc/dingoidc/master-key
  echo "dingoidc: generated /etc/dingoidc/master-key; back it up with the database (/usr/share/doc/dingoidc/operations-backup.md)"
fi

if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
  if $upgrade; then
    # Migrations run at start; a running service picks up the new binary.
    systemctl try-restart dingoidc.service >/dev/null 2>&1 || true
  fi
fi
if ! $upgrade; then
  cat <<'MSG'
dingoidc is installed but not started. Next:
  1. edit /etc/dingoidc/config.yaml (issuer, TLS certificate, upstreams)
  2. dingoidc config check --config /etc/dingoidc/config.yaml
  3. systemctl enable --now dingoidc
MSG
fi
exit 0

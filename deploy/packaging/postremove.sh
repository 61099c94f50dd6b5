#!/bin/sh
# After the files are removed (deb postrm, rpm %postun). The data
# (/var/lib/dingoidc), the master key (/etc/dingoidc/master-key) and the
# dingoidc user are kept even on purge: the database is unreadable without
# the key, and removing either by accident would lose every signing key.
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
if [ "$1" = purge ]; then
  echo "dingoidc: kept /var/lib/dingoidc and /etc/dingoidc/master-key; remove them by hand if the data is no longer needed"
fi
exit 0

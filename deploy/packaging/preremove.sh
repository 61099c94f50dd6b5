#!/bin/sh
# Before the files are removed (deb prerm, rpm %preun).
#   deb: $1 = remove (or upgrade, deconfigure…)
#   rpm: $1 = 0 when the package is erased, 1 or more on an upgrade
set -e
case "$1" in
  remove | 0)
    if [ -d /run/systemd/system ]; then
      systemctl disable --now dingoidc.service >/dev/null 2>&1 || true
    fi
    ;;
esac
exit 0

#!/usr/bin/env bash
# Debian packages the project needs beyond Python: WeasyPrint's Pango/HarfBuzz,
# fonts for letters, gettext for translations, Chromium for browser tests, GDAL
# (django-leaflet imports GeoDjango's forms, which load it; no spatial database is used).
# Installs only what is missing, so a prepared machine pays nothing.
set -euo pipefail
PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core gettext
          postgresql-client redis-tools chromium libgdal32)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

#!/usr/bin/env bash
# Debian packages sgtr uses beside its Python ones: font families for the synthetic renderer and Tesseract, the
# peer engine `sgtr evaluate --engine tesseract` compares against. Needs root; safe to run again.
set -euo pipefail
FONT_PACKAGES="fonts-dejavu-core fonts-liberation2 fonts-freefont-ttf fonts-noto-core fonts-roboto-unhinted \
fonts-open-sans fonts-lato fonts-crosextra-carlito fonts-crosextra-caladea fonts-ebgaramond fonts-cantarell \
fonts-firacode fonts-inconsolata fonts-urw-base35 fonts-comic-neue fonts-dancingscript fonts-bebas-neue \
fonts-linuxlibertine fonts-texgyre fonts-go fonts-hack fonts-jetbrains-mono fonts-courier-prime fonts-cabin \
fonts-comfortaa fonts-quicksand fonts-play fonts-league-spartan fonts-yanone-kaffeesatz fonts-lobster fonts-jura \
fonts-sil-gentium fonts-cardo fonts-paratype fonts-averia-sans-gwf fonts-averia-serif-gwf fonts-humor-sans"
OTHER_PACKAGES="tesseract-ocr tesseract-ocr-eng"
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
missing=$(for p in $FONT_PACKAGES $OTHER_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  $SUDO apt-get update -qq
  # Install what the archive has; a package missing from a mirror must not stop the rest.
  available=$(for p in $missing; do apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]' && echo "$p"; done)
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $available >/dev/null
fi
echo "system packages ready"

#!/usr/bin/env bash
# Debian packages sgtr uses beside its Python ones: font families for the synthetic renderer and Tesseract, the
# peer engine `sgtr evaluate --engine tesseract` compares against. Needs root; safe to run again.
#
# Works on a machine that lacks any or all of them: installs what the archive offers, names what it skipped and
# exits 0. Sourcing the file (`source scripts/setup-system.sh`) only defines the functions, which the tests call.
set -euo pipefail

# To add a package, add a line to the array; one package per line, grouped by what needs it.
PACKAGES=(
  # fonts for `sgtr synth`
  fonts-dejavu-core fonts-liberation2 fonts-freefont-ttf fonts-noto-core fonts-roboto-unhinted
  fonts-open-sans fonts-lato fonts-crosextra-carlito fonts-crosextra-caladea fonts-ebgaramond fonts-cantarell
  fonts-firacode fonts-inconsolata fonts-urw-base35 fonts-comic-neue fonts-dancingscript fonts-bebas-neue
  fonts-linuxlibertine fonts-texgyre fonts-go fonts-hack fonts-jetbrains-mono fonts-courier-prime fonts-cabin
  fonts-comfortaa fonts-quicksand fonts-play fonts-league-spartan fonts-yanone-kaffeesatz fonts-lobster fonts-jura
  fonts-sil-gentium fonts-cardo fonts-paratype fonts-averia-sans-gwf fonts-averia-serif-gwf fonts-humor-sans
  # `sgtr evaluate --engine tesseract`
  tesseract-ocr tesseract-ocr-eng
)

# The packages among the arguments that dpkg does not list as installed, one per line.
missing_packages() {
  local p
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || echo "$p"
  done
}

# The packages among the arguments that the archive has a candidate version for, one per line. apt-cache's output
# is captured whole, not piped into `grep -q`: under pipefail, grep quitting at its first match kills apt-cache
# with SIGPIPE and the pipeline fails (status 141) for exactly the packages that are available.
available_packages() {
  local p policy
  for p in "$@"; do
    policy=$(apt-cache policy "$p" 2>/dev/null) || continue
    if [[ $policy =~ Candidate:\ +[^[:space:]] && ! $policy =~ Candidate:\ +\(none\) ]]; then
      echo "$p"
    fi
  done
}

main() {
  local sudo=() missing=() available=() skipped=() failed=() p
  if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
  mapfile -t missing < <(missing_packages "${PACKAGES[@]}")
  if [ ${#missing[@]} -eq 0 ]; then
    echo "system packages ready (all ${#PACKAGES[@]} installed)"
    return 0
  fi
  if ! command -v apt-get >/dev/null || ! command -v apt-cache >/dev/null; then
    echo "no apt here: skipped all ${#missing[@]} missing packages: ${missing[*]}"
    return 0
  fi
  "${sudo[@]}" apt-get update -qq || echo "apt-get update failed; using the package lists already here"
  mapfile -t available < <(available_packages "${missing[@]}")
  for p in "${missing[@]}"; do
    [[ " ${available[*]} " == *" $p "* ]] || skipped+=("$p")
  done
  if [ ${#available[@]} -gt 0 ] && ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
      --no-install-recommends "${available[@]}" >/dev/null; then
    # One package that fails to install takes the whole batch with it: retry one at a time, keeping the rest.
    for p in "${available[@]}"; do
      DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$p" \
        >/dev/null 2>&1 || failed+=("$p")
    done
  fi
  echo "system packages: $((${#available[@]} - ${#failed[@]})) installed, $((${#PACKAGES[@]} - ${#missing[@]})) already there"
  if [ ${#skipped[@]} -gt 0 ]; then echo "skipped (not in this machine's archive): ${skipped[*]}"; fi
  if [ ${#failed[@]} -gt 0 ]; then echo "skipped (apt-get install failed): ${failed[*]}"; fi
  return 0
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
